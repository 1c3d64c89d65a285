#include "storage/redis_endpoint.hpp"

#include "protocol/http_target.hpp"
#include "storage/redis_reply.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>

namespace parley {
namespace {

result<redis_endpoint> url_error(std::string_view url, std::string why) {
  return make_error(errc::bad_request, "bad Redis URL \"" + redact_redis_url(url) + "\": " + why);
}

}  // namespace

result<redis_endpoint> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return url_error(url, "it must start with redis://");
  std::string_view rest = url.substr(scheme.size());
  redis_endpoint ep;
  // The userinfo ends at the last '@' before the path: a raw '@' in a password is taken as part of it.
  auto slash_at = rest.find('/');
  auto at = rest.substr(0, slash_at).rfind('@');
  if (at != std::string_view::npos) {
    std::string_view info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = info.find(':');
    if (colon == std::string_view::npos) return url_error(url, "a user needs a password (redis://user:password@host)");
    auto user = percent_decode(info.substr(0, colon));
    auto password = percent_decode(info.substr(colon + 1));
    if (!user || !password) return url_error(url, "malformed percent-encoding in the credentials");
    if (password->empty()) return url_error(url, "the password is empty");
    ep.user = std::move(*user);
    ep.password = std::move(*password);
  }
  if (rest.find_first_of("?#") != std::string_view::npos) return url_error(url, "options are not supported");

  std::string_view hostport = rest;
  std::optional<std::string_view> path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (hostport.empty()) return url_error(url, "no host");

  std::string_view host;
  std::optional<std::string_view> port_text;
  bool v6 = false;
  if (hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string_view::npos) return url_error(url, "unterminated IPv6 address");
    host = hostport.substr(1, close - 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return url_error(url, "unexpected text after the IPv6 address");
      port_text = after.substr(1);
    }
    v6 = true;
  } else {
    auto colon = hostport.find(':');
    if (colon != hostport.rfind(':')) return url_error(url, "an IPv6 address must be in brackets");
    host = hostport.substr(0, colon);
    if (colon != std::string_view::npos) port_text = hostport.substr(colon + 1);
  }
  if (host.empty()) return url_error(url, "no host");

  std::string host_text(host);
  if (!v6 && host_text == "localhost") host_text = "127.0.0.1";
  unsigned char addr[16];
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, host_text.c_str(), addr) != 1)
    return url_error(url, "the host must be an IP address or localhost (name resolution would block)");
  ep.host = host_text;

  if (port_text) {
    auto port = decimal_int64(*port_text);
    if (!port || *port < 1 || *port > 65535) return url_error(url, "the port must be 1..65535");
    ep.port = static_cast<int>(*port);
  }
  if (path && !path->empty()) {
    auto db = decimal_int64(*path);
    if (!db || *db < 0 || *db > 1'000'000) return url_error(url, "the database must be a number");
    ep.db = static_cast<int>(*db);
  }
  return ep;
}

result<std::vector<redis_endpoint>> parse_redis_urls(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return url_error(url, "it must start with redis://").err();
  std::string_view rest = url.substr(scheme.size());
  // The hosts lie between the userinfo (up to the last '@' before the path) and the path.
  auto slash = rest.find('/');
  auto at = rest.substr(0, slash).rfind('@');
  std::size_t hosts_begin = at == std::string_view::npos ? 0 : at + 1;
  std::size_t hosts_end = slash == std::string_view::npos ? rest.size() : slash;
  std::string prefix = std::string(scheme) + std::string(rest.substr(0, hosts_begin));
  std::string suffix(rest.substr(hosts_end));
  std::string_view hosts = rest.substr(hosts_begin, hosts_end - hosts_begin);
  std::vector<redis_endpoint> out;
  for (std::size_t from = 0;;) {
    auto comma = hosts.find(',', from);
    auto one = parse_redis_url(prefix + std::string(hosts.substr(from, comma - from)) + suffix);
    if (!one) return one.err();  // names the one host's URL
    out.push_back(std::move(*one));
    if (comma == std::string_view::npos) break;
    from = comma + 1;
  }
  if (out.size() > max_redis_seeds) return url_error(url, "at most " + std::to_string(max_redis_seeds) + " nodes").err();
  if (out.size() > 1 && out.front().db != 0) return url_error(url, "a Redis Cluster has database 0 only").err();
  return out;
}

std::string redact_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return std::string(url);
  std::string_view rest = url.substr(scheme.size());
  auto at = rest.substr(0, rest.find('/')).rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  std::string_view info = rest.substr(0, at);
  auto colon = info.find(':');
  std::string user(info.substr(0, colon));
  return std::string(scheme) + user + (colon == std::string_view::npos ? "" : ":***") + std::string(rest.substr(at));
}

bool is_loopback_host(const std::string& host) {
  unsigned char addr[16];
  if (::inet_pton(AF_INET, host.c_str(), addr) == 1) return addr[0] == 127;
  if (::inet_pton(AF_INET6, host.c_str(), addr) == 1) {
    static const unsigned char loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::equal(addr, addr + 16, loopback6);
  }
  return false;
}

}  // namespace parley
