// Log: stderr (by level) plus an optional log file (everything). Passed by
// reference to the layers that handle errors; base/ and sys/ never log.
#pragma once
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/result.h"

namespace amber {

// Quiet: nothing on stderr, the log file only (amber swrk: stderr may be the container's).
enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Quiet = 4 };

class Log {
 public:
  Log() = default;
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  ~Log();

  void set_level(Level l) { level_ = l; }
  Level level() const { return level_; }
  // Everything from now on also goes to `path` (appended), whatever the level.
  Status open_file(const std::string& path);
  // Prefix for every line, e.g. "dump".
  void set_prefix(std::string p) { prefix_ = std::move(p); }

  template <class... A>
  void debug(fmt::format_string<A...> f, A&&... a) { emit(Level::Debug, fmt::format(f, std::forward<A>(a)...)); }
  template <class... A>
  void info(fmt::format_string<A...> f, A&&... a) { emit(Level::Info, fmt::format(f, std::forward<A>(a)...)); }
  template <class... A>
  void warn(fmt::format_string<A...> f, A&&... a) { emit(Level::Warn, fmt::format(f, std::forward<A>(a)...)); }
  template <class... A>
  void error(fmt::format_string<A...> f, A&&... a) { emit(Level::Error, fmt::format(f, std::forward<A>(a)...)); }

  void emit(Level l, std::string_view msg);

 private:
  Level level_ = Level::Warn;
  std::FILE* file_ = nullptr;
  std::string prefix_ = "amber";
};

}  // namespace amber
