#include "protocol/ephemeral.hpp"
#include "protocol/event.hpp"

#include <catch2/catch.hpp>

using namespace parley;

TEST_CASE("ephemeral pushes from other instances come out as this instance writes them", "[protocol]") {
  user u{"u1", "Alice", user_role::client};
  for (const auto& frame : {typing_frame("eng:1", u), read_frame("eng:1", u, 7), presence_frame("eng:1", {u}, {})}) {
    auto out = reserialize_ephemeral(frame, "eng:1");
    REQUIRE(out);
    CHECK(*out == frame);
  }
  // Extra members are not passed on.
  auto extra = reserialize_ephemeral(
      R"({"ev":"typing","ch":"eng:1","user":{"id":"u1","name":"A","role":"client"},"evil":"<script>"})", "eng:1");
  REQUIRE(extra);
  CHECK(extra->find("evil") == std::string::npos);
}

TEST_CASE("malformed or misdirected ephemeral pushes are refused", "[protocol]") {
  for (const char* bad : {
           "not json",
           "[]",
           R"({"ev":"typing","ch":"eng:2","user":{"id":"u1","name":"A","role":"client"}})",  // another channel
           R"({"ev":"event","ch":"eng:1","seq":1})",
           R"({"ev":"typing","ch":"eng:1","user":{"id":"u1","name":"A","role":"root"}})",
           R"({"ev":"read","ch":"eng:1","user":{"id":"u1","name":"A","role":"client"},"seq":-1})",
           R"({"ev":"presence","ch":"eng:1","joined":[{"id":""}],"left":[]})",
           R"({"ev":"typing","ch":"eng:1","ch":"eng:1","user":{"id":"u1","name":"A","role":"client"}})",
       }) {
    INFO(bad);
    CHECK_FALSE(reserialize_ephemeral(bad, "eng:1"));
  }
}
