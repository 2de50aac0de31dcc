// File locks (POSIX, OFD, flock) held through regular-file fds: read from
// fdinfo's "lock:" lines, taken again by the restored task on its own fds.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include <set>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "remote/remote_task.h"

namespace amber::kinds::files {

std::string lock_text(const img::FileLock& l) {
  const char* kind = l.kind() == img::FILE_LOCK_POSIX ? "POSIX" : l.kind() == img::FILE_LOCK_OFD ? "OFD" : "flock";
  if (l.kind() == img::FILE_LOCK_FLOCK) return fmt::format("{} {} lock", kind, l.write() ? "write" : "read");
  return fmt::format("{} {} lock on bytes {}-{}", kind, l.write() ? "write" : "read", l.start(),
                     l.len() ? std::to_string(l.start() + l.len() - 1) : std::string("EOF"));
}

// "lock:\t1: POSIX  ADVISORY  WRITE 123 fe:00:4567 0 EOF" (fs/locks.c
// lock_get_status). fdinfo lists the locks owned by the reading task's
// files (POSIX) or by this description (OFD, flock) that were taken through
// this very description.
Result<std::vector<img::FileLock>> parse_fd_locks(const sys::FdInfo& info) {
  std::vector<img::FileLock> out;
  for (const std::string& line : info.lines) {
    std::string_view l = line;
    if (!l.starts_with("lock:")) continue;
    std::vector<std::string_view> f = split_ws(l.substr(5));
    if (f.size() != 8) return bad_input("fdinfo lock line '{}': {} fields, want 8", line, f.size());
    img::FileLock lk;
    if (f[1] == "POSIX") {
      lk.set_kind(img::FILE_LOCK_POSIX);
    } else if (f[1] == "OFDLCK") {
      lk.set_kind(img::FILE_LOCK_OFD);
    } else if (f[1] == "FLOCK") {
      lk.set_kind(img::FILE_LOCK_FLOCK);
    } else {
      // LEASE, DELEG (fcntl F_SETLEASE, NFS), ACCESS (transient).
      return unsupported("a {} {} {} lock (file lease, F_SETLEASE): not supported yet", f[1], f[2], f[3]);
    }
    if (f[2] != "ADVISORY") return unsupported("a {} {} lock: not supported", f[1], f[2]);
    if (f[3] != "READ" && f[3] != "WRITE") return bad_input("fdinfo lock line '{}': type {}", line, f[3]);
    lk.set_write(f[3] == "WRITE");
    std::optional<int64_t> start = parse_int(f[6]);
    if (!start || *start < 0) return bad_input("fdinfo lock line '{}': start {}", line, f[6]);
    std::optional<int64_t> end = f[7] == "EOF" ? std::optional<int64_t>(-1) : parse_int(f[7]);
    if (!end || (*end != -1 && *end < *start)) return bad_input("fdinfo lock line '{}': end {}", line, f[7]);
    lk.set_start(*start);
    lk.set_len(*end < 0 ? 0 : *end - *start + 1);
    out.push_back(std::move(lk));
  }
  return out;
}

Status dump_locks(const FdProbe& p, img::Fd& out) {
  std::vector<img::FileLock> locks = TRY_CTX(parse_fd_locks(p.info), "{}", p.link);
  if (locks.empty()) return {};
  if (out.kind() != img::FD_REGULAR || out.container_log() || out.unlinked())
    return unsupported("{}: {} on a {}: not supported yet", p.link, lock_text(locks.front()),
                       out.container_log() ? "the container's log" : out.unlinked() ? "unlinked file" : "non-regular file");
  for (img::FileLock& l : locks) *out.add_locks() = std::move(l);
  return {};
}

// A POSIX lock goes when its process closes any fd of the file, and the
// restore opens and closes a mapped file inside the tasks (mm, shared
// memory objects) after their fd tables are built: those are taken later.
Status mark_mapped_locks(std::vector<TaskFds>& tasks) {
  std::set<std::pair<dev_t, ino_t>> mapped;
  bool read = false;
  for (TaskFds& t : tasks) {
    for (int i = 0; i < t.files.fds_size(); ++i) {
      img::Fd& f = *t.files.mutable_fds(i);
      for (img::FileLock& l : *f.mutable_locks()) {
        if (l.kind() != img::FILE_LOCK_POSIX) continue;
        if (!read) {
          for (const TaskFds& m : tasks)
            for (const sys::VmArea& a : TRY_CTX(sys::read_maps(m.ctx.pid), "task {}", m.ctx.vpid))
              if (a.inode != 0) mapped.insert({makedev(a.dev_major, a.dev_minor), a.inode});
          read = true;
        }
        const struct stat& st = t.probes[static_cast<size_t>(i)].st;
        l.set_after_mm(mapped.contains({st.st_dev, st.st_ino}));
      }
    }
  }
  return {};
}

Status take_locks(const img::Fd& fd) {
  for (const img::FileLock& l : fd.locks()) {
    if (l.after_mm()) continue;
    int rc;
    if (l.kind() == img::FILE_LOCK_FLOCK) {
      rc = ::flock(fd.fd(), (l.write() ? LOCK_EX : LOCK_SH) | LOCK_NB);
    } else {
      struct flock fl {};
      fl.l_type = l.write() ? F_WRLCK : F_RDLCK;
      fl.l_whence = SEEK_SET;
      fl.l_start = l.start();
      fl.l_len = l.len();
      rc = ::fcntl(fd.fd(), l.kind() == img::FILE_LOCK_OFD ? F_OFD_SETLK : F_SETLK, &fl);
    }
    if (rc != 0) {
      if (errno == EAGAIN || errno == EACCES || errno == EWOULDBLOCK)
        return failf("{} {}: another process holds a conflicting lock now", fd.path(), lock_text(l));
      return sys_fail("{} {}", fd.path(), lock_text(l));
    }
  }
  return {};
}

}  // namespace amber::kinds::files

