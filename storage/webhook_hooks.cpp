#include "storage/webhook_hooks.hpp"

#include "protocol/channel.hpp"
#include "protocol/hex.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace parley {
namespace {

using boost::json::object;
using boost::json::value;

bool enters_closed(const event& ev) {
  if (ev.kind != "phase") return false;
  const auto* to = ev.body.if_contains("to");
  return to && to->is_string() && to->get_string() == phase_name(engagement_phase::closed);
}

value field_or_null(const object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? *v : value(nullptr);
}

// JSON text stored by the engine itself (the record) or set by the hub (the
// agreement): null should it not parse, rather than no hook.
value parsed_or_null(const std::string& json) {
  boost::system::error_code ec;
  value v = boost::json::parse(json, ec);
  return ec ? value(nullptr) : v;
}

}  // namespace

std::string webhook_id(std::string_view eng, std::string_view ch, std::int64_t seq, std::string_view type) {
  std::string key;
  key.append(eng).append("\n").append(ch).append("\n").append(std::to_string(seq)).append("\n").append(type);
  return "wh_" + sha256_hex(key).substr(0, 32);
}

std::string webhook_body(std::string_view id, std::string_view type, std::string_view eng, std::int64_t ts,
                         const object& data) {
  return boost::json::serialize(object{{"id", id}, {"type", type}, {"eng", eng}, {"ts", ts}, {"data", data}});
}

webhook_entry make_webhook_entry(std::string eng, std::string_view ch, std::int64_t seq, std::string type,
                                 std::int64_t ts, const object& data) {
  webhook_entry e;
  e.id = webhook_id(eng, ch, seq, type);
  e.body = webhook_body(e.id, type, eng, ts, data);
  e.eng = std::move(eng);
  e.type = std::move(type);
  e.ts = ts;
  e.next_at = ts;
  return e;
}

std::vector<webhook_entry> webhook_entries_of(const append_plan& plan, const hook_context& context) {
  std::vector<webhook_entry> out;
  value record = plan.record ? parsed_or_null(plan.record->json) : value(nullptr);
  const event* closing = nullptr;
  std::string closing_eng;

  for (std::size_t i = 0; i < plan.events.size(); ++i) {
    const event& ev = plan.events[i];
    auto ch = parse_channel(ev.ch);
    const bool in_engagement = ch && ch->type != channel_type::support;
    const bool main = ch && ch->type == channel_type::engagement;
    if (in_engagement) {
      const std::string& eng = ch->eng;
      if (main && ev.kind == "phase") {
        out.push_back(make_webhook_entry(eng, ev.ch, ev.seq, "engagement.phase", plan.ts,
                                         object{{"from", field_or_null(ev.body, "from")},
                                                {"to", field_or_null(ev.body, "to")},
                                                {"seq", ev.seq}}));
        if (enters_closed(ev) && !closing) {
          closing = &ev;
          closing_eng = eng;
        }
      } else if (main && ev.kind == "delivery") {
        out.push_back(make_webhook_entry(eng, ev.ch, ev.seq, "delivery.submitted", plan.ts,
                                         object{{"deliverable", field_or_null(ev.body, "deliverable")},
                                                {"version", field_or_null(ev.body, "version")},
                                                {"seq", ev.seq},
                                                {"review_due", field_or_null(ev.body, "review_due")}}));
      } else if (ev.kind == "flag") {
        out.push_back(make_webhook_entry(eng, ev.ch, ev.seq, "flag.raised", plan.ts,
                                         object{{"seq", ev.seq},
                                                {"type", field_or_null(ev.body, "type")},
                                                {"text", field_or_null(ev.body, "text")},
                                                {"by", ev.from.id}}));
      } else if (main && ev.kind == "sla") {
        out.push_back(make_webhook_entry(eng, ev.ch, ev.seq, "sla.missed", plan.ts, ev.body));
      }
    }
    // The record's hook follows the event it is attached to.
    if (plan.record && i == context.attach_to) {
      out.push_back(make_webhook_entry(plan.record->eng, "log", plan.record->n, "decision.recorded", plan.ts,
                                       object{{"record", record}}));
    }
  }
  if (closing) {
    value agreement = context.closing_agreement ? parsed_or_null(*context.closing_agreement) : value(nullptr);
    out.push_back(make_webhook_entry(closing_eng, closing->ch, closing->seq, "engagement.completed", plan.ts,
                                     object{{"record", record}, {"agreement", agreement}}));
  }
  return out;
}

bool may_cause_webhooks(const std::vector<event>& events) {
  for (const auto& ev : events) {
    auto ch = parse_channel(ev.ch);
    if (!ch || ch->type == channel_type::support) continue;
    if (ev.kind == "phase" || ev.kind == "delivery" || ev.kind == "flag" || ev.kind == "sla") return true;
  }
  return false;
}

std::string first_engagement_of(const std::vector<event>& events) {
  for (const auto& ev : events)
    if (auto ch = parse_channel(ev.ch); ch && ch->type != channel_type::support) return ch->eng;
  return std::string();
}

std::optional<std::string> closing_agreement_of(const engagement_state& s, const std::vector<event>& events) {
  for (const auto& ev : events) {
    if (!enters_closed(ev)) continue;
    if (!s.agreement) return std::string("null");
    return boost::json::serialize(object{{"terms", s.agreement->terms}, {"version", s.agreement->version}});
  }
  return std::nullopt;
}

}  // namespace parley
