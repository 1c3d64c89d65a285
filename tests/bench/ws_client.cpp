#include "tests/bench/ws_client.hpp"

#include "protocol/websocket.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/epoll.h>
#include <unistd.h>

namespace parley::bench {

namespace {

constexpr std::size_t read_chunk = 64 * 1024;
// A server message larger than this is a protocol error for the tool (the
// server's own limit on what it sends is far below).
constexpr std::uint64_t max_message = 64ull * 1024 * 1024;

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

// Case-insensitive search for a header line's value in the upgrade response.
std::string_view header_value(std::string_view head, std::string_view name) {
  std::size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    if (head.size() - pos < name.size() + 1) break;
    bool same = std::equal(name.begin(), name.end(), head.begin() + static_cast<std::ptrdiff_t>(pos),
                           [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    if (same && head[pos + name.size()] == ':') {
      std::size_t v = pos + name.size() + 1;
      std::size_t end = head.find("\r\n", v);
      std::string_view value = head.substr(v, end - v);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      return value;
    }
  }
  return {};
}

// xorshift64: frame masks need not be secret from a loopback server we run.
std::uint32_t next_mask(std::uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return static_cast<std::uint32_t>(s);
}

}  // namespace

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

ws_client::ws_client(int epoll_fd, const sockaddr* server, socklen_t server_len, const sockaddr* source,
                     socklen_t source_len, std::string host_header, std::size_t tag)
    : epoll_fd_(epoll_fd), tag_(tag), host_header_(std::move(host_header)),
      mask_seed_(0x9E3779B97F4A7C15ull ^ (tag + 1) * 0xBF58476D1CE4E5B9ull) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    state_ = state::closed;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source) {
    // Picks the port at connect time, so that many source addresses share the port range.
    ::setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd_, source, source_len) != 0) {
      ::close(fd_);
      fd_ = -1;
      state_ = state::closed;
      return;
    }
  }
  int rc = ::connect(fd_, server, server_len);
  if (rc != 0 && errno != EINPROGRESS) {
    ::close(fd_);
    fd_ = -1;
    state_ = state::closed;
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = tag_;
  watching_writable_ = true;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd_, &ev);
}

ws_client::~ws_client() { shut(); }

void ws_client::shut() {
  if (fd_ >= 0) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
    ::close(fd_);
    fd_ = -1;
  }
  state_ = state::closed;
}

void ws_client::fail(ws_events& events, int close_code, std::string_view why) {
  if (state_ == state::closed) return;
  shut();
  events.on_closed(*this, close_code, why);
}

void ws_client::watch_writable(bool on) {
  if (on == watching_writable_ || fd_ < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.u64 = tag_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &ev);
  watching_writable_ = on;
}

void ws_client::on_ready(std::uint32_t epoll_events, ws_events& events) {
  if (state_ == state::closed) return;
  if (state_ == state::connecting) {
    if (!(epoll_events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    on_connected(events);
    return;
  }
  if (epoll_events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_some(events);
  if (state_ != state::closed && (epoll_events & EPOLLOUT)) flush(events);
}

void ws_client::on_connected(ws_events& events) {
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return fail(events, 0, std::string("connect: ") + std::strerror(err));
  unsigned char nonce[16];
  RAND_bytes(nonce, sizeof nonce);
  key_ = base64(nonce, sizeof nonce);
  state_ = state::upgrading;
  out_ += "GET /ws HTTP/1.1\r\nHost: " + host_header_ +
          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key_ +
          "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  flush(events);
}

void ws_client::read_some(ws_events& events) {
  // Reads into a buffer shared by every connection; only the start of a frame
  // not yet complete is kept per connection, so idle connections hold nothing.
  static thread_local std::vector<char> scratch(read_chunk);
  char* data = scratch.data();
  std::size_t have = 0;
  std::size_t room = scratch.size();
  if (!in_.empty()) {
    have = in_.size();
    if (scratch.size() < have + read_chunk) scratch.resize(have + read_chunk);
    data = scratch.data();
    std::memcpy(data, in_.data(), have);
    room = scratch.size() - have;
    in_.clear();
  }
  ssize_t n = ::read(fd_, data + have, room);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      in_.assign(data, data + have);
      return;
    }
    return fail(events, 0, std::string("read: ") + std::strerror(errno));
  }
  if (n == 0) return fail(events, 0, "connection closed without a close frame");
  have += static_cast<std::size_t>(n);
  std::int64_t now = monotonic_ns();
  std::size_t used = 0;
  if (state_ == state::upgrading) used = parse_upgrade(data, have, events);
  if (state_ == state::open) used += parse_frames(data + used, have - used, events, now);
  if (state_ != state::closed && used < have) in_.assign(data + used, data + have);
  if (in_.empty()) in_.shrink_to_fit();
}

std::size_t ws_client::parse_upgrade(const char* bytes, std::size_t size, ws_events& events) {
  std::string_view data(bytes, size);
  std::size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (data.size() > 16 * 1024) fail(events, 0, "upgrade response too long");
    return 0;
  }
  std::string_view head = data.substr(0, end + 2);
  if (!head.starts_with("HTTP/1.1 101")) {
    fail(events, 0, "upgrade refused: " + std::string(head.substr(0, head.find("\r\n"))));
    return 0;
  }
  if (header_value(head, "Sec-WebSocket-Accept") != parley::websocket::accept_key(key_)) {
    fail(events, 0, "upgrade: wrong Sec-WebSocket-Accept");
    return 0;
  }
  state_ = state::open;
  events.on_open(*this);
  return end + 4;
}

