#include "server/hub.hpp"

#include "protocol/access.hpp"
#include "protocol/can.hpp"
#include "protocol/engagement.hpp"
#include "protocol/event.hpp"
#include "protocol/frame.hpp"
#include "protocol/invitation.hpp"
#include "protocol/reviews.hpp"
#include "server/digest_watcher.hpp"
#include "server/due_claims.hpp"
#include "server/sla_watcher.hpp"
#include "storage/clock.hpp"
#include "storage/log.hpp"
#include "storage/random_hex.hpp"
#include "storage/webhook_hooks.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <mutex>

namespace parley {
namespace net = boost::asio;

namespace {
// A workflow post that keeps losing races to newer events is answered `conflict` after this many checks.
constexpr int max_stale_retries = 5;


// The frames of one state push. The part every member shares is serialised
// once, by the first worker that has a member to push to; until then (and on
// an instance with no member joined) it costs nothing.
class shared_state_frames {
 public:
  shared_state_frames(std::shared_ptr<const engagement_state> state, const phase_limits& phases,
                      std::optional<std::int64_t> reply_due)
      : state_(std::move(state)), phases_(phases), reply_due_(reply_due) {}

  std::shared_ptr<const std::string> frame(const std::vector<std::string>& can) {
    std::call_once(built_, [this] {
      frames_.emplace(*state_, phases_, reply_due_);
      state_.reset();
    });
    return std::make_shared<const std::string>(frames_->frame(can));
  }

 private:
  std::once_flag built_;
  std::shared_ptr<const engagement_state> state_;
  const phase_limits& phases_;
  std::optional<std::int64_t> reply_due_;
  std::optional<state_push_frames> frames_;
};
}  // namespace

// A post on its way through the engagement's state: the steps of
// check_and_append pass it on.
struct hub::post_attempt {
  user who;  // not the whole claims: a token may list 500 engagements
  post_request request;
  // The append holds only if the engagement's channels are still at the heads
  // the checked state was built from (workflow posts).
  bool guard = false;
  int retries_left = 0;
  // A refusal is given only against the engagement's newest state: the one
  // cached here may lag what another instance stored (a proposal acknowledged
  // there a moment ago), so it is caught up once before refusing.
  bool refusal_confirmed = false;
  // Lets the engagement's next workflow post run.
  std::function<void()> finished = [] {};
  std::function<void(result<post_ack>)> done;
};

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
      fanout_(workers, &metrics_.fanout_latency),
      membership_(storage, fanout_),
      engagements_(
          storage,
          [this](const std::string& ch, std::function<void(result<void>)> ready) {
            membership_.watch(ch, std::move(ready));
          },
          [this](const std::string& ch) { membership_.unwatch(ch); }, cfg.engagement_cache, cfg.snapshot_every),
      limits_({cfg.max_connections.value_or(0), cfg.max_unauth_per_ip, cfg.max_ws_per_user}),
      revocations_(cfg.max_token_lifetime_s),
      assets_(web_assets::load(cfg.web_root)),
      rates_(rates_of(cfg)),
      read_markers_([this](const std::string& user_id, const std::string& ch, std::int64_t seq) {
        bump(metrics_.read_markers_stored);
        storage_.set_read_marker(user_id, ch, seq);
      }) {
  auto& watchers_ioc = fanout_.workers().front()->ioc;
  due_claims_ = std::make_unique<due_claims>(watchers_ioc, storage_, engagements_);
  service_levels_ = std::make_unique<sla_watcher>(watchers_ioc, storage_, engagements_, cfg.sla,
                                                  due_claims_->mirror_for('s'));
  service_levels_->use_availability(availability_);
  due_claims_->add_watcher('s', [this](const std::string& eng) { service_levels_->look_claimed(eng); });
  if (!cfg.webhook_url.empty()) {
    digests_ = std::make_unique<digest_watcher>(
        watchers_ioc, storage_, storage_, engagements_,
        [this](const std::string& ch, auto done) { read_markers_of(ch, std::move(done)); }, cfg.digests, cfg.sla,
        due_claims_->mirror_for('d'));
    due_claims_->add_watcher('d', [this](const std::string& eng) { digests_->look_claimed(eng); });
  }
  engagements_.set_on_change([this](const engagement_state& s) {
    service_levels_->schedule(s);
    if (digests_) digests_->schedule(s);
  });
  storage_.set_sink([this](const committed_event& ev) { on_committed(ev); });
  // Joined or left: either way the user was seen just now.
  membership_.set_describe([this](const user& who, bool) { return presence_entry(who, true); });
  storage_.set_user_sink([this](const std::string& user_id) { on_user_changed(user_id); });
  // Pushes made on other instances, for this one's members.
  storage_.set_ephemeral_sink([this](const std::string& ch, std::shared_ptr<const std::string> frame) {
    fanout_.push(ch, std::move(frame), nullptr);
  });
  // The connections' hello, write and token deadlines, through the drain too.
  fanout_.start_sweeps(std::chrono::seconds(1));
}

hub::~hub() = default;

void hub::start_service_levels() { due_claims_->start(); }
void hub::stop_service_levels() {
  due_claims_->stop();
  service_levels_->stop();
  if (digests_) digests_->stop();
}

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
  storage_.append(std::move(req), [r, done = std::move(done)](result<appended> out) {
    if (!out) return done(out.err());
    done(r);
  });
}

