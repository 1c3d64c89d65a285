// The pure parts of files (protocol §9.6): names, hashes, media types,
// Content-Disposition, Range, and a body's `files` before and after resolution.
#include "protocol/files.hpp"
#include "protocol/frame.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

using namespace parley;

namespace {
const std::string hash_a(64, 'a');
const std::string hash_b(64, 'b');
}  // namespace

TEST_CASE("file names are 1-255 characters of UTF-8 without slashes or control characters", "[protocol]") {
  CHECK(check_file_name("report.pdf"));
  CHECK(check_file_name("Übersicht – final (2).docx"));
  CHECK(check_file_name(std::string(255, 'x')));
  CHECK(check_file_name("..") );  // harmless: names never become paths
  CHECK_FALSE(check_file_name(""));
  CHECK_FALSE(check_file_name(std::string(256, 'x')));
  CHECK_FALSE(check_file_name("../etc/passwd"));
  CHECK_FALSE(check_file_name("a\\b"));
  CHECK_FALSE(check_file_name(std::string("a\0b", 3)));
  CHECK_FALSE(check_file_name("line\nbreak"));
  CHECK_FALSE(check_file_name("del\x7f"));
  CHECK_FALSE(check_file_name("c1\xc2\x85"));
  CHECK_FALSE(check_file_name("bad\xff utf8"));
  // 255 two-byte characters are 255 characters.
  std::string umlauts;
  for (int i = 0; i < 255; ++i) umlauts += "ü";
  CHECK(check_file_name(umlauts));
  CHECK_FALSE(check_file_name(umlauts + "ü"));
}

TEST_CASE("a sha256 is exactly 64 lowercase hex digits", "[protocol]") {
  CHECK(is_sha256_hex(hash_a));
  CHECK_FALSE(is_sha256_hex(std::string(63, 'a')));
  CHECK_FALSE(is_sha256_hex(std::string(65, 'a')));
  CHECK_FALSE(is_sha256_hex(std::string(64, 'A')));
  CHECK_FALSE(is_sha256_hex("../" + std::string(61, 'a')));
}

TEST_CASE("the media type comes from a known extension, else a well-formed declared type", "[protocol]") {
  CHECK(media_type_for("Report.PDF", "text/html") == "application/pdf");
  CHECK(media_type_for("notes.unknownext", "Text/Plain; charset=utf-8") == "text/plain");
  CHECK(media_type_for("blob", "") == "application/octet-stream");
  CHECK(media_type_for("blob", "not a type") == "application/octet-stream");
  CHECK(media_type_for("blob", "text/html\r\nX-Evil: 1") == "application/octet-stream");
  CHECK(media_type_for("trailing.", "image/png") == "image/png");
}

TEST_CASE("Content-Disposition encodes the name as RFC 5987 says", "[protocol]") {
  CHECK(content_disposition("report.pdf") == "attachment; filename*=UTF-8''report.pdf");
  CHECK(content_disposition("a b\";.txt") == "attachment; filename*=UTF-8''a%20b%22%3B.txt");
  CHECK(content_disposition("ü") == "attachment; filename*=UTF-8''%C3%BC");
}

TEST_CASE("a Range header gives one range, the whole file, or unsatisfiable", "[protocol]") {
  using o = byte_range::outcome;
  auto r = parse_range("bytes=0-99", 1000);
  CHECK(r.kind == o::partial);
  CHECK(r.first == 0);
  CHECK(r.last == 99);
  r = parse_range("bytes=900-", 1000);
  CHECK((r.kind == o::partial && r.first == 900 && r.last == 999));
  r = parse_range("bytes=-100", 1000);
  CHECK((r.kind == o::partial && r.first == 900 && r.last == 999));
  r = parse_range("bytes=-5000", 1000);
  CHECK((r.kind == o::partial && r.first == 0 && r.last == 999));
  r = parse_range("bytes=500-5000", 1000);
  CHECK((r.kind == o::partial && r.last == 999));
  CHECK(parse_range("bytes=1000-", 1000).kind == o::unsatisfiable);
  CHECK(parse_range("bytes=-0", 1000).kind == o::unsatisfiable);
  CHECK(parse_range("bytes=0-0", 0).kind == o::unsatisfiable);
  CHECK(parse_range("", 1000).kind == o::whole);
  CHECK(parse_range("bytes=0-1,5-6", 1000).kind == o::whole);
  CHECK(parse_range("bytes=5-1", 1000).kind == o::whole);
  CHECK(parse_range("items=0-1", 1000).kind == o::whole);
  CHECK(parse_range("bytes=x-1", 1000).kind == o::whole);
  CHECK(parse_range("bytes=99999999999999999999-", 1000).kind == o::whole);
}

