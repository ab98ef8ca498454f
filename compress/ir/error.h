// Errors of the toolkit side (everything but runtime/, which returns status codes).
//
//   if (!ok) throw shrink::BadInput(path, ": expected a float32 .npy, got ", dtype);
//   ...
//   catch (const shrink::Error& e) { std::cerr << "shrink: " << e.what() << "\n"; return e.exit_code(); }
//
// One exception type with a kind; the CLI prints what() as one line and exits with exit_code().
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace shrink {

enum class ErrorKind { Internal = 1, BadInput = 2, NotImplemented = 3 };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const { return static_cast<int>(kind_); }

 private:
  ErrorKind kind_;
};

namespace detail {
template <class... A>
std::string concat(A&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<A>(parts));
  return os.str();
}
}  // namespace detail

/// Bad input from the user (file, field, shape, key): exit code 2. Message is streamed from parts.
struct BadInput : Error {
  template <class... A>
  explicit BadInput(A&&... parts) : Error(ErrorKind::BadInput, detail::concat(std::forward<A>(parts)...)) {}
};
/// A bug or an unexpected failure of the toolkit itself: exit code 1.
struct InternalError : Error {
  template <class... A>
  explicit InternalError(A&&... parts) : Error(ErrorKind::Internal, detail::concat(std::forward<A>(parts)...)) {}
};
/// A command or feature that exists but is not implemented yet: exit code 3.
struct NotImplemented : Error {
  template <class... A>
  explicit NotImplemented(A&&... parts) : Error(ErrorKind::NotImplemented, detail::concat(std::forward<A>(parts)...)) {}
};

}  // namespace shrink
