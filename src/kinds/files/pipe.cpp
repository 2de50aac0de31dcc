// Pipes of the container, ends in any of its tasks: size and unread data.
//
// Dump peeks the data without consuming it: a pidfd_getfd copy of a read
// end (the same description) is tee()d into a pipe of our own of the same
// size, which is then read. Restore creates the pipe, sets its size
// (F_SETPIPE_SZ; above fs/pipe-max-size needs CAP_SYS_RESOURCE) and writes
// the data back before any fd of the task can see it.
//
// Named pipes (FIFOs) are the same object reached by a path: the kernel
// keeps one pipe per FIFO inode while anybody has it open, and frees it
// (data included) when the last end closes. Restore therefore opens the
// FIFO O_RDWR first (a "keeper": it never blocks and holds the pipe), writes
// the data through it, opens every end as a reopen of the keeper through
// /proc/self/fd (O_NONBLOCK, so that a lone reader or writer does not wait
// for its partner; the saved flags are set afterwards), and only then lets
// the keeper go.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "kinds/task_misc.h"
#include "sys/pidfd.h"

namespace amber::kinds::files {

namespace {

// Description flags F_SETFL can set on a pipe end.
constexpr int kSettable = O_NONBLOCK | O_DIRECT | O_APPEND;

std::string pipe_max_size() {
  auto text = read_file("/proc/sys/fs/pipe-max-size");
  return text ? std::string(trim(*text)) : std::string("?");
}

struct Peeked {
  uint32_t size = 0;
  std::string data;
};

// Size and unread data of the pipe behind `read_copy` (our copy of a read end).
Result<Peeked> peek_pipe(int read_copy) {
  Peeked out;
  int size = ::fcntl(read_copy, F_GETPIPE_SZ);
  if (size < 0) return sys_fail("F_GETPIPE_SZ");
  out.size = static_cast<uint32_t>(size);
  int queued = 0;
  if (::ioctl(read_copy, FIONREAD, &queued) != 0) return sys_fail("FIONREAD");
  if (queued == 0) return out;

  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return sys_fail("pipe2");
  UniqueFd our_read(p[0]), our_write(p[1]);
  // As many buffer slots as the source: tee() copies buffers, not bytes, and
  // stops when the destination has no free slot.
  if (::fcntl(our_write.get(), F_SETPIPE_SZ, size) < 0)
    return sys_fail("F_SETPIPE_SZ {} for the peek pipe", size);
  ssize_t n = ::tee(read_copy, our_write.get(), static_cast<size_t>(queued), SPLICE_F_NONBLOCK);
  if (n < 0) return sys_fail("tee");
  // tee() always starts at the head of the source: a short copy cannot be
  // completed by a second call.
  if (n != queued) return failf("tee copied {} of {} queued bytes", n, queued);
  out.data.resize(static_cast<size_t>(queued));
  TRY(read_exact(our_read.get(), out.data.data(), out.data.size()));
  return out;
}

// A pipe's entry, read through a read end of amber's own (`what` names the
// task's fd in messages): its size and unread data, peeked, not consumed.
Result<img::Pipe> peeked_entry(uint64_t id, int read_fd, bool packet, const std::string& what) {
  Peeked peeked = TRY_CTX(peek_pipe(read_fd), "{}", what);
  if (packet && !peeked.data.empty())
    return unsupported("{} (packet-mode pipe with {} unread bytes): not supported yet", what, peeked.data.size());
  img::Pipe p;
  p.set_id(id);
  p.set_size(peeked.size);
  p.set_data(std::move(peeked.data));
  return p;
}

}  // namespace

bool is_pipe(const FdProbe& p) { return S_ISFIFO(p.st.st_mode) && p.link.starts_with("pipe:["); }

bool is_fifo(const FdProbe& p) { return S_ISFIFO(p.st.st_mode) && p.link.starts_with("/"); }

// Pipes are keyed by their pipefs inode; a FIFO's inode lives on another
// filesystem and could have the same number: the top bit keeps them apart.
uint64_t fifo_id(const struct stat& st) {
  return (uint64_t{1} << 63) | ((static_cast<uint64_t>(st.st_dev) << 40) ^ static_cast<uint64_t>(st.st_ino));
}

Status dump_fifo_end(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  if (p.link.ends_with(" (deleted)"))
    return unsupported("{} (deleted FIFO): not supported yet", p.link);
  const int acc = static_cast<int>(p.info.flags) & O_ACCMODE;
  out.set_kind(img::FD_FIFO);
  out.set_path(TRY(path_in_root(p.link, ctx.root)));
  out.mutable_pipe()->set_pipe_id(fifo_id(p.st));
  out.mutable_pipe()->set_write_end(acc == O_WRONLY);
  out.mutable_pipe()->set_read_write(acc == O_RDWR);
  return {};
}

Result<img::Pipe> dump_fifo_without_reader(uint64_t id, pid_t pid, const FdDumpContext& ctx, int fd) {
  // Only when no task reads it: our own read end would count as a reader
  // for a writer blocked in open().
  UniqueFd copy = TRY_CTX(open_fd(fmt::format("/proc/{}/fd/{}", pid, fd), O_RDONLY | O_NONBLOCK | O_CLOEXEC),
                          "task {}: fd {}: FIFO", ctx.vpid, fd);
  return peeked_entry(id, copy.get(), false, fmt::format("task {}: fd {}: FIFO", ctx.vpid, fd));
}

Status dump_pipe_end(const FdProbe& p, const FdDumpContext&, img::Fd& out) {
  const int acc = static_cast<int>(p.info.flags) & O_ACCMODE;
  // A pipe end re-opened O_RDWR through /proc/PID/fd/N reads and writes.
  if (acc != O_RDONLY && acc != O_WRONLY)
    return unsupported("{} (pipe opened read-write): not supported yet", p.link);
  out.set_kind(img::FD_PIPE);
  out.mutable_pipe()->set_pipe_id(p.st.st_ino);
  out.mutable_pipe()->set_write_end(acc == O_WRONLY);
  return {};
}

Result<img::Pipe> dump_pipe(uint64_t id, int pidfd, const FdDumpContext& ctx, int read_fd, bool packet) {
  UniqueFd copy = TRY_CTX(sys::pidfd_getfd(pidfd, read_fd), "task {}: fd {}: pipe:[{}]", ctx.vpid, read_fd, id);
  return peeked_entry(id, copy.get(), packet, fmt::format("task {}: fd {}: pipe:[{}]", ctx.vpid, read_fd, id));
}

Result<img::Pipe> dump_pipe_without_reader(uint64_t id, pid_t pid, const FdDumpContext& ctx, int write_fd,
                                           bool packet) {
  // No read end to pidfd_getfd: open one through the write end's magic link
  // (a pipefs inode opens like a FIFO). It exists only while the container
  // is held, and no writer can block on a pipe without readers.
  UniqueFd reader =
      TRY_CTX(open_fd(fmt::format("/proc/{}/fd/{}", pid, write_fd), O_RDONLY | O_NONBLOCK | O_CLOEXEC),
              "task {}: fd {}: pipe:[{}] (no reader): open a read end", ctx.vpid, write_fd, id);
  return peeked_entry(id, reader.get(), packet, fmt::format("task {}: fd {}: pipe:[{}]", ctx.vpid, write_fd, id));
}

Result<PipeSet> PipeSet::create(const std::vector<const img::Pipe*>& pipes, pid_t vpid, int floor) {
  PipeSet set;
  set.floor_ = floor;
  for (const img::Pipe* pp : pipes) {
    const img::Pipe& p = *pp;
    if (!p.fifo_path().empty()) {
      TRY(set.add_fifo(p, vpid));
      continue;
    }
    int raw[2];
    // Non-blocking while filled: a write that does not fit must fail, not
    // hang the restoring task. Each end's real flags come with open_end().
    if (::pipe2(raw, O_CLOEXEC | O_NONBLOCK) != 0) return sys_fail("task {}: pipe:[{}]: pipe2", vpid, p.id());
    Ends ends;
    ends.read = TRY_CTX(lift_fd(UniqueFd(raw[0]), floor), "task {}: pipe:[{}]", vpid, p.id());
    ends.write = TRY_CTX(lift_fd(UniqueFd(raw[1]), floor), "task {}: pipe:[{}]", vpid, p.id());
    if (p.size() != 0 && p.size() > INT_MAX) return bad_input("task {}: pipe:[{}]: size {}", vpid, p.id(), p.size());
    if (p.size() != 0 && ::fcntl(ends.write.get(), F_SETPIPE_SZ, static_cast<int>(p.size())) < 0)
      return sys_fail("task {}: pipe:[{}]: F_SETPIPE_SZ {} (fs/pipe-max-size {})", vpid, p.id(), p.size(),
                      pipe_max_size());
    if (!p.data().empty()) {
      if (::fcntl(ends.write.get(), F_GETPIPE_SZ) < static_cast<int>(p.data().size()))
        return bad_input("task {}: pipe:[{}]: {} bytes of data do not fit its size {}", vpid, p.id(),
                         p.data().size(), p.size());
      TRY_CTX(write_all(ends.write.get(), p.data().data(), p.data().size()), "task {}: pipe:[{}]: write data", vpid,
              p.id());
    }
    if (!set.pipes_.emplace(p.id(), std::move(ends)).second)
      return bad_input("task {}: pipe:[{}] listed twice", vpid, p.id());
  }
  return set;
}

Status PipeSet::add_fifo(const img::Pipe& p, pid_t vpid) {
  const std::string& path = p.fifo_path();
  UniqueFd keeper =
      TRY_CTX(sys::open_at(AT_FDCWD, path, O_RDWR | O_NONBLOCK, sys::kTaskPath), "task {}: FIFO {}", vpid, path);
  struct stat st {};
  if (::fstat(keeper.get(), &st) != 0) return sys_fail("task {}: FIFO {}: fstat", vpid, path);
  if (!S_ISFIFO(st.st_mode)) return failf("task {}: {} is no longer a FIFO", vpid, path);
  keeper = TRY_CTX(lift_fd(std::move(keeper), floor_), "task {}: FIFO {}", vpid, path);
  if (p.size() != 0 && p.size() <= INT_MAX && ::fcntl(keeper.get(), F_SETPIPE_SZ, static_cast<int>(p.size())) < 0)
    return sys_fail("task {}: FIFO {}: F_SETPIPE_SZ {} (fs/pipe-max-size {})", vpid, path, p.size(), pipe_max_size());
  // The FIFO may hold data already (another restored process opened it
  // first and still holds it): the image's data is the whole queue.
  int queued = 0;
  if (::ioctl(keeper.get(), FIONREAD, &queued) != 0) return sys_fail("task {}: FIFO {}: FIONREAD", vpid, path);
  if (queued != 0) return failf("task {}: FIFO {} is open elsewhere with {} bytes queued", vpid, path, queued);
  if (!p.data().empty())
    TRY_CTX(write_all(keeper.get(), p.data().data(), p.data().size()), "task {}: FIFO {}: write data", vpid, path);
  Ends ends;
  ends.keeper = std::move(keeper);
  if (!pipes_.emplace(p.id(), std::move(ends)).second) return bad_input("task {}: FIFO {} listed twice", vpid, path);
  return {};
}

Result<UniqueFd> PipeSet::open_end(const img::Fd& fd) {
  auto it = pipes_.find(fd.pipe().pipe_id());
  if (it == pipes_.end()) return bad_input("pipe:[{}] is not in the image", fd.pipe().pipe_id());
  Ends& ends = it->second;
  if (ends.keeper) {
    // A FIFO: every description is an open of the FIFO, as it was.
    const int acc = fd.pipe().read_write() ? O_RDWR : fd.pipe().write_end() ? O_WRONLY : O_RDONLY;
    UniqueFd out = TRY_CTX(open_fd(fmt::format("/proc/self/fd/{}", ends.keeper.get()), acc | O_NONBLOCK | O_CLOEXEC),
                           "FIFO {}", fd.path());
    const int flags = static_cast<int>(fd.flags()) & kSettable;
    if (::fcntl(out.get(), F_SETFL, flags) != 0) return sys_fail("FIFO {}: F_SETFL {:#o}", fd.path(), flags);
    return lift_fd(std::move(out), floor_);
  }
  const bool write = fd.pipe().write_end();
  UniqueFd& end = write ? ends.write : ends.read;
  bool& used = write ? ends.write_used : ends.read_used;
  const int flags = static_cast<int>(fd.flags()) & kSettable;
  UniqueFd out;
  if (!used) {
    // The pipe's own description of that end.
    used = true;
    if (::fcntl(end.get(), F_SETFL, flags) != 0) return sys_fail("pipe:[{}]: F_SETFL {:#o}", it->first, flags);
    int d = ::fcntl(end.get(), F_DUPFD_CLOEXEC, floor_ + 1);
    if (d < 0) return sys_fail("pipe:[{}]: dup", it->first);
    out = UniqueFd(d);
  } else {
    // Another description of the same end (the task re-opened it through
    // /proc/PID/fd/N): so do we.
    out = TRY_CTX(open_fd(fmt::format("/proc/self/fd/{}", end.get()),
                          (write ? O_WRONLY : O_RDONLY) | flags | O_CLOEXEC),
                  "pipe:[{}]: another description of its {} end", it->first, write ? "write" : "read");
  }
  return out;
}

}  // namespace amber::kinds::files
