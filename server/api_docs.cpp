#include "server/api_docs.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

namespace parley {
namespace http = boost::beast::http;

http_response api_doc_response(const api_doc& doc, const http_request& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    return http_error_response(make_error(errc::bad_request, "use GET"), req.version(), req.keep_alive());
  }
  auto inm = req[http::field::if_none_match];
  std::string_view validators(inm.data(), inm.size());
  bool cached = validators == "*" || validators.find(doc.etag) != std::string_view::npos;
  auto res = http_json_response(cached ? std::string() : std::string(doc.json), req.version(), req.keep_alive(),
                                cached ? http::status::not_modified : http::status::ok);
  // The documents change only with the binary: a cache revalidates, and any origin may read them.
  res.set(http::field::cache_control, "no-cache");
  res.set(http::field::etag, doc.etag);
  res.set(http::field::access_control_allow_origin, "*");
  return res;
}

}  // namespace parley
