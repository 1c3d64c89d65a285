#include "server/file_routes.hpp"

#include "protocol/files.hpp"
#include "protocol/http_target.hpp"
#include "storage/clock.hpp"
#include "storage/log.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <fcntl.h>

namespace parley {
namespace http = boost::beast::http;

namespace {

constexpr std::string_view engagements_prefix = "/api/v1/engagements/";

// A download is immutable (its name is its hash) and private (only members
// may fetch it): a browser may keep it for a day without asking again.
constexpr const char* download_cache_control = "private, max-age=86400, immutable";

// "<id>/files/<rest>" of a download target, split; nullopt for any other path.
std::optional<std::pair<std::string_view, std::string_view>> download_parts(std::string_view path) {
  if (!path.starts_with(engagements_prefix)) return std::nullopt;
  auto rest = path.substr(engagements_prefix.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto id = rest.substr(0, slash);
  auto tail = rest.substr(slash);
  constexpr std::string_view files = "/files/";
  if (!tail.starts_with(files)) return std::nullopt;
  return std::pair{id, tail.substr(files.size())};
}

http_response refusal(errc code, std::string message, unsigned version, bool keep_alive) {
  return http_error_response(make_error(code, std::move(message)), version, keep_alive);
}

std::string quoted_etag(const std::string& sha256) { return "\"" + sha256 + "\""; }

bool etag_matches(std::string_view if_none_match, const std::string& etag) {
  if (if_none_match == "*") return true;
  return if_none_match.find(etag) != std::string_view::npos;
}

// The headers every download answer carries (200, 206, 304, 416).
template <class Fields>
void download_headers(Fields& res, const file_entry& f) {
  res.set(http::field::server, http_server_header());
  res.set(http::field::content_type, f.type);
  res.set(http::field::content_disposition, content_disposition(f.name));
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Content-Security-Policy", "sandbox");
  res.set(http::field::etag, quoted_etag(f.sha256));
  res.set(http::field::cache_control, download_cache_control);
  res.set(http::field::accept_ranges, "bytes");
}

// Opens the stored blob and answers it, whole or the one range asked for.
void serve_blob(hub& h, const file_entry& f, std::string range_header, std::string if_range, unsigned version,
                bool keep_alive, const std::function<void(download_answer)>& respond) {
  h.files().local_file(f.sha256, [&h, f, range_header = std::move(range_header), if_range = std::move(if_range),
                                  version, keep_alive, respond](result<std::filesystem::path> path) {
    if (!path) {
      // Indexed but missing from the store: the store lost it, or a shared
      // directory is not mounted here.
      if (path.err().code == errc::not_found)
        log_event(log_level::error, "file_missing", {{"sha256", f.sha256}});
      return respond(http_error_response(path.err().code == errc::not_found
                                             ? make_error(errc::unavailable, "the file is not readable here")
                                             : path.err(),
                                         version, keep_alive));
    }
    int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return respond(refusal(errc::unavailable, "the file is not readable here", version, keep_alive));
    auto file = std::make_shared<open_file>(fd);
    // If-Range with another validator: the client's copy is not this file, so it gets all of it.
    auto range = (if_range.empty() || if_range == quoted_etag(f.sha256)) ? parse_range(range_header, f.size)
                                                                          : byte_range{};
    if (range.kind == byte_range::outcome::unsatisfiable) {
      auto res = refusal(errc::bad_request, "the range is beyond the file's end", version, keep_alive);
      res.result(http::status::range_not_satisfiable);
      res.set(http::field::content_range, "bytes */" + std::to_string(f.size));
      return respond(std::move(res));
    }
    file_response res{http::status::ok, version};
    download_headers(res, f);
    res.keep_alive(keep_alive);
    res.body().file = std::move(file);
    if (range.kind == byte_range::outcome::partial) {
      res.result(http::status::partial_content);
      res.set(http::field::content_range, "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) +
                                              "/" + std::to_string(f.size));
      res.body().offset = range.first;
      res.body().length = range.last - range.first + 1;
    } else {
      res.body().length = f.size;
    }
    res.content_length(res.body().length);
    bump(h.stats().downloads);
    respond(std::move(res));
  });
}

}  // namespace

std::optional<std::string_view> upload_path(std::string_view target) {
  return path_middle(target.substr(0, target.find('?')), engagements_prefix, "/files");
}

bool is_download_path(std::string_view target) {
  return download_parts(target.substr(0, target.find('?'))).has_value();
}

void handle_download(hub& h, const http_request& req, const http_origin& from,
                     std::function<void(download_answer)> respond) {
  const auto version = req.version();
  const auto keep = req.keep_alive();
  if (req.method() != http::verb::get && req.method() != http::verb::head)
    return respond(refusal(errc::bad_request, "use GET or HEAD", version, keep));
  std::string_view target(req.target().data(), req.target().size());
  auto parts = download_parts(target.substr(0, target.find('?')));
  auto eng = percent_decode(parts->first);
  if (!eng) return respond(refusal(errc::bad_request, "invalid engagement id", version, keep));
  std::string sha(parts->second);
  if (!is_sha256_hex(sha))
    return respond(refusal(errc::bad_request, "a file is named by 64 lowercase hex digits", version, keep));
  auto who = authorize_request(h, req, version, keep, from);
  if (auto* refused = std::get_if<http_response>(&who)) return respond(std::move(*refused));
  if (auto allowed = h.may_download(std::get<claims>(who), *eng); !allowed)
    return respond(http_error_response(allowed.err(), version, keep));
  auto inm = req[http::field::if_none_match];
  auto range = req[http::field::range];
  auto if_range = req[http::field::if_range];
  h.find_files(*eng, {sha},
               [&h, sha, version, keep, respond, inm = std::string(inm), range = std::string(range),
                if_range = std::string(if_range)](result<file_lookup> found) mutable {
                 if (!found) return respond(http_error_response(found.err(), version, keep));
                 if (found->found.empty())
                   return respond(refusal(errc::not_found, "no such file in this engagement", version, keep));
                 const file_entry& f = found->found.front();
                 if (!inm.empty() && etag_matches(inm, quoted_etag(f.sha256))) {
                   http_response res{http::status::not_modified, version};
                   download_headers(res, f);
                   res.keep_alive(keep);
                   return respond(std::move(res));
                 }
                 serve_blob(h, f, std::move(range), std::move(if_range), version, keep, respond);
               });
}

void begin_upload(hub& h, const upload_header& req, std::optional<std::uint64_t> declared, const http_origin& from,
                  std::function<void(std::variant<upload_request, http_response>)> done) {
  const auto version = req.version();
  const auto keep = req.keep_alive();
  auto refuse = [&](errc code, std::string message) {
    bump(h.stats().uploads_refused);
    done(refusal(code, std::move(message), version, keep));
  };
  if (req.method() != http::verb::post) return refuse(errc::bad_request, "use POST");
  std::string_view raw_target(req.target().data(), req.target().size());
  auto target = split_target(raw_target);
  if (!target) return refuse(errc::bad_request, "malformed query string");
  auto eng = percent_decode(*upload_path(raw_target));
  if (!eng) return refuse(errc::bad_request, "invalid engagement id");

  auto who = authorize_request(h, req, version, keep, from);
  if (auto* refused = std::get_if<http_response>(&who)) {
    bump(h.stats().uploads_refused);
    return done(std::move(*refused));
  }
  auto& claimed = std::get<claims>(who);
  if (auto allowed = h.may_upload(claimed, *eng); !allowed) return refuse(allowed.err().code, allowed.err().message);

  auto name = target->query.find("name");
  if (name == target->query.end()) return refuse(errc::bad_request, "the query must give the file's name");
  if (auto ok = check_file_name(name->second); !ok) return refuse(ok.err().code, ok.err().message);

  // Refused before a byte of the body is read: a declared length over the limit.
  if (declared && *declared > h.cfg().max_file_size)
    return refuse(errc::too_large, "files are at most " + std::to_string(h.cfg().max_file_size) + " bytes");
  if (!declared && !req.chunked()) return refuse(errc::bad_request, "an upload needs Content-Length or chunked encoding");

  std::int64_t retry_ms = 0;
  if (!h.take_upload(claimed.who.id, &retry_ms)) {
    bump(h.stats().rate_limited);
    bump(h.stats().uploads_refused);
    return done(rate_limited_response("too many uploads; slow down", retry_ms, version, keep));
  }

  upload_request up{claimed, *eng, name->second, std::string(req[http::field::content_type]), version, keep};
  // The engagement's quota, checked against the declared length now and again once the file is known.
  h.files_total(claimed, *eng, [&h, up = std::move(up), declared, done](result<std::uint64_t> total) mutable {
    if (!total) {
      bump(h.stats().uploads_refused);
      return done(http_error_response(total.err(), up.version, up.keep_alive));
    }
    auto limit = h.cfg().max_engagement_files;
    if (declared && *total + *declared > limit) {
      bump(h.stats().uploads_refused);
      return done(refusal(errc::too_large,
                          "the engagement's files would exceed " + std::to_string(limit) + " bytes", up.version,
                          up.keep_alive));
    }
    done(std::move(up));
  });
}

void finish_upload(hub& h, upload_request up, staged_upload body, std::function<void(http_response)> done) {
  auto digest = body.finish();
  if (!digest) return done(http_error_response(digest.err(), up.version, up.keep_alive));
  file_entry entry{*digest, up.name, body.size(), media_type_for(up.name, up.declared_type), up.who.who.id, now_ms()};
  auto reply = [&h, version = up.version, keep = up.keep_alive](const file_entry& f, bool created) {
    boost::json::object o{{"sha256", f.sha256},
                          {"size", static_cast<std::int64_t>(f.size)},
                          {"name", f.name},
                          {"type", f.type}};
    return http_json_response(boost::json::serialize(o), version, keep,
                              created ? http::status::created : http::status::ok);
  };
  auto staged = body.release();
  // Indexed already (the same bytes uploaded to this engagement): nothing to store.
  h.find_files(up.eng, {entry.sha256}, [&h, up, entry, staged, reply, done](result<file_lookup> found) mutable {
    auto drop = [&staged] {
      std::error_code ignored;
      std::filesystem::remove(staged, ignored);
    };
    if (!found) {
      drop();
      return done(http_error_response(found.err(), up.version, up.keep_alive));
    }
    if (!found->found.empty()) {
      drop();
      return done(reply(found->found.front(), false));
    }
    if (found->total + entry.size > h.cfg().max_engagement_files) {
      drop();
      bump(h.stats().uploads_refused);
      return done(refusal(errc::too_large,
                          "the engagement's files would exceed " + std::to_string(h.cfg().max_engagement_files) +
                              " bytes",
                          up.version, up.keep_alive));
    }
    // Durable first, indexed second: the index never names a file the store lacks.
    h.files().store(staged, entry.sha256, entry.size, [&h, up, entry, reply, done](result<void> stored) {
      if (!stored) return done(http_error_response(stored.err(), up.version, up.keep_alive));
      h.add_file(up.eng, entry, [&h, up, entry, reply, done](result<file_added> added) {
        if (!added) {
          if (added.err().code == errc::too_large) bump(h.stats().uploads_refused);
          return done(http_error_response(added.err(), up.version, up.keep_alive));
        }
        bump(h.stats().uploads);
        bump(h.stats().upload_bytes, entry.size);
        done(reply(added->entry, added->added));
      });
    });
  });
}

}  // namespace parley
