#include "server/latency_histogram.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace parley;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST_CASE("a latency histogram renders cumulative buckets, the sum and the count", "[metrics]") {
  latency_histogram h;
  h.observe(microseconds(500));    // <= 1 ms
  h.observe(milliseconds(1));      // on a bound: counted in it
  h.observe(milliseconds(30));     // <= 50 ms
  h.observe(std::chrono::seconds(20));  // above every bound
  std::ostringstream out;
  h.render(out, "parley_test_seconds", "A test.");
  auto text = out.str();
  CHECK(text.find("# HELP parley_test_seconds A test.\n# TYPE parley_test_seconds histogram\n") == 0);
  CHECK(text.find("parley_test_seconds_bucket{le=\"0.001\"} 2\n") != std::string::npos);
  CHECK(text.find("parley_test_seconds_bucket{le=\"0.025\"} 2\n") != std::string::npos);
  CHECK(text.find("parley_test_seconds_bucket{le=\"0.05\"} 3\n") != std::string::npos);
  CHECK(text.find("parley_test_seconds_bucket{le=\"10\"} 3\n") != std::string::npos);
  CHECK(text.find("parley_test_seconds_bucket{le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(text.find("parley_test_seconds_sum 20.0315\n") != std::string::npos);
  CHECK(text.find("parley_test_seconds_count 4\n") != std::string::npos);
}

TEST_CASE("an empty histogram renders zeros", "[metrics]") {
  latency_histogram h;
  std::ostringstream out;
  h.render(out, "x", "y");
  CHECK(out.str().find("x_bucket{le=\"+Inf\"} 0\nx_sum 0\nx_count 0\n") != std::string::npos);
}
