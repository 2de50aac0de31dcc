#include "base/log.h"

#include <cerrno>
#include <ctime>

namespace amber {

Log::~Log() {
  if (file_) std::fclose(file_);
}

Status Log::open_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "ae");
  if (!f) return sys_fail("open log file {}", path);
  if (file_) std::fclose(file_);
  file_ = f;
  return {};
}

void Log::emit(Level l, std::string_view msg) {
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
  const char* name = kNames[static_cast<int>(l)];
  if (l >= level_) {
    if (l >= Level::Warn)
      fmt::print(stderr, "{}: {}: {}\n", prefix_, name, msg);
    else
      fmt::print(stderr, "{}: {}\n", prefix_, msg);
  }
  if (file_) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    fmt::print(file_, "{}.{:06} {} {}: {}\n", ts.tv_sec, ts.tv_nsec / 1000, prefix_, name, msg);
    std::fflush(file_);
  }
}

}  // namespace amber
