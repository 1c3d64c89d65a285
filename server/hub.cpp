#include "server/hub.hpp"

#include "protocol/access.hpp"
#include "protocol/engagement.hpp"
#include "protocol/event.hpp"
#include "protocol/frame.hpp"
#include "server/ws_session.hpp"

#include "storage/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>

namespace parley {
namespace net = boost::asio;

namespace {
// A workflow post that keeps losing races to newer events is answered `conflict` after this many checks.
constexpr int max_stale_retries = 5;

error no_engagement(const std::string& eng) {
  return make_error(errc::not_found, "engagement " + eng + " does not exist");
}
}  // namespace

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

user_limit_rates rates_of(const config& cfg) {
  user_limit_rates r;
  r[op_class::post] = {cfg.post_rate, cfg.post_burst};
  r[op_class::read] = {cfg.ephemeral_rate, cfg.ephemeral_burst};
  r[op_class::typing] = {cfg.ephemeral_rate, cfg.ephemeral_burst};
  r[op_class::availability] = {cfg.ephemeral_rate, cfg.ephemeral_burst};
  r[op_class::channel] = {cfg.request_rate, cfg.request_burst};
  r[op_class::http] = {cfg.http_rate, cfg.http_burst};
  return r;
}

hub::hub(const config& cfg, engine& storage, std::size_t workers)
    : cfg_(cfg),
      storage_(storage),
      engagements_(
          storage,
          [this](const std::string& ch, std::function<void(std::optional<error>)> ready) {
            watch(ch, std::move(ready));
          },
          [this](const std::string& ch) { unwatch(ch); }, cfg.engagement_cache),
      limits_({cfg.max_connections.value_or(0), cfg.max_unauth_per_ip, cfg.max_ws_per_user}),
      revocations_(cfg.max_token_lifetime_s),
      assets_(web_assets::load(cfg.web_root)),
      rates_(rates_of(cfg)),
      read_markers_([this](const std::string& user_id, const std::string& ch, std::int64_t seq) {
        bump(metrics_.read_markers_stored);
        storage_.set_read_marker(user_id, ch, seq);
      }) {
  for (std::size_t i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<worker>());
    workers_.back()->index = i;
  }
  storage_.set_sink([this](const committed_event& ev) { on_committed(ev); });
  // Pushes made on other instances, for this one's members.
  storage_.set_ephemeral_sink([this](const std::string& ch, std::shared_ptr<const std::string> frame) {
    broadcast_local(ch, std::move(frame), nullptr);
  });
}

worker& hub::next_worker() { return *workers_[next_worker_.fetch_add(1, std::memory_order_relaxed) % workers_.size()]; }

result<claims> hub::authenticate(std::string_view token) const {
  token_policy policy;
  policy.audience = cfg_.token_audience;
  policy.issuer = cfg_.token_issuer;
  policy.max_lifetime_seconds = cfg_.max_token_lifetime_s;
  auto verified = verify_token(token, cfg_.secret, now_ms() / 1000, policy);
  if (verified && !revocations_.loaded()) return make_error(errc::unavailable, "storage is not reachable yet; try again");
  if (verified && !revocations_.allows(*verified)) return make_error(errc::unauthorized, "token revoked");
  return verified;
}

void hub::revoke(const std::string& user_id, std::function<void(result<revocation>)> done) {
  // Valid after the next full second: iat has seconds only, and no token
  // issued in the second of the revocation may slip through.
  revocation r{user_id, now_ms() / 1000 + 1};
  event ev;
  ev.ch = std::string(revocations::channel);
  ev.kind = std::string(revocations::kind);
  ev.from = system_user();
  ev.body = {{"user", r.user_id}, {"valid_after", r.valid_after}};
  append_request req;
  req.events.push_back(std::move(ev));
  storage_.append(std::move(req), [r, done = std::move(done)](append_outcome out) {
    if (out.err) return done(*out.err);
    done(r);
  });
}

// The revocations that can still refuse a token: read backwards from the head
// until they are older than the longest token lifetime. Until that is done
// (storage may be unreachable at start), no token is accepted; a failed load
// is tried again every half second.
void hub::load_revocations() {
  watch(std::string(revocations::channel), [this](std::optional<error> e) {
    if (e) return retry_revocations(*e);
    read_revocations_before(std::nullopt);
  });
}

void hub::read_revocations_before(std::optional<std::int64_t> before) {
  read_query q;
  q.ch = std::string(revocations::channel);
  q.before = before;
  q.limit = 500;
  storage_.read(q, [this](read_outcome out) {
    if (out.err) return retry_revocations(*out.err);
    const auto now_s = now_ms() / 1000;
    bool older = false;
    for (const auto& e : out.events) {
      auto r = revocations_.apply(*e.json, now_s);
      if (r && r->valid_after < now_s - cfg_.max_token_lifetime_s) older = true;
    }
    if (out.events.empty() || older || out.events.front().seq <= 1) return revocations_.set_loaded();
    read_revocations_before(out.events.front().seq);
  });
}

