#include "protocol/websocket.hpp"

#include "protocol/base64url.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <simdjson.h>

#include <cstring>

namespace parley::websocket {
namespace {

constexpr std::string_view handshake_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::size_t max_control_payload = 125;

bool is_control(std::uint8_t op) { return op >= 8; }

bool known_opcode(std::uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

// Close codes a peer may send (RFC 6455 §7.4, the IANA registry): 1004-1006
// and 1015 are reserved for reporting, never for the wire.
bool valid_close_code(std::uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

// Unmasks in place, eight bytes at a time where it can.
void unmask(char* p, std::size_t n, const std::uint8_t key[4]) {
  std::uint64_t wide;
  std::uint8_t key8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
  std::memcpy(&wide, key8, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t chunk;
    std::memcpy(&chunk, p + i, 8);
    chunk ^= wide;
    std::memcpy(p + i, &chunk, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<char>(static_cast<std::uint8_t>(p[i]) ^ key[i % 4]);
}

// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<std::uint8_t>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

bool valid_client_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  std::string url(key.substr(0, 22));
  for (auto& c : url) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
    else if (c == '-' || c == '_') return false;
  }
  auto bytes = base64url_decode(url);
  return bytes && bytes->size() == 16;
}

std::string accept_key(std::string_view client_key) {
  std::string input(client_key);
  input += handshake_guid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  // Standard base64 with padding: 28 characters for 20 bytes.
  std::string out(4 * ((sizeof digest + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, sizeof digest);
  return out;
}

std::size_t frame_header(opcode op, std::size_t size, std::uint8_t* out) {
  out[0] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op));
  if (size < 126) {
    out[1] = static_cast<std::uint8_t>(size);
    return 2;
  }
  if (size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<std::uint8_t>(size >> 8);
    out[3] = static_cast<std::uint8_t>(size);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(std::uint64_t(size) >> (56 - 8 * i));
  return 10;
}

std::string control_frame(opcode op, std::string_view payload) {
  payload = payload.substr(0, max_control_payload);
  std::uint8_t header[max_header];
  auto n = frame_header(op, payload.size(), header);
  std::string frame(reinterpret_cast<const char*>(header), n);
  frame.append(payload);
  return frame;
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xFF);
  payload.append(utf8_prefix(reason, max_control_payload - 2));
  return control_frame(opcode::close, payload);
}

frame_event frame_reader::fail(std::uint16_t code, std::string_view why) {
  done_ = true;
  std::string().swap(fragments_);
  frame_event e;
  e.what = frame_event::kind::fail;
  e.code = code;
  e.payload = why;
  return e;
}

frame_event frame_reader::next(char* data, std::size_t size, std::size_t& used) {
  used = 0;
  if (hand_over_clears_) {
    std::string().swap(fragments_);
    hand_over_clears_ = false;
  }
  // Fragments are gathered and passed over until a message, a control frame
  // or the end of the bytes.
  for (;;) {
    std::size_t taken = 0;
    bool fragment = false;
    auto e = one_frame(data + used, size - used, taken, fragment);
    used += taken;
    if (!fragment) return e;
  }
}

frame_event frame_reader::one_frame(char* data, std::size_t size, std::size_t& used, bool& fragment) {
  if (done_ || size < 2) return {};
  const auto b0 = static_cast<std::uint8_t>(data[0]);
  const auto b1 = static_cast<std::uint8_t>(data[1]);
  const bool fin = b0 & 0x80;
  const std::uint8_t op = b0 & 0x0F;
  if (b0 & 0x70) return fail(close_code::protocol_error, "reserved bits set (no extension was agreed)");
  if (!known_opcode(op)) return fail(close_code::protocol_error, "unknown opcode");
  if (!(b1 & 0x80)) return fail(close_code::protocol_error, "client frames must be masked");

  std::size_t header = 2;
  std::uint64_t length = b1 & 0x7F;
  if (length == 126) {
    if (size < 4) return {};
    length = (std::uint64_t(std::uint8_t(data[2])) << 8) | std::uint8_t(data[3]);
    if (length < 126) return fail(close_code::protocol_error, "frame length not in its shortest form");
    header = 4;
  } else if (length == 127) {
    if (size < 10) return {};
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | std::uint8_t(data[2 + i]);
    if (length >> 63) return fail(close_code::protocol_error, "frame length out of range");
    if (length <= 0xFFFF) return fail(close_code::protocol_error, "frame length not in its shortest form");
    header = 10;
  }

  if (is_control(op)) {
    if (!fin) return fail(close_code::protocol_error, "fragmented control frame");
    if (length > max_control_payload) return fail(close_code::protocol_error, "control frame over 125 bytes");
  } else {
    if (op == 0 && !in_message_) return fail(close_code::protocol_error, "continuation frame without a message");
    if (op != 0 && in_message_) return fail(close_code::protocol_error, "new message inside a fragmented one");
    // Checked on the header, before the payload arrives: an oversize frame costs nothing.
    if (length > max_message_ || fragments_.size() + length > max_message_)
      return fail(close_code::too_big, "message too big");
  }

  const std::size_t total = header + 4 + static_cast<std::size_t>(length);
  if (size < total) return {};
  std::uint8_t key[4];
  std::memcpy(key, data + header, 4);
  char* payload = data + header + 4;
  const auto n = static_cast<std::size_t>(length);
  unmask(payload, n, key);
  used = total;

  frame_event e;
  if (is_control(op)) {
    std::string_view body(payload, n);
    if (op == 9) {
      e.what = frame_event::kind::ping;
      e.payload = body;
    } else if (op == 10) {
      e.what = frame_event::kind::pong;
    } else {
      if (n == 1) return fail(close_code::protocol_error, "close frame of one byte");
      e.what = frame_event::kind::close;
      e.code = close_code::no_status;
      if (n >= 2) {
        e.code = static_cast<std::uint16_t>((std::uint8_t(body[0]) << 8) | std::uint8_t(body[1]));
        if (!valid_close_code(e.code)) return fail(close_code::protocol_error, "invalid close code");
        e.payload = body.substr(2);
        if (!simdjson::validate_utf8(e.payload.data(), e.payload.size()))
          return fail(close_code::bad_payload, "close reason is not UTF-8");
      }
      done_ = true;
      std::string().swap(fragments_);
    }
    return e;
  }

  if (op != 0) message_text_ = op == 1;
  std::string_view message(payload, n);
  if (!fin || in_message_) {
    fragments_.append(payload, n);
    in_message_ = !fin;
    if (!fin) {
      fragment = true;
      return {};
    }
    message = fragments_;
    hand_over_clears_ = true;
  }
  if (message_text_ && !simdjson::validate_utf8(message.data(), message.size()))
    return fail(close_code::bad_payload, "text message is not UTF-8");
  e.what = frame_event::kind::message;
  e.payload = message;
  e.text = message_text_;
  return e;
}

}  // namespace parley::websocket
