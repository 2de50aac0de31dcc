// Result<T>: std::expected with an Error that carries context and the exit
// status a command should end with (DESIGN.md "Exit statuses").
#pragma once
#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace amber {

// The exit status a failed command ends with.
enum class Exit : int {
  Ok = 0,
  Failed = 1,       // the operation failed
  BadInput = 2,     // bad usage, unknown container, corrupt/truncated/newer image, ...
  NotSealed = 3,    // the seal check found leaks
  Unsupported = 4,  // an object amber cannot checkpoint
};

struct Error {
  Exit exit = Exit::Failed;
  int sys_errno = 0;  // errno of the failed call, 0 if none
  std::string message;

  // Prepends "ctx: " — the caller names the object it was working on.
  Error&& wrap(std::string_view ctx) && {
    message = fmt::format("{}: {}", ctx, message);
    return std::move(*this);
  }
  int exit_code() const { return static_cast<int>(exit); }
};

template <class T>
using Result = std::expected<T, Error>;
using Status = Result<void>;

inline std::unexpected<Error> fail(Exit exit, std::string message, int sys_errno = 0) {
  return std::unexpected(Error{exit, sys_errno, std::move(message)});
}

// An error of the operation itself (exit 1), formatted.
template <class... A>
std::unexpected<Error> failf(fmt::format_string<A...> f, A&&... a) {
  return fail(Exit::Failed, fmt::format(f, std::forward<A>(a)...));
}
// Bad input (exit 2), formatted.
template <class... A>
std::unexpected<Error> bad_input(fmt::format_string<A...> f, A&&... a) {
  return fail(Exit::BadInput, fmt::format(f, std::forward<A>(a)...));
}
// Unsupported object (exit 4), formatted.
template <class... A>
std::unexpected<Error> unsupported(fmt::format_string<A...> f, A&&... a) {
  return fail(Exit::Unsupported, fmt::format(f, std::forward<A>(a)...));
}
// A failed system call: "what: strerror(errno)"; reads errno, so call it first.
template <class... A>
std::unexpected<Error> sys_fail(fmt::format_string<A...> f, A&&... a) {
  int e = errno;
  return fail(Exit::Failed, fmt::format("{}: {}", fmt::format(f, std::forward<A>(a)...), std::strerror(e)), e);
}
// Same with an explicit errno value (for calls that return -errno).
template <class... A>
std::unexpected<Error> sys_fail_errno(int e, fmt::format_string<A...> f, A&&... a) {
  return fail(Exit::Failed, fmt::format("{}: {}", fmt::format(f, std::forward<A>(a)...), std::strerror(e)), e);
}

// Adds context to the error of a Result, passes a value through.
template <class T>
Result<T> context(Result<T>&& r, std::string_view ctx) {
  if (!r) return std::unexpected(std::move(r.error()).wrap(ctx));
  return std::move(r);
}

namespace detail {
template <class T>
T take(std::expected<T, Error>&& r) { return std::move(*r); }
inline void take(std::expected<void, Error>&&) {}
}  // namespace detail

}  // namespace amber

// TRY(expr): evaluates a Result; returns its error from the enclosing function,
// or yields its value (nothing for Status). GNU statement expression.
#define TRY(expr)                                                        \
  ({                                                                     \
    auto _amber_r = (expr);                                              \
    if (!_amber_r) return std::unexpected(std::move(_amber_r.error()));  \
    ::amber::detail::take(std::move(_amber_r));                          \
  })

// TRY_CTX(expr, fmt, ...): TRY with context prepended to the error.
#define TRY_CTX(expr, ...)                                                          \
  ({                                                                                \
    auto _amber_r = (expr);                                                         \
    if (!_amber_r)                                                                  \
      return std::unexpected(std::move(_amber_r.error()).wrap(fmt::format(__VA_ARGS__))); \
    ::amber::detail::take(std::move(_amber_r));                                     \
  })
