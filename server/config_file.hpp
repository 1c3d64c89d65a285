#pragma once
// The configuration file (--config): one `option = value` a line, the
// option's long name without its dashes. Blank lines, and comments from a
// '#' or ';' at the start of a line or after a space, are skipped; values are
// trimmed, and a value in double quotes is taken as written between them
// (spaces, " #" and all). Plain text, so that the file can be written by hand, by a package
// (/etc/parley/parley.conf) or by `parley --print-config`.
#include "protocol/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace parley {

struct config_entry {
  std::string option;
  std::string value;
  int line = 0;  // 1-based, for error messages
};

// The entries in file order, or the first line that is not one, named
// "<name>:<line>: " in the message.
result<std::vector<config_entry>> parse_config_text(std::string_view text, const std::string& name);

}  // namespace parley
