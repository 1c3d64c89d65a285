// RFC 6455 framing (protocol/websocket): the handshake key, the frames the
// server writes, and the reader of client frames, which unmasks, gathers
// fragments within the message limit and refuses what breaks the protocol
// with the close code that says why.
#include "protocol/websocket.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace ws = parley::websocket;
using kind = ws::frame_event::kind;

namespace {

// A client frame: masked, as a browser sends it.
std::string client_frame(std::uint8_t op, std::string_view payload, bool fin = true, bool masked = true) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | op);
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  if (payload.size() < 126) {
    f += static_cast<char>(mask_bit | static_cast<char>(payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xFF);
  } else {
    f += static_cast<char>(mask_bit | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((std::uint64_t(payload.size()) >> (8 * i)) & 0xFF);
  }
  const char key[4] = {0x37, static_cast<char>(0xfa), 0x21, 0x3d};
  if (masked) f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  return f;
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xFF);
  p.append(reason);
  return p;
}

// Everything the reader makes of `bytes`, given at once.
std::vector<ws::frame_event> read_all(ws::frame_reader& r, std::string& bytes, std::vector<std::string>* payloads = nullptr) {
  std::vector<ws::frame_event> out;
  std::size_t at = 0;
  for (;;) {
    std::size_t used = 0;
    auto e = r.next(bytes.data() + at, bytes.size() - at, used);
    at += used;
    if (e.what == kind::need_more) break;
    if (payloads) payloads->emplace_back(e.payload);
    out.push_back(e);
    if (e.what == kind::close || e.what == kind::fail) break;
  }
  return out;
}

ws::frame_event only(ws::frame_reader& r, std::string bytes, std::string* payload = nullptr) {
  std::vector<std::string> payloads;
  auto events = read_all(r, bytes, &payloads);
  REQUIRE(events.size() == 1);
  if (payload) *payload = payloads[0];
  return events[0];
}

}  // namespace