void hub::retry_revocations(const error& e) {
  log_event(log_level::warn, "revocations_unavailable", {{"error", e.message}});
  unwatch(std::string(revocations::channel));
  auto timer = std::make_shared<net::steady_timer>(workers_.front()->ioc, std::chrono::milliseconds(500));
  timer->async_wait([this, timer](boost::system::error_code ec) {
    if (!ec) load_revocations();
  });
}

void hub::post(const claims& who, const std::string& ch_name, const std::string& kind,
               const boost::json::object& body, const std::string& cid, std::function<void(result<post_ack>)> done) {
  auto refuse = [&](error e) {
    bump(metrics_.posts_refused);
    done(std::move(e));
  };
  auto ch = parse_channel(ch_name);
  if (!ch) return refuse(make_error(errc::bad_request, "unknown channel '" + ch_name + "'"));
  if (auto r = check_post(who, *ch, kind); !r) return refuse(r.err());
  auto normalised = validate_body(kind, body);
  if (!normalised) return refuse(normalised.err());

  if (ch->type == channel_type::support) {
    // Notes among support staff: no engagement rules apply.
    event ev;
    ev.ch = ch->name();
    ev.kind = kind;
    ev.from = who.who;
    ev.cid = cid;
    ev.body = std::move(normalised.value());
    append_request req;
    req.events.push_back(std::move(ev));
    return storage_.append(std::move(req),
                           [this, kind, done = std::move(done)](append_outcome out) { complete(std::move(out), kind, done); });
  }

  post_request request{*ch, kind, std::move(normalised.value()), cid, std::nullopt};
  // Messages and status updates change no rule another post depends on: they
  // need not wait for the engagement's workflow posts, nor for its head.
  if (kind == "message" || kind == "status") {
    return engagements_.with_state(ch->eng, opens_engagements(who),
                                   [this, who, request = std::move(request), done = std::move(done)](
                                       engagements::snapshot s, const error* err) mutable {
                                     check_and_append(std::move(s), err, who, std::move(request), false, 0, [] {},
                                                      std::move(done));
                                   });
  }
  engagements_.run_exclusive(ch->eng, opens_engagements(who),
                             [this, who, request = std::move(request), done = std::move(done)](
                                 engagements::snapshot s, const error* err, std::function<void()> finished) mutable {
                               check_and_append(std::move(s), err, who, std::move(request), true, max_stale_retries,
                                                std::move(finished), std::move(done));
                             });
}

// Checks a post against the engagement's state and appends its plan. With
// `guard`, the append holds only if the engagement's channels are still at the
// heads that state was built from; a post that lost that race (another
// instance, or a message in between) is checked again against the newer state.
void hub::check_and_append(engagements::snapshot state, const error* err, const claims& who, post_request request,
                           bool guard, int retries_left, std::function<void()> finished,
                           std::function<void(result<post_ack>)> done) {
  auto refuse = [&](const error& e) {
    finished();
    bump(metrics_.posts_refused);
    done(e);
  };
  if (err) return refuse(*err);
  // The state keeps only open proposals and flags: whether a closed-looking
  // seq was a proposal (or flag) at all is read from its stored event, so that
  // the answer is exactly `conflict` or `not_found`.
  if (!request.target_kind) {
    if (auto target = target_lookup(*state, request)) {
      read_query q;
      q.ch = target->first;
      q.after = target->second - 1;
      q.limit = 1;
      auto seq = target->second;
      return storage_.read(std::move(q), [=, this](read_outcome out) mutable {
        if (out.err) return check_and_append(nullptr, &*out.err, who, std::move(request), guard, retries_left,
                                             std::move(finished), std::move(done));
        request.target_kind = std::string();
        if (!out.events.empty() && out.events.front().seq == seq) {
          if (auto ev = parse_event(*out.events.front().json)) request.target_kind = ev->kind;
        }
        check_and_append(std::move(state), nullptr, who, std::move(request), guard, retries_left, std::move(finished),
                         std::move(done));
      });
    }
  }
  auto pl = check(*state, who.who, request, engagement_limits{cfg_.max_open_proposals, cfg_.max_open_flags});
  if (!pl && !request.cid.empty()) {
    // A retry of a post that was stored: its rule no longer holds (a proposal
    // is not decided twice), but it is answered with what it stored.
    return storage_.find_by_cid(request.ch.name(), who.who.id, request.cid,
                                [this, refusal = pl.err(), finished, done,
                                 kind = request.kind](result<std::optional<committed_event>> found) {
                                  finished();
                                  if (!found || !found->has_value()) {
                                    bump(metrics_.posts_refused);
                                    return done(refusal);
                                  }
                                  append_outcome out;
                                  out.duplicate = true;
                                  out.committed.push_back(std::move(**found));
                                  complete(std::move(out), kind, done);
                                });
  }
  if (!pl) return refuse(pl.err());

  append_request req;
  req.events = std::move(pl->events);
  if (pl->record) req.record = append_request::record_draft{std::move(pl->record->fields), pl->record->attach_to};
  if (guard) {
    for (auto ch : {"eng:" + state->eng, "eng:" + state->eng + ":mediation"}) {
      auto it = state->applied.find(ch);
      req.expect_heads.emplace_back(ch, it == state->applied.end() ? 0 : it->second);
    }
  }
  storage_.append(std::move(req), [this, who, request, guard, retries_left, finished, done](append_outcome out) mutable {
    if (out.stale_state && retries_left > 0) {
      auto eng = request.ch.eng;
      request.target_kind.reset();  // looked up again against the newer state
      return engagements_.catch_up(eng, [=, this](engagements::snapshot s, const error* e) mutable {
        check_and_append(std::move(s), e, who, std::move(request), guard, retries_left - 1, std::move(finished),
                         std::move(done));
      });
    }
    // The sink has applied the events: the engagement's next workflow post may run.
    finished();
    complete(std::move(out), request.kind, done);
  });
}

