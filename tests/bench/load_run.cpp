#include "tests/bench/load_run.hpp"

#include "protocol/token.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/epoll.h>
#include <unistd.h>

namespace parley::bench {

namespace {

constexpr std::int64_t ns_per_s = 1'000'000'000;
constexpr std::int64_t hello_id = 1, join_id = 2, first_post_id = 1000;
constexpr std::int64_t setup_timeout_ns = 180 * ns_per_s;

std::int64_t seconds_ns(double s) { return static_cast<std::int64_t>(s * static_cast<double>(ns_per_s)); }

// The integer right after `key` in `line` (0 when absent or malformed).
std::int64_t int_after(std::string_view line, std::string_view key) {
  auto pos = line.find(key);
  if (pos == std::string_view::npos) return 0;
  std::int64_t v = 0;
  const char* b = line.data() + pos + key.size();
  std::from_chars(b, line.data() + line.size(), v);
  return v;
}

// The string value right after `key` (`"code":"`), up to the next quote.
std::string_view string_after(std::string_view line, std::string_view key) {
  auto pos = line.find(key);
  if (pos == std::string_view::npos) return {};
  line.remove_prefix(pos + key.size());
  return line.substr(0, line.find('"'));
}

}  // namespace

load_run::load_run(const load_options& options)
    : options_(options), epoll_fd_(epoll_create1(EPOLL_CLOEXEC)), subscribers_per_channel_(options.channels, 0) {
  if (epoll_fd_ < 0) setup_failed("epoll_create1 failed");
  padding_.assign(options_.size, 'x');
}

load_run::~load_run() {
  clients_.clear();
  ::close(epoll_fd_);
}

std::string load_run::channel_name(std::size_t c) const { return "eng:" + options_.eng_prefix + std::to_string(c); }

std::string load_run::token_for(const peer& p) const {
  std::vector<std::string> engs;
  if (p.publisher) {
    for (std::size_t c = 0; c < options_.channels; ++c) engs.push_back(options_.eng_prefix + std::to_string(c));
  } else {
    engs.push_back(options_.eng_prefix + std::to_string(p.channel));
  }
  // One user per connection: the per-user connection cap stays out of the picture.
  user who{(p.publisher ? "p" : "s") + std::to_string(p.index), "",
           p.index % 2 ? user_role::expert : user_role::client};
  return make_token(who, engs, static_cast<std::int64_t>(std::time(nullptr)) + 6 * 3600, options_.secret);
}

void load_run::setup_failed(const std::string& why) {
  std::fprintf(stderr, "parley_load: set-up failed: %s\n", why.c_str());
  std::exit(2);
}

void load_run::connect_peer(peer p) {
  std::size_t tag = peers_.size();
  const sockaddr_in& target =
      p.publisher ? options_.targets[options_.publish_target] : options_.targets[p.index % options_.targets.size()];
  sockaddr_in source{};
  bool bind_source = options_.sources > 1;
  if (bind_source) {
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(0x7F000001u + static_cast<std::uint32_t>(tag % options_.sources));
  }
  char host[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &target.sin_addr, host, sizeof host);
  std::string host_header = std::string(host) + ":" + std::to_string(ntohs(target.sin_port));
  peers_.push_back(p);
  clients_.push_back(std::make_unique<ws_client>(
      epoll_fd_, reinterpret_cast<const sockaddr*>(&target), sizeof target,
      bind_source ? reinterpret_cast<const sockaddr*>(&source) : nullptr, bind_source ? sizeof source : 0,
      std::move(host_header), tag));
  ++in_setup_;
  if (clients_.back()->current() == ws_client::state::closed)
    setup_failed("connect to " + std::string(host) + " failed: " + std::strerror(errno) + " (connection " +
                 std::to_string(tag) + ")");
}

void load_run::open_subscribers(std::size_t count) {
  std::int64_t deadline = monotonic_ns() + setup_timeout_ns;
  while (subscribers_opened_ < count) {
    while (in_setup_ < options_.max_setup && subscribers_opened_ < count) {
      peer p;
      p.index = subscribers_opened_;
      p.channel = subscribers_opened_ % options_.channels;
      connect_peer(p);
      ++subscribers_opened_;
    }
    loop_once(monotonic_ns() + 100'000'000);
    if (monotonic_ns() > deadline) setup_failed("subscribers not joined within 180 s");
  }
  wait_until_ready("subscribers");
}

void load_run::open_publishers() {
  for (std::size_t i = 0; i < options_.publishers; ++i) {
    peer p;
    p.publisher = true;
    p.index = i;
    publisher_state pub;
    pub.conn = peers_.size();
    publishers_.push_back(pub);
    connect_peer(p);
  }
  wait_until_ready("publishers");
}

void load_run::wait_until_ready(const char* what) {
  std::int64_t deadline = monotonic_ns() + setup_timeout_ns;
  while (in_setup_ > 0) {
    loop_once(monotonic_ns() + 100'000'000);
    if (monotonic_ns() > deadline) setup_failed(std::string(what) + " not ready within 180 s");
  }
}

void load_run::idle_for(double seconds) {
  std::int64_t end = monotonic_ns() + seconds_ns(seconds);
  while (monotonic_ns() < end) loop_once(end);
}

std::size_t load_run::open_connections() const {
  return static_cast<std::size_t>(std::count_if(clients_.begin(), clients_.end(), [](const auto& c) {
    return c->current() == ws_client::state::open;
  }));
}

std::uint64_t load_run::fragmented_messages() const {
  std::uint64_t n = 0;
  for (const auto& c : clients_) n += c->fragmented_messages();
  return n;
}

load_figures load_run::measure() {
  figures_ = load_figures{};
  std::int64_t start = monotonic_ns();
  figures_.start_ns = posting_start_ns_ = start;
  figures_.posting_end_ns = posting_end_ns_ = start + seconds_ns(options_.duration);
  measuring_ = posting_ = true;
  if (options_.window > 0 && options_.rate == 0) {
    for (auto& pub : publishers_)
      for (std::size_t i = 0; i < options_.window; ++i) send_post(pub, start);
  } else {
    // Publishers are staggered over one period, so that their posts do not all fall at once.
    auto period = static_cast<double>(ns_per_s) / options_.rate;
    for (std::size_t i = 0; i < publishers_.size(); ++i)
      publishers_[i].next_due = start + static_cast<std::int64_t>(period * static_cast<double>(i) /
                                                                  static_cast<double>(publishers_.size()));
  }
  while (monotonic_ns() < posting_end_ns_) loop_once(posting_end_ns_);
  posting_ = false;
  std::int64_t drain_end = posting_end_ns_ + seconds_ns(options_.drain);
  auto all_in = [&] {
    std::uint64_t outstanding = 0;
    for (auto& pub : publishers_) outstanding += pub.outstanding;
    return outstanding == 0 && figures_.deliveries >= figures_.expected_deliveries;
  };
  while (!all_in() && monotonic_ns() < drain_end) loop_once(std::min(drain_end, monotonic_ns() + 20'000'000));
  figures_.end_ns = monotonic_ns();
  measuring_ = false;
  return figures_;
}

void load_run::loop_once(std::int64_t deadline_ns) {
  std::int64_t wake = deadline_ns;
  if (posting_ && options_.rate > 0)
    for (auto& pub : publishers_) wake = std::min(wake, pub.next_due);
  std::int64_t wait = std::max<std::int64_t>(0, wake - monotonic_ns());
  timespec ts{static_cast<time_t>(wait / ns_per_s), static_cast<long>(wait % ns_per_s)};
  epoll_event events[256];
  int n = epoll_pwait2(epoll_fd_, events, 256, &ts, nullptr);
  for (int i = 0; i < n; ++i) clients_[events[i].data.u64]->on_ready(events[i].events, *this);
  post_due(monotonic_ns());
  // Reading each socket the moment it turns readable costs a wake-up per
  // delivery, which made the tool cost more per delivery than the server.
  // Busy, it waits a short quantum instead, so that one epoll_wait collects
  // what arrived meanwhile (receive times carry up to that much delay).
  if (n > 0 && n < 256 && options_.poll_quantum_us > 0) {
    std::int64_t until = std::min(monotonic_ns() + static_cast<std::int64_t>(options_.poll_quantum_us) * 1000, deadline_ns);
    if (posting_ && options_.rate > 0)
      for (auto& pub : publishers_) until = std::min(until, pub.next_due);
    std::int64_t pause = until - monotonic_ns();
    if (pause > 0) {
      timespec nap{static_cast<time_t>(pause / ns_per_s), static_cast<long>(pause % ns_per_s)};
      nanosleep(&nap, nullptr);
    }
  }
}

void load_run::post_due(std::int64_t now) {
  if (!posting_ || options_.rate == 0) return;
  auto period = static_cast<double>(ns_per_s) / options_.rate;
  for (std::size_t i = 0; i < publishers_.size(); ++i) {
    auto& pub = publishers_[i];
    // Open loop: a post late because the tool or the server stalled is sent at
    // once and keeps its scheduled time, so the stall shows in its latency.
    while (pub.next_due <= now && pub.next_due < posting_end_ns_) {
      send_post(pub, pub.next_due);
      std::int64_t offset = static_cast<std::int64_t>(period * static_cast<double>(i) /
                                                      static_cast<double>(publishers_.size()));
      pub.next_due = posting_start_ns_ + offset + static_cast<std::int64_t>(period * static_cast<double>(pub.sent));
    }
  }
}

void load_run::send_post(publisher_state& pub, std::int64_t scheduled_ns) {
  peer& p = peers_[pub.conn];
  ws_client& c = *clients_[pub.conn];
  if (c.current() != ws_client::state::open) return;
  std::uint64_t k = pub.sent++;
  auto channel = static_cast<std::uint32_t>((p.index + k) % options_.channels);
  pub.scheduled.push_back(scheduled_ns);
  pub.channel.push_back(channel);
  ++pub.outstanding;
  ++figures_.posts_sent;
  // Every post sent is owed to every subscriber of its channel: a server that
  // falls behind shows as a low share delivered, not as fewer posts expected.
  figures_.expected_deliveries += subscribers_per_channel_[channel];
  // The text starts with the marker subscribers read back: @<scheduled ns>:<publisher>:<n>:
  char marker[64];
  int m = std::snprintf(marker, sizeof marker, "@%lld:%zu:%llu:", static_cast<long long>(scheduled_ns), p.index,
                        static_cast<unsigned long long>(k));
  std::string frame;
  frame.reserve(options_.size + 160);
  frame += "{\"id\":";
  frame += std::to_string(first_post_id + static_cast<std::int64_t>(k));
  frame += ",\"op\":\"post\",\"ch\":\"";
  frame += channel_name(channel);
  frame += "\",\"kind\":\"message\",\"cid\":\"p";
  frame += std::to_string(p.index);
  frame += '-';
  frame += std::to_string(k);
  frame += "\",\"body\":{\"text\":\"";
  frame.append(marker, static_cast<std::size_t>(m));
  frame.append(padding_, 0, options_.size > static_cast<std::size_t>(m) ? options_.size - static_cast<std::size_t>(m) : 0);
  frame += "\"}}";
  c.send_text(frame, *this);
}

void load_run::on_open(ws_client& c) {
  peer& p = peers_[c.tag()];
  p.at = step::hello;
  c.send_text("{\"id\":1,\"op\":\"hello\",\"token\":\"" + token_for(p) + "\"}", *this);
}

void load_run::on_line(ws_client& c, std::string_view line, std::int64_t received_ns) {
  peer& p = peers_[c.tag()];
  if (line.starts_with("{\"id\":")) on_reply(p, line, received_ns);
  else if (line.starts_with("{\"ev\":\"event\"")) on_event(p, line, received_ns);
}

void load_run::on_reply(peer& p, std::string_view line, std::int64_t received_ns) {
  std::int64_t id = int_after(line, "{\"id\":");
  bool ok = line.find("\"ok\":true") != std::string_view::npos;
  std::string code(ok ? std::string_view{} : string_after(line, "\"code\":\""));
  ws_client& c = *clients_[static_cast<std::size_t>(&p - peers_.data())];
  if (p.at == step::hello || p.at == step::join) {
    if (!ok) setup_failed((p.at == step::hello ? "hello refused: " : "join refused: ") + std::string(line));
    if (p.at == step::hello && id == hello_id && !p.publisher) {
      p.at = step::join;
      c.send_text("{\"id\":2,\"op\":\"join\",\"ch\":\"" + channel_name(p.channel) + "\",\"limit\":1}", *this);
      return;
    }
    if (p.at == step::join && id != join_id) return;
    p.at = step::ready;
    --in_setup_;
    if (!p.publisher) ++subscribers_per_channel_[p.channel];
    return;
  }
  if (!p.publisher || id < first_post_id) {
    if (!ok) ++errors_["reply " + code];
    return;
  }
  auto& pub = publishers_[p.index];
  auto k = static_cast<std::uint64_t>(id - first_post_id);
  if (k >= pub.sent || !measuring_) return;
  --pub.outstanding;
  figures_.ack_latency.add(received_ns - pub.scheduled[k]);
  figures_.last_ack_ns = received_ns;
  if (ok) {
    ++figures_.posts_acked;
  } else {
    ++figures_.posts_refused;
    figures_.expected_deliveries -= subscribers_per_channel_[pub.channel[k]];
    ++errors_["post refused: " + code];
  }
  // Closed loop: each reply lets the next post go.
  if (options_.rate == 0 && posting_ && received_ns < posting_end_ns_) send_post(pub, monotonic_ns());
}

void load_run::on_event(peer& p, std::string_view line, std::int64_t received_ns) {
  std::int64_t seq = int_after(line, "\"seq\":");
  if (seq <= p.last_seq) ++figures_.out_of_order;
  p.last_seq = seq;
  auto marker = line.find("\"text\":\"@");
  if (marker == std::string_view::npos || !measuring_) return;
  std::int64_t scheduled = 0;
  const char* b = line.data() + marker + 9;
  std::from_chars(b, line.data() + line.size(), scheduled);
  ++figures_.deliveries;
  figures_.delivery_latency.add(received_ns - scheduled);
  figures_.last_delivery_ns = received_ns;
}

void load_run::on_closed(ws_client& c, int close_code, std::string_view why) {
  peer& p = peers_[c.tag()];
  bool in_setup = p.at != step::ready;
  p.at = step::closed;
  std::string what = "close " + std::to_string(close_code) + " (" + std::string(why) + ")";
  if (in_setup) setup_failed(what + " while connecting " + (p.publisher ? "publisher " : "subscriber ") +
                             std::to_string(p.index));
  ++errors_[what];
}

}  // namespace parley::bench
