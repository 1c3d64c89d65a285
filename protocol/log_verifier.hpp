#pragma once
// Checks an exported decision log (protocol §5, §9.11), one JSONL line at a
// time, so that an export of any length is checked in constant memory: the
// logic behind `parley verify-log`. Pure.
#include "protocol/result.hpp"
#include "protocol/signing.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

struct log_check_options {
  const key_set* keys = nullptr;    // null: signatures are not checked
  std::optional<std::string> head;  // the last record's hash must be this
  std::int64_t min_records = 0;     // fewer records: a truncated export
};

class log_verifier {
 public:
  explicit log_verifier(log_check_options options) : options_(std::move(options)) {}

  // One line of the export; blank lines are skipped. Each record must parse
  // strictly (duplicate keys refused, I-JSON numbers), have n = previous + 1
  // starting at 1, the same eng as the first, prev = the previous hash, a hash
  // that matches, and with keys a valid sig by a known kid. The first failure
  // is returned, naming the line and the record, and is returned again for
  // every later call.
  result<void> add_line(std::string_view line);

  // After the last line: the --head and --min-records checks.
  result<void> finish();

  std::int64_t records() const { return records_; }
  // The last record's hash (64 zeros before the first).
  const std::string& head() const { return prev_; }
  const std::string& eng() const { return eng_; }

 private:
  result<void> check(std::string_view line);

  log_check_options options_;
  std::int64_t line_ = 0;
  std::int64_t records_ = 0;
  std::string eng_;
  std::string prev_ = std::string(64, '0');
  result<void> failed_;  // the first failure, kept for every later call
};

}  // namespace parley
