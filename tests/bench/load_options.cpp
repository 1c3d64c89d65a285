#include "tests/bench/load_options.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <unistd.h>

namespace parley::bench {

namespace {

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "parley_load: %s\n"
               "usage: parley_load --target HOST:PORT [--target ...] [--server-pid PID ...] [options]\n"
               "  --mode fanout|posts|idle   (default fanout)\n"
               "  --label NAME               scenario name in the RESULT line\n"
               "  --subscribers N --channels C --publishers P --rate R (posts/s per publisher)\n"
               "  --window W                 closed loop: W posts outstanding per publisher (with --rate 0)\n"
               "  --duration S --drain S --settle S --size BYTES\n"
               "  --publish-target I         index of the --target publishers post to (default 0)\n"
               "  --checkpoints 1000,2000,.. idle: connection counts at which the server's RSS is read\n"
               "  --sources K                connect from 127.0.0.1 .. 127.0.0.K\n"
               "  --max-setup N              connections being set up at once (default 256)\n"
               "  --poll-quantum-us U        when busy, read sockets every U µs at most (default 250; 0: at once)\n"
               "  --eng-prefix P             engagement ids are P<n> (default bench<pid>x)\n"
               "  --expect-all               exit 1 unless every post reached every subscriber in order\n"
               "The token secret is read from PARLEY_SECRET.\n",
               why);
  std::exit(2);
}

double number(std::string_view name, const char* text) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || v < 0) usage((std::string("bad number for ") + std::string(name)).c_str());
  return v;
}

sockaddr_in endpoint(const char* text) {
  std::string_view s(text);
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos) usage("--target needs HOST:PORT");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  std::string host(s.substr(0, colon));
  unsigned port = 0;
  auto port_text = s.substr(colon + 1);
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || p != port_text.data() + port_text.size() || port == 0 || port > 65535 ||
      inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1)
    usage("--target needs an IPv4 HOST:PORT");
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  return a;
}

}  // namespace

load_options parse_load_options(int argc, char** argv) {
  load_options o;
  o.eng_prefix = "bench" + std::to_string(getpid()) + "x";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--expect-all") {
      o.expect_all = true;
      continue;
    }
    if (i + 1 >= argc) usage((std::string("missing value for ") + std::string(a)).c_str());
    const char* v = argv[++i];
    auto count = [&] { return static_cast<std::size_t>(number(a, v)); };
    if (a == "--mode") o.mode = v;
    else if (a == "--label") o.label = v;
    else if (a == "--target") o.targets.push_back(endpoint(v));
    else if (a == "--server-pid") o.server_pids.push_back(static_cast<int>(count()));
    else if (a == "--subscribers") o.subscribers = count();
    else if (a == "--channels") o.channels = count();
    else if (a == "--publishers") o.publishers = count();
    else if (a == "--rate") o.rate = number(a, v);
    else if (a == "--window") o.window = count();
    else if (a == "--duration") o.duration = number(a, v);
    else if (a == "--drain") o.drain = number(a, v);
    else if (a == "--settle") o.settle = number(a, v);
    else if (a == "--size") o.size = count();
    else if (a == "--sources") o.sources = count();
    else if (a == "--max-setup") o.max_setup = count();
    else if (a == "--poll-quantum-us") o.poll_quantum_us = count();
    else if (a == "--publish-target") o.publish_target = count();
    else if (a == "--eng-prefix") o.eng_prefix = v;
    else if (a == "--checkpoints") {
      std::string_view list(v);
      while (!list.empty()) {
        auto comma = list.find(',');
        std::string item(list.substr(0, comma));
        o.checkpoints.push_back(static_cast<std::size_t>(number(a, item.c_str())));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      }
    } else usage((std::string("unknown option ") + std::string(a)).c_str());
  }
  if (const char* s = std::getenv("PARLEY_SECRET")) o.secret = s;
  if (o.secret.empty()) usage("PARLEY_SECRET is not set");
  if (o.targets.empty()) usage("no --target");
  if (o.publish_target >= o.targets.size()) usage("--publish-target is not a --target index");
  if (o.mode != "fanout" && o.mode != "posts" && o.mode != "idle") usage("--mode is fanout, posts or idle");
  if (o.channels == 0 || o.channels > 500) usage("--channels is 1..500 (a token lists at most 500)");
  if (o.sources == 0 || o.sources > 254) usage("--sources is 1..254");
  if (o.max_setup == 0) o.max_setup = 1;
  if (o.rate == 0 && o.window == 0 && o.mode != "idle") usage("--rate 0 needs --window");
  if (o.mode == "idle" && o.checkpoints.empty()) o.checkpoints.push_back(o.subscribers);
  if (o.size < 48) o.size = 48;  // room for the marker: @<scheduled ns>:<publisher>:<n>:
  return o;
}

}  // namespace parley::bench
