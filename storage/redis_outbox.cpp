// The Redis engine's webhook outbox (redis_outbox.hpp).
#include "storage/redis_outbox.hpp"

#include "storage/error_counts.hpp"
#include "storage/redis_keys.hpp"
#include "storage/redis_scripts.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

namespace parley {
namespace {

// Delivered entries pruned from the global index per claim at most.
constexpr int prune_batch = 500;

const redis_connection::reply_handler ignore_reply = [](result<redis_value>) {};

std::string text(std::int64_t v) { return std::to_string(v); }

// A script's or a command's reply that is not an error.
result<redis_value> checked(result<redis_value> r) {
  if (!r) return r.err();
  if (r->is_error()) return reply_error(r->str);
  return r;
}

error malformed(std::string_view what) {
  return storage_fault("redis: unexpected reply to the webhook " + std::string(what));
}

// Runs `count` operations that each call their `done` once; `all` runs after
// the last, with the first error there was.
struct gather {
  std::size_t left;
  std::optional<error> failed;
  std::function<void(result<void>)> all;

  void one(result<void> r) {
    if (!r && !failed) failed = r.err();
    if (--left == 0) all(failed ? result<void>(*failed) : result<void>());
  }
};

}  // namespace

struct claim_round {
  std::string owner;
  std::int64_t now = 0;
  std::int64_t lease_ms = 0;
  std::size_t limit = 0;
  std::vector<std::string> engs;
  std::size_t next = 0;
  std::vector<webhook_entry> out;
  std::function<void(result<std::vector<webhook_entry>>)> done;
};

std::optional<webhook_entry> decode_webhook_entry(const redis_value& v, std::size_t first) {
  if (!v.is_array() || v.elements.size() < first + 10) return std::nullopt;
  const auto* f = &v.elements[first];
  for (int i = 0; i < 10; ++i)
    if (!f[i].is_string()) return std::nullopt;
  auto number = [&](int i) { return decimal_int64(f[i].str).value_or(0); };
  auto state = parse_webhook_state(f[5].str);
  if (!state) return std::nullopt;
  webhook_entry e;
  e.id = f[0].str;
  e.eng = f[1].str;
  e.type = f[2].str;
  e.ts = number(3);
  e.body = f[4].str;
  e.state = *state;
  e.attempts = static_cast<int>(number(6));
  e.next_at = number(7);
  e.last_error = f[8].str;
  e.delivered_at = number(9);
  return e;
}

// ts and, after the point, an ordinal of this instance: entries of one
// millisecond (the hooks of one append) list in the order they were stored.
std::string redis_outbox::listing_score(std::int64_t ts) {
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03u", static_cast<unsigned>(ordinal_++ % 1000));
  return text(ts) + fraction;
}

void redis_outbox::index_pending(const webhook_entry& e) {
  cmd_.command({"ZADD", webhooks_state_key("pending"), listing_score(e.ts), e.id}, ignore_reply);
  cmd_.command({"HSET", std::string(webhooks_eng_key), e.id, e.eng}, ignore_reply);
  // LT: an engagement whose first entry waits longer is checked sooner, never later.
  cmd_.command({"ZADD", std::string(webhooks_due_key), "LT", text(e.next_at), e.eng}, ignore_reply);
}

void redis_outbox::stored(const std::vector<webhook_entry>& hooks) {
  for (const auto& h : hooks) index_pending(h);
}

void redis_outbox::enqueue(std::vector<webhook_entry> entries, std::function<void(result<void>)> done) {
  std::map<std::string, std::vector<webhook_entry>> by_eng;
  for (auto& e : entries) by_eng[e.eng].push_back(std::move(e));
  if (by_eng.empty()) return done({});
  auto all = std::make_shared<gather>(gather{by_eng.size(), std::nullopt, std::move(done)});
  for (auto& [eng, group] : by_eng) {
    std::vector<std::string> args{text(2 + static_cast<std::int64_t>(group.size())), webhook_key(eng, "meta"),
                                  webhook_key(eng, "queue")};
    for (const auto& e : group) args.push_back(webhook_entry_key(eng, e.id));
    for (const auto& e : group) {
      args.insert(args.end(), {e.id, e.type, e.eng, text(e.ts), e.body, text(e.next_at)});
    }
    auto shared = std::make_shared<std::vector<webhook_entry>>(std::move(group));
    run_(redis_scripts::webhook_enqueue, std::move(args), [this, all, shared](result<redis_value> r) {
      r = checked(std::move(r));
      if (!r) return all->one(r.err());
      for (const auto& added : r->elements)
        for (const auto& e : *shared)
          if (e.id == added.str) index_pending(e);
      all->one({});
    });
  }
}

void redis_outbox::claim(std::string owner, std::int64_t now, std::int64_t lease_ms, int limit,
                         std::function<void(result<std::vector<webhook_entry>>)> done) {
  prune_delivered(now);
  if (limit <= 0) return done(std::vector<webhook_entry>{});
  limit = std::min(limit, max_webhook_page);
  auto round = std::make_shared<claim_round>();
  round->owner = std::move(owner);
  round->now = now;
  round->lease_ms = std::max<std::int64_t>(lease_ms, 1);
  round->limit = static_cast<std::size_t>(limit);
  round->done = std::move(done);
  // Some candidates turn out leased or not due yet (the index is a hint):
  // look at a few more than the limit.
  cmd_.command({"ZRANGEBYSCORE", std::string(webhooks_due_key), "-inf", text(now), "LIMIT", "0", text(2 * limit + 8)},
               [this, round](result<redis_value> r) {
                 r = checked(std::move(r));
                 if (!r) return round->done(r.err());
                 for (const auto& eng : r->elements) round->engs.push_back(eng.str);
                 claim_from(round);
               });
}

// One engagement at a time, until the limit is reached or the candidates run out.
void redis_outbox::claim_from(std::shared_ptr<claim_round> round) {
  if (round->out.size() >= round->limit || round->next >= round->engs.size())
    return round->done(std::move(round->out));
  std::string eng = round->engs[round->next++];
  run_(redis_scripts::webhook_claim,
       {"2", webhook_key(eng, "meta"), webhook_key(eng, "queue"), round->owner, text(round->now),
        text(round->lease_ms), webhook_entry_prefix(eng)},
       [this, round, eng](result<redis_value> r) {
         r = checked(std::move(r));
         if (!r) return round->done(r.err());
         const auto& e = r->elements;
         if (!r->is_array() || e.empty()) return round->done(malformed("claim"));
         const std::string& tag = e[0].str;
         if (tag == "ok") {
           auto entry = decode_webhook_entry(*r, 1);
           if (!entry) return round->done(malformed("claim"));
           round->out.push_back(std::move(*entry));
         } else if (tag == "empty") {
           cmd_.command({"ZREM", std::string(webhooks_due_key), eng}, ignore_reply);
         } else if ((tag == "later" || tag == "leased") && e.size() == 2) {
           // Checked again when it is due or the lease lapses.
           cmd_.command({"ZADD", std::string(webhooks_due_key), "XX", e[1].str, eng}, ignore_reply);
         }
         claim_from(round);
       });
}

void redis_outbox::finish(std::string owner, std::string eng, std::string id, webhook_outcome outcome,
                          std::function<void(result<void>)> done) {
  const char* kind = outcome.kind == webhook_outcome::delivered ? "delivered"
                     : outcome.kind == webhook_outcome::failed  ? "failed"
                                                                : "retry";
  std::vector<std::string> args{"4",
                                webhook_key(eng, "meta"),
                                webhook_key(eng, "queue"),
                                webhook_key(eng, "failed"),
                                webhook_entry_key(eng, id),
                                owner,
                                id,
                                kind,
                                text(outcome.at),
                                text(outcome.next_at),
                                outcome.error,
                                text(std::max<std::int64_t>(retention_ms_, 1)),
                                webhook_entry_prefix(eng)};
  run_(redis_scripts::webhook_finish, std::move(args),
       [this, eng, id, outcome, done = std::move(done)](result<redis_value> r) {
         r = checked(std::move(r));
         if (!r) return done(r.err());
         const auto& e = r->elements;
         if (!r->is_array() || e.empty()) return done(malformed("outcome"));
         const std::string& tag = e[0].str;
         if (tag == "conflict") return done(make_error(errc::conflict, "the webhook queue of " + eng + " is leased to another"));
         if (tag == "not_found") return done(make_error(errc::not_found, "no webhook " + id + " in " + eng));
         if (tag == "not_pending") return done(make_error(errc::conflict, "webhook " + id + " is not pending"));
         if (tag != "ok" || e.size() != 3) return done(malformed("outcome"));
         if (outcome.kind != webhook_outcome::retry) {
           cmd_.command({"ZREM", webhooks_state_key("pending"), id}, ignore_reply);
           if (outcome.kind == webhook_outcome::delivered)
             cmd_.command({"ZADD", webhooks_state_key("delivered"), text(outcome.at), id}, ignore_reply);
           else
             cmd_.command({"ZADD", webhooks_state_key("failed"), listing_score(decimal_int64(e[1].str).value_or(0)), id},
                          ignore_reply);
         }
         if (e[2].str == "-1")
           cmd_.command({"ZREM", std::string(webhooks_due_key), eng}, ignore_reply);
         else
           cmd_.command({"ZADD", std::string(webhooks_due_key), e[2].str, eng}, ignore_reply);
         done({});
       });
}

// Delivered entries expire in their slot after the retention period; their
// global index entries go here, a batch at a time.
void redis_outbox::prune_delivered(std::int64_t now) {
  cmd_.command({"ZRANGEBYSCORE", webhooks_state_key("delivered"), "-inf", "(" + text(now - retention_ms_), "LIMIT", "0",
                text(prune_batch)},
               [this](result<redis_value> r) {
                 r = checked(std::move(r));
                 if (!r || r->elements.empty()) return;
                 std::vector<std::string> zrem{"ZREM", webhooks_state_key("delivered")};
                 std::vector<std::string> hdel{"HDEL", std::string(webhooks_eng_key)};
                 for (const auto& id : r->elements) {
                   zrem.push_back(id.str);
                   hdel.push_back(id.str);
                 }
                 cmd_.command(zrem, ignore_reply);
                 cmd_.command(hdel, ignore_reply);
               });
}

void redis_outbox::list(webhook_state state, std::string after, int limit,
                        std::function<void(result<webhook_page>)> done) {
  limit = std::clamp(limit, 1, max_webhook_page);
  const std::string key = webhooks_state_key(webhook_state_name(state));
  auto read_from = [this, state, key, limit, done](std::int64_t start) {
    cmd_.command({"ZRANGE", key, text(start), text(start + limit)}, [this, state, limit, done](result<redis_value> r) {
      r = checked(std::move(r));
      if (!r) return done(r.err());
      std::vector<std::string> ids;
      for (const auto& id : r->elements) ids.push_back(id.str);
      std::optional<std::string> next;
      if (ids.size() > static_cast<std::size_t>(limit)) {
        ids.resize(static_cast<std::size_t>(limit));
        next = ids.back();
      }
      auto listed = std::make_shared<std::vector<std::string>>(ids);
      fetch_entries(std::move(ids), [this, state, listed, done, next](result<std::vector<std::optional<webhook_entry>>> found) {
        if (!found) return done(found.err());
        webhook_page page;
        page.next = next;
        for (std::size_t i = 0; i < found->size(); ++i) {
          auto& e = (*found)[i];
          if (e && e->state == state) {
            page.entries.push_back(std::move(*e));
          } else if ((*listed)[i] != next) {
            // The index lagged behind the queue (a crash between a script
            // and its index write): it follows the queue now.
            cmd_.command({"ZREM", webhooks_state_key(webhook_state_name(state)), (*listed)[i]}, ignore_reply);
            if (e) {
              auto score = e->state == webhook_state::delivered ? e->delivered_at : e->ts;
              cmd_.command({"ZADD", webhooks_state_key(webhook_state_name(e->state)), "NX", text(score), e->id},
                           ignore_reply);
            }
          }
        }
        done(std::move(page));
      });
    });
  };
  if (after.empty()) return read_from(0);
  cmd_.command({"ZRANK", key, after}, [after, read_from, done](result<redis_value> r) {
    r = checked(std::move(r));
    if (!r) return done(r.err());
    if (r->type != redis_value::kind::integer) return done(make_error(errc::not_found, "no webhook " + after));
    read_from(r->integer + 1);
  });
}

// The entries of `ids`, in their order (none for an id whose entry is gone).
void redis_outbox::fetch_entries(std::vector<std::string> ids,
                                 std::function<void(result<std::vector<std::optional<webhook_entry>>>)> done) {
  if (ids.empty()) return done(std::vector<std::optional<webhook_entry>>{});
  auto engs = std::make_shared<std::vector<std::string>>(ids.size());
  auto found = std::make_shared<std::vector<std::optional<webhook_entry>>>(ids.size());
  auto shared_ids = std::make_shared<std::vector<std::string>>(std::move(ids));
  auto finish = [found, done](result<void> all) {
    if (!all) return done(all.err());
    done(std::move(*found));
  };
  // Pipelined: every engagement lookup, then every entry read.
  auto lookups = std::make_shared<gather>(gather{shared_ids->size(), std::nullopt, [this, engs, found, shared_ids,
                                                                                     finish](result<void> looked) {
    if (!looked) return finish(looked.err());
    auto reads = std::make_shared<gather>(gather{shared_ids->size(), std::nullopt, finish});
    for (std::size_t i = 0; i < shared_ids->size(); ++i) {
      if ((*engs)[i].empty()) {
        reads->one({});
        continue;
      }
      cmd_.command({"HMGET", webhook_entry_key((*engs)[i], (*shared_ids)[i]), "id", "eng", "type", "ts", "body",
                    "state", "attempts", "next_at", "last_error", "delivered_at"},
                   [reads, found, i](result<redis_value> r) {
                     r = checked(std::move(r));
                     if (!r) return reads->one(r.err());
                     (*found)[i] = decode_webhook_entry(*r, 0);
                     reads->one({});
                   });
    }
  }});
  for (std::size_t i = 0; i < shared_ids->size(); ++i) {
    cmd_.command({"HGET", std::string(webhooks_eng_key), (*shared_ids)[i]}, [lookups, engs, i](result<redis_value> r) {
      r = checked(std::move(r));
      if (!r) return lookups->one(r.err());
      if (r->is_string()) (*engs)[i] = r->str;
      lookups->one({});
    });
  }
}

void redis_outbox::retry(std::string id, std::int64_t now, std::function<void(result<webhook_entry>)> done) {
  cmd_.command({"HGET", std::string(webhooks_eng_key), id}, [this, id, now, done](result<redis_value> r) {
    r = checked(std::move(r));
    if (!r) return done(r.err());
    if (!r->is_string()) return done(make_error(errc::not_found, "no webhook " + id));
    std::string eng = r->str;
    run_(redis_scripts::webhook_retry,
         {"3", webhook_key(eng, "queue"), webhook_key(eng, "failed"), webhook_entry_key(eng, id), id, text(now)},
         [this, id, eng, done](result<redis_value> r) {
           r = checked(std::move(r));
           if (!r) return done(r.err());
           const auto& e = r->elements;
           if (!r->is_array() || e.empty()) return done(malformed("re-queue"));
           if (e[0].str == "not_found") return done(make_error(errc::not_found, "no webhook " + id));
           if (e[0].str == "conflict") return done(make_error(errc::conflict, "webhook " + id + " has not failed"));
           auto entry = decode_webhook_entry(*r, 1);
           if (e[0].str != "ok" || !entry) return done(malformed("re-queue"));
           cmd_.command({"ZREM", webhooks_state_key("failed"), id}, ignore_reply);
           index_pending(*entry);
           done(std::move(*entry));
         });
  });
}

void redis_outbox::stats(std::function<void(result<webhook_queue_stats>)> done) {
  auto out = std::make_shared<webhook_queue_stats>();
  cmd_.command({"ZCARD", webhooks_state_key("pending")}, [out](result<redis_value> r) {
    if (r && r->type == redis_value::kind::integer) out->pending = static_cast<std::uint64_t>(r->integer);
  });
  cmd_.command({"ZRANGE", webhooks_state_key("pending"), "0", "0", "WITHSCORES"},
               [out, done](result<redis_value> r) {
                 r = checked(std::move(r));
                 if (!r) return done(r.err());
                 // The score's integer part is the ts (listing_score).
                 if (r->elements.size() == 2) {
                   const std::string& score = r->elements[1].str;
                   out->oldest_pending_ts = decimal_int64(score.substr(0, score.find('.'))).value_or(0);
                 }
                 done(*out);
               });
}

void redis_outbox::reindex(std::vector<std::string> engs, std::function<void(result<void>)> done) {
  if (engs.empty()) return done({});
  auto all = std::make_shared<gather>(gather{engs.size(), std::nullopt, std::move(done)});
  for (const auto& eng : engs) {
    run_(redis_scripts::webhook_scan, {"2", webhook_key(eng, "queue"), webhook_key(eng, "failed"), webhook_entry_prefix(eng)},
         [this, all, eng](result<redis_value> r) {
           r = checked(std::move(r));
           if (!r) return all->one(r.err());
           const auto& e = r->elements;
           if (!r->is_array() || e.size() != 3 || !e[1].is_array() || !e[2].is_array())
             return all->one(malformed("scan"));
           if (e[0].str != "-1") cmd_.command({"ZADD", std::string(webhooks_due_key), e[0].str, eng}, ignore_reply);
           auto index = [&](const redis_value& list, const char* state) {
             for (std::size_t i = 0; i + 1 < list.elements.size(); i += 2) {
               const std::string& id = list.elements[i].str;
               // NX: an entry indexed already keeps its place among those of its millisecond.
               cmd_.command({"ZADD", webhooks_state_key(state), "NX", list.elements[i + 1].str, id}, ignore_reply);
               cmd_.command({"HSET", std::string(webhooks_eng_key), id, eng}, ignore_reply);
             }
           };
           index(e[1], "pending");
           index(e[2], "failed");
           all->one({});
         });
  }
}

}  // namespace parley