std::size_t ws_client::parse_frames(const char* bytes, std::size_t size, ws_events& events,
                                    std::int64_t received_ns) {
  std::size_t used = 0;
  while (state_ == state::open) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes + used);
    std::size_t avail = size - used;
    if (avail < 2) break;
    bool fin = p[0] & 0x80;
    std::uint8_t opcode = p[0] & 0x0F;
    if (p[0] & 0x70) return fail(events, 0, "protocol error: reserved bits set"), used;
    if (p[1] & 0x80) return fail(events, 0, "protocol error: masked server frame"), used;
    std::uint64_t len = p[1] & 0x7F;
    std::size_t header = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (std::uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | p[i];
      header = 10;
    }
    if (len > max_message) return fail(events, 0, "protocol error: frame too large"), used;
    if (avail < header + len) break;
    std::string_view payload(bytes + used + header, static_cast<std::size_t>(len));
    used += header + static_cast<std::size_t>(len);
    switch (opcode) {
      case 0x0:  // continuation
        if (!in_fragmented_) return fail(events, 0, "protocol error: continuation without a start"), used;
        fragments_.append(payload);
        if (fragments_.size() > max_message) return fail(events, 0, "protocol error: message too large"), used;
        if (fin) {
          in_fragmented_ = false;
          ++fragmented_messages_;
          std::string message = std::move(fragments_);
          fragments_.clear();
          deliver_message(events, message, received_ns);
        }
        break;
      case 0x1:  // text
        if (in_fragmented_) return fail(events, 0, "protocol error: new message inside a fragmented one"), used;
        if (fin) {
          deliver_message(events, payload, received_ns);
        } else {
          in_fragmented_ = true;
          fragments_.assign(payload);
        }
        break;
      case 0x2:
        return fail(events, 0, "protocol error: binary frame"), used;
      case 0x8: {  // close: answer it, then report the server's code
        int code = payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) |
                                             static_cast<unsigned char>(payload[1])
                                       : 1005;
        std::string reason(payload.size() > 2 ? payload.substr(2) : std::string_view{});
        queue_frame(0x8, payload.substr(0, std::min<std::size_t>(2, payload.size())));
        flush(events);
        fail(events, code, reason.empty() ? "closed by the server" : reason);
        return used;
      }
      case 0x9:  // ping
        queue_frame(0xA, payload);
        flush(events);
        break;
      case 0xA:  // pong
        break;
      default:
        return fail(events, 0, "protocol error: unknown opcode"), used;
    }
  }
  return used;
}

void ws_client::deliver_message(ws_events& events, std::string_view message, std::int64_t received_ns) {
  while (!message.empty() && state_ == state::open) {
    std::size_t nl = message.find('\n');
    std::string_view line = message.substr(0, nl);
    if (!line.empty()) events.on_line(*this, line, received_ns);
    if (nl == std::string_view::npos) break;
    message.remove_prefix(nl + 1);
  }
}

void ws_client::send_text(std::string_view text, ws_events& events) {
  if (state_ != state::open) return;
  queue_frame(0x1, text);
  flush(events);
}

void ws_client::queue_frame(std::uint8_t opcode, std::string_view payload) {
  // The server's frame header, with the mask bit a client's frames carry.
  unsigned char header[parley::websocket::max_header + 4];
  std::size_t n = parley::websocket::frame_header(static_cast<parley::websocket::opcode>(opcode), payload.size(), header);
  header[1] |= 0x80;
  std::uint32_t mask = next_mask(mask_seed_);
  unsigned char key[4];
  std::memcpy(key, &mask, 4);
  std::memcpy(header + n, key, 4);
  n += 4;
  if (out_begin_ == out_.size()) {
    out_.clear();
    out_begin_ = 0;
  }
  out_.append(reinterpret_cast<const char*>(header), n);
  std::size_t start = out_.size();
  out_.append(payload);
  for (std::size_t i = 0; i < payload.size(); ++i) out_[start + i] = static_cast<char>(out_[start + i] ^ key[i & 3]);
}

// Writes what the socket takes; the rest waits for EPOLLOUT.
void ws_client::flush(ws_events& events) {
  while (out_begin_ < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + out_begin_, out_.size() - out_begin_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) break;
      if (errno == EINTR) continue;
      return fail(events, 0, std::string("write: ") + std::strerror(errno));
    }
    out_begin_ += static_cast<std::size_t>(n);
  }
  if (out_begin_ == out_.size()) {
    out_.clear();
    out_begin_ = 0;
  }
  watch_writable(out_begin_ < out_.size());
}

}  // namespace parley::bench
