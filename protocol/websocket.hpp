#pragma once
// RFC 6455 as a server speaks it: the handshake's accept key, the frames it
// sends (unmasked, never fragmented) and a reader of what clients send
// (masked frames, fragmented messages, control frames between fragments).
// Pure logic: the session owns the socket and the bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::websocket {

enum class opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

namespace close_code {
constexpr std::uint16_t normal = 1000;
constexpr std::uint16_t going_away = 1001;
constexpr std::uint16_t protocol_error = 1002;
constexpr std::uint16_t no_status = 1005;  // never sent: a close frame without a code
constexpr std::uint16_t bad_payload = 1007;
constexpr std::uint16_t too_big = 1009;
}  // namespace close_code

// Whether a Sec-WebSocket-Key is what RFC 6455 §4.1 asks: base64 of 16 bytes.
bool valid_client_key(std::string_view key);
// The Sec-WebSocket-Accept answering `client_key` (RFC 6455 §4.2.2).
std::string accept_key(std::string_view client_key);

// Bytes a server frame's header takes at most.
constexpr std::size_t max_header = 10;
// Writes the header of a final, unmasked frame of `size` payload bytes to
// `out` (room for max_header bytes); returns its length.
std::size_t frame_header(opcode op, std::size_t size, std::uint8_t* out);
// A whole control frame; `payload` is cut to the 125 bytes a control frame holds.
std::string control_frame(opcode op, std::string_view payload);
// A close frame with `code` and as much of `reason` as fits (cut on a UTF-8 boundary).
std::string close_frame(std::uint16_t code, std::string_view reason);

// What frame_reader::next found.
struct frame_event {
  enum class kind {
    need_more,  // no whole frame in what was given
    message,    // a whole text or binary message: `payload`, `text`
    ping,       // `payload` to echo in a pong
    pong,
    close,      // the peer's close: `code` (1005 for none) and `payload`, its reason
    fail,       // the peer broke the protocol: close with `code`, `payload` says why
  };
  kind what = kind::need_more;
  std::string_view payload;
  std::uint16_t code = 0;
  bool text = false;
};

// Reads client frames from bytes the caller holds. A message of one frame is
// handed over in place (unmasked in the caller's buffer); the fragments of a
// longer one are gathered here, never past `max_message` bytes.
class frame_reader {
 public:
  explicit frame_reader(std::size_t max_message) : max_message_(max_message) {}

  // The next item of data[0, size). `used` is set to the bytes it took, which
  // the caller drops; with `need_more` it keeps the rest (an incomplete frame)
  // and calls again once more has come. What `payload` points to stays valid until the
  // next call or until the caller's bytes change. After `close` or `fail`
  // the reader reads nothing more.
  frame_event next(char* data, std::size_t size, std::size_t& used);

  // Bytes of a fragmented message gathered so far (its memory is freed once
  // the message is handed over).
  std::size_t gathered() const { return fragments_.size(); }

 private:
  // One frame; `fragment` when it was a non-final fragment, gathered.
  frame_event one_frame(char* data, std::size_t size, std::size_t& used, bool& fragment);
  frame_event fail(std::uint16_t code, std::string_view why);

  std::size_t max_message_;
  std::string fragments_;
  bool in_message_ = false;  // a fragmented message has begun
  bool message_text_ = false;
  bool hand_over_clears_ = false;  // fragments_ was handed over: clear it on the next call
  bool done_ = false;
};

}  // namespace parley::websocket
