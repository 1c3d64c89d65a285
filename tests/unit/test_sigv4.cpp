// AWS Signature Version 4 against the vectors AWS publishes. Every expected
// value below is copied from its source, named above each case:
//  - "aws-sig-v4-test-suite" (AWS General Reference, "Signature Version 4
//    test suite", the 2015 suite: credentials AKIDEXAMPLE, region us-east-1,
//    service `service`, 20150830T123600Z), files <case>.creq / .sts / .authz;
//  - the Amazon S3 API Reference, "Signature Calculations for the
//    Authorization Header: Transferring Payload in a Single Chunk" (examplebucket,
//    AKIAIOSFODNN7EXAMPLE, 20130524T000000Z);
//  - the IAM User Guide, "Examples of how to derive a signing key".
#include "protocol/hex.hpp"
#include "protocol/sigv4.hpp"

#include <catch2/catch.hpp>

using namespace parley;
using namespace parley::sigv4;

namespace {

const credentials suite_credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
const scope suite_scope{"us-east-1", "service"};
constexpr std::string_view suite_time = "20150830T123600Z";

request suite_request(std::string method, std::string path) {
  request req;
  req.method = std::move(method);
  req.path = std::move(path);
  req.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", std::string(suite_time)}};
  req.payload_sha256 = std::string(empty_payload_sha256);
  return req;
}

std::string suite_authorization(const request& req) {
  return authorization(req, suite_credentials, suite_scope, suite_time);
}

const credentials s3_credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
const scope s3_scope{"us-east-1", "s3"};
constexpr std::string_view s3_time = "20130524T000000Z";

request s3_request(std::string method, std::string path, std::string payload_sha256) {
  request req;
  req.method = std::move(method);
  req.path = std::move(path);
  req.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"x-amz-content-sha256", payload_sha256},
                 {"x-amz-date", std::string(s3_time)}};
  req.payload_sha256 = std::move(payload_sha256);
  return req;
}

std::string signature_of(std::string_view authorization_header) {
  auto at = authorization_header.find("Signature=");
  return at == std::string_view::npos ? std::string{} : std::string(authorization_header.substr(at + 10));
}

}  // namespace

