#include "protocol/log_line.hpp"

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

using namespace parley;

TEST_CASE("log values from clients cannot break or forge a line", "[protocol]") {
  CHECK(log_value("alice") == "alice");
  CHECK(log_value("eng:42") == "eng:42");
  CHECK(log_value("") == "\"\"");
  CHECK(log_value("two words") == "\"two words\"");
  CHECK(log_value("a\nparley: level=info event=forged") == "\"a\\x0aparley: level=info event=forged\"");
  CHECK(log_value("q\"\\") == "\"q\\x22\\x5c\"");
  CHECK(log_value(std::string("nul\0x", 5)) == "\"nul\\x00x\"");
  CHECK(log_value("\xc3\xa9") == "\"\\xc3\\xa9\"");
  auto long_value = log_value(std::string(5000, 'a'));
  CHECK(long_value.size() == 203);
}

TEST_CASE("a log line names its level and event and lists its fields", "[protocol]") {
  CHECK(format_log_line("warn", "auth_failed", {{"ip", "127.0.0.1"}, {"reason", "bad signature"}}) ==
        "parley: level=warn event=auth_failed ip=127.0.0.1 reason=\"bad signature\"");
  CHECK(format_log_line("info", "x", {}, 7) == "parley: level=info event=x suppressed=7");
}

TEST_CASE("the log limiter lets a burst through, then a steady rate, and counts what it drops", "[protocol]") {
  log_limiter limiter(10, 20);
  std::uint64_t suppressed = 0;
  int admitted = 0;
  for (int i = 0; i < 1000; ++i) admitted += limiter.admit("accept_failed", 1000, suppressed);
  CHECK(admitted == 20);
  // Another event has its own budget.
  CHECK(limiter.admit("auth_failed", 1000, suppressed));
  CHECK(suppressed == 0);
  // 100 ms later one more line, which reports the 980 dropped.
  CHECK(limiter.admit("accept_failed", 1100, suppressed));
  CHECK(suppressed == 980);
  CHECK_FALSE(limiter.admit("accept_failed", 1100, suppressed));
}

TEST_CASE("a JSON log line is one object of valid UTF-8 whatever a client sent", "[protocol]") {
  // 2026-11-30T19:11:08.123Z
  const std::int64_t at = 1796065868123;
  auto line = format_log_json("warn", "auth_failed",
                              {{"ip", "127.0.0.1"},
                               {"reason", "a\n{\"level\":\"info\"}"},
                               {"user", "Tom\xc3\xa1s"},
                               {"raw", "bad \xff\xfe bytes"},
                               {"level", "forged"}},
                              3, at);
  CHECK(line.find('\n') == std::string::npos);
  auto v = boost::json::parse(line).as_object();
  CHECK(v.at("ts").as_string() == "2026-11-30T19:11:08.123Z");
  CHECK(v.at("level").as_string() == "warn");
  CHECK(v.at("event").as_string() == "auth_failed");
  CHECK(v.at("ip").as_string() == "127.0.0.1");
  CHECK(v.at("reason").as_string() == "a\n{\"level\":\"info\"}");
  CHECK(v.at("user").as_string() == "Tom\xc3\xa1s");
  CHECK(v.at("raw").as_string() == "bad \\xff\\xfe bytes");
  CHECK(v.at("suppressed").as_int64() == 3);
  CHECK(format_log_json("info", "stopped", {}, 0, at) ==
        "{\"ts\":\"2026-11-30T19:11:08.123Z\",\"level\":\"info\",\"event\":\"stopped\"}");
}

TEST_CASE("a long JSON log value is cut on a character boundary", "[protocol]") {
  std::string name = std::string(199, 'a') + "\xc3\xa1" + std::string(50, 'b');
  auto v = boost::json::parse(format_log_json("info", "e", {{"name", name}}, 0, 0)).as_object();
  CHECK(v.at("name").as_string() == std::string(199, 'a') + "...");
}