// Answers a stored post, after appending the support notices its event implies.
// Notices are keyed by the flag, so a retry after a crash between the two
// appends adds the missing notice and never a second one.
void hub::complete(append_outcome out, const std::string& kind, const std::function<void(result<post_ack>)>& done) {
  if (out.err) {
    bump(metrics_.posts_refused);
    return done(*out.err);
  }
  const auto& first = out.committed.front();
  post_ack ack{first.seq, first.ts, out.duplicate};
  std::vector<event> notices;
  if (kind == "flag") {
    if (auto ev = parse_event(*first.json)) notices = notices_for(ev.value());
  }
  if (notices.empty()) {
    bump(metrics_.posts_accepted);
    return done(ack);
  }
  append_request req;
  req.events = std::move(notices);
  storage_.append(std::move(req), [this, done, ack](append_outcome n) {
    if (n.err) {
      bump(metrics_.posts_refused);
      return done(*n.err);
    }
    bump(metrics_.posts_accepted);
    done(ack);
  });
}

void hub::state_of(const claims& who, const std::string& ch_name,
                   std::function<void(result<boost::json::value>)> done) {
  auto ch = parse_channel(ch_name);
  if (!ch) return done(make_error(errc::bad_request, "unknown channel '" + ch_name + "'"));
  if (auto r = check_read(who, *ch); !r) return done(r.err());
  if (ch->type == channel_type::support) return done(boost::json::value(nullptr));
  engagements_.with_state(ch->eng, opens_engagements(who), [this, who, ch = *ch, done = std::move(done)](
                                                             engagements::snapshot s, const error* err) {
    if (err) return done(*err);
    if (ch.type == channel_type::mediation && !s->mediation_exists)
      return done(make_error(errc::not_found, ch.name() + " does not exist: no dispute has opened it"));
    done(boost::json::value(state_json(*s, cfg_.sla.phases, who, {cfg_.max_open_proposals, cfg_.max_open_flags})));
  });
}

void hub::read(const claims& who, read_query q, std::function<void(read_outcome)> done) {
  auto ch = parse_channel(q.ch);
  if (!ch) return done(read_outcome{make_error(errc::bad_request, "unknown channel '" + q.ch + "'"), {}, 0, {}});
  if (auto r = check_read(who, *ch); !r) return done(read_outcome{r.err(), {}, 0, {}});
  if (ch->type == channel_type::support || opens_engagements(who)) return storage_.read(std::move(q), std::move(done));
  if (ch->type == channel_type::mediation) {
    // The mediation channel of an engagement that does not exist: its main channel is empty.
    read_query main;
    main.ch = "eng:" + ch->eng;
    main.limit = 1;
    return storage_.read(std::move(main), [this, q = std::move(q), done = std::move(done),
                                           eng = ch->eng](read_outcome out) mutable {
      if (out.err) return done(std::move(out));
      if (out.head == 0) return done(read_outcome{no_engagement(eng), {}, 0, {}});
      storage_.read(std::move(q), std::move(done));
    });
  }
  // Every engagement's main channel holds its opening event: an empty one does not exist.
  storage_.read(std::move(q), [done = std::move(done), name = ch->name()](read_outcome out) {
    if (!out.err && out.head == 0) out = read_outcome{make_error(errc::not_found, name + " does not exist"), {}, 0, {}};
    done(std::move(out));
  });
}