// aws-sig-v4-test-suite: get-vanilla (.creq, .sts, .authz).
TEST_CASE("sigv4 signs the suite's get-vanilla request in every step", "[protocol][sigv4]") {
  auto req = suite_request("GET", "/");
  auto creq = canonical_request(req);
  CHECK(creq ==
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(string_to_sign(suite_time, suite_scope, creq) ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  CHECK(suite_authorization(req) ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

// aws-sig-v4-test-suite: get-vanilla-query-order-key-case (the suite's worked example).
TEST_CASE("sigv4 sorts the query by parameter name", "[protocol][sigv4]") {
  auto req = suite_request("GET", "/");
  req.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  auto creq = canonical_request(req);
  CHECK(creq ==
        "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(string_to_sign(suite_time, suite_scope, creq) ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
  CHECK(suite_authorization(req) ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

// aws-sig-v4-test-suite: get-header-value-trim.
TEST_CASE("sigv4 trims header values and collapses their inner spaces", "[protocol][sigv4]") {
  request req;
  req.method = "GET";
  req.path = "/";
  req.headers = {{"Host", "example.amazonaws.com"},
                 {"My-Header1", " value1"},
                 {"My-Header2", " \"a   b   c\""},
                 {"X-Amz-Date", "20150830T123600Z"}};
  req.payload_sha256 = std::string(empty_payload_sha256);
  CHECK(canonical_request(req) ==
        "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
        "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(suite_authorization(req) ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
        "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

// aws-sig-v4-test-suite: post-vanilla.
TEST_CASE("sigv4 signs the suite's post-vanilla request", "[protocol][sigv4]") {
  CHECK(suite_authorization(suite_request("POST", "/")) ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

// aws-sig-v4-test-suite: post-x-www-form-urlencoded (the body "Param1=value1" is hashed).
TEST_CASE("sigv4 signs the payload's hash", "[protocol][sigv4]") {
  auto req = suite_request("POST", "/");
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  req.payload_sha256 = sha256_hex("Param1=value1");
  CHECK(req.payload_sha256 == "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  auto creq = canonical_request(req);
  CHECK(creq ==
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  CHECK(string_to_sign(suite_time, suite_scope, creq) ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
  CHECK(suite_authorization(req) ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

// aws-sig-v4-test-suite: get-utf8, get-space, get-unreserved.
TEST_CASE("sigv4 percent-encodes the path byte by byte", "[protocol][sigv4]") {
  auto utf8 = suite_request("GET", "/\xE1\x88\xB4");
  CHECK(canonical_request(utf8).substr(0, 15) == "GET\n/%E1%88%B4\n");
  CHECK(signature_of(suite_authorization(utf8)) == "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");

  auto space = suite_request("GET", "/example space/");
  CHECK(canonical_request(space).substr(0, 22) == "GET\n/example%20space/\n");
  CHECK(signature_of(suite_authorization(space)) ==
        "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");

  auto unreserved = suite_request("GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
  CHECK(signature_of(suite_authorization(unreserved)) ==
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
}

// IAM User Guide, "Examples of how to derive a signing key": kSigning.
TEST_CASE("sigv4 derives AWS's example signing key", "[protocol][sigv4]") {
  auto key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", {"us-east-1", "iam"});
  CHECK(to_hex(reinterpret_cast<const unsigned char*>(key.data()), key.size()) ==
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

// Amazon S3 API Reference, single-chunk examples: "GET Object" (the first ten bytes of test.txt).
TEST_CASE("sigv4 signs S3's GET Object example", "[protocol][sigv4]") {
  auto req = s3_request("GET", "/test.txt", std::string(empty_payload_sha256));
  req.headers.emplace_back("Range", "bytes=0-9");
  auto creq = canonical_request(req);
  CHECK(creq ==
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(string_to_sign(s3_time, s3_scope, creq) ==
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  CHECK(authorization(req, s3_credentials, s3_scope, s3_time) ==
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// Amazon S3 API Reference, single-chunk examples: "PUT Object" (a key with '$', a signed body).
TEST_CASE("sigv4 signs S3's PUT Object example", "[protocol][sigv4]") {
  auto body_hash = sha256_hex("Welcome to Amazon S3.");
  CHECK(body_hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  auto req = s3_request("PUT", "/test$file.text", body_hash);
  req.headers.emplace_back("Date", "Fri, 24 May 2013 00:00:00 GMT");
  req.headers.emplace_back("x-amz-storage-class", "REDUCED_REDUNDANCY");
  CHECK(canonical_request(req).substr(0, 22) == "PUT\n/test%24file.text\n");
  auto header = authorization(req, s3_credentials, s3_scope, s3_time);
  CHECK(header.find("SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,") !=
        std::string::npos);
  CHECK(signature_of(header) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

// Amazon S3 API Reference, single-chunk examples: "GET Bucket Lifecycle" and "Get Bucket (List Objects)".
TEST_CASE("sigv4 signs S3's query examples, a parameter without value included", "[protocol][sigv4]") {
  auto lifecycle = s3_request("GET", "/", std::string(empty_payload_sha256));
  lifecycle.query = {{"lifecycle", ""}};
  CHECK(canonical_request(lifecycle).substr(0, 17) == "GET\n/\nlifecycle=\n");
  CHECK(signature_of(authorization(lifecycle, s3_credentials, s3_scope, s3_time)) ==
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");

  auto list = s3_request("GET", "/", std::string(empty_payload_sha256));
  list.query = {{"prefix", "J"}, {"max-keys", "2"}};
  CHECK(signature_of(authorization(list, s3_credentials, s3_scope, s3_time)) ==
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST_CASE("sigv4 writes the x-amz-date of a time in UTC", "[protocol][sigv4]") {
  CHECK(amz_date(std::chrono::sys_seconds{std::chrono::seconds{1'440'938'160}}) == "20150830T123600Z");
  CHECK(amz_date(std::chrono::sys_seconds{std::chrono::seconds{0}}) == "19700101T000000Z");
  // 2024-02-29 23:59:59: a leap day, the last second of it.
  CHECK(amz_date(std::chrono::sys_seconds{std::chrono::seconds{1'709'251'199}}) == "20240229T235959Z");
}

TEST_CASE("sigv4 encodes query names and values, slashes included", "[protocol][sigv4]") {
  CHECK(uri_encode("a b/c~d._-*", true) == "a%20b%2Fc~d._-%2A");
  CHECK(uri_encode("files/ab/x", false) == "files/ab/x");
  auto req = suite_request("GET", "/");
  req.query = {{"prefix", "files/ab"}, {"a", "x=y&z"}};
  CHECK(canonical_request(req).substr(0, 39) == "GET\n/\na=x%3Dy%26z&prefix=files%2Fab\nhos");
}