// The revocations that can still refuse a token: read backwards from the head
// until they are older than the longest token lifetime. Until that is done
// (storage may be unreachable at start), no token is accepted; a failed load
// is tried again every half second.
void hub::load_revocations() {
  membership_.watch(std::string(revocations::channel), [this](result<void> watched) {
    if (!watched) return retry_revocations(watched.err());
    read_revocations_before(std::nullopt);
  });
}

void hub::read_revocations_before(std::optional<std::int64_t> before) {
  read_query q;
  q.ch = std::string(revocations::channel);
  q.before = before;
  q.limit = 500;
  storage_.read(q, [this](result<channel_window> out) {
    if (!out) return retry_revocations(out.err());
    const auto now_s = now_ms() / 1000;
    bool older = false;
    for (const auto& e : out->events) {
      auto r = revocations_.apply(*e.json, now_s);
      if (r && r->valid_after < now_s - cfg_.max_token_lifetime_s) older = true;
    }
    if (out->events.empty() || older || out->events.front().seq <= 1) return revocations_.set_loaded();
    read_revocations_before(out->events.front().seq);
  });
}

void hub::retry_revocations(const error& e) {
  log_event(log_level::warn, "revocations_unavailable", {{"error", e.message}});
  membership_.unwatch(std::string(revocations::channel));
  auto timer = std::make_shared<net::steady_timer>(fanout_.workers().front()->ioc, std::chrono::milliseconds(500));
  timer->async_wait([this, timer](boost::system::error_code ec) {
    if (!ec) load_revocations();
  });
}

void hub::post(const claims& who, const std::string& ch_name, const std::string& kind,
               const boost::json::object& body, const std::string& cid, std::function<void(result<post_ack>)> done) {
  done = [this, started = std::chrono::steady_clock::now(), done = std::move(done)](result<post_ack> r) {
    if (r) metrics_.post_latency.observe_since(started);
    done(std::move(r));
  };
  auto refuse = [&](error e) {
    bump(metrics_.posts_refused);
    done(std::move(e));
  };
  auto ch = parse_channel(ch_name);
  if (!ch) return refuse(make_error(errc::bad_request, "unknown channel '" + ch_name + "'"));
  if (auto r = check_post(who, *ch, kind); !r) return refuse(r.err());
  auto normalised = validate_body(kind, body);
  if (!normalised) return refuse(normalised.err());
  if (normalised->contains("files")) {
    if (ch->type == channel_type::support) return refuse(make_error(errc::bad_request, "files belong to engagements"));
    return resolve_attachments(ch->eng, std::move(normalised.value()),
                               [this, who, ch = *ch, kind, cid, done = std::move(done)](
                                   result<boost::json::object> resolved) mutable {
                                 if (!resolved) {
                                   bump(metrics_.posts_refused);
                                   return done(resolved.err());
                                 }
                                 post_valid(who, ch, kind, std::move(resolved.value()), cid, std::move(done));
                               });
  }
  post_valid(who, *ch, kind, std::move(normalised.value()), cid, std::move(done));
}

