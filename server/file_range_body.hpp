#pragma once
// A Beast body that sends `length` bytes of an open file from `offset` (a
// whole download or one Range), a buffer at a time: a file of any size is
// never read whole into memory.
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <utility>

namespace parley {

// An open file descriptor, closed with its last owner.
struct open_file {
  int fd = -1;
  explicit open_file(int f) : fd(f) {}
  ~open_file() {
    if (fd >= 0) ::close(fd);
  }
  open_file(const open_file&) = delete;
  open_file& operator=(const open_file&) = delete;
};

struct file_range_body {
  struct value_type {
    std::shared_ptr<open_file> file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };

  static std::uint64_t size(const value_type& body) { return body.length; }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body)
        : body_(body), at_(body.offset), left_(body.length) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      if (left_ == 0) {
        ec = {};
        return boost::none;
      }
      auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left_, buffer_.size()));
      ssize_t n;
      do {
        n = ::pread(body_.file->fd, buffer_.data(), want, static_cast<off_t>(at_));
      } while (n < 0 && errno == EINTR);
      if (n <= 0) {
        // A short file (it cannot change, but a disk can fail): the response ends here.
        ec = boost::beast::errc::make_error_code(boost::beast::errc::io_error);
        return boost::none;
      }
      at_ += static_cast<std::uint64_t>(n);
      left_ -= static_cast<std::uint64_t>(n);
      ec = {};
      return {{boost::asio::const_buffer(buffer_.data(), static_cast<std::size_t>(n)), left_ > 0}};
    }

   private:
    const value_type& body_;
    std::uint64_t at_;
    std::uint64_t left_;
    std::array<char, 64 * 1024> buffer_;
  };
};

}  // namespace parley
