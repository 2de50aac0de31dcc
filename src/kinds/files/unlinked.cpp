// Regular files open but unlinked ("PATH (deleted)"): their data goes into
// the image, once per file; restore makes a new file with that content and
// attributes, unlinks it again, and opens it with the description's flags
// at its position. Only the data extents are dumped (SEEK_DATA/SEEK_HOLE):
// the new file is made as long with ftruncate and the extents written at
// their offsets, so its holes (st_blocks, SEEK_HOLE) are the dumped file's.
//
// The name: a file created at PATH and unlinked at once shows "PATH
// (deleted)" again, as it did; if PATH is taken meanwhile (a log rotated: a
// new file has the old name), or the file was made by O_TMPFILE
// ("/dir/#INODE"), the file is made with O_TMPFILE in the same directory
// instead, which has no name at all ("/dir/#INODE (deleted)").
//
// Character device nodes unlinked while open (the harmless devices of
// chardev.cpp only) are made again with mknod, same rdev, mode, owner and
// times, at their name (or a free name beside it), opened and unlinked.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
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

void set_attributes(img::UnlinkedFile& u, const struct stat& st) {
  u.set_mode(st.st_mode & 07777);
  u.set_uid(st.st_uid);
  u.set_gid(st.st_gid);
  u.set_atime_ns(ns_of(st.st_atim));
  u.set_mtime_ns(ns_of(st.st_mtim));
}

