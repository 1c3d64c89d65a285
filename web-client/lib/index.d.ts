// Type declarations of @parley/client (the Parley wire protocol v1.1).

// ---------------------------------------------------------------- protocol

export type Role = 'client' | 'expert' | 'support' | 'bot' | 'service' | 'system';
export type ErrorCode =
  | 'bad_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict'
  | 'rate_limited' | 'too_large' | 'unavailable' | 'internal';

export interface User {
  id: string;
  name?: string;
  role: Role;
  /** Presence entries (protocol §9.3). */
  availability?: Availability;
  last_seen?: number;
  [key: string]: unknown;
}

export interface Availability {
  status: 'available' | 'busy' | 'away';
  until?: number;
  note?: string;
  hours?: { tz: string; days: number[]; from: string; to: string };
  reply_within_h?: number;
}

export type Kind =
  | 'message' | 'status' | 'flag' | 'flag_update' | 'proposal' | 'decision'
  | 'acknowledgement' | 'delivery' | 'revision_request' | 'review'
  | 'phase' | 'mediation' | 'sla' | 'notice' | 'proposal_expired' | 'reminder' | 'reviews'
  | (string & {});

/** A stored event (protocol §3): gap-free `seq` per channel. */
export interface ParleyEvent<B = Record<string, unknown>> {
  ev: 'event';
  ch: string;
  seq: number;
  kind: Kind;
  from: User;
  ts: number;
  cid?: string;
  body: B;
}

export interface MessageBody { text: string; reply_to?: number; files?: FileRef[] }
export interface StatusBody { text: string; progress?: number }
export interface FlagBody { type: 'delay' | 'scope_change' | 'dispute' | 'risk' | 'blocker'; text: string }
export interface ProposalBody { topic: string; text: string; terms: Record<string, unknown> }
export interface DecisionBody {
  proposal: number;
  verdict: 'accepted' | 'rejected';
  text?: string;
  slot?: number;
  auto?: boolean;
  record?: { n: number; hash: string; prev: string };
}
export interface FileRef { sha256: string; name: string; size?: number; type?: string }

/** The event names `on('event:<kind>')` knows the body of. */
export interface KindBodies {
  message: MessageBody;
  status: StatusBody;
  flag: FlagBody;
  proposal: ProposalBody;
  decision: DecisionBody;
  phase: { from: string | null; to: string };
}

/** The engagement's state (protocol §4, §9.9); only the commonest fields typed. */
export interface EngagementState {
  /** Grows with every event the state reflects: of two states, keep the higher. */
  revision: number;
  phase: string;
  phase_since: number;
  phase_due: number | null;
  agreement: { terms: Record<string, unknown>; version: number } | null;
  open_flags: Array<{ seq: number; type: string; state: string; text: string; by: string }>;
  open_proposals: Array<{ seq: number; ch: string; topic: string; text: string; terms: Record<string, unknown>; by: string; accepted_by: string[] }>;
  owed_reply: { side: 'client' | 'expert'; since_seq: number; since_ts: number; due?: number } | null;
  last_status_ts: number | null;
  /** The actions the reader may take now: `message`, `propose:<topic>`, `decide:<seq>`, … */
  can: string[];
  [key: string]: unknown;
}

export interface HelloReply { user: User; server: { version: string; instance: string; protocol?: string; [key: string]: unknown } }

export interface JoinReply {
  id: number;
  ok: true;
  ch: string;
  epoch: string;
  head: number;
  events: ParleyEvent[];
  recovered: boolean;
  more?: boolean;
  state?: EngagementState;
  presence: User[];
  [key: string]: unknown;
}

export interface PostReply { seq: number; ts: number; cid: string; [key: string]: unknown }

export interface DecisionRecord {
  n: number;
  eng: string;
  ch: string;
  topic: string;
  terms: Record<string, unknown>;
  text: string;
  proposed_by: string;
  accepted_by: string[];
  proposal_seq: number;
  decision_seq: number;
  ts: number;
  prev: string;
  hash: string;
  kid?: string;
  sig?: string;
}

/** Pushes without a seq. */
export interface StatePush { ev: 'state'; eng: string; state: EngagementState }
export interface PresencePush { ev: 'presence'; ch: string; joined?: User[]; left?: User[]; updated?: User[] }
export interface TypingPush { ev: 'typing'; ch: string; user: User }
export interface ReadPush { ev: 'read'; ch: string; user: User; seq: number }
export type Push = StatePush | PresencePush | TypingPush | ReadPush | { ev: string; [key: string]: unknown };

// ---------------------------------------------------------------- client

export type ConnectionState = 'idle' | 'connecting' | 'online' | 'waiting' | 'refused' | 'closed';

export interface BackoffOptions {
  /** First delay (ms), doubled per attempt. Default 500. */
  baseMs?: number;
  /** Largest delay (ms). Default 15000. */
  maxMs?: number;
  /** Fraction taken off at random (0–1). Default 0.4. */
  jitter?: number;
  random?: () => number;
}