void hub::read_records(const claims& who, const std::string& eng, std::int64_t after, int limit,
                       std::function<void(records_outcome)> done) {
  auto ch = parse_channel("eng:" + eng);
  if (!ch || ch->type != channel_type::engagement) {
    records_outcome out;
    out.err = make_error(errc::bad_request, "invalid engagement id");
    return done(std::move(out));
  }
  if (auto r = check_read(who, *ch); !r) {
    records_outcome out;
    out.err = r.err();
    return done(std::move(out));
  }
  if (opens_engagements(who)) return storage_.read_records(eng, after, limit, std::move(done));
  read_query q;
  q.ch = ch->name();
  q.limit = 1;
  storage_.read(std::move(q), [this, eng, after, limit, done = std::move(done)](read_outcome head) mutable {
    if (head.err || head.head == 0) {
      records_outcome out;
      out.err = head.err ? *head.err : no_engagement(eng);
      return done(std::move(out));
    }
    storage_.read_records(eng, after, limit, std::move(done));
  });
}

// Runs on the storage thread, in commit order. Each worker gets the event in
// that same order (io_context runs posted handlers FIFO), so every session
// sees a channel's events in seq order.
void hub::on_committed(const committed_event& ev) {
  if (ev.ch == revocations::channel) return on_revoked(ev);
  // The engagement's state first: a workflow post answered after this commit
  // is checked against a state that includes it.
  engagements_.on_committed(ev);
  for (auto& w : workers_) {
    net::post(w->ioc, [w = w.get(), ch = ev.ch, seq = ev.seq, json = ev.json] {
      w->registry.for_each(ch, [&](const std::weak_ptr<ws_session>& member) {
        if (auto s = member.lock()) s->deliver(ch, seq, json);
      });
    });
  }
}

// A revocation from any instance: this one's connections of that user with an
// older token are closed (4003).
void hub::on_revoked(const committed_event& ev) {
  const auto now_s = now_ms() / 1000;
  auto r = revocations_.apply(*ev.json, now_s);
  if (!r) return;
  revocations_.forget_expired(now_s);
  log_event(log_level::info, "user_revoked", {{"user", r->user_id}, {"valid_after", std::to_string(r->valid_after)}});
  for (auto& w : workers_) {
    net::post(w->ioc, [w = w.get(), r = *r] {
      for (auto& [key, weak] : w->sessions)
        if (auto s = weak.lock()) s->revoked(r);
    });
  }
}

// The engine is told under the lock, so that a last unwatch and a new watch
// of the same channel reach it in the order their counts changed. `ready`
// must not call back into watch (it may run before storage_.watch returns).
void hub::watch(const std::string& ch, std::function<void(std::optional<error>)> ready) {
  std::lock_guard lock(watch_mutex_);
  ++watchers_[ch];
  storage_.watch(ch, std::move(ready));
}

void hub::unwatch(const std::string& ch) {
  std::lock_guard lock(watch_mutex_);
  auto it = watchers_.find(ch);
  if (it == watchers_.end() || --it->second > 0) return;
  watchers_.erase(it);
  storage_.unwatch(ch);
}

void hub::broadcast(const std::string& ch, std::shared_ptr<const std::string> frame, const void* except) {
  storage_.publish_ephemeral(ch, frame);
  broadcast_local(ch, std::move(frame), except);
}

void hub::broadcast_local(const std::string& ch, std::shared_ptr<const std::string> frame, const void* except) {
  for (auto& w : workers_) {
    net::post(w->ioc, [w = w.get(), ch, frame, except] {
      w->registry.for_each(ch, [&](const std::weak_ptr<ws_session>& member) {
        if (auto s = member.lock(); s && s.get() != except) s->push(frame);
      });
    });
  }
}

void hub::member_joined(const std::string& ch, const user& who, const void* except) {
  storage_.presence_update(ch, who, true);
  broadcast(ch, std::make_shared<const std::string>(presence_frame(ch, {who}, {})), except);
}

void hub::member_left(const std::string& ch, const user& who, const void* except) {
  storage_.presence_update(ch, who, false);
  storage_.presence_members(ch, [this, ch, who, except](result<std::vector<user>> members) {
    if (members && std::any_of(members->begin(), members->end(), [&](const user& u) { return u.id == who.id; }))
      return;  // still here through another instance
    broadcast(ch, std::make_shared<const std::string>(presence_frame(ch, {}, {who})), except);
  });
}

}  // namespace parley
