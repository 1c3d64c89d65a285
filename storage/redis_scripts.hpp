#pragma once
// The Lua scripts of the Redis engine. Each runs atomically inside Redis, so
// a request's checks and writes, and the PUBLISH of its events, are one step:
// the publish order of a channel is its seq order.
//
// Key layout (T is the hash tag: "{eng:<id>}" for eng:<id> and
// eng:<id>:mediation, "{support}" for support, so an engagement's keys share
// one slot):
//   parley:T:meta:<ch>    hash: top (head seq), ts (ts of the head), epoch
//   parley:T:events:<ch>  stream: entry id "<seq>-0", fields t (ts) and j (the event JSON)
//   parley:T:cids:<ch>    hash: "<len(sender)>:<sender><cid>" -> seq of the request's first event
//   parley:T:log          list: the decision-log records of engagement T, JSON, n ascending,
//                         complete with hash, kid and sig (made by the engine, stored as given)
//   parley:T:read:<ch>    hash: user id -> highest seq read
//   parley:T:sealed:<ch>  hash: seq -> the sealed payload stored beside that event
//                         (append_request::sealed: a review before its reveal)
//   parley:engagements    set: the ids of engagements whose main channel holds events;
//                         no hash tag, so written by its own SADD, never by a script
//   parley:engagements:by_id  sorted set: the same ids, all scores 0 (pages in id order
//                         by ZRANGEBYLEX); written by its own ZADD next to the SADD
//   parley:engagements:by_id:complete  "1" once the sorted set was filled from the set
//   parley:{eng:<id>}:files  hash: "f:<sha256>" -> entry JSON {name, size, type, by, ts},
//                         and "total" -> bytes of the engagement's distinct files (protocol §9.6)
//   parley:{eng:<id>}:snapshot  hash: revision, state (the engagement's snapshot text)
// The webhook outbox (protocol §9.8, redis_outbox.hpp). Per engagement, in its slot:
//   parley:{eng:<id>}:wh:meta     hash: n (the last entry number), owner and until (the
//                         lease of the engagement's queue: who sends its first entry, until when)
//   parley:{eng:<id>}:wh:queue    sorted set: the pending entry ids, score n (queue order)
//   parley:{eng:<id>}:wh:failed   sorted set: the failed entry ids, score n
//   parley:{eng:<id>}:wh:e:<id>   hash: n, id, eng, type, ts, body, state, attempts,
//                         next_at, last_error, delivered_at; expires a retention period
//                         after it was delivered
// written by the append script with the events that cause them, and by the
// webhook scripts below. Global, with no hash tag (written by commands of
// their own after a script, and rebuilt from the keys above: losing a write
// delays a hook, never loses it):
//   parley:webhooks:due        sorted set: engagement id -> when its first pending entry is due
//   parley:webhooks:pending    sorted set: pending entry ids, score ts (listings, counts)
//   parley:webhooks:failed     sorted set: failed entry ids, score ts
//   parley:webhooks:delivered  sorted set: delivered entry ids, score delivered_at (trimmed)
//   parley:webhooks:eng        hash: entry id -> its engagement
// and the pub/sub channel parley:T:pub:<ch>, whose messages read
// "<seq> <ts> <epoch> <event JSON>".
#include <string_view>