void hub::post_valid(const claims& who, const channel& ch_value, const std::string& kind, boost::json::object body,
                     const std::string& cid, std::function<void(result<post_ack>)> done) {
  auto refuse = [&](error e) {
    bump(metrics_.posts_refused);
    done(std::move(e));
  };
  const channel* ch = &ch_value;
  std::optional<boost::json::object> normalised(std::move(body));

  if (ch->type == channel_type::support) {
    // Notes among support staff: no engagement state to check against.
    auto pl = check_support_post(who.who, post_request{*ch, kind, std::move(normalised.value()), cid, std::nullopt});
    if (!pl) return refuse(pl.err());
    append_request req;
    req.events = std::move(pl.value().events);
    return storage_.append(std::move(req),
                           [this, kind, done = std::move(done)](result<appended> out) {
                             complete(std::move(out), kind, done);
                           });
  }

  auto attempt = std::make_shared<post_attempt>();
  attempt->who = who.who;
  attempt->request = post_request{*ch, kind, std::move(normalised.value()), cid, std::nullopt};
  // A review is sealed with a salt of the server's (protocol §9.7).
  if (kind == "review") attempt->request.salt = random_hex(review_salt_hex_chars / 2);
  attempt->done = std::move(done);
  // Messages and status updates change no rule another post depends on: they
  // need not wait for the engagement's workflow posts, nor for its head.
  if (!is_workflow(kind)) {
    return engagements_.with_state(ch->eng, opens_engagements(who), [this, attempt](result<engagements::snapshot> s) {
      check_and_append(std::move(s), attempt);
    });
  }
  attempt->guard = true;
  attempt->retries_left = max_stale_retries;
  engagements_.run_exclusive(ch->eng, opens_engagements(who),
                             [this, attempt](result<engagements::snapshot> s, std::function<void()> finished) {
                               attempt->finished = std::move(finished);
                               check_and_append(std::move(s), attempt);
                             });
}

// Checks a post against the engagement's state and appends its plan. A
// guarded post that lost the race for the heads (another instance, or a
// message in between) is checked again against the newer state.
void hub::check_and_append(result<engagements::snapshot> state, std::shared_ptr<post_attempt> attempt) {
  auto refuse = [&](const error& e) {
    attempt->finished();
    bump(metrics_.posts_refused);
    attempt->done(e);
  };
  if (!state) return refuse(state.err());
  auto& request = attempt->request;
  // The state keeps only open proposals and flags: whether a closed-looking
  // seq was a proposal (or flag) at all is read from its stored event, so that
  // the answer is exactly `conflict` or `not_found`.
  if (!request.target_kind) {
    if (auto target = target_lookup(**state, request)) {
      read_query q;
      q.ch = target->first;
      q.after = target->second - 1;
      q.limit = 1;
      return storage_.read(std::move(q), [this, attempt, state = *state,
                                          seq = target->second](result<channel_window> out) {
        if (!out) return check_and_append(out.err(), attempt);
        attempt->request.target_kind = std::string();
        if (!out->events.empty() && out->events.front().seq == seq) {
          if (auto ev = parse_event(*out->events.front().json)) attempt->request.target_kind = ev->kind;
        }
        check_and_append(state, attempt);
      });
    }
  }
  request.checked_at_ms = now_ms();
  auto pl = check(**state, attempt->who, request, cfg_.open_limits);
  if (!pl && !attempt->refusal_confirmed) {
    attempt->refusal_confirmed = true;
    return check_again(attempt);
  }
  if (!pl && !request.cid.empty()) {
    // A retry of a post that was stored: its rule no longer holds (a proposal
    // is not decided twice), but it is answered with what it stored.
    return storage_.find_by_cid(request.ch.name(), attempt->who.id, request.cid,
                                [this, attempt, refusal = pl.err()](result<std::optional<committed_event>> found) {
                                  attempt->finished();
                                  if (!found || !found->has_value()) {
                                    bump(metrics_.posts_refused);
                                    return attempt->done(refusal);
                                  }
                                  appended stored;
                                  stored.duplicate = true;
                                  stored.committed.push_back(std::move(**found));
                                  complete(std::move(stored), attempt->request.kind, attempt->done);
                                });
  }
  if (!pl) return refuse(pl.err());
  append_checked(attempt, **state, std::move(pl.value()));
}