Status pread_all(int fd, char* dst, size_t len, uint64_t at) {
  for (size_t done = 0; done < len;) {
    ssize_t n = ::pread(fd, dst + done, len - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("read at {}", at + done);
    if (n == 0) {
      std::fill(dst + done, dst + len, '\0');  // shrunk meanwhile: cannot happen while held
      break;
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

// Our own open of the task's file (a new description: the task's position
// is not moved), its data extents read; a file system without SEEK_DATA
// is read whole.
Result<img::UnlinkedFile> read_unlinked(pid_t pid, int fd, const struct stat& st) {
  UniqueFd f = TRY(open_fd(fmt::format("/proc/{}/fd/{}", pid, fd), O_RDONLY | O_CLOEXEC | O_NOATIME));
  img::UnlinkedFile u;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  u.set_size(size);
  uint64_t total = 0;
  for (uint64_t at = 0; at < size;) {
    off_t data = ::lseek(f.get(), static_cast<off_t>(at), SEEK_DATA);
    off_t hole = -1;
    if (data < 0 && errno == ENXIO) break;  // a hole up to the end
    if (data < 0 && errno == EINVAL) {
      data = static_cast<off_t>(at);
      hole = static_cast<off_t>(size);
    } else if (data < 0) {
      return sys_fail("SEEK_DATA at {}", at);
    } else {
      hole = ::lseek(f.get(), data, SEEK_HOLE);
      if (hole < 0) return sys_fail("SEEK_HOLE at {}", data);
    }
    const uint64_t s = static_cast<uint64_t>(data), e = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    if (e <= s) break;
    total += e - s;
    if (total > kMaxContent)
      return unsupported("more than {} bytes of data (size {}): not supported yet", kMaxContent, size);
    img::FileExtent* x = u.add_extents();
    x->set_offset(s);
    std::string* bytes = x->mutable_data();
    bytes->resize(static_cast<size_t>(e - s));
    TRY(pread_all(f.get(), bytes->data(), bytes->size(), s));
    at = e;
  }
  set_attributes(u, st);
  return u;
}

Status write_at(int fd, const std::string& data, uint64_t at) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return sys_fail("write at {}", at + done);
    done += static_cast<size_t>(n);
  }
  return {};
}

std::string base_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A device node made, opened and unlinked again: `name` in `dir` (found
// as the task sees its tree, sys::kTaskPath), shown as `at`.
Result<UniqueFd> make_node(const img::Fd& fd, const img::UnlinkedFile& u, int dir, const std::string& name,
                           const std::string& at) {
  auto undo = [&] { (void)::unlinkat(dir, name.c_str(), 0); };
  auto failed = [&](Status st) -> Result<UniqueFd> {
    undo();
    return std::unexpected(std::move(st.error()));
  };
  // Found without following a symlink (O_PATH | O_NOFOLLOW), then opened
  // through /proc/self/fd: O_NOFOLLOW would stay in the description's
  // flags, which restore verification compares with the image.
  const int flags = (static_cast<int>(fd.flags()) & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC)) | O_CLOEXEC | O_NOCTTY;
  UniqueFd path_fd(::openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat pst {};
  if (!path_fd || ::fstat(path_fd.get(), &pst) != 0 || !S_ISCHR(pst.st_mode))
    return failed(path_fd ? Status(failf("device node {} is not a character device", at))
                          : Status(sys_fail("open device node {}", at)));
  if (auto r = sys::chown_fd(path_fd.get(), u.uid(), u.gid()); !r) return failed(context(std::move(r), at));
  if (auto r = sys::chmod_fd(path_fd.get(), u.mode()); !r) return failed(context(std::move(r), at));
  UniqueFd f(::open(fmt::format("/proc/self/fd/{}", path_fd.get()).c_str(), flags));
  if (!f) return failed(sys_fail("open device node {} (flags {:#o})", at, flags));
  timespec t[2] = {ts_of(u.atime_ns()), ts_of(u.mtime_ns())};
  (void)sys::set_times_fd(path_fd.get(), t);
  if (::unlinkat(dir, name.c_str(), 0) != 0) return sys_fail("unlink device node {} again", at);
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) return sys_fail("fstat device node {}", at);
  if (!S_ISCHR(st.st_mode) || st.st_rdev != static_cast<dev_t>(fd.rdev()))
    return failf("device node {} is not character device {}:{}", at, major(fd.rdev()), minor(fd.rdev()));
  return f;
}

Result<UniqueFd> open_unlinked_node(const img::Fd& fd, const img::UnlinkedFile& u) {
  if (fd.kind() != img::FD_CHARDEV || !is_harmless_chardev(static_cast<dev_t>(fd.rdev())))
    return unsupported("unlinked device node {} ({}:{}): not supported yet", fd.path(), major(fd.rdev()),
                       minor(fd.rdev()));
  if (u.mode() & ~07777u) return bad_input("unlinked device node {}: mode {:#o}", fd.path(), u.mode());
  sys::PathEntry e = TRY_CTX(sys::open_parent(AT_FDCWD, fd.path(), sys::kTaskPath), "unlinked device node {}", fd.path());
  // Its name if free, else a name of amber's beside it (the description's
  // name then differs; the device, mode and owner do not).
  std::string name = e.name, at = fd.path();
  for (int i = 0; i < 100; i++) {
    if (::mknodat(e.dir.get(), name.c_str(), S_IFCHR | 0600, static_cast<dev_t>(fd.rdev())) == 0)
      return make_node(fd, u, e.dir.get(), name, at);
    if (errno != EEXIST) return sys_fail("mknod {} (character device {}:{})", at, major(fd.rdev()), minor(fd.rdev()));
    name = fmt::format(".amber-unlinked-{}-{}", ::getpid(), i);
    at = fmt::format("{}/{}", dir_of(fd.path()), name);
  }
  return failf("mknod {}: no free name beside it", fd.path());
}

}  // namespace

bool is_unlinked(const FdProbe& p) {
  return (S_ISREG(p.st.st_mode) || S_ISCHR(p.st.st_mode)) && p.st.st_nlink == 0 && p.link.ends_with(" (deleted)") &&
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
      img::UnlinkedFile u;
      if (S_ISREG(p.st.st_mode))
        u = TRY_CTX(read_unlinked(t.ctx.pid, p.fd, p.st), "task {}: fd {}: {}", t.ctx.vpid, p.fd, p.link);
      else
        set_attributes(u, p.st);  // a device node: no content
      u.set_ofd_id(f.ofd_id());
      *t.files.add_unlinked() = std::move(u);
    }
  }
  return {};
}

