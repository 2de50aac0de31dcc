// inotify instances: every watch with its wd, mask and file.
//
// Dump (from outside): fdinfo lists each watch as "inotify wd:HEX ino:HEX
// sdev:HEX mask:HEX ignored_mask:0 fhandle-bytes:HEX fhandle-type:HEX
// f_handle:HEX" (fs/notify/fdinfo.c). The handle is opened with
// open_by_handle_at against each mount of the task with that device
// (/proc/PID/root/MOUNTPOINT) and turned into the path the task reaches it
// by; that path, opened again inside the task's root, must be the same
// inode. Events queued but unread are refused: nothing can read them
// without consuming them (a failed dump would lose them), and no interface
// queues an event again.
//
// Restore (inside the task): the kernel hands out wds with
// idr_alloc_cyclic() from one past the last one given, never reusing a
// number before wrapping. So wd N is reached by adding and removing a
// placeholder watch (a memfd of our own) until the cursor is at N. Each
// removal queues an IN_IGNORED for the placeholder's wd: those are read
// off the queue before the instance is handed over. A real watch's event
// met there (someone wrote the file during the restore) fails the restore:
// it was consumed and cannot be put back.
//
// Known limits: the wd cursor ends one past the highest restored wd (at
// the dump it may have been further on, after watches removed since), so a
// new watch may get a wd an old, removed one had. A watch asking for
// IN_OPEN, IN_ACCESS or IN_CLOSE_* on a file the restore itself opens after
// this instance is made (a later fd of the table, a mapped file) sees those
// opens as events.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <set>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "kinds/task_misc.h"
#include "sys/pidfd.h"

