#pragma once
// `parley verify-log FILE`: checks the hash chain of an exported decision log (JSONL).
#include <ostream>
#include <string>

namespace parley {

// Exit status: 0 when the chain holds (one summary line on `out`), 1 when a
// record is bad (the first one named on `err`), 2 when the file cannot be read.
int verify_log_file(const std::string& path, std::ostream& out, std::ostream& err);

}  // namespace parley
