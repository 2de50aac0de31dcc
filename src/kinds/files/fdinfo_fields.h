// Reading the kind-specific lines of an fd's fdinfo (anon inodes: eventfd,
// timerfd, signalfd, epoll): a key's value, numbers in the base the kernel
// prints them in. Internal to src/kinds/files.
#pragma once
#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

#include "base/result.h"
#include "sys/procfs.h"

namespace amber::kinds::files {

// The value of the first `key` line; nullopt if there is none.
inline std::optional<std::string_view> fdinfo_field(const sys::FdInfo& info, std::string_view key) {
  for (const auto& [k, v] : info.fields)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

// One whole number in `base` (leading and trailing blanks allowed).
template <class T>
std::optional<T> parse_number(std::string_view s, int base = 10) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The number of the `key` line, or a BadInput naming it.
template <class T>
Result<T> fdinfo_number(const sys::FdInfo& info, std::string_view key, int base = 10) {
  auto v = fdinfo_field(info, key);
  if (!v) return bad_input("fdinfo has no '{}' line", key);
  auto n = parse_number<T>(*v, base);
  if (!n) return bad_input("fdinfo '{}': bad value '{}'", key, *v);
  return *n;
}

}  // namespace amber::kinds::files

#include <fcntl.h>

namespace amber::kinds::files {

// The status flags a restored anon-inode description gets with F_SETFL
// (created O_RDWR | O_NONBLOCK | O_CLOEXEC, so that nothing blocks while the
// restore fills it in). Their access mode is always O_RDWR.
inline Status set_status_flags(int fd, uint32_t flags) {
  constexpr uint32_t kSettable = O_NONBLOCK | O_APPEND | O_ASYNC | O_NOATIME | O_DIRECT;
  if ((flags & O_ACCMODE) != O_RDWR) return bad_input("flags {:#o}: not O_RDWR", flags);
  const int want = static_cast<int>(flags & kSettable);
  if (::fcntl(fd, F_SETFL, want) != 0) return sys_fail("F_SETFL {:#o}", want);
  return {};
}

}  // namespace amber::kinds::files
