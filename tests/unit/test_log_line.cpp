#include "protocol/log_line.hpp"

#include <catch2/catch.hpp>

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
