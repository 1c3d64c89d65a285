// A TCP proxy in front of a redis-server that can hold back pub/sub: while
// held, what Redis sends on the connections that subscribed is kept, not
// forwarded, so an instance behind the proxy hears other instances' events
// late while its commands still work. release() forwards what was kept, in
// order. An instance uses it as its Redis: startServer({ redis: proxy }).
import net from 'node:net';

export async function startPubsubHoldProxy(redis) {
  const links = new Set();
  let holding = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(redis.port, '127.0.0.1');
    const link = { client, subscriber: false, kept: [] };
    links.add(link);
    client.on('data', (data) => {
      if (/SUBSCRIBE/i.test(data.toString('latin1'))) link.subscriber = true;
      upstream.write(data);
    });
    upstream.on('data', (data) => {
      if (holding && link.subscriber) link.kept.push(data);
      else client.write(data);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      links.delete(link);
    };
    for (const end of [client, upstream]) {
      end.on('error', close);
      end.on('close', close);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  // A test that fails before close() must still let the runner exit.
  server.unref();
  const { port } = server.address();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const link of links) {
        for (const data of link.kept.splice(0)) link.client.write(data);
      }
    },
    close() {
      for (const link of links) {
        link.client.destroy();
      }
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
