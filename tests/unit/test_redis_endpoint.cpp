// Redis URLs (storage/redis_endpoint.hpp): host, port, database and
// credentials, and what is refused. No server needed.
#include "storage/redis_endpoint.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace parley;

TEST_CASE("redis URLs are parsed, and bad ones are refused with the reason", "[redis]") {
  auto ok = parse_redis_url("redis://127.0.0.1:6380/2");
  REQUIRE(ok);
  CHECK(ok->host == "127.0.0.1");
  CHECK(ok->port == 6380);
  CHECK(ok->db == 2);

  auto local = parse_redis_url("redis://localhost");
  REQUIRE(local);
  CHECK(local->host == "127.0.0.1");
  CHECK(local->port == 6379);
  CHECK(local->db == 0);

  auto v6 = parse_redis_url("redis://[::1]:7000/");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 7000);

  for (const char* bad : {"http://127.0.0.1:6379", "rediss://127.0.0.1:6379", "redis://", "redis://redis.internal:6379",
                          "redis://127.0.0.1:0", "redis://127.0.0.1:70000", "redis://127.0.0.1:port",
                          "redis://127.0.0.1:6379/x", "redis://user@127.0.0.1:6379", "redis://::1:6379",
                          "redis://:@127.0.0.1:6379", "redis://u:%zz@127.0.0.1:6379",
                          "redis://127.0.0.1:6379/0?timeout=1", "redis://127.0.0.1:"}) {
    INFO(bad);
    auto r = parse_redis_url(bad);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::bad_request);
  }
}

TEST_CASE("redis URLs carry a password, or an ACL user and password, percent-decoded", "[redis]") {
  auto pw = parse_redis_url("redis://:s3cret@127.0.0.1:6380/1");
  REQUIRE(pw);
  CHECK(pw->user.empty());
  CHECK(pw->password == "s3cret");
  CHECK(pw->host == "127.0.0.1");
  CHECK(pw->port == 6380);
  CHECK(pw->db == 1);

  auto acl = parse_redis_url("redis://parley%2Dapp:p%40ss%3Aw%2Fd@10.0.0.5");
  REQUIRE(acl);
  CHECK(acl->user == "parley-app");
  CHECK(acl->password == "p@ss:w/d");
  CHECK(acl->host == "10.0.0.5");

  auto raw_at = parse_redis_url("redis://u:a@b@127.0.0.1");  // the last '@' ends the credentials
  REQUIRE(raw_at);
  CHECK(raw_at->password == "a@b");

  auto none = parse_redis_url("redis://127.0.0.1");
  REQUIRE(none);
  CHECK(none->password.empty());

  auto bad = parse_redis_url("redis://u:%zz-top-secret@127.0.0.1");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message.find("top-secret") == std::string::npos);
}

TEST_CASE("a Redis URL is shown without its password", "[redis]") {
  CHECK(redact_redis_url("redis://app:hunter2@10.0.0.5:6379/2") == "redis://app:***@10.0.0.5:6379/2");
  CHECK(redact_redis_url("redis://:hunter2@10.0.0.5") == "redis://:***@10.0.0.5");
  CHECK(redact_redis_url("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379");
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("127.3.2.1"));
  CHECK(is_loopback_host("::1"));
  CHECK_FALSE(is_loopback_host("10.0.0.5"));
  CHECK_FALSE(is_loopback_host("::"));
}

TEST_CASE("a Redis URL with several hosts names the nodes of a cluster, with one set of credentials", "[redis]") {
  auto nodes = parse_redis_urls("redis://app:p%2Cw@10.0.0.5:7000,10.0.0.6,[::1]:7002");
  REQUIRE(nodes);
  REQUIRE(nodes->size() == 3);
  CHECK((*nodes)[0].host == "10.0.0.5");
  CHECK((*nodes)[0].port == 7000);
  CHECK((*nodes)[1].host == "10.0.0.6");
  CHECK((*nodes)[1].port == 6379);
  CHECK((*nodes)[2].host == "::1");
  for (const auto& n : *nodes) {
    CHECK(n.user == "app");
    CHECK(n.password == "p,w");
  }

  auto one = parse_redis_urls("redis://127.0.0.1:6380/3");
  REQUIRE(one);
  REQUIRE(one->size() == 1);
  CHECK(one->front().db == 3);

  // A raw comma in the password belongs to the credentials, not to the host list.
  auto comma = parse_redis_urls("redis://:a,b@127.0.0.1:7000,127.0.0.1:7001");
  REQUIRE(comma);
  CHECK(comma->size() == 2);
  CHECK(comma->front().password == "a,b");

  CHECK_FALSE(parse_redis_urls("redis://127.0.0.1:7000,127.0.0.1:7001/2"));  // a cluster has database 0 only
  CHECK_FALSE(parse_redis_urls("redis://127.0.0.1:7000,"));                  // an empty host
  CHECK_FALSE(parse_redis_urls("redis://127.0.0.1:7000,redis.example:7001"));  // names would block
  CHECK_FALSE(parse_redis_urls("http://127.0.0.1:7000,127.0.0.1:7001"));
  std::string many = "redis://127.0.0.1:1";
  for (int i = 2; i <= 65; ++i) many += ",127.0.0.1:" + std::to_string(i);
  CHECK_FALSE(parse_redis_urls(many));

  auto secret = parse_redis_urls("redis://u:top-secret@127.0.0.1:7000,127.0.0.1:99999");
  REQUIRE_FALSE(secret);
  CHECK(secret.err().message.find("top-secret") == std::string::npos);
}
