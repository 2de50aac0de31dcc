// Regular files open but unlinked ("PATH (deleted)"): their content goes into
// the image, once per file; restore makes a new file with that content and
// attributes, unlinks it again, and opens it with the description's flags
// at its position.
//
// The name: a file created at PATH and unlinked at once shows "PATH
// (deleted)" again, as it did; if PATH is taken meanwhile (a log rotated: a
// new file has the old name), the file is made with O_TMPFILE in the same
// directory instead, which has no name at all ("/dir/#INODE (deleted)").
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"

namespace amber::kinds::files {

namespace {

// Content travels inside files.img: a bigger file is refused at dump time.
constexpr uint64_t kMaxContent = uint64_t{64} << 20;

int64_t ns_of(const timespec& t) { return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }
timespec ts_of(int64_t ns) { return timespec{ns / 1000000000, ns % 1000000000}; }

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

// Our own open of the task's file (a new description: the task's position
// is not moved), read whole.
Result<img::UnlinkedFile> read_unlinked(pid_t pid, int fd, const struct stat& st) {
  if (static_cast<uint64_t>(st.st_size) > kMaxContent)
    return unsupported("{} bytes (more than {}): not supported yet", st.st_size, kMaxContent);
  UniqueFd f = TRY(open_fd(fmt::format("/proc/{}/fd/{}", pid, fd), O_RDONLY | O_CLOEXEC | O_NOATIME));
  img::UnlinkedFile u;
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pread(f.get(), data.data() + done, data.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("read");
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  u.set_content(std::move(data));
  u.set_mode(st.st_mode & 07777);
  u.set_uid(st.st_uid);
  u.set_gid(st.st_gid);
  u.set_atime_ns(ns_of(st.st_atim));
  u.set_mtime_ns(ns_of(st.st_mtim));
  return u;
}

}  // namespace

bool is_unlinked(const FdProbe& p) {
  return S_ISREG(p.st.st_mode) && p.st.st_nlink == 0 && p.link.ends_with(" (deleted)") &&
         !p.link.starts_with("/memfd:");
}

Status collect_unlinked(std::vector<TaskFds>& tasks) {
  std::map<std::pair<dev_t, ino_t>, uint64_t> ofd_of;  // inode -> its one description
  std::set<uint64_t> dumped;
  for (TaskFds& t : tasks) {
    for (size_t i = 0; i < t.probes.size(); ++i) {
      const FdProbe& p = t.probes[i];
      const img::Fd& f = t.files.fds(static_cast<int>(i));
      if (!f.unlinked()) continue;
      auto [it, fresh] = ofd_of.emplace(std::pair{p.st.st_dev, p.st.st_ino}, f.ofd_id());
      // Two descriptions of one unlinked file would become two files.
      if (it->second != f.ofd_id())
        return unsupported("task {}: fd {}: {} (an unlinked file open through several descriptions): not supported yet",
                           t.ctx.vpid, p.fd, p.link);
      if (!dumped.insert(f.ofd_id()).second) continue;
      img::UnlinkedFile u = TRY_CTX(read_unlinked(t.ctx.pid, p.fd, p.st), "task {}: fd {}: {}", t.ctx.vpid, p.fd, p.link);
      u.set_ofd_id(f.ofd_id());
      *t.files.add_unlinked() = std::move(u);
    }
  }
  return {};
}

Result<UniqueFd> open_unlinked(const img::Fd& fd, const img::UnlinkedFile& u) {
  const std::string& path = fd.path();
  // Made read-write for the content; the description comes after.
  int raw = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  bool named = raw >= 0;
  if (!named && errno == EEXIST) raw = ::open(dir_of(path).c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (raw < 0) return sys_fail("re-create unlinked file {}", path);
  UniqueFd file(raw);
  if (named && ::unlink(path.c_str()) != 0) return sys_fail("unlink {} again", path);
  TRY_CTX(write_all(file.get(), u.content().data(), u.content().size()), "content of unlinked file {}", path);
  if (::fchown(file.get(), u.uid(), u.gid()) != 0) return sys_fail("chown unlinked file {}", path);
  if (::fchmod(file.get(), u.mode()) != 0) return sys_fail("chmod unlinked file {}", path);
  timespec t[2] = {ts_of(u.atime_ns()), ts_of(u.mtime_ns())};
  if (::futimens(file.get(), t) != 0) return sys_fail("set times of unlinked file {}", path);
  // The description itself, with its own flags: a reopen of the file through
  // /proc/self/fd (which works for an unlinked file too).
  img::Fd again = fd;
  again.set_path(fmt::format("/proc/self/fd/{}", file.get()));
  return open_regular(again);
}

}  // namespace amber::kinds::files
