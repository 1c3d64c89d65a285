// How long to wait before reconnect attempt `attempt` (0 for the first retry):
// exponential from `baseMs`, capped at `maxMs`, with jitter that takes up to
// `jitter` (a fraction) off, so that many clients dropped at once by a restart
// do not all come back in the same instant. Pure: `random` is injectable.
export const DEFAULT_BACKOFF = Object.freeze({ baseMs: 500, maxMs: 15000, jitter: 0.4 });

export function backoffDelay(attempt, { baseMs = DEFAULT_BACKOFF.baseMs, maxMs = DEFAULT_BACKOFF.maxMs,
  jitter = DEFAULT_BACKOFF.jitter, random = Math.random } = {}) {
  const n = Math.max(0, Math.min(30, Math.floor(Number(attempt) || 0)));
  const ceiling = Math.min(maxMs, baseMs * 2 ** n);
  const spread = Math.max(0, Math.min(1, jitter));
  return Math.round(ceiling * (1 - spread * random()));
}
