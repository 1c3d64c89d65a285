// The v1.1 bodies a client or the platform sends over HTTP (protocol §9.1,
// §9.3) and the calendar built from user-chosen text (§9.5). The first byte
// picks the entry point, the rest is its input:
//   0  PUT /api/v1/engagements/<id>: parse_invitation; what it accepts is
//      normalised, so parsing its serialisation again gives the same object;
//   1  the availability op / PUT /api/v1/users/me/availability (fixed clock);
//      what it accepts serialises to a body that is accepted again, unchanged;
//   2  calendar.ics for a state whose title and call link come from the
//      input: every physical line ends in CRLF and holds at most 75 octets,
//      and the one call gives exactly one VEVENT whatever the title holds;
//   3  the inputs of file uploads and downloads (§9.6): a Range header
//      against a size from the input answers a range inside the file; an
//      accepted name gives a Content-Disposition and a media type that hold
//      no byte a header could be split or quoted with;
//   4  a stored engagement snapshot, damaged in any way: what parse_snapshot
//      accepts writes back to a text that reads back to the same text, and
//      its state can be shown (state_json) and folded further (apply).
#include "protocol/availability.hpp"
#include "protocol/calendar.hpp"
#include "protocol/decision_log.hpp"
#include "protocol/engagement_snapshot.hpp"
#include "protocol/files.hpp"
#include "protocol/invitation.hpp"

#include <boost/json/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace {

constexpr std::int64_t now_ms = 1'800'000'000'000;

void invitation(std::string_view text) {
  auto inv = parley::parse_invitation(text);
  if (!inv) return;
  auto again = parley::parse_invitation(boost::json::serialize(*inv));
  if (!again || *again != *inv) __builtin_trap();
}

void availability(std::string_view text) {
  auto a = parley::parse_availability_request_text(text, now_ms);
  if (!a) return;
  auto body = parley::availability_json(*a);
  auto again = parley::parse_availability(body);
  if (!again || parley::availability_json(*again) != body) __builtin_trap();
}

void calendar(std::string_view text) {
  // Server text is valid UTF-8 (simdjson checks client JSON): read the input as a JSON object.
  auto o = parley::parse_record(text);
  if (!o) return;
  const auto* title = o->if_contains("title");
  if (!title || !title->is_string()) return;
  boost::json::object state{{"title", *title},
                            {"calls", boost::json::array{boost::json::object{
                                          {"proposal", 7}, {"start", now_ms}, {"minutes", 30}, {"link", nullptr}}}}};
  const auto ics = parley::engagement_calendar("eng1", state, now_ms);
  std::size_t events = 0;
  std::size_t from = 0;
  while (from < ics.size()) {
    const auto end = ics.find("\r\n", from);
    if (end == std::string::npos || end - from > 75) __builtin_trap();
    const std::string_view line(ics.data() + from, end - from);
    if (line.find_first_of("\r\n") != std::string_view::npos) __builtin_trap();
    if (line == "BEGIN:VEVENT") ++events;
    from = end + 2;
  }
  if (events != 1) __builtin_trap();
}

bool header_safe(std::string_view value) {
  for (unsigned char c : value)
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') return false;
  return !value.empty();
}

void file_inputs(std::string_view text) {
  // The first 8 bytes are the file's size, the rest is both the header and the name.
  if (text.size() < 8) return;
  std::uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size = (size << 8) | static_cast<unsigned char>(text[i]);
  text.remove_prefix(8);
  const auto range = parley::parse_range(text, size);
  if (range.kind == parley::byte_range::outcome::partial && (range.first > range.last || range.last >= size))
    __builtin_trap();
  if (!parley::check_file_name(text)) return;
  if (!header_safe(parley::content_disposition(text))) __builtin_trap();
  const auto type = parley::media_type_for(text, text);
  if (!header_safe(type) || type.find('/') == std::string::npos) __builtin_trap();
}

void snapshot(std::string_view text) {
  auto s = parley::parse_snapshot(text);
  if (!s) return;
  const auto written = parley::snapshot_text(*s);
  auto again = parley::parse_snapshot(written);
  if (!again || parley::snapshot_text(*again) != written) __builtin_trap();
  const parley::claims reader{parley::user{"c1", "", parley::user_role::client}, {"*"}, 0, std::nullopt};
  (void)boost::json::serialize(parley::state_json(*s, parley::phase_limits{}, reader));
  parley::event ev;
  ev.ch = parley::channel::main(s->eng);
  const auto last = s->applied.count(ev.ch) ? s->applied.at(ev.ch) : 0;
  if (last == std::numeric_limits<std::int64_t>::max()) return;
  ev.seq = last + 1;
  ev.kind = "message";
  ev.from = reader.who;
  ev.body = {{"text", "next"}};
  parley::apply(*s, ev);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0: invitation(text); break;
    case 1: availability(text); break;
    case 2: calendar(text); break;
    case 3: file_inputs(text); break;
    default: snapshot(text); break;
  }
  return 0;
}