namespace amber::kinds {

Status take_mapped_locks(remote::RemoteTask& task, const img::Files& files) {
  std::vector<struct flock> want;
  std::vector<std::pair<const img::Fd*, const img::FileLock*>> which;
  for (const img::Fd& fd : files.fds())
    for (const img::FileLock& l : fd.locks()) {
      if (!l.after_mm()) continue;
      struct flock fl {};
      fl.l_type = l.write() ? F_WRLCK : F_RDLCK;
      fl.l_whence = SEEK_SET;
      fl.l_start = l.start();
      fl.l_len = l.len();
      want.push_back(fl);
      which.emplace_back(&fd, &l);
    }
  if (want.empty()) return {};
  if (!task.has_executor() || task.scratch_size() < want.size() * sizeof(struct flock))
    return failf("task {}: {} file locks do not fit the executor's scratch area", task.tgid(), want.size());
  const uint64_t base = task.scratch_addr();
  TRY_CTX(task.write(base, std::as_bytes(std::span(want))), "task {}: write struct flock", task.tgid());
  std::vector<remote::Call> calls;
  for (size_t i = 0; i < want.size(); ++i)
    calls.push_back(remote::make_call(SYS_fcntl, which[i].first->fd(), F_SETLK, base + i * sizeof(struct flock)));
  TRY_CTX(task.run_batch(calls), "task {}: fcntl(F_SETLK)", task.tgid());
  for (size_t i = 0; i < calls.size(); ++i) {
    const long r = calls[i].result;
    if (r == -EAGAIN || r == -EACCES)
      return failf("task {}: fd {}: {} {}: another process holds a conflicting lock now", task.tgid(),
                   which[i].first->fd(), which[i].first->path(), files::lock_text(*which[i].second));
    TRY(remote::check_syscall(r, fmt::format("task {}: fd {}: {} {}", task.tgid(), which[i].first->fd(),
                                             which[i].first->path(), files::lock_text(*which[i].second))));
  }
  return {};
}

}  // namespace amber::kinds
