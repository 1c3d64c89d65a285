#include "server/config_file.hpp"

namespace parley {
namespace {

std::string_view trim(std::string_view s) {
  const auto* space = " \t\r";
  auto first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

bool comment_mark(char c) { return c == '#' || c == ';'; }

// The text without its comment: one starts at a '#' or ';' that begins the
// text or follows a space (so `https://host/#x` keeps its '#').
std::string_view without_comment(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (comment_mark(text[i]) && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t')) return text.substr(0, i);
  }
  return text;
}

bool valid_option_name(std::string_view name) {
  if (name.empty() || name.front() == '-') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

// What follows the '=': trimmed and without a comment, or what is between
// its double quotes (then only a comment may follow).
result<std::string> value_of(std::string_view rest) {
  rest = trim(rest);
  if (rest.empty() || rest.front() != '"') return std::string(trim(without_comment(rest)));
  auto close = rest.find('"', 1);
  if (close == std::string_view::npos) return make_error(errc::bad_request, "a quoted value has no closing '\"'");
  auto after = trim(rest.substr(close + 1));
  if (!after.empty() && !comment_mark(after.front()))
    return make_error(errc::bad_request, "only a comment may follow a quoted value");
  return std::string(rest.substr(1, close - 1));
}

}  // namespace

result<std::vector<config_entry>> parse_config_text(std::string_view text, const std::string& name) {
  std::vector<config_entry> entries;
  int number = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++number;
    if (line.empty() || comment_mark(line.front())) continue;
    auto where = name + ":" + std::to_string(number) + ": ";
    if (line.front() == '[')
      return make_error(errc::bad_request, where + "sections are not used; write `option = value`");
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return make_error(errc::bad_request, where + "expected `option = value`");
    auto option = trim(line.substr(0, eq));
    if (!valid_option_name(option))
      return make_error(errc::bad_request,
                        where + "'" + std::string(option) + "' is not an option name (lower-case, without the dashes)");
    auto value = value_of(line.substr(eq + 1));
    if (!value) return make_error(errc::bad_request, where + value.err().message);
    entries.push_back({std::string(option), std::move(*value), number});
  }
  return entries;
}

}  // namespace parley
