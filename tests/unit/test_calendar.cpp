// The calendar.ics serialiser (RFC 5545): escaping, folding and the layout of
// an engagement's calendar.
#include "protocol/calendar.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace parley;

namespace {

// The physical lines of a serialised calendar, each with its CRLF removed.
std::vector<std::string> physical_lines(const std::string& ics) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < ics.size()) {
    auto end = ics.find("\r\n", at);
    REQUIRE(end != std::string::npos);
    out.push_back(ics.substr(at, end - at));
    at = end + 2;
  }
  return out;
}

// Unfolds (RFC 5545 §3.1): a line starting with a space continues the previous one.
std::vector<std::string> content_lines(const std::string& ics) {
  std::vector<std::string> out;
  for (auto& line : physical_lines(ics)) {
    if (!line.empty() && line[0] == ' ') {
      REQUIRE_FALSE(out.empty());
      out.back() += line.substr(1);
    } else {
      out.push_back(line);
    }
  }
  return out;
}

bool valid_utf8_boundaries(const std::string& line) {
  return line.empty() || (static_cast<unsigned char>(line.front()) & 0xC0) != 0x80;
}

constexpr std::int64_t t_2026_11_30_05_00 = 1'796'014'800'000;

}  // namespace

TEST_CASE("TEXT values escape backslash, semicolon, comma and every line break", "[protocol][calendar]") {
  struct row {
    std::string in, out;
  };
  auto r = GENERATE(values<row>({
      {"Market entry", "Market entry"},
      {"a;b,c\\d", "a\\;b\\,c\\\\d"},
      {"one\ntwo\r\nthree\rfour", "one\\ntwo\\nthree\\nfour"},
      {"x\r\nEND:VEVENT\r\nBEGIN:VEVENT", "x\\nEND:VEVENT\\nBEGIN:VEVENT"},
      {std::string("nul\0bell\x07tab\t", 14), "nulbelltab\t"},
      {"Größe 🚀", "Größe 🚀"},
  }));
  CAPTURE(r.in);
  CHECK(ics_text(r.in) == r.out);
}

TEST_CASE("lines fold at 75 octets and never inside a UTF-8 sequence", "[protocol][calendar]") {
  auto text = GENERATE(std::string(200, 'a'), std::string("SUMMARY:") + std::string(40, 'x') + "€€€€€€€€€€€€",
                       [] {
                         std::string s = "SUMMARY:";
                         for (int i = 0; i < 60; ++i) s += "🚀ä";
                         return s;
                       }(),
                       std::string(75, 'b'), std::string(76, 'c'));
  CAPTURE(text);
  auto folded = ics_line(text);
  REQUIRE(folded.ends_with("\r\n"));
  auto lines = physical_lines(folded);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(i);
    CHECK(lines[i].size() <= 75);
    CHECK(valid_utf8_boundaries(i == 0 ? lines[i] : lines[i].substr(1)));
    if (i > 0) CHECK(lines[i][0] == ' ');
  }
  CHECK(lines.size() == (text.size() <= 75 ? 1u : lines.size()));
  std::string unfolded;
  for (std::size_t i = 0; i < lines.size(); ++i) unfolded += i == 0 ? lines[i] : lines[i].substr(1);
  CHECK(unfolded == text);
}

