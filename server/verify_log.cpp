#include "server/verify_log.hpp"

#include "protocol/log_verifier.hpp"
#include "protocol/signing.hpp"

#include <charconv>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

namespace parley {
namespace {

constexpr const char* usage =
    "usage: parley verify-log FILE [--keys JWKS_FILE] [--head HASH] [--min-records N]\n"
    "  FILE         a JSONL export of a decision log (GET .../decisions?format=jsonl); - for stdin\n"
    "  --keys       the JWK Set of the server (GET /api/v1/keys): every record must be signed by one of its keys\n"
    "  --head       the hash the last record must have\n"
    "  --min-records  the export must hold at least N records\n";

// A JWK Set is a few hundred bytes; anything far larger is not one.
constexpr std::streamsize max_keys_file = 1 << 20;
// One record is bounded by the server's limits (texts and terms of 16 KiB):
// a much longer line is not a record.
constexpr std::size_t max_line = 4 << 20;

bool is_hash(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

int verify_log_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::optional<std::string> file_path, keys_path;
  log_check_options options;
  auto usage_error = [&](const std::string& why) {
    err << "parley verify-log: " << why << "\n" << usage;
    return 2;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (a == "--keys") {
      const auto* v = next();
      if (!v) return usage_error("--keys needs a file");
      keys_path = *v;
    } else if (a == "--head") {
      const auto* v = next();
      if (!v || !is_hash(*v)) return usage_error("--head needs a record hash (64 lowercase hex digits)");
      options.head = *v;
    } else if (a == "--min-records") {
      const auto* v = next();
      std::int64_t n = -1;
      if (v) std::from_chars(v->data(), v->data() + v->size(), n);
      if (!v || n < 0 || std::to_string(n) != *v) return usage_error("--min-records needs a non-negative integer");
      options.min_records = n;
    } else if (a == "-h" || a == "--help") {
      out << usage;
      return 0;
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      return usage_error("unknown option " + a);
    } else if (file_path) {
      return usage_error("one FILE only");
    } else {
      file_path = a;
    }
  }
  if (!file_path) return usage_error("no FILE given");

  key_set keys;
  if (keys_path) {
    std::ifstream in(*keys_path, std::ios::binary);
    std::string text(static_cast<std::size_t>(max_keys_file) + 1, '\0');
    in.read(text.data(), max_keys_file + 1);
    if (!in.eof() || in.bad()) {
      err << "parley verify-log: cannot read " << *keys_path << (in.gcount() > max_keys_file ? " (too large)" : "")
          << "\n";
      return 2;
    }
    text.resize(static_cast<std::size_t>(in.gcount()));
    auto parsed = key_set::from_jwks(text);
    if (!parsed) {
      err << "parley verify-log: " << *keys_path << ": " << parsed.err().message << "\n";
      return 2;
    }
    keys = std::move(*parsed);
    options.keys = &keys;
  }

  std::ifstream file;
  std::istream* in = &std::cin;
  if (*file_path != "-") {
    file.open(*file_path, std::ios::binary);
    if (!file) {
      err << "parley verify-log: cannot read " << *file_path << "\n";
      return 2;
    }
    in = &file;
  }
  log_verifier verifier(options);
  std::string line;
  while (std::getline(*in, line)) {
    if (line.size() > max_line) {
      err << "parley verify-log: line longer than " << max_line << " bytes: not a decision record\n";
      return 1;
    }
    if (auto added = verifier.add_line(line); !added) {
      err << "parley verify-log: " << added.err().message << "\n";
      return 1;
    }
  }
  if (in->bad()) {
    err << "parley verify-log: cannot read " << *file_path << "\n";
    return 2;
  }
  if (auto finished = verifier.finish(); !finished) {
    err << "parley verify-log: " << finished.err().message << "\n";
    return 1;
  }
  out << "ok: " << verifier.records() << " records, chain intact";
  if (verifier.records() > 0) out << ", head " << verifier.head();
  out << (options.keys ? ", every signature valid" : "; signatures not checked (no --keys)") << "\n";
  return 0;
}

}  // namespace parley