namespace parley::redis_scripts {

// Appends one request.
// KEYS: 1 cids hash of the first event's channel, 2 log (or any declared
//       key when there is no record), then per channel c (1..C, the first
//       event's channel first): 1+2c meta, 2+2c stream. Every key of a call
//       carries the same hash tag: a script never spans two hash slots.
//       With a sealed payload one more key: the sealed hash of the first
//       event's channel. With H hooks, then the engagement's wh:meta and
//       wh:queue and the H entry keys.
// ARGV: 1 now (ms), 2 epoch for channels that have none, 3 cid field ("" for
//       none), 4 C, 5 E, 6 N, 7 record JSON ("" for none), 8 record n,
//       9 pinned ("1": the caller computed seqs and ts, they must hold),
//       10 sealed ("1": there is a sealed payload), 11 H (hooks: pinned only);
//       then C pub/sub channel names; E pairs (channel index, expected head);
//       N groups (channel index, JSON before seq, between seq and ts, after ts,
//       engagement id or "", which the caller adds to parley:engagements with a
//       command of its own after the reply, since that set has no hash tag);
//       when pinned, N expected seqs; H groups (id, type, eng, ts, body); with
//       the sealed key, last, the sealed payload, stored under the first
//       event's seq.
// Returns {"dup", seq, ts, json} | {"stale", channel index, head} |
//         {"retry", why} (pinned values no longer hold; nothing written) |
//         {"ok", ts, {seq...}, {epoch of each event's channel...}}.
// The shebang makes Redis refuse the whole script up front when it is out of
// memory, rather than at a write in the middle.
inline constexpr std::string_view append = R"lua(#!lua
local now = tonumber(ARGV[1])
local epoch_new = ARGV[2]
local cid_field = ARGV[3]
local nc, ne, nv = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local record, record_n, pinned = ARGV[7], tonumber(ARGV[8]), ARGV[9] == '1'
local has_sealed, nh = ARGV[10] == '1', tonumber(ARGV[11])
local a = 12
local pub = {}
for c = 1, nc do pub[c] = ARGV[a]; a = a + 1 end

if cid_field ~= '' then
  local seq = redis.call('HGET', KEYS[1], cid_field)
  if seq then
    local found = redis.call('XRANGE', KEYS[4], seq, seq)
    if #found ~= 1 then return redis.error_reply('cid points at a missing event') end
    local f, ts, json = found[1][2], 0, ''
    for i = 1, #f, 2 do
      if f[i] == 't' then ts = tonumber(f[i + 1]) elseif f[i] == 'j' then json = f[i + 1] end
    end
    return {'dup', tonumber(seq), ts, json}
  end
end

local top, last_ts, epoch, touched = {}, {}, {}, {}
for c = 1, nc do
  local m = redis.call('HMGET', KEYS[1 + 2 * c], 'top', 'ts', 'epoch')
  top[c] = tonumber(m[1]) or 0
  last_ts[c] = tonumber(m[2]) or 0
  epoch[c] = m[3]
end

for i = 1, ne do
  local c, want = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  if top[c] ~= want then return {'stale', c, top[c]} end
end

local ev = {}
for i = 1, nv do
  ev[i] = {c = tonumber(ARGV[a]), prefix = ARGV[a + 1], middle = ARGV[a + 2], suffix = ARGV[a + 3], eng = ARGV[a + 4]}
  a = a + 5
  touched[ev[i].c] = true
end

-- One ts for the request, never older than the head of a channel it appends to.
local ts = now
for c = 1, nc do
  if touched[c] and last_ts[c] > ts then ts = last_ts[c] end
end
if pinned and ts ~= now then return {'retry', 'ts'} end
if record ~= '' and redis.call('LLEN', KEYS[2]) ~= record_n - 1 then return {'retry', 'log'} end

local seqs = {}
for i = 1, nv do
  local c = ev[i].c
  top[c] = top[c] + 1
  seqs[i] = top[c]
  if pinned and seqs[i] ~= tonumber(ARGV[a + i - 1]) then return {'retry', 'seq'} end
end

local sealed_key = nil
if has_sealed then
  sealed_key = KEYS[3 + 2 * nc]
  local t = redis.call('TYPE', sealed_key)['ok']
  if t ~= 'none' and t ~= 'hash' then return redis.error_reply('the sealed payloads key holds a ' .. t) end
end
local hk = 3 + 2 * nc + (has_sealed and 1 or 0)
local ha = a + (pinned and nv or 0)
if nh > 0 then
  for _, k in ipairs({{KEYS[hk], 'hash'}, {KEYS[hk + 1], 'zset'}}) do
    local t = redis.call('TYPE', k[1])['ok']
    if t ~= 'none' and t ~= k[2] then return redis.error_reply('the webhook key ' .. k[1] .. ' holds a ' .. t) end
  end
end

-- Every check is done: from here on nothing fails (a script is not rolled back).
local ts_text = string.format('%d', ts)
for c = 1, nc do
  if touched[c] then
    if not epoch[c] then epoch[c] = epoch_new end
    redis.call('HSET', KEYS[1 + 2 * c], 'top', string.format('%d', top[c]), 'ts', ts_text, 'epoch', epoch[c])
  end
end
local epochs = {}
for i = 1, nv do
  local c = ev[i].c
  local seq_text = string.format('%d', seqs[i])
  local json = ev[i].prefix .. seq_text .. ev[i].middle .. ts_text .. ev[i].suffix
  redis.call('XADD', KEYS[2 + 2 * c], seq_text .. '-0', 't', ts_text, 'j', json)
  redis.call('PUBLISH', pub[c], seq_text .. ' ' .. ts_text .. ' ' .. epoch[c] .. ' ' .. json)
  epochs[i] = epoch[c]
end
if cid_field ~= '' then redis.call('HSET', KEYS[1], cid_field, string.format('%d', seqs[1])) end
if record ~= '' then redis.call('RPUSH', KEYS[2], record) end
if sealed_key then redis.call('HSET', sealed_key, string.format('%d', seqs[1]), ARGV[#ARGV]) end
for i = 1, nh do
  local g = ha + 5 * (i - 1)
  local key = KEYS[hk + 1 + i]
  if redis.call('EXISTS', key) == 0 then
    local n = redis.call('HINCRBY', KEYS[hk], 'n', 1)
    redis.call('HSET', key, 'n', n, 'id', ARGV[g], 'type', ARGV[g + 1], 'eng', ARGV[g + 2], 'ts', ARGV[g + 3],
               'body', ARGV[g + 4], 'state', 'pending', 'attempts', 0, 'next_at', ARGV[g + 3], 'last_error', '',
               'delivered_at', 0)
    redis.call('ZADD', KEYS[hk + 1], n, ARGV[g])
  end
end
return {'ok', ts, seqs, epochs}
)lua";

// Reads a channel's epoch (creating it when the channel has none: a new or
// wiped log), its head, and optionally a window of its stream.
// KEYS: 1 meta, 2 stream. ARGV: 1 epoch for a channel that has none,
// 2 "XRANGE", "XREVRANGE", "BOUNDED" or "" (head only), 3 and 4 the range
// bounds, 5 COUNT. BOUNDED takes `after` and `before` (each "" when absent) as
// 3 and 4 and 6 the byte bound: seqs are gap-free from 1 to the head, so the
// window is an ascending range, read from its oldest event until the events'
// JSON would pass the bound (at least one is returned).
// Returns {epoch, head, truncated (0/1), id1, json1, id2, json2, ...} in the
// order of the command.
inline constexpr std::string_view read = R"lua(#!lua
local m = redis.call('HMGET', KEYS[1], 'epoch', 'top')
local epoch = m[1]
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local top = tonumber(m[2]) or 0
local out = {epoch, top, 0}
if top == 0 or ARGV[2] == '' then return out end
local found
local budget = 0
if ARGV[2] == 'BOUNDED' then
  local limit = tonumber(ARGV[5])
  budget = tonumber(ARGV[6])
  local lo, hi = 1, top
  if ARGV[4] ~= '' then hi = math.min(hi, tonumber(ARGV[4]) - 1) end
  if ARGV[3] ~= '' then
    local after = tonumber(ARGV[3])
    if after >= hi then return out end
    lo = math.max(1, after + 1)
    hi = math.min(hi, lo + limit - 1)
  else
    lo = math.max(1, hi - limit + 1)
  end
  if lo > hi then return out end
  found = redis.call('XRANGE', KEYS[2], string.format('%d', lo), string.format('%d', hi), 'COUNT', ARGV[5])
else
  found = redis.call(ARGV[2], KEYS[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
end
local used = 0
for i = 1, #found do
  local f = found[i][2]
  for k = 1, #f, 2 do
    if f[k] == 'j' then
      if budget > 0 and #out > 3 and used + #f[k + 1] > budget then
        out[3] = 1
        return out
      end
      used = used + #f[k + 1]
      out[#out + 1] = found[i][1]
      out[#out + 1] = f[k + 1]
    end
  end
end
return out
)lua";

// What a request with a decision record needs before its record can be
// hashed: the log's length and last record, and each channel's head and ts.
// KEYS: 1 log, then the meta hash of each channel.
// Returns {llen, last record JSON or "", top1, ts1, top2, ts2, ...}.
inline constexpr std::string_view state = R"lua(#!lua flags=no-writes
local out = {redis.call('LLEN', KEYS[1]), redis.call('LINDEX', KEYS[1], -1) or ''}
for i = 2, #KEYS do
  local m = redis.call('HMGET', KEYS[i], 'top', 'ts')
  out[#out + 1] = tonumber(m[1]) or 0
  out[#out + 1] = tonumber(m[2]) or 0
end
return out
)lua";

// The event stored under an idempotency key. KEYS: 1 cids hash, 2 stream.
// ARGV: 1 the cid field. Returns {} when there is none, else {seq, ts, json}.
inline constexpr std::string_view find_cid = R"lua(#!lua flags=no-writes
local seq = redis.call('HGET', KEYS[1], ARGV[1])
if not seq then return {} end
local found = redis.call('XRANGE', KEYS[2], seq, seq)
if #found ~= 1 then return redis.error_reply('cid points at a missing event') end
local f, ts, json = found[1][2], 0, ''
for i = 1, #f, 2 do
  if f[i] == 't' then ts = tonumber(f[i + 1]) elseif f[i] == 'j' then json = f[i + 1] end
end
return {tonumber(seq), ts, json}
)lua";

// Keeps the highest seq a user has read. KEYS: 1 read hash. ARGV: 1 user id, 2 seq.
inline constexpr std::string_view read_marker = R"lua(#!lua
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
)lua";

// Stores an engagement's snapshot unless the stored one reflects more events.
// KEYS: 1 snapshot hash. ARGV: 1 revision, 2 snapshot text.
inline constexpr std::string_view save_snapshot = R"lua(#!lua
local stored = redis.call('HGET', KEYS[1], 'revision')
if stored and tonumber(stored) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'revision', ARGV[1], 'state', ARGV[2])
return 1
)lua";

// Adds a file to an engagement's index and its size to the running total,
// unless the hash is there already or the total would pass the bound.
// KEYS: 1 files hash. ARGV: 1 sha256, 2 entry JSON, 3 size, 4 bound (0: none).
// Returns {0, stored entry JSON, total} | {1, entry JSON, total} | {2, "", total} (over the bound).
inline constexpr std::string_view add_file = R"lua(#!lua
local field = 'f:' .. ARGV[1]
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
local stored = redis.call('HGET', KEYS[1], field)
if stored then return {0, stored, tostring(total)} end
local size, bound = tonumber(ARGV[3]), tonumber(ARGV[4])
if bound > 0 and total + size > bound then return {2, '', tostring(total)} end
redis.call('HSET', KEYS[1], field, ARGV[2])
redis.call('HINCRBY', KEYS[1], 'total', size)
return {1, ARGV[2], tostring(total + size)}
)lua";

// ---- the webhook outbox (key layout above; redis_outbox.hpp) ----
// Every entry reply lists an entry's fields in this order: id, eng, type, ts,
// body, state, attempts, next_at, last_error, delivered_at.

// Adds entries caused by no event (notify.digest) to one engagement's queue;
// an id stored before is left as it was.
// KEYS: 1 wh:meta, 2 wh:queue, then one entry key per entry.
// ARGV: groups (id, type, eng, ts, body, next_at). Returns the ids stored.
inline constexpr std::string_view webhook_enqueue = R"lua(#!lua
local added = {}
for i = 3, #KEYS do
  local g = 1 + 6 * (i - 3)
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
    redis.call('HSET', KEYS[i], 'n', n, 'id', ARGV[g], 'type', ARGV[g + 1], 'eng', ARGV[g + 2], 'ts', ARGV[g + 3],
               'body', ARGV[g + 4], 'state', 'pending', 'attempts', 0, 'next_at', ARGV[g + 5], 'last_error', '',
               'delivered_at', 0)
    redis.call('ZADD', KEYS[2], n, ARGV[g])
    added[#added + 1] = ARGV[g]
  end
end
return added
)lua";

// Leases an engagement's queue and answers its first entry, when that is due
// and no other owner holds a live lease.
// KEYS: 1 wh:meta, 2 wh:queue. ARGV: 1 owner, 2 now, 3 lease ms, 4 the entry
// key prefix (parley:{eng:<id>}:wh:e:, so entry keys stay in the slot).
// Returns {"ok", fields...} | {"later", when it is due} | {"leased", until} | {"empty"}.
inline constexpr std::string_view webhook_claim = R"lua(#!lua
local now = tonumber(ARGV[2])
local first = redis.call('ZRANGE', KEYS[2], 0, 0)
if #first == 0 then return {'empty'} end
local e = redis.call('HMGET', ARGV[4] .. first[1], 'id', 'eng', 'type', 'ts', 'body', 'state', 'attempts',
                     'next_at', 'last_error', 'delivered_at')
if not e[1] then
  -- An id without its entry (never written by these scripts): out of the queue.
  redis.call('ZREM', KEYS[2], first[1])
  return {'later', '0'}
end
if tonumber(e[8]) > now then return {'later', e[8]} end
local lease = redis.call('HMGET', KEYS[1], 'owner', 'until')
if lease[1] and lease[1] ~= ARGV[1] and tonumber(lease[2]) > now then return {'leased', lease[2]} end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'until', string.format('%d', now + tonumber(ARGV[3])))
return {'ok', e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], e[9], e[10]}
)lua";