TEST_CASE("a message body may carry up to 20 files, each {sha256, name}, no hash twice", "[protocol]") {
  auto body = [](boost::json::array files) { return boost::json::object{{"text", "see attached"}, {"files", files}}; };
  auto ok = validate_body("message", body({boost::json::object{{"sha256", hash_a}, {"name", "a.pdf"}}}));
  REQUIRE(ok);
  CHECK(ok->at("files").as_array().size() == 1);
  // Files alone are a message.
  CHECK(validate_body("message", boost::json::object{{"text", ""}, {"files", boost::json::array{boost::json::object{
                                                                            {"sha256", hash_a}, {"name", "a"}}}}}));
  CHECK_FALSE(validate_body("message", boost::json::object{{"text", ""}}));

  boost::json::array many;
  for (int i = 0; i < 21; ++i) {
    std::string h(64, '0');
    h[0] = "0123456789abcdef"[i / 16];
    h[1] = "0123456789abcdef"[i % 16];
    many.push_back(boost::json::object{{"sha256", h}, {"name", "f"}});
  }
  auto too_many = validate_body("message", body(many));
  REQUIRE_FALSE(too_many);
  CHECK(too_many.err().code == errc::bad_request);
  many.pop_back();
  CHECK(validate_body("message", body(many)));

  for (auto bad : {boost::json::value(boost::json::object{{"sha256", std::string(64, 'A')}, {"name", "a"}}),
                   boost::json::value(boost::json::object{{"sha256", hash_a}, {"name", "a/b"}}),
                   boost::json::value(boost::json::object{{"sha256", hash_a}}),
                   boost::json::value(boost::json::object{{"sha256", hash_a}, {"name", "a"}, {"size", 1}}),
                   boost::json::value("x")}) {
    INFO(boost::json::serialize(bad));
    CHECK_FALSE(validate_body("message", body({bad})));
  }
  CHECK_FALSE(validate_body("message", body({boost::json::object{{"sha256", hash_a}, {"name", "a"}},
                                             boost::json::object{{"sha256", hash_a}, {"name", "b"}}})));
  CHECK_FALSE(validate_body("message", boost::json::object{{"text", "x"}, {"files", "nope"}}));
}

TEST_CASE("resolving files adds size and type from the index, or refuses an unknown hash", "[protocol]") {
  boost::json::object body{{"text", "x"},
                           {"files", boost::json::array{boost::json::object{{"sha256", hash_a}, {"name", "mine.pdf"}},
                                                        boost::json::object{{"sha256", hash_b}, {"name", "b.txt"}}}}};
  std::unordered_map<std::string, indexed_file> index{{hash_a, {10, "application/pdf"}}};
  auto before = body;
  auto refused = resolve_files(body, index);
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::not_found);
  CHECK(body == before);

  index[hash_b] = {20, "text/plain"};
  REQUIRE(resolve_files(body, index));
  const auto& files = body.at("files").as_array();
  CHECK(files[0].as_object() ==
        boost::json::object{{"sha256", hash_a}, {"name", "mine.pdf"}, {"size", 10}, {"type", "application/pdf"}});
  CHECK(files[1].at("size") == 20);
  CHECK(attached_hashes(body) == std::vector<std::string>{hash_a, hash_b});
}
