// Protocol §9.6: the hub's part of files. Uploads and downloads are the HTTP
// session's (file_routes.hpp); here are who may use an engagement's files,
// the engagement's index in the engine, and the attachments of a post.
#include "server/hub.hpp"

#include "protocol/access.hpp"
#include "protocol/files.hpp"
#include "storage/clock.hpp"

#include <unordered_map>

namespace parley {

user_limit_rates upload_rates_of(const config& cfg) {
  // One bucket per user is used (op_class::post's slot): uploads are a class of their own.
  user_limit_rates r;
  for (auto& limit : r.of) limit = {cfg.upload_rate, cfg.upload_burst};
  return r;
}

bool hub::take_upload(const std::string& user_id, std::int64_t* retry_after_ms) {
  return upload_rates_.take(user_id, op_class::post, now_ms(), retry_after_ms);
}

result<void> hub::may_upload(const claims& who, const std::string& eng) const {
  auto ch = parse_channel(channel::main(eng));
  if (!ch) return make_error(errc::bad_request, "invalid engagement id");
  return check_post(who, *ch, "message");
}

result<void> hub::may_download(const claims& who, const std::string& eng) const {
  auto ch = parse_channel(channel::main(eng));
  if (!ch) return make_error(errc::bad_request, "invalid engagement id");
  return check_read(who, *ch);
}

void hub::files_total(const claims& who, const std::string& eng, std::function<void(result<std::uint64_t>)> done) {
  auto total = [this, eng, done](result<void> exists) {
    if (!exists) return done(exists.err());
    storage_.find_files(eng, {}, [done](result<file_lookup> found) {
      if (!found) return done(found.err());
      done(found->total);
    });
  };
  if (opens_engagements(who)) return total({});
  check_engagement_exists(eng, std::move(total));
}

void hub::find_files(const std::string& eng, std::vector<std::string> hashes,
                     std::function<void(result<file_lookup>)> done) {
  storage_.find_files(eng, std::move(hashes), std::move(done));
}

void hub::add_file(const std::string& eng, file_entry f, std::function<void(result<file_added>)> done) {
  storage_.add_file(eng, std::move(f), cfg_.max_engagement_files, std::move(done));
}

// One batched lookup for the whole body; an unknown hash refuses the post.
void hub::resolve_attachments(const std::string& eng, boost::json::object body,
                              std::function<void(result<boost::json::object>)> done) {
  auto hashes = attached_hashes(body);
  storage_.find_files(eng, std::move(hashes),
                      [body = std::move(body), done = std::move(done)](result<file_lookup> found) mutable {
                        if (!found) return done(found.err());
                        std::unordered_map<std::string, indexed_file> index;
                        for (auto& f : found->found) index[f.sha256] = indexed_file{f.size, f.type};
                        if (auto resolved = resolve_files(body, index); !resolved) return done(resolved.err());
                        done(std::move(body));
                      });
}

}  // namespace parley