// Records an attempt's outcome, if `owner` holds the queue's lease, and
// releases it. KEYS: 1 wh:meta, 2 wh:queue, 3 wh:failed, 4 the entry.
// ARGV: 1 owner, 2 id, 3 "delivered" | "retry" | "failed", 4 at, 5 next_at,
// 6 error, 7 retention ms (of a delivered entry), 8 the entry key prefix.
// Returns {"ok", ts, when the queue's first entry is due or -1 when none}
// | {"conflict"} (not the lease holder) | {"not_found"} | {"not_pending"}.
inline constexpr std::string_view webhook_finish = R"lua(#!lua
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {'conflict'} end
local e = redis.call('HMGET', KEYS[4], 'state', 'n', 'attempts', 'ts')
if not e[1] then return {'not_found'} end
if e[1] ~= 'pending' then return {'not_pending'} end
local attempts = string.format('%d', tonumber(e[3]) + 1)
local kind = ARGV[3]
if kind == 'delivered' then
  redis.call('HSET', KEYS[4], 'state', 'delivered', 'attempts', attempts, 'next_at', ARGV[4], 'last_error', '',
             'delivered_at', ARGV[4])
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[4], ARGV[7])
elseif kind == 'failed' then
  redis.call('HSET', KEYS[4], 'state', 'failed', 'attempts', attempts, 'next_at', ARGV[4], 'last_error', ARGV[6])
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('ZADD', KEYS[3], e[2], ARGV[2])
else
  redis.call('HSET', KEYS[4], 'attempts', attempts, 'next_at', ARGV[5], 'last_error', ARGV[6])
