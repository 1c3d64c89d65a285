#include "server/config_file.hpp"

#include <catch2/catch.hpp>

using namespace parley;

namespace {

std::vector<std::pair<std::string, std::string>> pairs(std::string_view text) {
  auto entries = parse_config_text(text, "parley.conf");
  REQUIRE(entries);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : *entries) out.emplace_back(e.option, e.value);
  return out;
}

std::string refusal(std::string_view text) {
  auto entries = parse_config_text(text, "parley.conf");
  REQUIRE_FALSE(entries);
  return entries.err().message;
}

}  // namespace

TEST_CASE("a configuration file is `option = value` lines, with comments and blank lines skipped", "[config]") {
  auto text = "# Parley\n"
              "\n"
              "listen = 0.0.0.0:443\n"
              "  threads=4   # a comment after a space\n"
              "; another comment\n"
              "allowed-origin = https://app.example/#anchor\n"
              "allowed-origin = https://two.example\r\n"
              "instance =\n";
  auto got = pairs(text);
  REQUIRE(got.size() == 5);
  CHECK(got[0] == std::pair<std::string, std::string>{"listen", "0.0.0.0:443"});
  CHECK(got[1] == std::pair<std::string, std::string>{"threads", "4"});
  // A '#' that does not follow a space belongs to the value.
  CHECK(got[2] == std::pair<std::string, std::string>{"allowed-origin", "https://app.example/#anchor"});
  CHECK(got[3] == std::pair<std::string, std::string>{"allowed-origin", "https://two.example"});
  CHECK(got[4] == std::pair<std::string, std::string>{"instance", ""});

  auto entries = parse_config_text(text, "parley.conf");
  REQUIRE(entries);
  CHECK((*entries)[0].line == 3);
  CHECK((*entries)[4].line == 8);
}

TEST_CASE("a quoted value keeps its spaces and what looks like a comment", "[config]") {
  auto got = pairs("instance = \"  eu one # blue \"   # the name\nweb-root = \"/srv/parley\"\n");
  REQUIRE(got.size() == 2);
  CHECK(got[0].second == "  eu one # blue ");
  CHECK(got[1].second == "/srv/parley");
  CHECK(refusal("instance = \"unclosed\n") == "parley.conf:1: a quoted value has no closing '\"'");
  CHECK(refusal("instance = \"a\" b\n") == "parley.conf:1: only a comment may follow a quoted value");
}

TEST_CASE("a line that is not `option = value` is refused with its file and line", "[config]") {
  CHECK(refusal("listen = x\nthreads 4\n") == "parley.conf:2: expected `option = value`");
  CHECK(refusal("\n[server]\nlisten = x\n") == "parley.conf:2: sections are not used; write `option = value`");
  CHECK(refusal("--listen = x\n") ==
        "parley.conf:1: '--listen' is not an option name (lower-case, without the dashes)");
  CHECK(refusal("Listen = x\n").find("'Listen' is not an option name") != std::string::npos);
  CHECK(refusal(" = x\n").find("parley.conf:1: '' is not an option name") == 0);
}

TEST_CASE("an empty file or one of comments sets nothing", "[config]") {
  CHECK(pairs("").empty());
  CHECK(pairs("# nothing\n\n   \n;\n").empty());
}
