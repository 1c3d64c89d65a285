// A WebSocket for the client library's tests: the `ws` package's, with a
// switch that makes new connections fail (the network is down), a way to
// drop the open socket, and a filter that loses chosen server frames (a reply
// that never arrives). Only what the library uses of a WebSocket is here.
import WebSocket from 'ws';

export function flakySockets() {
  const ctl = {
    offline: false,
    opened: 0,
    current: null,
    lose: null, // (frame) => true to lose that server frame
    // Drops the open connection as a network failure would (no close frame).
    drop() { if (ctl.current) ctl.current.inner.terminate(); },
  };
  class FlakyWebSocket {
    constructor(url, protocols) {
      if (ctl.offline) throw new Error('the network is down');
      this.inner = new WebSocket(url, protocols);
      ctl.opened += 1;
      ctl.current = this;
      this.inner.onopen = (e) => this.onopen && this.onopen(e);
      this.inner.onclose = (e) => this.onclose && this.onclose(e);
      this.inner.onerror = (e) => this.onerror && this.onerror(e);
      this.inner.onmessage = (e) => {
        const kept = String(e.data).split('\n').filter((line) => !(line && ctl.lose && ctl.lose(JSON.parse(line))));
        if (kept.length && this.onmessage) this.onmessage({ data: kept.join('\n') });
      };
    }

    get readyState() { return this.inner.readyState; }
    send(data) { this.inner.send(data); }
    close(code, reason) { this.inner.close(code, reason); }
  }
  return { WebSocket: FlakyWebSocket, ctl };
}
