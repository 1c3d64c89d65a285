#pragma once
// Uploads and downloads of an engagement's files (protocol §9.6). The HTTP
// session reads an upload's header first and asks begin_upload whether to
// read the body (into a staged_upload) at all; finish_upload then stores it
// and indexes it. Downloads are answered with a file body, never a string.
#include "server/file_range_body.hpp"
#include "server/http_api.hpp"
#include "server/upload_body.hpp"

#include <boost/beast/http/empty_body.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace parley {

using file_response = boost::beast::http::response<file_range_body>;
// A download's answer: an error or 304 as a string response, or the file.
using download_answer = std::variant<http_response, file_response>;
using upload_header = boost::beast::http::request<boost::beast::http::empty_body>;

// The engagement id of an upload target ("/api/v1/engagements/<id>/files", still percent-encoded).
std::optional<std::string_view> upload_path(std::string_view target);
// Whether `target` is a download ("/api/v1/engagements/<id>/files/<sha256>").
bool is_download_path(std::string_view target);

// GET or HEAD of a download. `respond` is called once, possibly from another thread.
void handle_download(hub& h, const http_request& req, const http_origin& from,
                     std::function<void(download_answer)> respond);

// An upload whose header passed: who sends what to which engagement.
struct upload_request {
  claims who;
  std::string eng;
  std::string name;
  std::string declared_type;
  unsigned version = 11;
  bool keep_alive = true;
};

// Checks an upload's header before its body is read (method, token, access,
// name, declared length against --max-file-size and the engagement's quota,
// the user's upload rate): the upload to read, or the response that refuses it.
// `declared`: the Content-Length, none for a chunked body.
void begin_upload(hub& h, const upload_header& req, std::optional<std::uint64_t> declared, const http_origin& from,
                  std::function<void(std::variant<upload_request, http_response>)> done);

// The body was read into `body`: stores it (durable) and indexes it for the
// engagement, then answers 201, or 200 when the engagement had it already.
void finish_upload(hub& h, upload_request up, staged_upload body, std::function<void(http_response)> done);

}  // namespace parley
