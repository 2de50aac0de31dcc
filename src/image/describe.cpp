#include "image/describe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/user.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <vector>

#include <fmt/ranges.h>
#include <google/protobuf/util/json_util.h>

#include "container.pb.h"
#include "files.pb.h"
#include "image/describe_net.h"
#include "image/layout.h"
#include "image/pages.h"
#include "mm.pb.h"
#include "seal/leak.h"
#include "task.pb.h"

namespace amber::image {

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

namespace {

class Text {
 public:
  template <class... A>
  void line(int indent, fmt::format_string<A...> f, A&&... a) {
    out_.append(static_cast<size_t>(2 * std::min(indent, 24)), ' ');
    out_ += fmt::format(f, std::forward<A>(a)...);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// "FD_UNIX_SOCKET" -> "unix-socket".
std::string enum_word(const std::string& name, std::string_view prefix) {
  std::string s = name.substr(std::min(prefix.size(), name.size()));
  for (char& c : s) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string human_size(uint64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 1024 && u < 3) v /= 1024, u++;
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::string time_utc(const google::protobuf::Timestamp& t) {
  time_t secs = static_cast<time_t>(t.seconds());
  struct tm tm {};
  if (!::gmtime_r(&secs, &tm)) return "?";
  char buf[64];
  ::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string signal_name(uint32_t signo) {
  const char* abbrev = signo < 65 ? ::sigabbrev_np(static_cast<int>(signo)) : nullptr;
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", signo);
}

std::string prot_string(const img::VmArea& a) {
  std::string s = "---p";
  if (a.prot() & PROT_READ) s[0] = 'r';
  if (a.prot() & PROT_WRITE) s[1] = 'w';
  if (a.prot() & PROT_EXEC) s[2] = 'x';
  if (a.flags() & img::VMA_SHARED) s[3] = 's';
  return s;
}

std::string vma_flags(uint32_t flags) {
  std::string s;
  for (uint32_t bit = 1; bit != 0 && bit <= flags; bit <<= 1) {
    if (!(flags & bit) || bit == img::VMA_PRIVATE || bit == img::VMA_SHARED) continue;
    if (!s.empty()) s += ',';
    s += img::VmaFlag_IsValid(static_cast<int>(bit)) ? enum_word(img::VmaFlag_Name(static_cast<img::VmaFlag>(bit)), "VMA_")
                                                     : fmt::format("0x{:x}", bit);
  }
  return s;
}

// Pages of the store inside [start, end); runs are ascending.
uint64_t pages_in(const google::protobuf::RepeatedPtrField<img::PageRun>& runs, uint64_t start, uint64_t end) {
  auto it = std::partition_point(runs.begin(), runs.end(), [&](const img::PageRun& r) {
    return r.vaddr() + r.nr_pages() * kPageSize <= start;
  });
  uint64_t n = 0;
  for (; it != runs.end() && it->vaddr() < end; ++it) {
    uint64_t s = std::max(start, it->vaddr()), e = std::min(end, it->vaddr() + it->nr_pages() * kPageSize);
    if (e > s) n += (e - s) / kPageSize;
  }
  return n;
}

void describe_unsupported(Text& t, int indent, const img::Unsupported& u) {
  t.line(indent, "UNSUPPORTED {}: {}{}", u.what(), u.reason(), u.raw().empty() ? "" : fmt::format(" ({} raw bytes)", u.raw().size()));
}

void describe_namespaces(Text& t, const img::Namespaces& ns) {
  auto ref = [](std::string_view name, const img::NsRef& r) {
    return fmt::format("{} {}{}", name, r.inode(), r.external() ? " (external)" : "");
  };
  t.line(1, "uts: hostname '{}', domainname '{}'", printable(ns.uts().hostname()), printable(ns.uts().domainname()));
  t.line(1, "namespaces: {}, {}, {}, {}, {}, {}, {}, {}", ref("pid", ns.pid()), ref("uts", ns.uts_ref()),
         ref("ipc", ns.ipc()), ref("net", ns.net()), ref("mnt", ns.mnt()), ref("cgroup", ns.cgroup()),
         ref("user", ns.user()), ref("time", ns.time()));
  if (ns.has_ipc_ns()) {
    std::string list;
    for (const img::Sysctl& s : ns.ipc_ns().sysctls())
      list += fmt::format("{}{}={}", list.empty() ? "" : ", ", s.name(), printable(s.value()));
    t.line(1, "ipc sysctls: {}", list);
    const img::IpcNs& ipc = ns.ipc_ns();
    for (const img::SysvShm& m : ipc.shm())
      t.line(1, "SysV shm id {} key {:#x}: {} bytes, mode {:o}, owner {}:{}, {} attached{}{}", m.perm().id(),
             static_cast<uint32_t>(m.name_key()), m.size(), m.perm().mode(), m.perm().uid(), m.perm().gid(),
             m.nattch(), m.removed() ? ", removed" : "", m.locked() ? ", locked" : "");
    for (const img::SysvSem& m : ipc.sem()) {
      t.line(1, "SysV semaphore set id {} key {:#x}: {} semaphores, mode {:o}", m.perm().id(),
             static_cast<uint32_t>(m.perm().key()), m.values_size(), m.perm().mode());
      for (const img::SemUndo& u : m.undo())
        t.line(2, "SEM_UNDO adjustments of task {}: {}", u.pid(), fmt::join(u.adj(), " "));
    }
    for (const img::SysvMsgQueue& m : ipc.msg())
      t.line(1, "SysV message queue id {} key {:#x}: {} messages, qbytes {}, mode {:o}", m.perm().id(),
             static_cast<uint32_t>(m.perm().key()), m.messages_size(), m.qbytes(), m.perm().mode());
    for (const img::PosixMqueue& m : ipc.mqueues())
      t.line(1, "POSIX message queue /{}: {} messages (max {} of {} bytes), mode {:o}", printable(m.name()),
             m.messages_size(), m.maxmsg(), m.msgsize(), m.mode());
  }
  if (ns.has_net_ns()) {
    // lo first, on the heading line; the rest under it.
    const std::vector<std::string> lines = net_lines(ns.net_ns());
    t.line(1, "net: {}", lines.front());
    for (size_t i = 1; i < lines.size(); ++i) t.line(2, "{}", lines[i]);
  } else if (ns.net().external()) {
    t.line(1, "net: external (not in the image)");
  }
  t.line(1, "mounts ({}):", ns.mounts_size());
  for (const img::Mount& m : ns.mounts()) {
    std::string prop;
    if (m.shared_group()) prop += fmt::format(" shared:{}", m.shared_group());
    if (m.master_group()) prop += fmt::format(" master:{}", m.master_group());
    if (m.unbindable()) prop += " unbindable";
    std::string how;
    switch (m.how()) {
      case img::MOUNT_ROOT: how = fmt::format(": root, bind of {}", printable(m.host_path())); break;
      case img::MOUNT_NEW: {
        std::string params;
        for (const img::MountFsParam& p : m.params())
          params += fmt::format("{}{}{}{}", params.empty() ? "" : ",", printable(p.key()), p.value().empty() ? "" : "=",
                                printable(p.value()));
        how = fmt::format(": new{}{}{}", params.empty() ? "" : " ", params, m.content().empty() ? "" : ", content " + m.content());
        break;
      }
      case img::MOUNT_BIND: how = fmt::format(": bind of mount {} at '{}'", m.bind_of(), printable(m.bind_path())); break;
      case img::MOUNT_HOST: how = fmt::format(": bind of the host's {} ({})", printable(m.host_path()), m.external()); break;
      case img::MOUNT_INHERITED: how = ": inherited from the host"; break;
      default: how = m.external_bind() ? " external-bind" : ""; break;
    }
    t.line(2, "{} (parent {}) {} type {} from {} root {} {}{}{}", m.mount_id(), m.parent_id(), printable(m.mountpoint()),
           printable(m.fstype()), printable(m.source()), printable(m.root()), printable(m.mount_options()), prop, how);
  }
}

void describe_thread(Text& t, int indent, const img::Thread& th) {
  std::string where;
  if (th.regs().size() == sizeof(user_regs_struct)) {
    user_regs_struct regs;
    std::memcpy(&regs, th.regs().data(), sizeof regs);
    where = fmt::format(" ip 0x{:x} sp 0x{:x}", regs.rip, regs.rsp);
  } else {
    where = fmt::format(" ({} bytes of registers)", th.regs().size());
  }
  std::string sc = th.syscall().in_syscall()
                       ? fmt::format(", in syscall {} (ret {})", th.syscall().nr(), th.syscall().ret())
                       : "";
  std::string rseq = th.rseq().ptr() ? fmt::format(", rseq 0x{:x}", th.rseq().ptr()) : "";
  t.line(indent, "thread {} '{}'{}{}, sigmask 0x{:x}{}, xstate {} bytes", th.tid(), printable(th.comm()), where, sc,
         th.blocked(), rseq, th.xstate().size());
  if (th.has_sched()) {
    const img::Sched& s = th.sched();
    std::string cpus;
    for (int i = s.cpus_allowed_size() - 1; i >= 0; --i)
      if (!cpus.empty() || s.cpus_allowed(i) || i == 0)
        cpus += cpus.empty() ? fmt::format("{:x}", s.cpus_allowed(i)) : fmt::format("{:016x}", s.cpus_allowed(i));
    static const char* const kPolicies[] = {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "4", "SCHED_IDLE"};
    t.line(indent + 1, "sched {} rt_priority {}{} nice {} cpus {} ioprio 0x{:x}, pdeathsig {}, timer slack {} ns",
           s.policy() < 6 ? std::string(kPolicies[s.policy()]) : std::to_string(s.policy()), s.rt_priority(), s.reset_on_fork() ? " reset-on-fork" : "", s.nice(), cpus, s.ioprio(),
           th.pdeath_signal() ? signal_name(th.pdeath_signal()) : std::string("none"), th.timer_slack_ns());
  }
}

Status describe_mm(Text& t, int indent, const ImageReader& image, const img::Mm& mm) {
  std::optional<img::PagesIndex> ix;
  if (!mm.pages_index().empty()) ix = TRY(image.read<img::PagesIndex>(mm.pages_index(), img::KIND_PAGES_INDEX));
  uint64_t stored = ix ? ix->total_size() / kPageSize : 0;
  t.line(indent, "memory: {} areas, {} pages in the store ({}), exe {}", mm.areas_size(), stored,
         human_size(stored * kPageSize), printable(mm.exe_path()));
  t.line(indent + 1, "code 0x{:x}-0x{:x} data 0x{:x}-0x{:x} brk 0x{:x}-0x{:x} stack 0x{:x}", mm.start_code(),
         mm.end_code(), mm.start_data(), mm.end_data(), mm.start_brk(), mm.brk(), mm.start_stack());
  for (const img::VmArea& a : mm.areas()) {
    std::string what = !a.name().empty() ? printable(a.name()) : printable(a.path());
    if (!a.path().empty() && !a.name().empty()) what += " " + printable(a.path());
    if (a.flags() & img::VMA_FILE) what += fmt::format(" @0x{:x}", a.offset());
    t.line(indent + 1, "0x{:x}-0x{:x} {} {:>8} pages {:>8} stored  {} {}", a.start(), a.end(), prot_string(a),
           (a.end() - a.start()) / kPageSize, ix ? pages_in(ix->runs(), a.start(), a.end()) : 0,
           vma_flags(a.flags()), what);
    // Copy-on-write sharing with the parent task (PagesIndex.parent_runs).
    if (const uint64_t n = ix ? pages_in(ix->parent_runs(), a.start(), a.end()) : 0)
      t.line(indent + 2, "{} pages shared with the parent task (in an ancestor's store)", n);
    if (a.has_unsupported()) describe_unsupported(t, indent + 2, a.unsupported());
  }
  return {};
}

void describe_inet(Text& t, int indent, const img::InetSocket& s) {
  SocketList one;
  img::Files alone;
  img::Fd* fd = alone.add_fds();
  fd->set_kind(img::FD_INET_SOCKET);
  *fd->mutable_inet() = s;
  one.add(0, alone);
  t.line(indent, "{}, {} option(s) recorded", socket_text(one.sockets().front()), s.options_size());
  if (s.has_tcp()) {
    const img::TcpConnection& c = s.tcp();
    t.line(indent, "seq send {} recv {}; send queue {} bytes ({} never sent), receive queue {} bytes", c.send_seq(),
           c.recv_seq(), c.send_queue().size(), c.unsent(), c.recv_queue().size());
    t.line(indent, "mss {}{}{}{}; window snd {} rcv {}", c.mss(),
           c.wscale() ? fmt::format(", wscale {}/{}", c.snd_wscale(), c.rcv_wscale()) : std::string(),
           c.timestamps() ? ", timestamps" : "", c.sack() ? ", SACK" : "", c.snd_wnd(), c.rcv_wnd());
  }
}

void describe_files(Text& t, int indent, const img::Files& files) {
  t.line(indent, "fds ({}):", files.fds_size());
  for (const img::Fd& fd : files.fds()) {
    t.line(indent + 1, "{:>3} {} {} flags 0{:o} pos {}{}{}", fd.fd(), enum_word(img::FdKind_Name(fd.kind()), "FD_"),
           printable(fd.path()), fd.flags(), fd.pos(), fd.cloexec() ? " cloexec" : "",
           fd.ofd_id() ? fmt::format(" ofd {}", fd.ofd_id()) : "");
    if (fd.has_unsupported()) describe_unsupported(t, indent + 2, fd.unsupported());
    if (fd.kind() == img::FD_TTY && fd.console())
      t.line(indent + 2, "the container's console{}: {}x{}, {} bytes of input unread, {} of output",
             fd.tty().controlling() ? fmt::format(" (controlling terminal, foreground group {})",
                                                  fd.tty().foreground_pgrp())
                                    : "",
             fd.tty().rows(), fd.tty().cols(), fd.tty().to_slave().size(), fd.tty().to_master().size());
    if (fd.kind() == img::FD_TTY && fd.tty().dev_tty()) t.line(indent + 2, "opened through /dev/tty");
    if (fd.kind() == img::FD_EVENTFD)
      t.line(indent + 2, "count {}{}", fd.eventfd().count(), fd.eventfd().semaphore() ? " (EFD_SEMAPHORE)" : "");
    if (fd.kind() == img::FD_TIMERFD)
      t.line(indent + 2, "clock {}, {} {} ns, interval {} ns, {} unread expirations{}", fd.timerfd().clockid(),
             (fd.timerfd().settime_flags() & 1) ? "expires at" : "left", fd.timerfd().value_ns(),
             fd.timerfd().interval_ns(), fd.timerfd().ticks(),
             (fd.timerfd().settime_flags() & 2) ? ", TFD_TIMER_CANCEL_ON_SET" : "");
    if (fd.kind() == img::FD_SIGNALFD) t.line(indent + 2, "mask {:#x}", fd.signalfd().mask());
    for (const img::EpollTarget& e : fd.epoll().targets())
      t.line(indent + 2, "watch fd {} events {:#x} data {:#x}{}{}", e.tfd(), e.events(), e.data(),
             e.source_fd() != e.tfd() ? fmt::format(" (description of fd {})", e.source_fd()) : "",
             e.fire_to_disable() ? " (fired EPOLLONESHOT)" : "");
    if (fd.owner() || fd.signal())
      t.line(indent + 2, "SIGIO owner {} {}, sends {}",
             fd.owner_type() == 0 ? "thread" : fd.owner_type() == 1 ? "process" : "process group", fd.owner(),
             fd.signal() ? signal_name(fd.signal()) : std::string("SIGIO"));
    for (const img::FileLock& l : fd.locks())
      t.line(indent + 2, "lock: {} {}{}{}", enum_word(img::FileLockKind_Name(l.kind()), "FILE_LOCK_"),
             l.write() ? "write" : "read",
             l.kind() == img::FILE_LOCK_FLOCK
                 ? std::string()
                 : fmt::format(" bytes {}-{}", l.start(), l.len() ? std::to_string(l.start() + l.len() - 1) : "EOF"),
             l.after_mm() ? " (taken after the mappings)" : "");
    if (fd.kind() == img::FD_INET_SOCKET) describe_inet(t, indent + 2, fd.inet());
    if (fd.kind() == img::FD_UNIX_SOCKET) {
      SocketList one;
      img::Files alone;
      *alone.add_fds() = fd;
      one.add(0, alone);
      t.line(indent + 2, "{}", socket_text(one.sockets().front()));
    }
    if (fd.kind() == img::FD_EXTERNAL)
      t.line(indent + 2, "declared external {}: not in the image, handed in at restore", printable(fd.external()));
    for (const img::InotifyWatch& w : fd.inotify().watches())
      t.line(indent + 2, "inotify watch {}: {} mask 0x{:x} (inode {})", w.wd(), printable(w.path()), w.mask(), w.ino());
  }
  for (const img::Pipe& p : files.pipes())
    t.line(indent + 1, "pipe:[{}] size {}, {} bytes unread{}", p.id(), p.size(), p.data().size(),
           p.no_writer() ? ", write end closed" : p.no_reader() ? ", read end closed" : "");
}

// The sockets of every task of the tree (a task sharing another's fd
// table has none of its own).
Result<SocketList> collect_sockets(const ImageReader& image, const img::ProcessTree& tree) {
  SocketList out;
  for (const img::TaskRef& r : tree.tasks()) {
    if (r.zombie() || !image.find(files_path(r.pid()))) continue;
    img::Files files = TRY(image.read<img::Files>(files_path(r.pid()), img::KIND_FILES));
    out.add(r.pid(), files);
  }
  return out;
}

Status describe_task(Text& t, int indent, const ImageReader& image, pid_t pid) {
  img::Task task = TRY(image.read<img::Task>(task_path(pid), img::KIND_TASK));
  if (task.pid() != pid)
    return bad_input("{}: corrupt: holds task {}, not {}", image.path(task_path(pid)), task.pid(), pid);
  t.line(indent, "{} '{}': ppid {} pgid {} sid {}, {}{}", pid, printable(task.comm()), task.ppid(), task.pgid(),
         task.sid(), enum_word(img::TaskState_Name(task.state()), "TASK_"),
         task.state() == img::TASK_ZOMBIE ? fmt::format(" (exit status {})", task.exit_code()) : "");
  int in = indent + 1;
  for (const img::Thread& th : task.threads()) describe_thread(t, in, th);
  t.line(in, "cwd {}, root {}, umask {:03o}, {} rlimits", printable(task.cwd()), printable(task.root()), task.umask(),
         task.rlimits_size());
  std::string handlers;
  for (const img::SigAction& sa : task.sigactions()) {
    if (!handlers.empty()) handlers += ", ";
    handlers += signal_name(sa.signo());
    handlers += sa.handler() == 1 ? " ignored" : fmt::format(" -> 0x{:x}", sa.handler());
  }
  if (!handlers.empty()) t.line(in, "signal handlers: {}", handlers);
  t.line(in, "{}oom_score_adj {}, loginuid {}, subreaper {}, THP disable {}, membarrier registrations 0x{:x}",
         task.stopped() ? "stopped (job control), " : "", task.oom_score_adj(),
         task.has_loginuid() ? std::to_string(task.loginuid()) : std::string("none"), task.child_subreaper() ? "yes" : "no",
         task.thp_disable(), task.membarrier_registered());
  for (const img::PosixTimer& pt : task.posix_timers()) {
    const bool thread = (pt.notify() & SIGEV_THREAD_ID) != 0;
    t.line(in, "POSIX timer {}: clock {}, {}{}, value 0x{:x}, interval {} ns, {}", pt.id(), pt.clock(),
           pt.notify() == SIGEV_NONE ? std::string("no signal") : signal_name(static_cast<uint32_t>(pt.signo())),
           thread ? fmt::format(" to thread {}", pt.thread()) : "", pt.value(), pt.interval_ns(),
           pt.remaining_ns() ? fmt::format("{} ns left", pt.remaining_ns()) : std::string("disarmed"));
  }

  if (task.mm_shared_with()) {
    t.line(in, "memory: shared with task {}", task.mm_shared_with());
  } else if (image.find(mm_path(pid))) {
    img::Mm mm = TRY(image.read<img::Mm>(mm_path(pid), img::KIND_MM));
    TRY(describe_mm(t, in, image, mm));
  }
  if (task.files_shared_with()) {
    t.line(in, "fds: shared with task {}", task.files_shared_with());
  } else if (image.find(files_path(pid))) {
    img::Files files = TRY(image.read<img::Files>(files_path(pid), img::KIND_FILES));
    describe_files(t, in, files);
  }
  for (const img::Unsupported& u : task.unsupported()) describe_unsupported(t, in, u);
  return {};
}

// Parents before children, children indented under their parent. Iterative:
// a process chain may be deeper than the stack likes.
Status describe_tree(Text& t, const ImageReader& image, const img::ProcessTree& tree) {
  std::map<int32_t, std::vector<int32_t>> children;
  std::vector<int32_t> roots;
  std::map<int32_t, bool> listed;
  for (const img::TaskRef& r : tree.tasks()) listed[r.pid()] = true;
  for (const img::TaskRef& r : tree.tasks()) {
    if (r.ppid() != 0 && listed.contains(r.ppid()) && r.ppid() != r.pid()) children[r.ppid()].push_back(r.pid());
    else roots.push_back(r.pid());
  }
  t.line(0, "process tree ({} tasks, init {}):", tree.tasks_size(), tree.init_pid());
  std::vector<std::pair<int32_t, int>> stack;
  for (auto it = roots.rbegin(); it != roots.rend(); ++it) stack.emplace_back(*it, 1);
  std::map<int32_t, bool> done;
  while (!stack.empty()) {
    auto [pid, depth] = stack.back();
    stack.pop_back();
    if (done[pid]) return bad_input("{}: corrupt: task {} appears twice in the process tree", image.path(container_path()), pid);
    done[pid] = true;
    TRY(describe_task(t, depth, image, pid));
    auto& kids = children[pid];
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack.emplace_back(*it, depth + 1);
  }
  return {};
}

}  // namespace

Result<std::string> describe_text(const ImageReader& image) {
  Text t;
  const img::Inventory& inv = image.inventory();
  uint64_t page_bytes = 0;
  for (const img::FileEntry& f : inv.files())
    if (f.kind() == img::KIND_PAGES_DATA) page_bytes += f.size();
  t.line(0, "image {}", image.dir());
  t.line(1, "amber {}, created {}, kernel {}, page size {}", inv.amber_version(), time_utc(inv.created()),
         inv.kernel_release(), inv.page_size());
  t.line(1, "{} files besides the inventory, {} of page data", inv.files_size(), human_size(page_bytes));
  // Only an image whose tag verified is shown at all (ImageReader::open).
  t.line(1, "authenticated with this key: metadata by HMAC-SHA256, {}", image.data_tagged()
                                                                          ? "data by a GMAC tag per 1 MiB chunk"
                                                                          : "data NOT (AMBER_INSECURE_NO_AUTH)");
  if (inv.has_dump_stats()) {
    const img::DumpStats& d = inv.dump_stats();
    t.line(1, "dump: {} processes, {} threads, took {:.1f} ms, container frozen {:.1f} ms", d.processes(),
           d.threads(), static_cast<double>(d.duration_us()) / 1000, static_cast<double>(d.frozen_us()) / 1000);
  }

  if (image.find(container_path())) {
    img::Container c = TRY(image.read<img::Container>(container_path(), img::KIND_CONTAINER));
    std::string cmd;
    for (const std::string& arg : c.command()) cmd += (cmd.empty() ? "" : " ") + printable(arg);
    t.line(0, "container '{}'", c.name());
    t.line(1, "command: {}", cmd);
    if (!c.cgroup().empty()) t.line(1, "cgroup: {}", printable(c.cgroup()));
    if (c.has_log()) t.line(1, "log: {} bytes in {}", c.log().size(), c.log().data_file());
    describe_namespaces(t, c.namespaces());
    if (c.externals_size() > 0) {
      t.line(1, "declared externals ({}), not in the image:", c.externals_size());
      for (const std::string& l : external_lines(c)) t.line(2, "{}", l);
    }
    for (const img::Unsupported& u : c.unsupported()) describe_unsupported(t, 1, u);
    SocketList sockets = TRY(collect_sockets(image, c.tree()));
    t.line(1, "sockets ({}):", sockets.sockets().size());
    for (const SocketSummary& so : sockets.sockets()) t.line(2, "task {} fd {}: {}", so.task, so.fd, socket_text(so));
    TRY(describe_tree(t, image, c.tree()));
  } else {
    // No container (a partial image, or one made by a test): every task flat.
    for (const img::FileEntry& f : inv.files()) {
      if (f.kind() != img::KIND_TASK) continue;
      img::Task task = TRY(image.read<img::Task>(f.path(), img::KIND_TASK));
      if (f.path() != task_path(task.pid())) {
        t.line(0, "task file {} (task {})", f.path(), task.pid());
        continue;
      }
      TRY(describe_task(t, 0, image, task.pid()));
    }
  }
  t.line(0, "files:");
  for (const img::FileEntry& f : inv.files())
    t.line(1, "{:<12} {:>12}  {}", kind_name(f.kind()), f.size(), f.path());
  return t.take();
}

namespace {

Result<std::string> to_json(const google::protobuf::Message& msg, const std::string& what) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(msg, &out, opts);
  if (!st.ok()) return failf("{}: cannot render as JSON: {}", what, st.ToString());
  return out;
}

}  // namespace

Result<std::string> describe_json(const ImageReader& image) {
  std::string out = "{\"inventory\":";
  out += TRY(to_json(image.inventory(), image.path(kInventoryFile)));
  out += ",\"files\":{";
  bool first = true;
  for (const img::FileEntry& f : image.inventory().files()) {
    std::unique_ptr<google::protobuf::Message> msg = new_message(f.kind());
    if (!msg) continue;  // raw page data, or a kind validate() refuses
    TRY(image.read_message(f.path(), f.kind(), *msg));
    if (!first) out += ',';
    first = false;
    out += json_quote(f.path());
    out += ':';
    out += TRY(to_json(*msg, image.path(f.path())));
  }
  out += '}';
  // What a reader wants without decoding the messages: the externals a
  // restore needs, every socket, the net namespace.
  if (image.find(container_path())) {
    img::Container c = TRY(image.read<img::Container>(container_path(), img::KIND_CONTAINER));
    std::vector<std::string> ext;
    for (const img::External& e : c.externals()) ext.push_back(json_quote(seal::External{e.kind(), e.value()}.spec()));
    SocketList sockets = TRY(collect_sockets(image, c.tree()));
    std::vector<std::string> socks;
    for (const SocketSummary& so : sockets.sockets()) socks.push_back(socket_json(so));
    out += fmt::format(",\"summary\":{{\"externals\":[{}],\"sockets\":[{}],\"net\":{}}}", fmt::join(ext, ","),
                       fmt::join(socks, ","),
                       c.namespaces().has_net_ns() ? net_json(c.namespaces().net_ns()) : std::string("null"));
  }
  out += "}\n";
  return out;
}

}  // namespace amber::image