TEST_CASE("times are written in UTC with whole seconds", "[protocol][calendar]") {
  CHECK(ics_utc(t_2026_11_30_05_00) == "20261130T050000Z");
  CHECK(ics_utc(t_2026_11_30_05_00 + 61'999) == "20261130T050101Z");
  CHECK(ics_utc(0) == "19700101T000000Z");
  CHECK(ics_utc(253'402'300'799'000) == "99991231T235959Z");
}

TEST_CASE("an engagement's calendar holds one VEVENT per scheduled call", "[protocol][calendar]") {
  auto state = boost::json::parse(R"({"title":"Market entry DACH","calls":[
      {"proposal":7,"start":1796014800000,"minutes":30,"link":"https://meet.example/x?a=1;b=2","tz":"Europe/Berlin"},
      {"proposal":12,"start":1796101200000,"minutes":45,"link":null,"tz":null}]})")
                   .as_object();
  auto ics = engagement_calendar("eng-1", state, t_2026_11_30_05_00 - 3'600'000);
  auto lines = content_lines(ics);
  REQUIRE(lines.size() >= 6);
  CHECK(lines.front() == "BEGIN:VCALENDAR");
  CHECK(lines[1] == "VERSION:2.0");
  CHECK(lines[2].starts_with("PRODID:"));
  CHECK(lines[3] == "CALSCALE:GREGORIAN");
  CHECK(lines[4] == "METHOD:PUBLISH");
  CHECK(lines.back() == "END:VCALENDAR");
  auto has = [&](const std::string& l) { return std::find(lines.begin(), lines.end(), l) != lines.end(); };
  CHECK(std::count(lines.begin(), lines.end(), "BEGIN:VEVENT") == 2);
  CHECK(std::count(lines.begin(), lines.end(), "END:VEVENT") == 2);
  CHECK(has("UID:eng-1-7@parley"));
  CHECK(has("UID:eng-1-12@parley"));
  CHECK(has("DTSTART:20261130T050000Z"));
  CHECK(has("DTEND:20261130T053000Z"));
  CHECK(has("DTSTART:20261201T050000Z"));
  CHECK(has("DTEND:20261201T054500Z"));
  CHECK(has("DTSTAMP:20261130T040000Z"));
  CHECK(has("SUMMARY:Market entry DACH"));
  CHECK(has("URL:https://meet.example/x?a=1;b=2"));
  CHECK(has("LOCATION:https://meet.example/x?a=1\\;b=2"));
  CHECK(std::count_if(lines.begin(), lines.end(), [](const auto& l) { return l.starts_with("URL:"); }) == 1);
}

TEST_CASE("a hostile title stays inside its SUMMARY", "[protocol][calendar]") {
  auto state = boost::json::object{
      {"title", "Deal;\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil,\\n" + std::string(100, 'z')},
      {"calls", boost::json::array{boost::json::object{
                    {"proposal", 3}, {"start", t_2026_11_30_05_00}, {"minutes", 15}, {"link", nullptr}}}}};
  auto ics = engagement_calendar("42", state, t_2026_11_30_05_00);
  for (const auto& l : physical_lines(ics)) CHECK(l.size() <= 75);
  auto lines = content_lines(ics);
  CHECK(std::count(lines.begin(), lines.end(), "BEGIN:VEVENT") == 1);
  CHECK(std::count_if(lines.begin(), lines.end(), [](const auto& l) { return l.starts_with("UID:"); }) == 1);
  auto summary = std::find_if(lines.begin(), lines.end(), [](const auto& l) { return l.starts_with("SUMMARY:"); });
  REQUIRE(summary != lines.end());
  CHECK(*summary == "SUMMARY:Deal\\;\\nEND:VEVENT\\nBEGIN:VEVENT\\nUID:evil\\,\\\\n" + std::string(100, 'z'));
}

TEST_CASE("without a title the summary is Call, and without calls no VEVENT", "[protocol][calendar]") {
  auto with_call = engagement_calendar(
      "42",
      boost::json::parse(R"({"title":null,"calls":[{"proposal":3,"start":1796014800000,"minutes":15}]})").as_object(),
      0);
  CHECK(with_call.find("\r\nSUMMARY:Call\r\n") != std::string::npos);
  auto empty = engagement_calendar("42", boost::json::parse(R"({"title":"T","calls":[]})").as_object(), 0);
  CHECK(empty.find("VEVENT") == std::string::npos);
  CHECK(empty.starts_with("BEGIN:VCALENDAR\r\n"));
  CHECK(empty.ends_with("END:VCALENDAR\r\n"));
}