TEST_CASE("the accept key is RFC 6455's own example", "[protocol][websocket]") {
  REQUIRE(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("a client key must be the base64 of 16 bytes", "[protocol][websocket]") {
  REQUIRE(ws::valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
  REQUIRE(ws::valid_client_key("+/+/+/+/+/+/+/+/+/+/+w=="));
  REQUIRE_FALSE(ws::valid_client_key(""));
  REQUIRE_FALSE(ws::valid_client_key("dGhlIHNhbXBsZSBub25jZQ"));     // unpadded
  REQUIRE_FALSE(ws::valid_client_key("dGhlIHNhbXBsZSBub25jZQ=x"));   // padding broken
  REQUIRE_FALSE(ws::valid_client_key("dGhlIHNhbXBsZSBub25j-_=="));   // base64url is not base64
  REQUIRE_FALSE(ws::valid_client_key("dGhlIHNhbXBsZSBub25jZSE="));   // 17 bytes
}

TEST_CASE("server frame headers use the shortest length form", "[protocol][websocket]") {
  std::uint8_t h[ws::max_header];
  REQUIRE(ws::frame_header(ws::opcode::text, 0, h) == 2);
  REQUIRE((h[0] == 0x81 && h[1] == 0));
  REQUIRE(ws::frame_header(ws::opcode::text, 125, h) == 2);
  REQUIRE(h[1] == 125);
  REQUIRE(ws::frame_header(ws::opcode::text, 126, h) == 4);
  REQUIRE((h[1] == 126 && h[2] == 0 && h[3] == 126));
  REQUIRE(ws::frame_header(ws::opcode::text, 65535, h) == 4);
  REQUIRE(ws::frame_header(ws::opcode::pong, 65536, h) == 10);
  REQUIRE((h[0] == 0x8A && h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0));
}

TEST_CASE("a close frame carries its code and a reason cut on a character boundary", "[protocol][websocket]") {
  auto f = ws::close_frame(4001, "queue overflow");
  REQUIRE(f == std::string("\x88\x10\x0f\xa1", 4) + "queue overflow");
  // 61 two-byte characters: 122 bytes fit, the 62nd character does not.
  std::string reason;
  for (int i = 0; i < 62; ++i) reason += "\xc3\xa9";
  auto cut = ws::close_frame(1008, reason);
  REQUIRE(cut.size() == 2 + 2 + 122);
  REQUIRE(static_cast<std::uint8_t>(cut[1]) == 124);
  REQUIRE(ws::control_frame(ws::opcode::ping, std::string(300, 'x')).size() == 2 + 125);
}

TEST_CASE("a masked text frame is one message, unmasked in place", "[protocol][websocket]") {
  ws::frame_reader r(1024);
  std::string payload;
  auto e = only(r, client_frame(1, R"({"op":"hello"})"), &payload);
  REQUIRE(e.what == kind::message);
  REQUIRE(e.text);
  REQUIRE(payload == R"({"op":"hello"})");
}

TEST_CASE("an incomplete frame takes nothing until the rest arrives", "[protocol][websocket]") {
  ws::frame_reader r(1 << 20);
  const std::string text(70000, 'a');  // 64-bit length form
  auto whole = client_frame(1, text);
  std::string held;
  for (std::size_t i = 0; i + 1 < whole.size(); i += 4096) {
    held = whole.substr(0, i + 1);
    std::size_t used = 99;
    REQUIRE(r.next(held.data(), held.size(), used).what == kind::need_more);
    REQUIRE(used == 0);
  }
  std::size_t used = 0;
  auto e = r.next(whole.data(), whole.size(), used);
  REQUIRE(e.what == kind::message);
  REQUIRE(used == whole.size());
  REQUIRE(e.payload == text);
}

TEST_CASE("frames that arrive together are read one after the other", "[protocol][websocket]") {
  ws::frame_reader r(1024);
  std::string bytes = client_frame(1, "one") + client_frame(1, "two") + client_frame(9, "p") + client_frame(1, "th");
  bytes.resize(bytes.size() - 1);  // the last frame is not whole
  std::vector<std::string> payloads;
  auto events = read_all(r, bytes, &payloads);
  REQUIRE(events.size() == 3);
  REQUIRE(payloads == std::vector<std::string>{"one", "two", "p"});
  REQUIRE(events[2].what == kind::ping);
}

TEST_CASE("fragments are gathered into one message, control frames between them pass", "[protocol][websocket]") {
  ws::frame_reader r(1024);
  std::string bytes = client_frame(1, "hel", false) + client_frame(9, "are you there") + client_frame(0, "lo ", false) +
                      client_frame(0, "world");
  std::vector<std::string> payloads;
  auto events = read_all(r, bytes, &payloads);
  REQUIRE(events.size() == 2);
  REQUIRE(events[0].what == kind::ping);
  REQUIRE(payloads[0] == "are you there");
  REQUIRE(events[1].what == kind::message);
  REQUIRE(payloads[1] == "hello world");
  // The gathered copy goes once the next read begins.
  std::size_t used = 0;
  r.next(nullptr, 0, used);
  REQUIRE(r.gathered() == 0);
}

TEST_CASE("binary messages are read but not checked as UTF-8", "[protocol][websocket]") {
  ws::frame_reader r(1024);
  auto e = only(r, client_frame(2, "\xff\xfe"));
  REQUIRE(e.what == kind::message);
  REQUIRE_FALSE(e.text);
}

TEST_CASE("a frame that breaks the protocol fails with 1002", "[protocol][websocket]") {
  auto fails_with = [](std::string bytes, std::uint16_t code) {
    ws::frame_reader r(1024);
    auto e = only(r, std::move(bytes));
    REQUIRE(e.what == kind::fail);
    REQUIRE(e.code == code);
    REQUIRE_FALSE(e.payload.empty());
    // Nothing more is read after a failure.
    std::string more = client_frame(1, "x");
    std::size_t used = 0;
    REQUIRE(r.next(more.data(), more.size(), used).what == kind::need_more);
  };
  SECTION("unmasked") { fails_with(client_frame(1, "x", true, false), 1002); }
  SECTION("a reserved bit") {
    auto f = client_frame(1, "x");
    f[0] = static_cast<char>(f[0] | 0x40);
    fails_with(f, 1002);
  }
  SECTION("an unknown opcode") { fails_with(client_frame(3, "x"), 1002); }
  SECTION("a fragmented control frame") { fails_with(client_frame(9, "x", false), 1002); }
  SECTION("a control frame over 125 bytes") { fails_with(client_frame(9, std::string(126, 'x')), 1002); }
  SECTION("a continuation without a message") { fails_with(client_frame(0, "x"), 1002); }
  SECTION("a new message inside a fragmented one") { fails_with(client_frame(1, "a", false) + client_frame(1, "b"), 1002); }
  SECTION("a length not in its shortest form") {
    std::string f = "\x81\xfe";
    f += std::string("\x00\x05", 2) + "abcd" + "hello";
    fails_with(f, 1002);
  }
  SECTION("a length with its top bit set") {
    std::string f = "\x81\xff";
    f += std::string("\x80\x00\x00\x00\x00\x00\x00\x00", 8);
    fails_with(f, 1002);
  }
}

TEST_CASE("a message over the limit fails with 1009 as soon as its header says so", "[protocol][websocket]") {
  SECTION("one frame, before its payload arrives") {
    ws::frame_reader r(100);
    auto f = client_frame(1, std::string(101, 'a'));
    f.resize(8);  // header and mask only
    auto e = only(r, f);
    REQUIRE(e.what == kind::fail);
    REQUIRE(e.code == 1009);
  }
  SECTION("fragments that add up past it") {
    ws::frame_reader r(100);
    auto e = only(r, client_frame(1, std::string(60, 'a'), false) + client_frame(0, std::string(41, 'a')));
    REQUIRE(e.what == kind::fail);
    REQUIRE(e.code == 1009);
  }
  SECTION("exactly the limit is read") {
    ws::frame_reader r(100);
    REQUIRE(only(r, client_frame(1, std::string(50, 'a'), false) + client_frame(0, std::string(50, 'a'))).what ==
            kind::message);
  }
}

TEST_CASE("text that is not UTF-8 fails with 1007, whole or in fragments", "[protocol][websocket]") {
  ws::frame_reader whole(1024);
  auto e = only(whole, client_frame(1, "caf\xc3"));
  REQUIRE((e.what == kind::fail && e.code == 1007));
  // A character split across fragments is fine.
  ws::frame_reader split(1024);
  std::string payload;
  REQUIRE(only(split, client_frame(1, "caf\xc3", false) + client_frame(0, "\xa9"), &payload).what == kind::message);
  REQUIRE(payload == "caf\xc3\xa9");
}

TEST_CASE("a close frame gives the peer's code and reason, then nothing more is read", "[protocol][websocket]") {
  SECTION("with a code and a reason") {
    ws::frame_reader r(1024);
    std::string reason;
    auto e = only(r, client_frame(8, close_payload(1000, "bye")) + client_frame(1, "late"), &reason);
    REQUIRE(e.what == kind::close);
    REQUIRE(e.code == 1000);
    REQUIRE(reason == "bye");
  }
  SECTION("without a payload: 1005") {
    ws::frame_reader r(1024);
    auto e = only(r, client_frame(8, ""));
    REQUIRE((e.what == kind::close && e.code == 1005));
  }
  SECTION("codes that may not be sent fail with 1002") {
    for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1100, 2999, 5000}) {
      ws::frame_reader r(1024);
      auto e = only(r, client_frame(8, close_payload(code)));
      REQUIRE((e.what == kind::fail && e.code == 1002));
    }
  }
  SECTION("application codes are accepted") {
    for (std::uint16_t code : {1001, 1011, 3000, 4999}) {
      ws::frame_reader r(1024);
      REQUIRE(only(r, client_frame(8, close_payload(code))).code == code);
    }
  }
  SECTION("a one-byte payload fails with 1002, a reason not UTF-8 with 1007") {
    ws::frame_reader a(1024);
    REQUIRE(only(a, client_frame(8, "\x03")).code == 1002);
    ws::frame_reader b(1024);
    REQUIRE(only(b, client_frame(8, close_payload(1000, "\xff"))).code == 1007);
  }
}
