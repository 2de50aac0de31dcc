// POSIX message queues of an ipc namespace (see ipc_mqueue.h).
#include "kinds/ns/ipc_mqueue.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/unique_fd.h"
#include "sys/ns_thread.h"
#include "sys/procfs.h"

namespace amber::kinds {

namespace {

// The calling thread's ipc namespace's mqueue filesystem, attached nowhere.
// nullopt: no POSIX mqueue in this kernel.
Result<std::optional<UniqueFd>> mount_mqueue() {
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "mqueue", FSOPEN_CLOEXEC)));
  if (!fs) {
    if (errno == ENODEV) return std::optional<UniqueFd>{};
    return sys_fail("fsopen(mqueue)");
  }
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return sys_fail("fsconfig(mqueue, create)");
  UniqueFd mnt(static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, 0)));
  if (!mnt) return sys_fail("fsmount(mqueue)");
  return std::optional<UniqueFd>(std::move(mnt));
}

Result<std::vector<std::string>> list_queues(int mnt) {
  UniqueFd dir(::openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return sys_fail("open the mqueue filesystem");
  DIR* d = ::fdopendir(dir.get());
  if (!d) return sys_fail("fdopendir mqueue");
  (void)dir.release();
  std::vector<std::string> out;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") out.emplace_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// "QSIZE:12         NOTIFY:0     SIGNO:0     NOTIFY_PID:0     "
struct QueueInfo {
  uint64_t qsize = 0;
  int64_t notify_pid = 0;
};

Result<QueueInfo> read_info(int fd) {
  char buf[160];
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n < 0) return sys_fail("read its status");
  QueueInfo q;
  for (auto f : split_ws(std::string_view(buf, static_cast<size_t>(n)))) {
    if (f.starts_with("QSIZE:")) q.qsize = static_cast<uint64_t>(parse_int(f.substr(6)).value_or(0));
    if (f.starts_with("NOTIFY_PID:")) q.notify_pid = parse_int(f.substr(11)).value_or(0);
  }
  return q;
}

Status dump_queue(int mnt, const std::string& name, img::IpcNs& out) {
  UniqueFd fd(::openat(mnt, name.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return sys_fail("open");
  const QueueInfo info = TRY(read_info(fd.get()));
  if (info.notify_pid != 0) {
    // NOTIFY_PID is in the reader's (amber's) pid namespace: named by the
    // container's pid, NSpid's last.
    auto st = sys::read_status(static_cast<pid_t>(info.notify_pid));
    const pid_t vpid = st && !st->ns_tgid.empty() ? st->ns_tgid.back() : 0;
    if (vpid == 0) return unsupported("registered for mq_notify by a task outside the container: not supported yet");
    return unsupported("registered for mq_notify by task {}: not supported yet", vpid);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_fail("fstat");
  mq_attr attr{};
  if (::mq_getattr(fd.get(), &attr) != 0) return sys_fail("mq_getattr");
  img::PosixMqueue* q = out.add_mqueues();
  q->set_name(name);
  q->set_mode(st.st_mode & 07777);
  q->set_uid(st.st_uid);
  q->set_gid(st.st_gid);
  q->set_maxmsg(attr.mq_maxmsg);
  q->set_msgsize(attr.mq_msgsize);
  if (attr.mq_curmsgs == 0) return {};
  // Received in order, then sent back in that order (see the header).
  std::vector<char> buf(static_cast<size_t>(attr.mq_msgsize));
  for (;;) {
    unsigned prio = 0;
    ssize_t n = ::mq_receive(fd.get(), buf.data(), buf.size(), &prio);
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) {
      Error e = sys_fail("mq_receive").error();
      // What was taken goes back before the failure is reported.
      for (const img::PosixMqMsg& m : q->messages())
        (void)::mq_send(fd.get(), m.data().data(), m.data().size(), m.priority());
      return std::unexpected(std::move(e));
    }
    img::PosixMqMsg* m = q->add_messages();
    m->set_priority(prio);
    m->set_data(std::string(buf.data(), static_cast<size_t>(n)));
  }
  for (int i = 0; i < q->messages_size(); i++) {
    const img::PosixMqMsg& m = q->messages(i);
    if (::mq_send(fd.get(), m.data().data(), m.data().size(), m.priority()) != 0)
      return sys_fail("sending message {} of {} back: {} messages are LOST from the queue", i, q->messages_size(),
                      q->messages_size() - i);
  }
  const QueueInfo after = TRY(read_info(fd.get()));
  mq_attr now{};
  if (::mq_getattr(fd.get(), &now) != 0) return sys_fail("mq_getattr");
  if (now.mq_curmsgs != attr.mq_curmsgs || q->messages_size() != attr.mq_curmsgs || after.qsize != info.qsize)
    return failf("holds {} messages ({} bytes) after they were read and sent back, {} ({} bytes) before", now.mq_curmsgs,
                 after.qsize, attr.mq_curmsgs, info.qsize);
  return {};
}

Result<int64_t> read_limit(const char* name) {
  std::string v = TRY(read_file(fmt::format("/proc/sys/fs/mqueue/{}", name)));
  return parse_int(trim(v)).value_or(0);
}

Status raise_limit(const char* name, int64_t need) {
  if (TRY(read_limit(name)) >= need) return {};
  return context(write_file(fmt::format("/proc/sys/fs/mqueue/{}", name), std::to_string(need)),
                 fmt::format("raise fs.mqueue.{}", name));
}

}  // namespace

Status dump_mqueues(img::IpcNs& out) {
  auto mnt = TRY(mount_mqueue());
  if (!mnt) return {};  // no POSIX mqueue in this kernel: none can exist
  for (const std::string& name : TRY(list_queues(mnt->get())))
    TRY_CTX(dump_queue(mnt->get(), name, out), "ipc namespace: POSIX message queue /{}", name);
  return {};
}

Status validate_mqueues(const img::IpcNs& ipc) {
  std::set<std::string> names;
  for (const img::PosixMqueue& q : ipc.mqueues()) {
    const std::string& n = q.name();
    if (n.empty() || n.size() > NAME_MAX || n == "." || n == ".." || n.find('/') != std::string::npos ||
        n.find('\0') != std::string::npos || !names.insert(n).second)
      return bad_input("ipc namespace: POSIX message queue name '{}' is invalid or listed twice", n);
    const std::string what = fmt::format("ipc namespace: POSIX message queue /{}", n);
    if (q.mode() & ~0777u) return bad_input("{}: mode {:o}", what, q.mode());
    if (q.maxmsg() <= 0 || q.msgsize() <= 0 || q.messages_size() > q.maxmsg())
      return bad_input("{}: {} messages in a queue of {} of {} bytes", what, q.messages_size(), q.maxmsg(), q.msgsize());
    uint32_t prev = UINT32_MAX;
    for (const img::PosixMqMsg& m : q.messages()) {
      if (static_cast<int64_t>(m.data().size()) > q.msgsize() || m.priority() > prev)
        return bad_input("{}: a message of {} bytes, priority {}: out of order or too long", what, m.data().size(),
                         m.priority());
      prev = m.priority();
    }
  }
  return {};
}

Result<bool> mqueue_is_linked(pid_t pid, const std::string& name, dev_t dev, ino_t ino) {
  UniqueFd ns = TRY(open_fd(fmt::format("/proc/{}/ns/ipc", pid), O_RDONLY | O_CLOEXEC));
  return sys::in_namespace(ns.get(), CLONE_NEWIPC, [&]() -> Result<bool> {
    auto mnt = TRY(mount_mqueue());
    if (!mnt) return false;
    struct stat st {};
    if (::fstatat(mnt->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return false;
      return sys_fail("stat POSIX message queue /{}", name);
    }
    return st.st_dev == dev && st.st_ino == ino;
  });
}

Status create_mqueues(const img::IpcNs& ipc) {
  if (ipc.mqueues_size() == 0) return {};
  int64_t maxmsg = 0, msgsize = 0;
  for (const img::PosixMqueue& q : ipc.mqueues()) {
    maxmsg = std::max(maxmsg, q.maxmsg());
    msgsize = std::max(msgsize, q.msgsize());
  }
  TRY_CTX(raise_limit("msg_max", maxmsg), "ipc namespace");
  TRY_CTX(raise_limit("msgsize_max", msgsize), "ipc namespace");
  TRY_CTX(raise_limit("queues_max", ipc.mqueues_size()), "ipc namespace");
  for (const img::PosixMqueue& q : ipc.mqueues()) {
    const std::string what = fmt::format("ipc namespace: POSIX message queue /{}", q.name());
    mq_attr attr{};
    attr.mq_maxmsg = q.maxmsg();
    attr.mq_msgsize = q.msgsize();
    // mq_open uses the calling thread's ipc namespace's own mqueue mount.
    UniqueFd fd(::mq_open(("/" + q.name()).c_str(), O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK | O_CLOEXEC, 0600, &attr));
    if (!fd) return sys_fail("{}: mq_open({} messages of {} bytes)", what, q.maxmsg(), q.msgsize());
    for (int i = 0; i < q.messages_size(); i++) {
      const img::PosixMqMsg& m = q.messages(i);
      if (::mq_send(fd.get(), m.data().data(), m.data().size(), m.priority()) != 0)
        return sys_fail("{}: mq_send message {}", what, i);
    }
    if (::fchown(fd.get(), q.uid(), q.gid()) != 0) return sys_fail("{}: chown {}:{}", what, q.uid(), q.gid());
    if (::fchmod(fd.get(), q.mode()) != 0) return sys_fail("{}: chmod {:o}", what, q.mode());
  }
  return {};
}

Status verify_mqueues(const img::IpcNs& ipc) {
  auto mnt = TRY(mount_mqueue());
  if (!mnt) return ipc.mqueues_size() == 0 ? Status{} : failf("ipc namespace: no POSIX mqueue after the restore");
  std::vector<std::string> names = TRY(list_queues(mnt->get()));
  std::vector<std::string> want;
  for (const img::PosixMqueue& q : ipc.mqueues()) want.push_back(q.name());
  std::sort(want.begin(), want.end());
  if (names != want)
    return failf("ipc namespace: {} POSIX message queues after the restore, the image has {}", names.size(), want.size());
  for (const img::PosixMqueue& q : ipc.mqueues()) {
    const std::string what = fmt::format("ipc namespace: POSIX message queue /{}", q.name());
    UniqueFd fd(::openat(mnt->get(), q.name().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return sys_fail("{}: open after the restore", what);
    struct stat st {};
    mq_attr attr{};
    if (::fstat(fd.get(), &st) != 0 || ::mq_getattr(fd.get(), &attr) != 0) return sys_fail("{}: attributes", what);
    if ((st.st_mode & 07777) != q.mode() || st.st_uid != q.uid() || st.st_gid != q.gid() ||
        attr.mq_maxmsg != q.maxmsg() || attr.mq_msgsize != q.msgsize() || attr.mq_curmsgs != q.messages_size())
      return failf("{}: mode {:o} owner {}:{} {} of {} messages of {} bytes after the restore; the image has {:o} {}:{} "
                   "{} of {} of {}",
                   what, st.st_mode & 07777, st.st_uid, st.st_gid, attr.mq_curmsgs, attr.mq_maxmsg, attr.mq_msgsize,
                   q.mode(), q.uid(), q.gid(), q.messages_size(), q.maxmsg(), q.msgsize());
  }
  return {};
}

}  // namespace amber::kinds
