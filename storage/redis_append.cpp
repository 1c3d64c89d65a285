#include "storage/redis_append.hpp"

#include "storage/error_counts.hpp"
#include "storage/redis_keys.hpp"

#include <algorithm>

namespace parley {

result<append_args> append_args::make(const append_request& req, std::vector<event> events, std::int64_t now) {
  append_args a;
  for (const auto& ev : events) {
    auto p = split_event(ev);
    if (!p) return p.err();
    a.parts_.push_back(std::move(*p));
  }
  a.events_ = std::move(events);
  a.channels_ = touched_channels(req);
  a.expect_heads_ = req.expect_heads;
  a.now_ = now;
  a.sealed_ = req.sealed;
  return a;
}

result<append_args> append_args::unpinned(const append_request& req, std::int64_t now) {
  return make(req, req.events, now);
}

result<append_args> append_args::pinned(const append_request& req, const append_plan& plan,
                                        std::vector<webhook_entry> hooks) {
  auto a = make(req, plan.events, plan.ts);
  if (!a) return a;
  a->pinned_ = true;
  for (const auto& h : hooks)
    if (h.eng != hooks.front().eng) return storage_fault("webhooks of two engagements in one append");
  a->hooks_ = std::move(hooks);
  if (plan.record) {
    a->record_eng_ = plan.record->eng;
    a->record_json_ = plan.record->json;
    a->record_n_ = plan.record->n;
  }
  return a;
}

std::vector<std::string> append_args::command(const std::string& new_epoch) const {
  auto index_of = [&](const std::string& ch) {
    return std::to_string(std::find(channels_.begin(), channels_.end(), ch) - channels_.begin() + 1);
  };
  const event& first = events_.front();
  const std::string cids = channel_key(first.ch, "cids");

  std::vector<std::string> args;
  args.reserve(2 + 2 * channels_.size() + 12 + channels_.size() + 2 * expect_heads_.size() + 6 * parts_.size());
  const std::size_t hook_keys = hooks_.empty() ? 0 : 2 + hooks_.size();
  args.push_back(std::to_string(2 + 2 * channels_.size() + (sealed_ ? 1 : 0) + hook_keys));
  args.push_back(cids);
  args.push_back(record_json_.empty() ? cids : log_key(record_eng_));
  for (const auto& ch : channels_) {
    args.push_back(channel_key(ch, "meta"));
    args.push_back(channel_key(ch, "events"));
  }
  if (sealed_) args.push_back(channel_key(first.ch, "sealed"));
  if (!hooks_.empty()) {
    const std::string& eng = hooks_.front().eng;
    args.push_back(webhook_key(eng, "meta"));
    args.push_back(webhook_key(eng, "queue"));
    for (const auto& h : hooks_) args.push_back(webhook_entry_key(eng, h.id));
  }
  args.push_back(std::to_string(now_));
  args.push_back(new_epoch);
  args.push_back(first.cid.empty() ? std::string() : cid_field_of(first.from.id, first.cid));
  args.push_back(std::to_string(channels_.size()));
  args.push_back(std::to_string(expect_heads_.size()));
  args.push_back(std::to_string(parts_.size()));
  args.push_back(record_json_);
  args.push_back(std::to_string(record_n_));
  args.push_back(pinned_ ? "1" : "0");
  args.push_back(sealed_ ? "1" : "0");
  args.push_back(std::to_string(hooks_.size()));
  for (const auto& ch : channels_) args.push_back(channel_key(ch, "pub"));
  for (const auto& [ch, head] : expect_heads_) {
    args.push_back(index_of(ch));
    args.push_back(std::to_string(head));
  }
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    args.push_back(index_of(events_[i].ch));
    args.push_back(parts_[i].prefix);
    args.push_back(parts_[i].middle);
    args.push_back(parts_[i].suffix);
    args.push_back(listed_engagement_of(events_[i].ch));
  }
  if (pinned_)
    for (const auto& ev : events_) args.push_back(std::to_string(ev.seq));
  for (const auto& h : hooks_) {
    args.push_back(h.id);
    args.push_back(h.type);
    args.push_back(h.eng);
    args.push_back(std::to_string(h.ts));
    args.push_back(h.body);
  }
  if (sealed_) args.push_back(*sealed_);
  return args;
}

append_args::reply append_args::decode(const redis_value& v) const {
  reply r;
  auto unexpected = [&] {
    r.outcome = storage_fault("redis: unexpected reply to the append script");
    return r;
  };
  const auto& e = v.elements;
  if (!v.is_array() || e.empty() || !e[0].is_string()) return unexpected();
  const std::string& tag = e[0].str;
  if (tag == "retry") {
    r.retry = true;
    return r;
  }
  if (tag == "dup" && e.size() == 4) {
    r.outcome->duplicate = true;
    r.outcome->committed.push_back(stored_commit(events_.front().ch, e[1].integer, e[2].integer, e[3].str));
    return r;
  }
  if (tag == "stale" && e.size() == 3) {
    auto index = static_cast<std::size_t>(e[1].integer);
    std::string ch = index >= 1 && index <= channels_.size() ? channels_[index - 1] : "a channel";
    std::int64_t expected = 0;
    for (const auto& [c, head] : expect_heads_)
      if (c == ch) expected = head;
    r.outcome = stale_head(ch, e[2].integer, expected);
    return r;
  }
  if (tag != "ok" || e.size() != 4 || !e[2].is_array() || e[2].elements.size() != parts_.size() ||
      !e[3].is_array() || e[3].elements.size() != parts_.size())
    return unexpected();
  std::int64_t ts = e[1].integer;
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    event ev = events_[i];
    ev.seq = e[2].elements[i].integer;
    ev.ts = ts;
    auto json = std::make_shared<const std::string>(splice(parts_[i], ev.seq, ts));
    r.outcome->committed.push_back(own_commit(std::move(ev), std::move(json)));
    r.epochs.push_back(e[3].elements[i].str);
  }
  return r;
}

}  // namespace parley