/** The WebSocket class: the browser's, Node 22's global, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export type TokenSource = string | (() => string | Promise<string>);

export interface ClientOptions {
  /** ws:// or wss:// address of the server's `/ws`. */
  url: string;
  /** The access token, or a function asked for the current one before every connection and HTTP request. */
  token: TokenSource;
  /** Default: globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** Default: globalThis.fetch. */
  fetch?: typeof fetch;
  /** The HTTP origin. Default: that of `url` (ws→http, wss→https). */
  httpUrl?: string;
  /** Events asked for by a first join. Default 50 (the server's max is 500). */
  initialLimit?: number;
  /** Time to wait for a reply. Default 15000 ms; 0 waits for ever. */
  requestTimeoutMs?: number;
  /** Posts waiting to be sent at most (default 1000); past it `post` rejects with code `outbox_full`. */
  maxOutbox?: number;
  backoff?: BackoffOptions;
  /** Default 'parley.v1'. */
  protocols?: string | string[];
}

export interface ClientEvents {
  connection: { state: ConnectionState; attempt: number; retryAt?: number };
  hello: HelloReply;
  /** The channel starts over with these events (first join, or the server's log changed epoch). */
  reset: { ch: string; join: JoinReply; events: ParleyEvent[] };
  /** New events of a channel, in seq order, each delivered once. */
  events: { ch: string; events: ParleyEvent[] };
  /** Each new event, once, in seq order per channel (also those of a reset). */
  event: ParleyEvent;
  joined: { ch: string; join: JoinReply; resumed: boolean };
  state: StatePush;
  presence: PresencePush;
  typing: TypingPush;
  read: ReadPush;
  push: { frame: Push };
  outbox: Record<string, never>;
  refused: { code: string; message: string; expired: boolean };
}

export type EventName = keyof ClientEvents | `event:${string}`;
type Detail<K> = K extends keyof ClientEvents ? ClientEvents[K]
  : K extends `event:${infer Kn}` ? (Kn extends keyof KindBodies ? ParleyEvent<KindBodies[Kn]> : ParleyEvent)
  : never;

export interface PendingPost {
  cid: string;
  ch: string;
  kind: string;
  body: unknown;
  createdAt: number;
  inFlight: boolean;
}

export interface UploadResult { sha256: string; size: number; name: string; type: string; existing: boolean }
export type UploadData = Blob | ArrayBuffer | Uint8Array | AsyncIterable<Uint8Array | string>;
export interface UploadOptions {
  name?: string;
  type?: string;
  /** The byte count of an async iterable, for the progress total. */
  size?: number;
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
  /** Refuse a larger file before sending (the server's --max-file-size, when known). */
  maxBytes?: number;
}

export interface HttpPostOptions { cid?: string; retries?: number; signal?: AbortSignal }

export declare class RequestError extends Error {
  /** The protocol's error code, or `unavailable` / `timeout` / `cancelled` from the client. */
  code: ErrorCode | 'timeout' | 'cancelled' | (string & {});
  /** True when the server never answered (not connected, connection lost, timed out). */
  local: boolean;
  constructor(code: string, message?: string, local?: boolean);
}

export declare class HttpError extends Error {
  /** The protocol's error code, `network` or `cancelled`. */
  code: ErrorCode | 'network' | 'cancelled' | (string & {});
  /** The HTTP status, 0 without an answer. */
  status: number;
  constructor(code: string, message: string, status?: number);
}
export { HttpError as UploadError };

export declare class Connection extends EventTarget {
  constructor(options: ClientOptions);
  readonly url: string;
  token: TokenSource;
  readonly connectionState: ConnectionState;
  /** The user the server named in its hello reply. */
  readonly user: User | null;
  readonly server: HelloReply['server'] | null;
  /** When the next reconnect is due (ms), while `waiting`. */
  readonly lastRetryAt: number;
  /** Posts not yet answered, by cid. */
  readonly outbox: Map<string, PendingPost>;

  on<K extends EventName>(type: K, fn: (detail: Detail<K>) => void): () => void;
  once<K extends EventName>(type: K, fn: (detail: Detail<K>) => void): () => void;

  /** Connects and keeps reconnecting; resolves once online, rejects when refused or closed first. */
  connect(): Promise<HelloReply>;
  /** Closes for good: pending requests, joins and posts are rejected (`cancelled`). */
  close(): void;
  /** Ends the session as refused (e.g. after an HTTP 401): no more reconnects. */
  refuse(code: string, message: string): void;

  /** Any request; rejects with RequestError. */
  request<R = Record<string, unknown>>(op: string, fields?: Record<string, unknown>, options?: { timeoutMs?: number }): Promise<R & { id: number; ok: true }>;
  /** Sends one frame as it is; false when not connected. */
  send(frame: Record<string, unknown>): boolean;

  /** Joins and stays joined across reconnects (resumed by since/epoch). Waits until online. */
  join(ch: string): Promise<JoinReply>;
  leave(ch: string): void;
  isJoined(ch: string): boolean;
  /** The last seq delivered on `ch`. */
  lastSeq(ch: string): number;