end
redis.call('HDEL', KEYS[1], 'owner', 'until')
local first = redis.call('ZRANGE', KEYS[2], 0, 0)
local due = '-1'
if #first == 1 then due = redis.call('HGET', ARGV[8] .. first[1], 'next_at') or '0' end
return {'ok', e[4], due}
)lua";

// Puts a failed entry back into its queue, in its original place (its n).
// KEYS: 1 wh:queue, 2 wh:failed, 3 the entry. ARGV: 1 id, 2 now.
// Returns {"ok", fields...} | {"not_found"} | {"conflict"} (it has not failed).
inline constexpr std::string_view webhook_retry = R"lua(#!lua
local n = redis.call('HGET', KEYS[3], 'n')
if not n then return {'not_found'} end
if redis.call('HGET', KEYS[3], 'state') ~= 'failed' then return {'conflict'} end
redis.call('HSET', KEYS[3], 'state', 'pending', 'attempts', 0, 'next_at', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], n, ARGV[1])
local e = redis.call('HMGET', KEYS[3], 'id', 'eng', 'type', 'ts', 'body', 'state', 'attempts', 'next_at',
                     'last_error', 'delivered_at')
return {'ok', e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], e[9], e[10]}
)lua";

// One engagement's outbox as the global indices need it (rebuilding them).
// KEYS: 1 wh:queue, 2 wh:failed. ARGV: 1 the entry key prefix.
// Returns {when the first pending entry is due or -1, {pending id, ts, ...},
// {failed id, ts, ...}}.
// Claims the keys of one due partition due at ARGV[1] or before, at most
// ARGV[3] of them, earliest first: each one's due becomes ARGV[2] (the lease's end).
// KEYS: [1] parley:{due:<p>}:due.
inline constexpr std::string_view claim_due = R"lua(#!lua
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, k in ipairs(keys) do redis.call('ZADD', KEYS[1], ARGV[2], k) end
return keys
)lua";

inline constexpr std::string_view webhook_scan = R"lua(#!lua flags=no-writes
local function listed(key)
  local out = {}
  for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGET', ARGV[1] .. id, 'ts') or '0'
  end
  return out
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0)
local due = '-1'
if #first == 1 then due = redis.call('HGET', ARGV[1] .. first[1], 'next_at') or '0' end
return {due, listed(KEYS[1]), listed(KEYS[2])}
)lua";

}  // namespace parley::redis_scripts
