#pragma once
// The body of an upload (protocol §9.6): written to a staged file as it
// arrives while its SHA-256 is computed, so that a file of any size never
// sits in memory. A staged file that is not handed to the store is removed
// when its staged_upload goes (the client went away, the body was too large):
// an interrupted upload leaves nothing behind.
#include "protocol/result.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

struct evp_md_ctx_st;

namespace parley {

class staged_upload {
 public:
  staged_upload() = default;
  ~staged_upload();
  staged_upload(staged_upload&& other) noexcept;
  staged_upload& operator=(staged_upload&& other) noexcept;

  // Creates a new file in `dir` to stage into.
  result<void> open(const std::filesystem::path& dir);
  // Appends bytes to the file and the hash.
  result<void> write(const void* data, std::size_t size);
  // Closes the file; the hex SHA-256 of what was written.
  result<std::string> finish();
  // The staged file, now the caller's to remove (the store does).
  std::filesystem::path release();

  std::uint64_t size() const { return size_; }
  bool is_open() const { return fd_ >= 0; }

 private:
  void discard();

  int fd_ = -1;
  std::filesystem::path path_;
  evp_md_ctx_st* hash_ = nullptr;
  std::uint64_t size_ = 0;
};

// A Beast body whose reader writes to a staged_upload (the parser's
// body_limit bounds it).
struct upload_body {
  using value_type = staged_upload;

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>&, boost::beast::error_code& ec) { ec = {}; }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      std::size_t used = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers);
           ++it) {
        boost::asio::const_buffer b = *it;
        if (!body_.write(b.data(), b.size())) {
          ec = boost::beast::errc::make_error_code(boost::beast::errc::io_error);
          return used;
        }
        used += b.size();
      }
      ec = {};
      return used;
    }

    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

}  // namespace parley
