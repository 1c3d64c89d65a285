#pragma once
// One TLS connection's OpenSSL state, with no socket: ciphertext from the
// peer is fed in, ciphertext to send is taken out (memory BIOs). The same
// object serves the handshake and HTTP (transport_stream.hpp) and, after an
// upgrade, the WebSocket's non-blocking reads and sends (ws_session_wire.cpp),
// so that handing a connection over loses no byte buffered inside OpenSSL.
// Why not beast::ssl_stream: ws_session reads and sends with non-blocking
// calls once the socket is ready (no handler per write, no buffer while
// idle); asio's ssl::stream only offers that with blocking sends, which lose
// bytes on a non-blocking socket, and keeps its buffered input private, so a
// connection could not move from HTTP to the WebSocket without it.
#include "server/tls_context.hpp"

#include <boost/asio/buffer.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace parley {

class tls_session {
 public:
  enum class status { done, want_read, closed, failed };

  explicit tls_session(tls_context ctx);
  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  // Ciphertext that came from the peer.
  void feed(const char* data, std::size_t size);
  status handshake();
  // Plaintext into [buf, buf + size): `n` > 0 with done.
  status read(char* buf, std::size_t size, std::size_t& n);
  // Encrypts all of [data, data + size) into output(); false once the session failed.
  bool write(const char* data, std::size_t size);
  // Encrypts the first bytes of `buffers`, up to 64 KiB (a few records, one
  // send), into output(): how many were taken, or nullopt once the session failed.
  template <class ConstBuffers>
  std::optional<std::size_t> write_some(const ConstBuffers& buffers) {
    constexpr std::size_t most = 64 * 1024;
    std::size_t taken = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && taken < most; ++it) {
      boost::asio::const_buffer b = *it;
      std::size_t part = std::min(b.size(), most - taken);
      if (!write(static_cast<const char*>(b.data()), part)) return std::nullopt;
      taken += part;
    }
    return taken;
  }
  // Ciphertext to read from the socket at a time: one TLS record and its header.
  static constexpr std::size_t record_room = 16 * 1024 + 512;
  // Our close_notify, into output().
  void close_notify();
  // Ciphertext to send, oldest first: the sender erases what went out.
  std::string& output();
  bool output_empty() const;
  // What failed, for a log line (empty when nothing did).
  const std::string& error() const { return error_; }
  // The negotiated protocol version ("TLSv1.3") and ALPN ("http/1.1" or empty).
  std::string version() const;
  std::string alpn() const;

 private:
  status classify(int ret);

  tls_context ctx_;  // the pair this connection started with, kept across reloads
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  std::string output_;
  std::string error_;
};

}  // namespace parley
