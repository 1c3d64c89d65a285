#include "storage/append_plan.hpp"

#include "storage/error_counts.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace parley {

result<void> check_append(const append_request& req) {
  if (req.events.empty()) return storage_fault("append without events");
  if (!req.record) return {};
  if (req.record->attach_to >= req.events.size())
    return storage_fault("decision record attached to no event");
  if (record_engagement(*req.record).empty()) return storage_fault("decision record without eng");
  return {};
}

std::string record_engagement(const record_draft& draft) {
  const auto* eng = draft.fields.if_contains("eng");
  if (!eng || !eng->is_string()) return std::string();
  return std::string(eng->get_string());
}

std::vector<std::string> touched_channels(const append_request& req) {
  std::vector<std::string> channels;
  auto add = [&](const std::string& ch) {
    if (std::find(channels.begin(), channels.end(), ch) == channels.end()) channels.push_back(ch);
  };
  for (const auto& ev : req.events) add(ev.ch);
  for (const auto& [ch, head] : req.expect_heads) add(ch);
  return channels;
}

error stale_head(const std::string& ch, std::int64_t head, std::int64_t expected) {
  return make_error(errc::conflict,
                    ch + " moved on (head " + std::to_string(head) + ", expected " + std::to_string(expected) + ")");
}

std::int64_t append_ts(std::int64_t now, const std::vector<channel_head>& heads) {
  std::int64_t ts = now;
  for (const auto& h : heads) ts = std::max(ts, h.ts);
  return ts;
}

append_plan plan_append(std::vector<event> events, const std::optional<record_draft>& record,
                        const std::map<std::string, channel_head>& heads, std::int64_t now, const log_tail& tail,
                        const ed25519_key* signer) {
  append_plan plan;
  for (const auto& ev : events) {
    auto it = heads.find(ev.ch);
    plan.heads.emplace(ev.ch, it == heads.end() ? channel_head{} : it->second);
  }
  std::vector<channel_head> before;
  for (const auto& [ch, head] : plan.heads) before.push_back(head);
  plan.ts = append_ts(now, before);

  for (auto& ev : events) {
    channel_head& head = plan.heads[ev.ch];
    ev.seq = ++head.seq;
    ev.ts = plan.ts;
    head.ts = plan.ts;
  }

  if (record) {
    event& attached = events.at(record->attach_to);
    boost::json::object fields = record->fields;
    sealed_record sealed;
    sealed.eng = record_engagement(*record);
    sealed.n = tail.n + 1;
    fields["n"] = sealed.n;
    fields["prev"] = tail.hash;
    fields["ts"] = plan.ts;
    fields["decision_seq"] = attached.seq;
    sealed.hash = seal_record(fields, signer);
    sealed.json = boost::json::serialize(fields);
    attached.body["record"] = boost::json::object{{"n", sealed.n}, {"hash", sealed.hash}, {"prev", tail.hash}};
    plan.record = std::move(sealed);
  }
  plan.events = std::move(events);
  return plan;
}

committed_event stored_commit(std::string ch, std::int64_t seq, std::int64_t ts, std::string json) {
  committed_event out{std::move(ch), seq, ts, nullptr, nullptr};
  if (auto parsed = parse_event(json)) out.event = std::make_shared<const event>(std::move(parsed.value()));
  out.json = std::make_shared<const std::string>(std::move(json));
  return out;
}

committed_event own_commit(event ev, std::shared_ptr<const std::string> json) {
  std::string ch = ev.ch;
  std::int64_t seq = ev.seq, ts = ev.ts;
  return committed_event{std::move(ch), seq, ts, std::move(json), std::make_shared<const event>(std::move(ev))};
}

}  // namespace parley
