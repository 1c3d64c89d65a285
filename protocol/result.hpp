#pragma once
// Error codes of the wire protocol and a small result type for paths where bad
// input is expected (no exceptions for bad input, DESIGN §5).
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace parley {

enum class errc {
  bad_request,
  unauthorized,
  forbidden,
  not_found,
  conflict,
  rate_limited,
  too_large,
  unavailable,
  internal,
};

// The code as written on the wire ("bad_request", ...).
std::string_view code_name(errc code);
// The HTTP status of protocol §7 for the code (400, 401, 403, 404, 409, 429, 413, 503, 500).
int http_status(errc code);

struct error {
  errc code = errc::internal;
  std::string message;
};

inline error make_error(errc code, std::string message) { return error{code, std::move(message)}; }

// Either a value or an error; `result<void>` (below) is success or an error.
template <class T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}
  result(error err) : v_(std::move(err)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const error& err() const { return std::get<1>(v_); }

 private:
  std::variant<T, error> v_;
};

// Success, or an error: `if (auto r = f(); !r) return r.err();`.
template <>
class result<void> {
 public:
  result() = default;
  result(error err) : err_(std::move(err)) {}

  bool ok() const { return !err_; }
  explicit operator bool() const { return ok(); }
  const error& err() const { return *err_; }

 private:
  std::optional<error> err_;
};

}  // namespace parley