  /** Posts with an automatic (or given) cid, kept and resent after reconnects until answered. */
  post(ch: string, kind: string, body: Record<string, unknown>, options?: { cid?: string }): Promise<PostReply>;
  pendingPosts(ch?: string): PendingPost[];
  /** Gives up on a post still in the outbox (its promise rejects with `cancelled`). */
  discard(cid: string): void;

  history(ch: string, range?: { before?: number; after?: number; limit?: number }): Promise<{ events: ParleyEvent[]; more?: boolean }>;
  typing(ch: string): boolean;
  read(ch: string, seq: number): Promise<unknown>;
  /** Every record of the engagement's decision log (all pages). */
  decisions(eng: string): Promise<DecisionRecord[]>;
  /** The token now: the string, or what the token function returns. */
  currentToken(): Promise<string>;
}

export interface ChainCheck {
  ok: boolean;
  checked: number;
  results: Array<{ n: number; ok: boolean; reason: string | null }>;
  firstBad: { index: number; n: number; reason: string } | null;
}
export interface SignatureCheck {
  state: 'verified' | 'broken' | 'unsupported' | 'unavailable';
  results: Array<{ n: number; ok: boolean; reason: string | null }>;
  firstBad: { index: number; n: number; reason: string } | null;
  kids: string[];
}

export declare class ParleyClient extends Connection {
  readonly httpUrl: string;
  /** A request on the HTTP API with the token; resolves with the parsed body, rejects with HttpError. */
  http<R = unknown>(path: string, options?: { method?: string; body?: unknown; signal?: AbortSignal }): Promise<R>;
  /** Posts an event over HTTP (no connection needed), retried with the same cid on network failures, 429 and 5xx. */
  postHttp(ch: string, kind: string, body: Record<string, unknown>, options?: HttpPostOptions): Promise<PostReply>;
  /** A `status` in `eng:<eng>` over HTTP: what a bot or CI job posts. */
  postStatus(eng: string, text: string, options?: HttpPostOptions & { progress?: number }): Promise<PostReply>;
  /** GET /api/v1/engagements/<id>. */
  engagement(id: string): Promise<EngagementState>;
  /** Uploads a file to the engagement (XMLHttpRequest in a browser, a streamed fetch elsewhere). */
  upload(eng: string, data: UploadData, options?: UploadOptions): Promise<UploadResult>;
  /** The decision log with its hash chain and Ed25519 signatures checked. */
  verifiedDecisions(eng: string): Promise<{ records: DecisionRecord[]; chain: ChainCheck; signatures: SignatureCheck | null }>;
}

export declare function createClient(options: ClientOptions): ParleyClient;

// ---------------------------------------------------------------- helpers

export declare function newCid(): string;
export declare const DEFAULT_BACKOFF: Readonly<{ baseMs: number; maxMs: number; jitter: number }>;
/** The delay before reconnect attempt `attempt` (0-based), in [ceiling·(1−jitter), ceiling]. */
export declare function backoffDelay(attempt: number, options?: BackoffOptions): number;

export declare function refusal(status: number, text: string): HttpError;
export declare function httpBaseOf(wsUrl: string): string;
export declare function postEventHttp(options: {
  base?: string; ch: string; kind: string; body: Record<string, unknown>; cid?: string; token: string;
  fetch?: typeof fetch; retries?: number; backoff?: BackoffOptions; signal?: AbortSignal;
}): Promise<PostReply>;

export declare function uploadFile(options: {
  eng: string; file: Blob; name?: string; token: string; onProgress?: (loaded: number, total: number) => void;
  maxBytes?: number; baseUrl?: string; XHR?: typeof XMLHttpRequest;
}): { done: Promise<UploadResult>; cancel(): void };
export declare function uploadStream(options: {
  eng: string; data: UploadData; name?: string; type?: string; size?: number; token: string; baseUrl?: string;
  onProgress?: (loaded: number, total: number) => void; maxBytes?: number; signal?: AbortSignal; fetch?: typeof fetch;
}): Promise<UploadResult>;

export declare const GENESIS_PREV: string;
/** RFC 8785 canonical JSON. */
export declare function canonicalize(value: unknown): string;
export declare function sha256Hex(text: string): Promise<string>;
export declare function recordHash(record: DecisionRecord): Promise<string>;
export declare function verifyChain(records: DecisionRecord[]): Promise<ChainCheck>;
export interface KeySet { supported: boolean; keys: Map<string, CryptoKey> | null }
export declare function importKeySet(jwks: { keys: unknown[] }): Promise<KeySet>;
export declare function loadKeySet(fetchImpl?: (path: string, init?: RequestInit) => Promise<Response>): Promise<KeySet>;
export declare function verifySignatures(records: DecisionRecord[], keySet: KeySet): Promise<SignatureCheck>;

export interface TokenClaims { sub: string; name: string; role: string; eng: string[]; exp: number }
/** Reads (does not verify) a token's claims. */
export declare function decodeToken(token: string): TokenClaims;
export declare function isExpired(claims: TokenClaims, nowMs?: number): boolean;
