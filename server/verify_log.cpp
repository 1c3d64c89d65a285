#include "server/verify_log.hpp"

#include "protocol/decision_log.hpp"

#include <boost/json/parse.hpp>

#include <fstream>
#include <iostream>

namespace parley {

int verify_log_file(const std::string& path, std::ostream& out, std::ostream& err) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) {
      err << "parley verify-log: cannot read " << path << "\n";
      return 2;
    }
    in = &file;
  }
  std::vector<boost::json::object> records;
  std::string line;
  for (int number = 1; std::getline(*in, line); ++number) {
    if (line.empty()) continue;
    auto record = parse_record(line);
    if (!record) {
      err << "parley verify-log: line " << number << ": not a JSON object\n";
      return 1;
    }
    records.push_back(std::move(*record));
  }
  if (auto e = verify_chain(records)) {
    err << "parley verify-log: " << e->message << "\n";
    return 1;
  }
  out << "ok: " << records.size() << " records, chain intact";
  if (!records.empty()) {
    auto* hash = records.back().if_contains("hash");
    if (hash && hash->is_string()) out << ", head " << hash->as_string().c_str();
  }
  out << "\n";
  return 0;
}

}  // namespace parley