Result<UniqueFd> open_unlinked(const img::Fd& fd, const img::UnlinkedFile& u) {
  if (fd.kind() != img::FD_REGULAR) return open_unlinked_node(fd, u);
  const std::string& path = fd.path();
  // Made read-write for the content; the description comes after. An
  // O_TMPFILE file ("#INODE", no name ever) is made so again.
  const bool tmpfile = base_of(path).starts_with('#');
  // The description made by O_TMPFILE is the task's own description too
  // (its f_flags keep __O_TMPFILE | O_DIRECTORY, which a reopen cannot
  // give): made with its flags, O_APPEND only once the content is in.
  const int own = static_cast<int>(fd.flags());
  const bool own_tmpfile = tmpfile && (own & O_TMPFILE) == O_TMPFILE && (own & O_ACCMODE) != O_RDONLY;
  const int tmp_flags = own_tmpfile ? (own & ~(O_APPEND | O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY)) | O_CLOEXEC
                                    : O_TMPFILE | O_RDWR | O_CLOEXEC;
  // Its directory as the task sees its tree (sys::kTaskPath), the file made
  // and unlinked there by name, never through a symlink.
  sys::PathEntry e = TRY_CTX(sys::open_parent(AT_FDCWD, path, sys::kTaskPath), "re-create unlinked file {}", path);
  UniqueFd file;
  if (!tmpfile) {
    file = UniqueFd(::openat(e.dir.get(), e.name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file && errno != EEXIST) return sys_fail("re-create unlinked file {}", path);
  }
  const bool named = file.valid();
  if (!named)
    file = TRY_CTX(sys::open_at(e.dir.get(), ".", tmp_flags, RESOLVE_BENEATH, 0600), "re-create unlinked file {}", path);
  if (named && ::unlinkat(e.dir.get(), e.name.c_str(), 0) != 0) return sys_fail("unlink {} again", path);
  TRY_CTX(write_all(file.get(), u.content().data(), u.content().size()), "content of unlinked file {}", path);
  const uint64_t size = std::max<uint64_t>(u.size(), u.content().size());
  if (::ftruncate(file.get(), static_cast<off_t>(size)) != 0)
    return sys_fail("size unlinked file {} to {}", path, size);
  for (const img::FileExtent& x : u.extents()) {
    if (x.offset() > size || x.data().size() > size - x.offset())
      return bad_input("unlinked file {}: data at {} beyond its size {}", path, x.offset(), size);
    TRY_CTX(write_at(file.get(), x.data(), x.offset()), "content of unlinked file {}", path);
  }
  if (::fchown(file.get(), u.uid(), u.gid()) != 0) return sys_fail("chown unlinked file {}", path);
  if (::fchmod(file.get(), u.mode()) != 0) return sys_fail("chmod unlinked file {}", path);
  timespec t[2] = {ts_of(u.atime_ns()), ts_of(u.mtime_ns())};
  if (::futimens(file.get(), t) != 0) return sys_fail("set times of unlinked file {}", path);
  if (own_tmpfile) {
    if ((own & O_APPEND) && ::fcntl(file.get(), F_SETFL, (own & ~O_ACCMODE)) != 0)
      return sys_fail("F_SETFL O_APPEND on unlinked file {}", path);
    if (fd.pos() != 0 && ::lseek(file.get(), fd.pos(), SEEK_SET) != fd.pos())
      return sys_fail("lseek {} to {}", path, fd.pos());
    return file;
  }
  // The description itself, with its own flags: a reopen of the file through
  // /proc/self/fd (which works for an unlinked file too).
  img::Fd again = fd;
  again.set_path(fmt::format("/proc/self/fd/{}", file.get()));
  return open_regular(again, 0);
}

}  // namespace amber::kinds::files