// Checks the post again after catching up with what the engagement's
// channels stored since the state it was checked against.
void hub::check_again(std::shared_ptr<post_attempt> attempt) {
  attempt->request.target_kind.reset();  // looked up again against the newer state
  engagements_.catch_up(attempt->request.ch.eng, [this, attempt](result<engagements::snapshot> s) {
    check_and_append(std::move(s), attempt);
  });
}

// Appends a checked plan; a guarded one that went stale is checked again
// after catching up with the engagement's channels.
void hub::append_checked(std::shared_ptr<post_attempt> attempt, const engagement_state& state, plan pl) {
  append_request req;
  req.events = std::move(pl.events);
  req.record = std::move(pl.record);
  req.sealed = std::move(pl.sealed);
  // A close carries the agreement to its engagement.completed hook (§9.8).
  req.closing_agreement = closing_agreement_of(state, req.events);
  if (attempt->guard) req.expect_heads = guarded_heads(state);
  storage_.append(std::move(req), [this, attempt](result<appended> out) {
    if (!out && stale_heads(out.err()) && attempt->retries_left > 0) {
      --attempt->retries_left;
      return check_again(attempt);
    }
    // The sink has applied the events: the engagement's next workflow post may run.
    attempt->finished();
    // The second review reveals both at once (protocol §9.7).
    if (out && !out->duplicate && attempt->request.kind == "review")
      service_levels_->reveal_reviews(attempt->request.ch.eng);
    complete(std::move(out), attempt->request.kind, attempt->done);
  });
}

