// Client frames (protocol §3): any text a WebSocket client sends reaches
// parse_client_frame, and a parsed post's body reaches validate_body.
// The HTTP post body goes through parse_http_post the same way.
#include "protocol/frame.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parley::parse_client_frame(text);
  if (auto* f = std::get_if<parley::client_frame>(&parsed); f && f->op == parley::op::post)
    (void)parley::validate_body(f->kind, f->body);
  if (auto* e = std::get_if<parley::frame_error>(&parsed)) {
    // An error is always a client error, never an internal one.
    if (e->err.code != parley::errc::bad_request && e->err.code != parley::errc::too_large) __builtin_trap();
  }
  if (auto post = parley::parse_http_post(text)) (void)parley::validate_body(post->kind, post->body);
  return 0;
}
