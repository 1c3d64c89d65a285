// The HTTP session's part of files (protocol §9.6): an upload's body streamed
// to a staged file, and downloads written a buffer at a time.
#include "server/http_session.hpp"

#include "storage/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>

namespace parley {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {
// A large upload may take long on a slow link, a stalled one may not: each
// read must bring bytes within upload_idle, and after upload_grace the
// upload must have averaged at least min_upload_rate bytes per second (a
// 100 MiB file may take up to ~7 h; a byte now and then is cut off within ~10 s).
constexpr auto upload_idle = std::chrono::seconds(10);
constexpr auto upload_grace = std::chrono::seconds(10);
constexpr std::uint64_t min_upload_rate = 4 * 1024;
// Each part of a download must be taken by the client within this.
constexpr auto download_write_timeout = std::chrono::seconds(30);
}  // namespace

void http_session::start_upload() {
  head_ = false;
  upload_header header = header_parser_->get();
  arm_storage_deadline(header.version());
  auto serial = request_serial_;
  std::optional<std::uint64_t> declared;
  if (auto length = header_parser_->content_length()) declared = *length;
  begin_upload(hub_, header, declared, http_origin{remote_, admin_},
               [self = shared_from_this(), serial](std::variant<upload_request, http_response> begun) {
                 net::post(self->stream_.get_executor(), [self, serial, begun = std::move(begun)]() mutable {
                   if (self->answered_ || self->request_serial_ != serial) return;
                   if (auto* refused = std::get_if<http_response>(&begun)) {
                     // The body was not read: the connection cannot carry another request.
                     refused->keep_alive(false);
                     self->linger_on_close_ = true;
                     self->header_parser_.reset();
                     return self->send(std::move(*refused));
                   }
                   // The body's reads have deadlines of their own.
                   ++self->request_serial_;
                   self->storage_deadline_.cancel();
                   self->upload_ = std::move(std::get<upload_request>(begun));
                   self->upload_parser_.emplace(std::move(*self->header_parser_));
                   self->header_parser_.reset();
                   self->upload_parser_->body_limit(self->hub_.cfg().max_file_size);
                   if (auto opened = self->upload_parser_->get().body().open(self->hub_.files().staging_dir());
                       !opened) {
                     self->upload_parser_.reset();
                     log_event(log_level::error, "upload_staging_failed", {{"error", opened.err().message}});
                     self->head_ = false;
                     self->answered_ = false;
                     return self->send(http_error_response(opened.err(), self->upload_->version, false));
                   }
                   self->upload_started_ = std::chrono::steady_clock::now();
                   self->read_upload();
                 });
               });
}

void http_session::read_upload() {
  auto received = upload_parser_->get().body().size();
  auto by_rate = upload_started_ + upload_grace + std::chrono::milliseconds(received * 1000 / min_upload_rate);
  stream_.expires_at(std::min(by_rate, std::chrono::steady_clock::now() + upload_idle));
  http::async_read_some(stream_, buffer_, *upload_parser_,
                        beast::bind_front_handler(&http_session::on_upload_read, shared_from_this()));
}

void http_session::on_upload_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::body_limit) {
    // The staged file goes with the parser: nothing of the upload is kept.
    upload_parser_.reset();
    bump(hub_.stats().uploads_refused);
    linger_on_close_ = true;
    auto limit = hub_.cfg().max_file_size;
    return refuse(make_error(errc::too_large, "files are at most " + std::to_string(limit) + " bytes"),
                  upload_->version);
  }
  if (ec) {
    upload_parser_.reset();
    if (ec == beast::error::timeout) log_event(log_level::info, "upload_too_slow", {{"ip", remote_.to_string()}});
    return shut_down();
  }
  if (!upload_parser_->is_done()) return read_upload();
  staged_upload body = std::move(upload_parser_->get().body());
  bool keep_alive = upload_parser_->get().keep_alive();
  upload_parser_.reset();
  upload_->keep_alive = keep_alive;
  stream_.expires_never();
  arm_storage_deadline(upload_->version);
  auto serial = request_serial_;
  finish_upload(hub_, std::move(*upload_), std::move(body), [self = shared_from_this(), serial](http_response res) {
    net::post(self->stream_.get_executor(), [self, serial, res = std::move(res)]() mutable {
      if (self->answered_ || self->request_serial_ != serial) return;
      self->send(std::move(res));
    });
  });
}

// At most this long, whatever the client sends.
void http_session::linger() {
  constexpr auto linger_time = std::chrono::seconds(2);
  if (!linger_buffer_) {
    linger_buffer_ = std::make_shared<std::array<char, 16 * 1024>>();
    linger_until_ = std::chrono::steady_clock::now() + linger_time;
  }
  stream_.expires_at(linger_until_);
  stream_.async_read_some(net::buffer(*linger_buffer_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (!ec) self->linger();
  });
}

void http_session::download(const http_request& req) {
  arm_storage_deadline(req.version());
  auto serial = request_serial_;
  handle_download(hub_, req, http_origin{remote_, admin_}, [self = shared_from_this(), serial](download_answer a) {
    net::post(self->stream_.get_executor(), [self, serial, a = std::move(a)]() mutable {
      if (self->answered_ || self->request_serial_ != serial) return;
      if (auto* res = std::get_if<http_response>(&a)) return self->send(std::move(*res));
      self->send_file(std::move(std::get<file_response>(a)));
    });
  });
}

void http_session::send_file(file_response res) {
  bool keep_alive = res.keep_alive();
  if (head_) {
    // HEAD: the headers of the file, Content-Length included, and no body.
    answered_ = true;
    storage_deadline_.cancel();
    http_response headers_only{std::move(res.base())};
    response_ = std::make_shared<http_response>(std::move(headers_only));
    stream_.expires_after(download_write_timeout);
    return http::async_write(stream_, *response_,
                             beast::bind_front_handler(&http_session::on_write, shared_from_this(), keep_alive));
  }
  answered_ = true;
  storage_deadline_.cancel();
  file_response_ = std::make_shared<file_response>(std::move(res));
  file_serializer_ = std::make_shared<http::response_serializer<file_range_body>>(*file_response_);
  write_file_part(keep_alive);
}

// One part at a time, each within its own deadline: a large file on a slow
// link is fine, a client that stops reading is not.
void http_session::write_file_part(bool keep_alive) {
  stream_.expires_after(download_write_timeout);
  http::async_write_some(stream_, *file_serializer_,
                         [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t bytes) {
                           if (!ec && !self->file_serializer_->is_done()) return self->write_file_part(keep_alive);
                           self->file_serializer_.reset();
                           self->on_write(keep_alive, ec, bytes);
                         });
}

}  // namespace parley