namespace amber::kinds::files {

namespace {

// The mask bits fdinfo shows (inotify_mark_user_mask()): events plus the
// two flags kept in the mark. IN_ONLYDIR, IN_DONT_FOLLOW, IN_MASK_ADD and
// IN_MASK_CREATE act at inotify_add_watch() only.
constexpr uint32_t kMaskBits = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK;
// Reaching wd N costs N add/remove pairs at restore (~20 us each here).
constexpr int32_t kMaxWd = 1 << 22;
// Placeholder removals between two drains: each queues an IN_IGNORED, and a
// queue over fs.inotify.max_queued_events (16384) would overflow.
constexpr int kDrainEvery = 4096;

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

Result<std::string> unhex(std::string_view s) {
  if (s.size() % 2 != 0) return bad_input("f_handle '{}': odd length", s);
  std::string out;
  for (size_t i = 0; i < s.size(); i += 2) {
    if (!is_hex_digit(s[i]) || !is_hex_digit(s[i + 1])) return bad_input("f_handle '{}': not hex", s);
    out.push_back(static_cast<char>(*parse_uint(s.substr(i, 2), 16)));
  }
  return out;
}

std::string fd_path(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

// The watched file, by its handle, as the task reaches it; Unsupported
// when it is deleted or not reachable inside the task's root.
Status resolve_watch(const FdDumpContext& ctx, const std::vector<sys::MountInfo>& mounts, int root_fd,
                     img::InotifyWatch& w) {
  const std::string what = fmt::format("inotify watch {} (inode {})", w.wd(), w.ino());
  const std::string& h = w.handle();
  std::vector<char> buf(sizeof(file_handle) + h.size());
  auto* fh = reinterpret_cast<file_handle*>(buf.data());
  fh->handle_bytes = static_cast<unsigned>(h.size());
  fh->handle_type = w.handle_type();
  std::copy(h.begin(), h.end(), buf.data() + sizeof(file_handle));
  const dev_t dev = sys::dev_of_kernel(w.sdev());
  bool any_mount = false, stale = false;
  std::string seen;
  for (const sys::MountInfo& m : mounts) {
    if (makedev(m.dev_major, m.dev_minor) != dev) continue;
    any_mount = true;
    // open_by_handle_at refuses an O_PATH mount fd (EBADF).
    auto mnt = sys::open_at(root_fd, m.mount_point, O_RDONLY | O_DIRECTORY | O_CLOEXEC, sys::kInRoot);
    if (!mnt) continue;
    int f = ::open_by_handle_at(mnt->get(), fh, O_PATH | O_CLOEXEC);
    if (f < 0) {
      if (errno == ESTALE) stale = true;
      continue;
    }
    UniqueFd file(f);
    struct stat st {};
    if (::fstat(file.get(), &st) != 0) return sys_fail("{}: fstat", what);
    if (st.st_ino != w.ino()) continue;
    std::string link = TRY(read_link(fd_path(file.get())));
    if (link.ends_with(" (deleted)")) return unsupported("{} on {}: the file is deleted: not supported yet", what, link);
    auto path = path_in_root(link, ctx.root);
    if (!path) {
      seen = link;
      continue;
    }
    // The same inode by that path from inside the task's root (a handle
    // decoded through a bind mount of another subtree has a path the task
    // cannot use).
    auto again = sys::open_at(root_fd, *path, O_PATH | O_NOFOLLOW | O_CLOEXEC, sys::kInRoot);
    struct stat st2 {};
    if (!again || ::fstat(again->get(), &st2) != 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
      seen = link;
      continue;
    }
    struct statfs fs {};
    if (::fstatfs(file.get(), &fs) != 0) return sys_fail("{}: fstatfs", what);
    w.set_path(*path);
    w.set_dir(S_ISDIR(st.st_mode));
    w.set_tmpfs(fs.f_type == TMPFS_MAGIC);
    return {};
  }
  if (!seen.empty())
    return unsupported("{} on {}: outside the container's root: not supported yet", what, seen);
  if (stale || !any_mount)
    return unsupported("{}: the file is deleted or on no mount of the task: not supported yet", what);
  return unsupported("{}: its file handle does not resolve: not supported yet", what);
}

// Reads every queued event; the placeholder's are dropped, a real
// watch's fails (see the header comment).
Status drain_placeholders(int in, const std::set<int32_t>& real) {
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return {};
    if (n < 0) return sys_fail("read the placeholder events");
    for (ssize_t at = 0; at + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
      if (e->mask & IN_Q_OVERFLOW) return failf("the event queue overflowed while the watches were added");
      if (real.contains(e->wd))
        return failf("watch {}: an event (mask {:#x}) arrived while the watches were added", e->wd, e->mask);
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
}

// Moves the instance's wd cursor from `next` up to `want` with a placeholder.
Status skip_to(int in, const std::string& placeholder, int32_t& next, int32_t want, const std::set<int32_t>& real) {
  for (int n = 0; next < want; ++next, ++n) {
    int got = ::inotify_add_watch(in, placeholder.c_str(), IN_MODIFY);
    if (got < 0) return sys_fail("placeholder watch for wd {}", next);
    if (got != next) return failf("placeholder watch got wd {}, wanted {} (wds are not handed out in order)", got, next);
    if (::inotify_rm_watch(in, got) != 0) return sys_fail("remove placeholder watch {}", got);
    if (n % kDrainEvery == kDrainEvery - 1) TRY(drain_placeholders(in, real));
  }
  return {};
}

std::vector<img::InotifyWatch> watches_of(const FdProbe& p) {
  std::vector<img::InotifyWatch> out;
  for (const auto& [key, value] : p.info.fields) {
    if (key != "inotify") continue;
    auto w = parse_inotify_watch(value);
    if (w) out.push_back(std::move(*w));
  }
  return out;
}

}  // namespace

Result<img::InotifyWatch> parse_inotify_watch(std::string_view value) {
  img::InotifyWatch w;
  bool have_wd = false, have_ino = false, have_sdev = false, have_mask = false, have_handle = false;
  for (std::string_view word : split_ws(value)) {
    size_t colon = word.find(':');
    if (colon == std::string_view::npos) return bad_input("inotify '{}': '{}' is not key:value", value, word);
    std::string_view k = word.substr(0, colon), v = word.substr(colon + 1);
    if (k == "f_handle") {
      w.set_handle(TRY_CTX(unhex(v), "inotify '{}'", value));
      have_handle = true;
      continue;
    }
    auto n = parse_uint(v, 16);
    if (!n) return bad_input("inotify '{}': {} '{}' is not hex", value, k, v);
    if (k == "wd") {
      if (*n == 0 || *n > INT32_MAX) return bad_input("inotify '{}': wd out of range", value);
      w.set_wd(static_cast<int32_t>(*n));
      have_wd = true;
    } else if (k == "ino") {
      w.set_ino(*n);
      have_ino = true;
    } else if (k == "sdev") {
      w.set_sdev(static_cast<uint32_t>(*n));
      have_sdev = true;
    } else if (k == "mask") {
      w.set_mask(static_cast<uint32_t>(*n));
      have_mask = true;
    } else if (k == "ignored_mask") {
      if (*n != 0) return bad_input("inotify '{}': ignored_mask is not 0", value);
    } else if (k == "fhandle-type") {
      w.set_handle_type(static_cast<int32_t>(*n));
    } else if (k == "fhandle-bytes") {
      // checked against f_handle below
    } else {
      return bad_input("inotify '{}': unknown key '{}'", value, k);
    }
  }
  if (!have_wd || !have_ino || !have_sdev || !have_mask)
    return bad_input("inotify '{}': wd, ino, sdev or mask missing", value);
  // Without CONFIG_EXPORTFS (or a filesystem without handles) fdinfo has no
  // handle: the watch cannot be found again.
  if (!have_handle || w.handle().empty()) return unsupported("inotify watch {}: no file handle", w.wd());
  return w;
}

bool is_inotify(const FdProbe& p) { return p.link == "anon_inode:inotify"; }

Status dump_inotify(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  out.set_kind(img::FD_INOTIFY);
  out.set_path(p.link);
  out.set_pos(0);
  {
    UniqueFd pidfd = TRY(sys::pidfd_open(ctx.pid));
    UniqueFd copy = TRY_CTX(sys::pidfd_getfd(pidfd.get(), p.fd), "inotify fd");
    int queued = 0;
    if (::ioctl(copy.get(), FIONREAD, &queued) != 0) return sys_fail("inotify fd: FIONREAD");
    if (queued > 0)
      return unsupported("inotify fd with {} bytes of unread events: not supported yet (they cannot be queued again)",
                         queued);
  }
  img::Inotify* in = out.mutable_inotify();
  for (const auto& [key, value] : p.info.fields) {
    if (key != "inotify") continue;
    *in->add_watches() = TRY(parse_inotify_watch(value));
  }
  std::sort(in->mutable_watches()->begin(), in->mutable_watches()->end(),
            [](const img::InotifyWatch& a, const img::InotifyWatch& b) { return a.wd() < b.wd(); });
  if (in->watches().empty()) return {};
  std::vector<sys::MountInfo> mounts = TRY(sys::read_mountinfo(ctx.pid));
  UniqueFd root = TRY(open_fd(fmt::format("/proc/{}/root", ctx.pid), O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (img::InotifyWatch& w : *in->mutable_watches()) {
    if (w.wd() > kMaxWd) return unsupported("inotify watch {}: wd above {}: not supported yet", w.wd(), kMaxWd);
    if (w.mask() & ~kMaskBits) return unsupported("inotify watch {}: mask {:#x}: not supported yet", w.wd(), w.mask());
    TRY(resolve_watch(ctx, mounts, root.get(), w));
  }
  return {};
}

Result<UniqueFd> open_inotify(const img::Fd& fd, const OpenContext&) {
  std::set<int32_t> real;
  int32_t prev = 0;
  for (const img::InotifyWatch& w : fd.inotify().watches()) {
    if (w.wd() <= prev || w.wd() > kMaxWd) return bad_input("inotify watch {}: wds not ascending or out of range", w.wd());
    if (w.mask() & ~kMaskBits) return bad_input("inotify watch {}: mask {:#x}", w.wd(), w.mask());
    if (w.path().empty() || w.path().front() != '/') return bad_input("inotify watch {}: no absolute path", w.wd());
    prev = w.wd();
    real.insert(w.wd());
  }
  int raw = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (raw < 0) return sys_fail("inotify_init1");
  UniqueFd in(raw);
  if (!real.empty()) {
    int m = ::memfd_create("amber-inotify-wd", MFD_CLOEXEC);
    if (m < 0) return sys_fail("memfd_create (placeholder watch)");
    UniqueFd placeholder(m);
    const std::string ph = fd_path(placeholder.get());
    int32_t next = 1;
    for (const img::InotifyWatch& w : fd.inotify().watches()) {
      TRY_CTX(skip_to(in.get(), ph, next, w.wd(), real), "inotify watch {}", w.wd());
      struct stat st {};
      if (::lstat(w.path().c_str(), &st) != 0) return sys_fail("inotify watch {}: {}", w.wd(), w.path());
      if (S_ISDIR(st.st_mode) != w.dir())
        return failf("inotify watch {}: {} is no longer a {}", w.wd(), w.path(), w.dir() ? "directory" : "file");
      // The path is d_path's: no symlink but possibly the watched one itself.
      int got = ::inotify_add_watch(in.get(), w.path().c_str(), w.mask() | IN_DONT_FOLLOW);
      if (got < 0) return sys_fail("inotify watch {}: inotify_add_watch {}", w.wd(), w.path());
      if (got != w.wd()) return failf("inotify watch on {}: got wd {}, the image has {}", w.path(), got, w.wd());
      next = w.wd() + 1;
    }
    TRY_CTX(drain_placeholders(in.get(), real), "inotify");
  }
  if (!(fd.flags() & O_NONBLOCK) && ::fcntl(in.get(), F_SETFL, 0) != 0) return sys_fail("inotify: clear O_NONBLOCK");
  return in;
}

Status verify_inotify(const FdProbe& now, const img::Fd& fd) {
  std::vector<img::InotifyWatch> have = watches_of(now);
  std::sort(have.begin(), have.end(), [](const auto& a, const auto& b) { return a.wd() < b.wd(); });
  const auto& want = fd.inotify().watches();
  if (have.size() != static_cast<size_t>(want.size()))
    return failf("inotify: {} watch(es), the image has {}", have.size(), want.size());
  for (int i = 0; i < want.size(); ++i) {
    const img::InotifyWatch& h = have[static_cast<size_t>(i)];
    const img::InotifyWatch& w = want[i];
    if (h.wd() != w.wd() || h.mask() != w.mask())
      return failf("inotify: watch {} mask {:#x}, the image has watch {} mask {:#x}", h.wd(), h.mask(), w.wd(),
                   w.mask());
    if (!w.tmpfs() && h.ino() != w.ino())
      return failf("inotify: watch {} is on inode {}, the image has {} ({})", h.wd(), h.ino(), w.ino(), w.path());
  }
  return {};
}

}  // namespace amber::kinds::files
