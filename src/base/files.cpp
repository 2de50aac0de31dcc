#include "base/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <cstring>

namespace amber {

Result<UniqueFd> open_fd(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return sys_fail("open {}", path);
  return UniqueFd(fd);
}

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd = TRY(open_fd(path, O_RDONLY));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_fail("read {}", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status write_file(const std::string& path, std::string_view data) {
  UniqueFd fd = TRY(open_fd(path, O_WRONLY));
  ssize_t n = ::write(fd.get(), data.data(), data.size());
  if (n < 0) return sys_fail("write {}", path);
  if (static_cast<size_t>(n) != data.size()) return failf("write {}: short write", path);
  return {};
}

Status write_all(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_fail("write fd {}", fd);
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return {};
}

Status read_exact(int fd, void* data, size_t len) {
  char* p = static_cast<char*>(data);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_fail("read fd {}", fd);
    }
    if (n == 0) return fail(Exit::BadInput, "unexpected end of file");
    p += n;
    len -= static_cast<size_t>(n);
  }
  return {};
}

Status write_new_file(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd = TRY(open_fd(path, O_WRONLY | O_CREAT | O_TRUNC, mode));
  return context(write_all(fd.get(), data.data(), data.size()), path);
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp";
  TRY(write_new_file(tmp, data, mode));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = sys_fail("rename {} to {}", tmp, path);
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

Result<std::string> read_link(const std::string& path) {
  char buf[PATH_MAX + 1];
  ssize_t n = ::readlink(path.c_str(), buf, PATH_MAX);
  if (n < 0) return sys_fail("readlink {}", path);
  return std::string(buf, static_cast<size_t>(n));
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string part = path.substr(0, pos);
    if (part.empty()) continue;
    if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST) return sys_fail("mkdir {}", part);
  }
  return {};
}

static Status remove_at(int dirfd, const char* name, dev_t dev) {
  struct stat st {};
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return sys_fail("stat {}", name);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return failf("remove {}: is a mount point", name);
    int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return sys_fail("open {}", name);
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return sys_fail("opendir {}", name);
    }
    Status st_all;
    while (dirent* e = ::readdir(d)) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      auto r = remove_at(::dirfd(d), e->d_name, dev);
      if (!r && st_all) st_all = std::move(r);
    }
    ::closedir(d);
    if (!st_all) return st_all;
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) return sys_fail("rmdir {}", name);
    return {};
  }
  if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) return sys_fail("unlink {}", name);
  return {};
}

Status remove_tree(const std::string& path) {
  if (path.empty() || path == "/") return failf("refusing to remove '{}'", path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return sys_fail("stat {}", path);
  }
  return context(remove_at(AT_FDCWD, path.c_str(), st.st_dev), path);
}

bool path_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') j++;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::optional<int64_t> parse_int(std::string_view s, int base) {
  int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<uint64_t> parse_uint(std::string_view s, int base) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace amber
