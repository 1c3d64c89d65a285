#include "server/webhook_verify.hpp"

#include "protocol/webhook_signature.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>

#include <charconv>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace parley {
namespace http = boost::beast::http;

namespace {

constexpr const char* usage =
    "usage: parley webhook-verify --secret-file F [--tolerance SECONDS] < REQUEST\n"
    "  REQUEST        one HTTP request as received: request line, headers, blank line, body\n"
    "  --secret-file  the file holding the webhook secret (as given to --webhook-secret-file)\n"
    "  --tolerance    seconds the signature's timestamp may be from now (default 300)\n";

// A webhook body is a few KiB; a request far larger is not one.
constexpr std::size_t max_request = 16 << 20;

std::string trimmed(std::string s) {
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && space(s.back())) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && space(s[start])) ++start;
  return s.substr(start);
}

// Requests saved by hand or by tools often end their header lines with a bare
// LF: they are read as CRLF; the body is left byte for byte as it came.
std::string with_crlf_headers(std::string raw) {
  auto end = raw.find("\r\n\r\n");
  if (end != std::string::npos) return raw;
  end = raw.find("\n\n");
  if (end == std::string::npos) return raw;
  std::string head;
  for (std::size_t i = 0; i < end; ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) head += '\r';
    head += raw[i];
  }
  return head + "\r\n\r\n" + raw.substr(end + 2);
}

}  // namespace

int webhook_verify_command(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                           std::ostream& err, std::int64_t now_s) {
  std::optional<std::string> secret_path;
  std::int64_t tolerance = default_webhook_tolerance_s;
  auto usage_error = [&](const std::string& why) {
    err << "parley webhook-verify: " << why << "\n" << usage;
    return 2;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (a == "--secret-file") {
      const auto* v = next();
      if (!v) return usage_error("--secret-file needs a file");
      secret_path = *v;
    } else if (a == "--tolerance") {
      const auto* v = next();
      std::int64_t n = -1;
      if (v) std::from_chars(v->data(), v->data() + v->size(), n);
      if (!v || n < 0 || std::to_string(n) != *v) return usage_error("--tolerance needs a number of seconds");
      tolerance = n;
    } else {
      return usage_error("unexpected argument '" + a + "'");
    }
  }
  if (!secret_path) return usage_error("--secret-file is required");
  std::ifstream secret_in(*secret_path);
  if (!secret_in) return usage_error("cannot read " + *secret_path);
  std::string secret = trimmed(std::string(std::istreambuf_iterator<char>(secret_in), {}));
  if (secret.empty()) return usage_error(*secret_path + " is empty");

  std::string raw;
  raw.resize(max_request + 1);
  in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
  raw.resize(static_cast<std::size_t>(in.gcount()));
  if (raw.size() > max_request) {
    err << "parley webhook-verify: the request is larger than " << max_request << " bytes\n";
    return 1;
  }
  raw = with_crlf_headers(std::move(raw));
  http::request_parser<http::string_body> parser;
  parser.body_limit(max_request);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (!ec && used < raw.size() && !parser.is_done()) {
    auto n = parser.put(boost::asio::buffer(raw.data() + used, raw.size() - used), ec);
    if (ec == http::error::need_more) break;
    used += n;
    if (n == 0) break;
  }
  if (!ec || ec == http::error::need_more) parser.put_eof(ec);
  if (ec || !parser.is_done()) {
    err << "parley webhook-verify: not one complete HTTP request: " << (ec ? ec.message() : "it ends early") << "\n";
    return 1;
  }
  const auto& req = parser.get();
  auto id_field = req["Parley-Event-Id"];
  auto sig_field = req["Parley-Signature"];
  if (id_field.empty() || sig_field.empty()) {
    err << "parley webhook-verify: the request has no " << (id_field.empty() ? "Parley-Event-Id" : "Parley-Signature")
        << " header\n";
    return 1;
  }
  std::string id(id_field);
  auto checked = verify_webhook_signature(std::string_view(sig_field.data(), sig_field.size()), req.body(), secret,
                                          now_s, tolerance);
  if (!checked) {
    err << "parley webhook-verify: " << checked.err().message << "\n";
    return 1;
  }
  // The signature covers the body, not the header: the id a receiver dedupes by must be the body's.
  boost::system::error_code jec;
  auto body = boost::json::parse(req.body(), jec);
  const boost::json::value* body_id = !jec && body.is_object() ? body.as_object().if_contains("id") : nullptr;
  if (!body_id || !body_id->is_string() || body_id->get_string() != id) {
    err << "parley webhook-verify: Parley-Event-Id is not the body's id\n";
    return 1;
  }
  out << "ok " << id << "\n";
  return 0;
}

}  // namespace parley
