// fds of namespaces (nsfs: "net:[4026532183]"), from open("/proc/self/ns/net")
// or a pidfd's ns ioctls. Only a namespace the holding task is in itself is
// restored: the restoring task is in the container's namespaces, and opens
// /proc/self/ns/NAME again (the kernel makes that a magic link: the path is
// one of a fixed list, never the image's own text). Any other namespace (a
// nested one some task left, one of the host) is refused by name.
#include <fcntl.h>
#include <sys/stat.h>

#include <array>
#include <string_view>

#include "kinds/files/fd_kinds.h"

namespace amber::kinds::files {

namespace {

// /proc/PID/ns entries, the *_for_children ones after the task's own.
constexpr std::array<std::string_view, 10> kEntries = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts",
                                                       "pid_for_children", "time_for_children"};

constexpr std::string_view kSelfNs = "/proc/self/ns/";

// "net" of "net:[4026532183]", "" if the link is not a namespace's.
std::string_view ns_type(std::string_view link) {
  size_t colon = link.find(":[");
  if (colon == std::string_view::npos || !link.ends_with("]")) return {};
  std::string_view type = link.substr(0, colon);
  for (std::string_view e : kEntries)
    if (e == type) return type;
  return {};
}

bool known_entry(std::string_view name) {
  for (std::string_view e : kEntries)
    if (e == name) return true;
  return false;
}

}  // namespace

bool is_nsfs(const FdProbe& p) { return !ns_type(p.link).empty(); }

Status dump_nsfs(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  const std::string_view type = ns_type(p.link);
  for (std::string_view e : kEntries) {
    if (!e.starts_with(type)) continue;
    struct stat st {};
    if (::stat(fmt::format("/proc/{}/ns/{}", ctx.pid, e).c_str(), &st) != 0) continue;
    if (st.st_dev != p.st.st_dev || st.st_ino != p.st.st_ino) continue;
    out.set_kind(img::FD_NSFS);
    out.set_path(fmt::format("{}{}", kSelfNs, e));
    out.set_pos(0);
    return {};
  }
  return unsupported("{} (nsfs: a {} namespace the task is not in): not supported yet", p.link, type);
}

Result<UniqueFd> open_nsfs(const img::Fd& fd, const OpenContext&) {
  std::string_view path = fd.path();
  if (!path.starts_with(kSelfNs) || !known_entry(path.substr(kSelfNs.size())))
    return bad_input("namespace fd {}: not one of /proc/self/ns", fd.path());
  const int flags = (static_cast<int>(fd.flags()) & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC)) | O_CLOEXEC;
  // A /proc/self/ns entry is a magic link by design: a fixed path, opened
  // without RESOLVE_NO_MAGICLINKS.
  int raw = ::open(fd.path().c_str(), flags);
  if (raw < 0) return sys_fail("open {}", fd.path());
  return UniqueFd(raw);
}

Status verify_nsfs(const FdProbe& now, const img::Fd& fd) {
  // Opened through /proc/self/ns by the task itself: its own namespace of
  // that kind by construction; what can differ is the kind.
  std::string_view entry = std::string_view(fd.path()).substr(kSelfNs.size());
  if (size_t f = entry.find("_for_children"); f != std::string_view::npos) entry = entry.substr(0, f);
  if (ns_type(now.link) != entry) return failf("{} is {} now", fd.path(), now.link);
  return {};
}

}  // namespace amber::kinds::files
