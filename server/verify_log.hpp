#pragma once
// `parley verify-log FILE [--keys JWKS_FILE] [--head HASH] [--min-records N]`:
// checks an exported decision log (JSONL, protocol §5, §9.11).
#include <ostream>
#include <string>
#include <vector>

namespace parley {

// `args` are the words after "verify-log". Exit status: 0 when the log holds
// (one summary line on `out`), 1 when a record is bad (the first one named in
// one line on `err`), 2 for bad usage or a file that cannot be read.
int verify_log_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace parley
