#include "protocol/log_verifier.hpp"

#include "protocol/decision_log.hpp"
#include "protocol/json_input.hpp"

namespace parley {
namespace {

// Records nest terms inside the record; reviews nest a little deeper.
constexpr int max_record_depth = 16;

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

result<void> log_verifier::add_line(std::string_view line) {
  if (!failed_) return failed_;
  ++line_;
  if (blank(line)) return {};
  if (auto checked = check(line); !checked) {
    failed_ = make_error(errc::bad_request,
                         "line " + std::to_string(line_) + " (record " + std::to_string(records_ + 1) + "): " +
                             checked.err().message);
  }
  return failed_;
}

result<void> log_verifier::check(std::string_view line) {
  auto parsed = detail::parse_strict_json(line, max_record_depth);
  if (auto* e = std::get_if<detail::json_input_error>(&parsed)) return e->err;
  const auto& root = std::get<boost::json::value>(parsed);
  if (!root.is_object()) return make_error(errc::bad_request, "not a JSON object");
  if (auto numbers = detail::check_i_json_numbers(root); !numbers) return numbers.err();
  const auto& rec = root.get_object();
  auto bad = [](std::string what) { return make_error(errc::bad_request, std::move(what)); };

  const auto* n = rec.if_contains("n");
  if (!n || !n->is_int64()) return bad("no integer n");
  if (n->get_int64() != records_ + 1) {
    return bad("n is " + std::to_string(n->get_int64()) + ", expected " + std::to_string(records_ + 1));
  }
  const auto* eng = rec.if_contains("eng");
  if (!eng || !eng->is_string() || eng->get_string().empty()) return bad("no eng");
  if (records_ == 0) {
    eng_ = std::string(eng->get_string());
  } else if (eng->get_string() != eng_) {
    return bad("eng differs from the first record's");
  }
  const auto* prev = rec.if_contains("prev");
  if (!prev || !prev->is_string()) return bad("no prev");
  if (prev->get_string() != prev_) return bad("prev does not match the previous record's hash");
  const auto* hash = rec.if_contains("hash");
  if (!hash || !hash->is_string()) return bad("no hash");
  std::string actual = record_hash(rec);
  if (hash->get_string() != actual) return bad("hash mismatch");
  if (options_.keys) {
    if (auto signed_ok = check_record_signature(rec, *options_.keys); !signed_ok) return signed_ok;
  }
  ++records_;
  prev_ = std::move(actual);
  return {};
}

result<void> log_verifier::finish() {
  if (!failed_) return failed_;
  if (records_ < options_.min_records) {
    return make_error(errc::bad_request, "only " + std::to_string(records_) + " records, expected at least " +
                                             std::to_string(options_.min_records) + " (truncated?)");
  }
  if (options_.head && records_ == 0) return make_error(errc::bad_request, "no records, but a head was given");
  if (options_.head && *options_.head != prev_) {
    return make_error(errc::bad_request, "record " + std::to_string(records_) + ": hash " + prev_ +
                                             " is not the expected head");
  }
  return {};
}

}  // namespace parley