// Answers a stored post, after appending the support notices its event implies.
// Notices are keyed by the flag, so a retry after a crash between the two
// appends adds the missing notice and never a second one.
void hub::complete(result<appended> out, const std::string& kind, const std::function<void(result<post_ack>)>& done) {
  if (!out) {
    bump(metrics_.posts_refused);
    return done(out.err());
  }
  const auto& first = out->committed.front();
  post_ack ack{first.seq, first.ts, out->duplicate};
  std::vector<event> notices;
  if (implies_notices(kind) && first.event) notices = notices_for(*first.event);
  if (notices.empty()) {
    bump(metrics_.posts_accepted);
    return done(ack);
  }
  append_request req;
  req.events = std::move(notices);
  storage_.append(std::move(req), [this, done, ack](result<appended> n) {
    if (!n) {
      bump(metrics_.posts_refused);
      return done(n.err());
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
                                                             result<engagements::snapshot> s) {
    if (!s) return done(s.err());
    if (auto joined = check_join(**s, ch); !joined) return done(joined.err());
    // owed_reply.due follows the owing user's availability: read it when not known lately.
    std::vector<std::string> owing;
    if (auto id = owing_user(**s)) owing.push_back(*id);
    learn_availability(std::move(owing), [this, who, state = *s, done] { done(boost::json::value(state_for(*state, who))); });
  });
}

void hub::reviews_of(const claims& who, const std::string& eng,
                     std::function<void(result<boost::json::object>)> done) {
  auto ch = parse_channel(channel::main(eng));
  if (!ch || ch->type != channel_type::engagement) return done(make_error(errc::bad_request, "invalid engagement id"));
  if (auto r = check_read(who, *ch); !r) return done(r.err());
  engagements_.with_state(eng, opens_engagements(who), [this, who, done = std::move(done)](
                                                          result<engagements::snapshot> s) {
    if (!s) return done(s.err());
    auto state = *s;
    auto seqs = sealed_seqs_for(*state, who);
    if (seqs.empty()) return done(reviews_for_reader(*state, who, {}, cfg_.open_limits.review_period_ms));
    storage_.sealed(channel::main(state->eng), std::move(seqs),
                    [this, who, state, done](result<sealed_payloads> sealed) {
                      if (!sealed) return done(sealed.err());
                      done(reviews_for_reader(*state, who, *sealed, cfg_.open_limits.review_period_ms));
                    });
  });
}

void hub::create_engagement(const claims& who, const std::string& eng, std::string_view body,
                            std::function<void(result<creation>)> done) {
  if (who.who.role != user_role::service) {
    return done(make_error(errc::forbidden, "engagements are created by service tokens"));
  }
  auto ch = parse_channel(channel::main(eng));
  if (!ch || ch->type != channel_type::engagement) return done(make_error(errc::bad_request, "invalid engagement id"));
  auto invitation = parse_invitation(body);
  if (!invitation) return done(invitation.err());
  // The opening event's fixed cid makes the append idempotent: a repeated PUT,
  // another creation or a first use of the id (on any instance) finds the
  // opening stored before and appends nothing; which of them it was is read
  // from that event.
  append_request req;
  req.events = invitation_events(eng, *invitation, now_ms());
  storage_.append(std::move(req), [this, eng, who, invitation = std::move(invitation.value()),
                                   done = std::move(done)](result<appended> out) {
    if (!out) return done(out.err());
    const auto& opening = out->committed.front().event;
    if (out->duplicate && (!opening || match_opening(*opening, invitation) != opening_match::same)) {
      return done(make_error(errc::conflict, "engagement " + eng + " exists with another invitation or by first use"));
    }
    const bool created = !out->duplicate;
    engagements_.catch_up(eng, [this, who, created, done](result<engagements::snapshot> s) {
      if (!s) return done(s.err());
      done(creation{boost::json::value(state_for(**s, who)), created});
    });
  });
}

void hub::read(const claims& who, read_query q, std::function<void(result<channel_window>)> done) {
  auto ch = parse_channel(q.ch);
  if (!ch) return done(make_error(errc::bad_request, "unknown channel '" + q.ch + "'"));
  if (auto r = check_read(who, *ch); !r) return done(r.err());
  if (ch->type == channel_type::support || opens_engagements(who)) return storage_.read(std::move(q), std::move(done));
  if (ch->type == channel_type::mediation) {
    // The mediation channel of an engagement that does not exist: its main channel is empty.
    return check_engagement_exists(ch->eng, [this, q = std::move(q), done = std::move(done)](result<void> exists) mutable {
      if (!exists) return done(exists.err());
      storage_.read(std::move(q), std::move(done));
    });
  }
  // Every engagement's main channel holds its opening event: an empty one does not exist.
  storage_.read(std::move(q), [done = std::move(done), name = ch->name()](result<channel_window> out) {
    if (out && out->head == 0) return done(make_error(errc::not_found, name + " does not exist"));
    done(std::move(out));
  });
}

void hub::decisions(const claims& who, const std::string& eng, std::int64_t after, int limit,
                    std::function<void(result<records_page>)> done) {
  auto ch = parse_channel(channel::main(eng));
  if (!ch || ch->type != channel_type::engagement) return done(make_error(errc::bad_request, "invalid engagement id"));
  if (auto r = check_read(who, *ch); !r) return done(r.err());
  if (opens_engagements(who)) return storage_.read_records(eng, after, limit, std::move(done));
  check_engagement_exists(eng, [this, eng, after, limit, done = std::move(done)](result<void> exists) mutable {
    if (!exists) return done(exists.err());
    storage_.read_records(eng, after, limit, std::move(done));
  });
}

void hub::list_engagements(const claims& who, std::string after, int limit,
                           std::function<void(result<engagement_ids_page>)> done) {
  if (who.who.role != user_role::support && who.who.role != user_role::service)
    return done(make_error(errc::forbidden, "the engagement list is for support and service tokens"));
  storage_.list_engagements_after(std::move(after), limit, std::move(done));
}

// For readers that may not open engagements: an engagement exists once its
// main channel holds its opening event.
void hub::check_engagement_exists(const std::string& eng, std::function<void(result<void>)> done) {
  read_query q;
  q.ch = channel::main(eng);
  q.limit = 1;
  storage_.read(std::move(q), [eng, done = std::move(done)](result<channel_window> out) {
    if (!out) return done(out.err());
    if (out->head == 0) return done(engagement_not_found(eng));
    done({});
  });
}

// Runs on the storage thread, in commit order. The engagement's state first:
// a workflow post answered after this commit is checked against a state that
// includes it, and the state pushed after the event is built from it.
void hub::on_committed(const committed_event& ev) {
  if (commit_poke_) commit_poke_();
  if (ev.ch == revocations::channel) return on_revoked(ev);
  fanout_.deliver(ev, state_push_after(engagements_.on_committed(ev)));
}

// Every stored event but a message or status may change what the engagement's
// members see or may do. An engagement this instance does not hold (none of
// its members is joined, or it was dropped from the book) pushes nothing.
std::optional<state_push> hub::state_push_after(const engagements::applied_event& applied) const {
  if (!applied.state || !is_workflow(applied.kind)) return std::nullopt;
  auto frames = std::make_shared<shared_state_frames>(applied.state, cfg_.sla.phases, owed_reply_due(*applied.state));
  return state_push{applied.state->eng,
                    [state = applied.state, &cfg = cfg_](const claims& reader) {
                      return can(*state, reader, cfg.open_limits);
                    },
                    [frames](const std::vector<std::string>& can) { return frames->frame(can); }};
}

// A revocation from any instance: this one's connections of that user with an
// older token are closed (4003).
void hub::on_revoked(const committed_event& ev) {
  const auto now_s = now_ms() / 1000;
  if (!ev.event) return;
  auto r = revocations_.apply(*ev.event, now_s);
  if (!r) return;
  revocations_.forget_expired(now_s);
  log_event(log_level::info, "user_revoked", {{"user", r->user_id}, {"valid_after", std::to_string(r->valid_after)}});
  fanout_.for_each_member([r = *r](member& m) { m.revoked(r); });
}

void hub::join(worker& w, const std::string& ch, const std::shared_ptr<member>& m, const user& who,
               std::function<void(result<void>)> ready) {
  membership_.join(w, ch, m, who, std::move(ready));
}

void hub::leave(worker& w, const std::string& ch, const member& m, const user& who) {
  membership_.leave(w, ch, m, who);
}

void hub::present(const std::string& ch, std::function<void(result<std::vector<user>>)> done) {
  membership_.present(ch, std::move(done));
}

void hub::read_markers_of(const std::string& ch, std::function<void(result<std::vector<read_marker>>)> done) {
  storage_.read_markers(ch, [this, ch, done = std::move(done)](result<std::vector<read_marker>> stored) {
    if (!stored) return done(stored.err());
    done(merge_read_markers(std::move(*stored), read_markers_.known_on(ch), max_read_markers));
  });
}

result<void> hub::mark_read(const claims& who, const std::string& ch_name, std::int64_t seq, const member* except) {
  auto ch = parse_channel(ch_name);
  if (!ch) return make_error(errc::bad_request, "unknown channel '" + ch_name + "'");
  if (auto r = check_read(who, *ch); !r) return r;
  // Stored with the next batch; pushed only when it moves forward, so a
  // repeated marker costs its members nothing.
  if (read_markers_.update(who.who.id, ch_name, seq)) {
    bump(metrics_.read_markers_pushed);
    broadcast(ch_name, std::make_shared<const std::string>(read_frame(ch_name, who.who, seq)), except);
  }
  return {};
}

void hub::broadcast(const std::string& ch, std::shared_ptr<const std::string> frame, const member* except) {
  membership_.broadcast(ch, std::move(frame), except);
}

void hub::close_all_members() {
  fanout_.for_each_member([](member& m) { m.going_away(); });
}

}  // namespace parley
