// Pseudo-terminal pairs of the container's own devpts instance (amber's
// containers mount one at /dev/pts, /dev/ptmx -> pts/ptmx): master (ptmx)
// and slave (/dev/pts/N) ends, both inside the container.
//
// Dump: each end is recognised by its device (ptmx 5:2, slaves 136-143:N);
// link_ptys() then takes one copy of the master (pidfd_getfd) and of a slave
// if some task holds one, and reads the pair's state: termios2, window size,
// packet mode, lock, exclusive, and the unread data of both directions. A
// tty cannot be peeked: the data is read and at once put back (TIOCSTI, one
// byte at a time, synchronous, with input processing and echo off) while the
// container is held, so a dump that fails later, or --leave-running, finds
// the queues as they were. Restore makes the pair again in one process (the
// common creator of every holder of either end, shared.h) and gets the same
// index: devpts hands out the lowest free index, so ptmx is opened until the
// index is the one wanted, and the extras are closed.
//
// The session's controlling terminal: the leader takes it (TIOCSCTTY) right
// after its setsid and before it forks the other members (a process gets its
// controlling tty at fork, from its parent); the foreground process group is
// set once every task exists (TIOCSPGRP by remote ioctl from the leader, with
// its signals blocked, so SIGTTOU does not stop it).
//
// The console of a --tty container (a pty of the host's devpts whose
// master is the shim's) and fds opened through /dev/tty: console.cpp and
// dump_dev_tty below; link_ptys reads the console's state too.
//
// Not seen: input a master wrote to a slave nobody ever opened (no fd of the
// slave exists, and opening one would change the pair: its last close makes
// the master read EIO); a line ended by VEOF in canonical mode comes back
// without its boundary (VEOF is not stored in the queue).
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
// struct termios2 and TCGETS2/TCSETS2: the kernel's, not glibc's termios.
#include <asm/termbits.h>

#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "sys/pidfd.h"

namespace amber::kinds::files {

namespace {

constexpr unsigned kPtmxMajor = 5, kPtmxMinor = 2;
// UNIX98_PTY_SLAVE_MAJOR, 8 majors of 256 minors (UNIX98_PTY_MAJOR_COUNT).
constexpr unsigned kSlaveMajor = 136, kSlaveMajors = 8;
// N_TTY_BUF_SIZE: the line discipline's read buffer. A queue this full may
// have more waiting in the flip buffers: refused rather than half-read.
constexpr size_t kLdiscBuf = 4096;

// /dev/tty: opening it gives a description of the opener's controlling terminal.
const dev_t kDevTty = makedev(5, 0);

bool is_slave_rdev(dev_t rdev) { return major(rdev) >= kSlaveMajor && major(rdev) < kSlaveMajor + kSlaveMajors; }
uint32_t slave_index(dev_t rdev) { return (major(rdev) - kSlaveMajor) * 256 + minor(rdev); }

Result<uint32_t> master_index(const FdProbe& p) {
  for (const auto& [k, v] : p.info.fields)
    if (k == "tty-index") {
      char* end = nullptr;
      unsigned long n = std::strtoul(v.c_str(), &end, 10);
      if (end == v.c_str()) break;
      return static_cast<uint32_t>(n);
    }
  return failf("{}: no tty-index in its fdinfo", p.link);
}

Status ioctl_checked(int fd, unsigned long req, void* arg, const char* what) {
  if (::ioctl(fd, req, arg) != 0) return sys_fail("{}", what);
  return {};
}

// The termios under which bytes pushed with TIOCSTI land in the queue as
// they are: no input mapping, no echo, no signals, no special character but
// the line ends (canonical mode keeps its lines). NUL disables a control
// character (n_tty never treats __DISABLED_CHAR as special).
termios2 storing(termios2 t) {
  t.c_iflag &= ~static_cast<tcflag_t>(ICRNL | INLCR | IGNCR | ISTRIP | IUCLC | IXON | IXOFF | IMAXBEL | BRKINT |
                                      PARMRK | INPCK);
  t.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE | ECHOPRT | ISIG | IEXTEN);
  for (int c : {VINTR, VQUIT, VERASE, VKILL, VEOF, VSTART, VSTOP, VSUSP, VREPRINT, VDISCARD, VWERASE, VLNEXT})
    t.c_cc[c] = 0;
  return t;
}

// Pushes `data` into the input queue of the tty behind `fd`, through its
// line discipline with the current termios (synchronous, unlike a write to
// the other end, which reaches the queue later from a kworker).
Status push_input(int fd, const std::string& data) {
  for (char c : data)
    if (::ioctl(fd, TIOCSTI, &c) != 0) return sys_fail("TIOCSTI");
  return {};
}

// Reads everything queued for `fd` (non-canonical, VMIN 0 set by the
// caller, or the raw master): FIONREAD, read, and a short grace for data
// still in the flip buffers.
Result<std::string> drain(int fd) {
  std::string out;
  for (int idle = 0; idle < 3;) {
    int queued = 0;
    if (::ioctl(fd, FIONREAD, &queued) != 0) return sys_fail("FIONREAD");
    if (queued == 0) {
      pollfd p{fd, POLLIN, 0};
      (void)::poll(&p, 1, 5);
      ++idle;
      continue;
    }
    idle = 0;
    std::string buf(static_cast<size_t>(queued), '\0');
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) return sys_fail("read");
    out.append(buf.data(), static_cast<size_t>(n));
    if (out.size() >= kLdiscBuf) return unsupported("more than {} bytes unread: not supported yet", kLdiscBuf - 1);
  }
  return out;
}

void put_termios(img::Tty& t, const termios2& k) {
  t.set_iflag(k.c_iflag);
  t.set_oflag(k.c_oflag);
  t.set_cflag(k.c_cflag);
  t.set_lflag(k.c_lflag);
  t.set_line(k.c_line);
  t.set_cc(std::string(reinterpret_cast<const char*>(k.c_cc), sizeof k.c_cc));
  t.set_ispeed(k.c_ispeed);
  t.set_ospeed(k.c_ospeed);
}

Result<termios2> get_termios(const img::Tty& t) {
  termios2 k{};
  if (t.cc().size() != sizeof k.c_cc) return bad_input("pty {}: {} control characters, want {}", t.index(), t.cc().size(), sizeof k.c_cc);
  k.c_iflag = t.iflag();
  k.c_oflag = t.oflag();
  k.c_cflag = t.cflag();
  k.c_lflag = t.lflag();
  k.c_line = static_cast<cc_t>(t.line());
  std::memcpy(k.c_cc, t.cc().data(), sizeof k.c_cc);
  k.c_ispeed = t.ispeed();
  k.c_ospeed = t.ospeed();
  return k;
}

}  // namespace

// The pair's state through our copies of its master and (if any) a slave;
// both queues read and put back before returning, whatever happens.
Status read_pair(int master, int slave, img::Tty& t) {
  termios2 tio{};
  TRY(ioctl_checked(master, TCGETS2, &tio, "TCGETS2"));
  put_termios(t, tio);
  winsize ws{};
  TRY(ioctl_checked(master, TIOCGWINSZ, &ws, "TIOCGWINSZ"));
  t.set_rows(ws.ws_row);
  t.set_cols(ws.ws_col);
  t.set_xpixel(ws.ws_xpixel);
  t.set_ypixel(ws.ws_ypixel);
  int v = 0;
  TRY(ioctl_checked(master, TIOCGPKT, &v, "TIOCGPKT"));
  t.set_packet_mode(v != 0);
  TRY(ioctl_checked(master, TIOCGPTLCK, &v, "TIOCGPTLCK"));
  t.set_locked(v != 0);
  pollfd p{master, POLLIN | POLLPRI, 0};
  if (::poll(&p, 1, 0) < 0) return sys_fail("poll the master");
  if (t.packet_mode() && (p.revents & POLLPRI))
    return unsupported("a packet-mode status change the master has not read: not supported yet");
  // A slave fd of the container, else a temporary one if every slave fd was
  // closed already (our open and close leave the pair as it was).
  UniqueFd temp_slave;
  if (slave < 0 && (p.revents & POLLHUP)) {
    t.set_slave_closed(true);
    if (!t.locked()) {
      int s = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (s < 0) return sys_fail("TIOCGPTPEER");
      temp_slave = UniqueFd(s);
      slave = s;
    }
  }
  if (slave >= 0 && !temp_slave) {
    TRY(ioctl_checked(slave, TIOCGEXCL, &v, "TIOCGEXCL"));
    t.set_exclusive(v != 0);
  }

  // Slave -> master: the master's own queue (its termios is raw, fixed).
  // Packet mode off while reading (no status is pending: checked above).
  if (t.packet_mode()) TRY(ioctl_checked(master, TIOCPKT, &(v = 0), "TIOCPKT"));
  auto to_master = drain(master);
  Status back = to_master ? push_input(master, *to_master) : Status{};
  if (t.packet_mode()) TRY(ioctl_checked(master, TIOCPKT, &(v = 1), "TIOCPKT"));
  TRY_CTX(std::move(back), "put the master's unread data back");
  t.set_to_master(TRY_CTX(std::move(to_master), "the master's unread data"));

  // Master -> slave: readable at once in non-canonical mode (switching
  // ICANON off makes a partial line readable too); put back in the mode it
  // had, so canonical lines stay lines.
  if (slave < 0) return {};
  termios2 raw = tio;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  TRY(ioctl_checked(slave, TCSETS2, &raw, "TCSETS2 (to read the slave's input)"));
  auto to_slave = drain(slave);
  termios2 store = storing(tio);
  Status st = ioctl_checked(slave, TCSETS2, &store, "TCSETS2");
  if (st && to_slave) st = push_input(slave, *to_slave);
  Status last = ioctl_checked(slave, TCSETS2, &tio, "TCSETS2");
  if (st) st = std::move(last);
  TRY_CTX(std::move(st), "put the slave's unread input back");
  t.set_to_slave(TRY_CTX(std::move(to_slave), "the slave's unread input"));
  return {};
}

Status put_pair_state(int master, int slave, const img::Tty& t) {
  const termios2 tio = TRY(get_termios(t));
  if (!t.to_slave().empty() && slave < 0)
    return bad_input("pty {}: unread input for a slave that is not open", t.index());
  termios2 store = storing(tio);
  TRY_CTX(ioctl_checked(master, TCSETS2, &store, "TCSETS2"), "pty {}", t.index());
  if (!t.to_slave().empty()) TRY_CTX(push_input(slave, t.to_slave()), "pty {}: the slave's unread input", t.index());
  TRY_CTX(ioctl_checked(master, TCSETS2, const_cast<termios2*>(&tio), "TCSETS2"), "pty {}", t.index());
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(t.rows());
  ws.ws_col = static_cast<unsigned short>(t.cols());
  ws.ws_xpixel = static_cast<unsigned short>(t.xpixel());
  ws.ws_ypixel = static_cast<unsigned short>(t.ypixel());
  TRY_CTX(ioctl_checked(master, TIOCSWINSZ, &ws, "TIOCSWINSZ"), "pty {}", t.index());
  TRY_CTX(push_input(master, t.to_master()), "pty {}: the master's unread data", t.index());
  return {};
}

bool is_pty(const FdProbe& p) {
  return S_ISCHR(p.st.st_mode) &&
         (p.st.st_rdev == makedev(kPtmxMajor, kPtmxMinor) || is_slave_rdev(p.st.st_rdev) || p.st.st_rdev == kDevTty);
}

namespace {

// /dev/tty: restored by opening /dev/tty in the task, which has its
// controlling terminal back by then (the leader takes it before forking
// the session): only right if the terminal the fd reaches is the task's
// controlling terminal now. TIOCGDEV and tty_nr are both the kernel's
// new_encode_dev of the terminal's device.
Status dump_dev_tty(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  UniqueFd pidfd = TRY(sys::pidfd_open(ctx.pid));
  UniqueFd copy = TRY(sys::pidfd_getfd(pidfd.get(), p.fd));
  unsigned int dev = 0;
  if (::ioctl(copy.get(), TIOCGDEV, &dev) != 0) return sys_fail("/dev/tty: its terminal (TIOCGDEV)");
  const sys::ProcStat st = TRY(sys::read_stat(ctx.pid));
  if (st.tty_nr == 0 || static_cast<unsigned int>(st.tty_nr) != dev)
    return unsupported("/dev/tty of terminal {}:{}, not the task's controlling terminal: not supported yet",
                       major(static_cast<dev_t>(dev)), minor(static_cast<dev_t>(dev)));
  if (!is_slave_rdev(static_cast<dev_t>(dev)))
    return unsupported("/dev/tty of terminal {}:{}, not a pty: not supported yet", major(static_cast<dev_t>(dev)),
                       minor(static_cast<dev_t>(dev)));
  out.set_kind(img::FD_TTY);
  out.set_path("/dev/tty");
  out.set_pos(0);
  out.mutable_tty()->set_dev_tty(true);
  out.mutable_tty()->set_index(slave_index(static_cast<dev_t>(dev)));
  return {};
}

}  // namespace

Status dump_pty(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  if (p.st.st_rdev == kDevTty) return dump_dev_tty(p, ctx, out);
  out.set_kind(img::FD_TTY);
  out.set_path(p.link);
  out.set_pos(0);
  img::Tty* t = out.mutable_tty();
  if (is_slave_rdev(p.st.st_rdev)) {
    t->set_index(slave_index(p.st.st_rdev));
    // The console: the same device on the same (the host's) devpts.
    if (ctx.console && p.st.st_dev == ctx.console->dev && p.st.st_rdev == ctx.console->rdev) out.set_console(true);
    return {};
  }
  t->set_master(true);
  t->set_index(TRY(master_index(p)));
  return {};
}

Status link_ptys(std::vector<TaskFds>& tasks) {
  struct End {
    size_t task;
    int i;  // index in files.fds
  };
  struct Pair {
    std::vector<End> masters, slaves;
  };
  // By index: the image has one devpts instance (the container's). Every
  // slave shows it as its st_dev; a master only if opened through
  // /dev/pts/ptmx (a /dev/ptmx node lives on /dev's filesystem).
  std::map<std::pair<int, uint32_t>, Pair> pairs;
  std::vector<End> consoles;  // slave fds of the console (Fd.console)
  std::optional<dev_t> devpts;
  for (size_t ti = 0; ti < tasks.size(); ++ti)
    for (int i = 0; i < tasks[ti].files.fds_size(); ++i) {
      const img::Fd& f = tasks[ti].files.fds(i);
      if (f.kind() != img::FD_TTY || f.tty().dev_tty()) continue;
      if (f.console()) {
        consoles.push_back({ti, i});
        continue;
      }
      if (!f.tty().master()) {
        const dev_t d = tasks[ti].probes[static_cast<size_t>(i)].st.st_dev;
        if (devpts && *devpts != d)
          return unsupported("task {}: fd {}: {}: a pty of a second devpts instance: not supported yet",
                             tasks[ti].ctx.vpid, f.fd(), f.path());
        devpts = d;
      }
      Pair& pr = pairs[{0, f.tty().index()}];
      (f.tty().master() ? pr.masters : pr.slaves).push_back({ti, i});
    }
  for (auto& [key, pr] : pairs) {
    auto fd_of = [&](const End& e) -> img::Fd& { return *tasks[e.task].files.mutable_fds(e.i); };
    auto who = [&](const End& e) {
      return fmt::format("task {}: fd {}: {}", tasks[e.task].ctx.vpid, fd_of(e).fd(), fd_of(e).path());
    };
    if (pr.masters.empty())
      return unsupported("{} (pty slave {}): its master is closed or not in the container: not supported yet",
                         who(pr.slaves.front()), key.second);
    const End& m = pr.masters.front();
    UniqueFd mpid = TRY_CTX(sys::pidfd_open(tasks[m.task].ctx.pid), "task {}", tasks[m.task].ctx.vpid);
    UniqueFd master = TRY_CTX(sys::pidfd_getfd(mpid.get(), fd_of(m).fd()), "{}", who(m));
    UniqueFd slave;
    if (!pr.slaves.empty()) {
      const End& s = pr.slaves.front();
      UniqueFd spid = TRY_CTX(sys::pidfd_open(tasks[s.task].ctx.pid), "task {}", tasks[s.task].ctx.vpid);
      slave = TRY_CTX(sys::pidfd_getfd(spid.get(), fd_of(s).fd()), "{}", who(s));
    }
    img::Tty state;
    TRY_CTX(read_pair(master.get(), slave.get(), state), "{} (pty master {})", who(m), key.second);
    for (const End& e : pr.masters) {
      img::Tty* t = fd_of(e).mutable_tty();
      const uint32_t index = t->index();
      *t = state;
      t->set_index(index);
      t->set_master(true);
    }
  }
  // The console: its master is the shim's (amber's), its pair state is
  // read through a copy of it and of one console fd of the container, and
  // recorded on every console fd. TIOCGSID on the master names the session
  // whose controlling terminal it is (a pty's tty_nr alone cannot tell the
  // console from a pty of the container's devpts with the same index).
  const ConsoleRef* console = tasks.empty() ? nullptr : tasks.front().ctx.console;
  pid_t console_session = 0;  // as amber sees it
  if (console) {
    UniqueFd shim = TRY_CTX(sys::pidfd_open(console->holder), "the container's console: its shim {}", console->holder);
    UniqueFd master = TRY_CTX(sys::pidfd_getfd(shim.get(), console->master_fd), "the container's console: its master");
    pid_t sid = 0;
    if (::ioctl(master.get(), TIOCGSID, &sid) == 0) console_session = sid;
    else if (errno != ENOTTY) return sys_fail("the container's console: its session (TIOCGSID)");
    if (!consoles.empty()) {
      auto fd_of = [&](const End& e) -> img::Fd& { return *tasks[e.task].files.mutable_fds(e.i); };
      const End& s = consoles.front();
      const std::string who = fmt::format("task {}: fd {}: {} (the container's console)", tasks[s.task].ctx.vpid,
                                          fd_of(s).fd(), fd_of(s).path());
      UniqueFd spid = TRY_CTX(sys::pidfd_open(tasks[s.task].ctx.pid), "task {}", tasks[s.task].ctx.vpid);
      UniqueFd slave = TRY_CTX(sys::pidfd_getfd(spid.get(), fd_of(s).fd()), "{}", who);
      img::Tty state;
      TRY_CTX(read_pair(master.get(), slave.get(), state), "{}", who);
      if (state.packet_mode() || state.locked())
        return unsupported("{}: its master was put in packet mode or locked: not supported yet", who);
      for (const End& e : consoles) {
        img::Tty* t = fd_of(e).mutable_tty();
        const uint32_t index = t->index();
        *t = state;
        t->set_index(index);
      }
    }
  }

  // Controlling terminals: recorded on the session leader's slave fd. The
  // restore gives it to every member of the session (they are forked after
  // the leader takes it): a member without it, or with another, is refused.
  std::vector<sys::ProcStat> stats;
  std::map<pid_t, int> session_tty;  // leader's host pid -> its tty_nr
  for (TaskFds& t : tasks) {
    stats.push_back(TRY_CTX(sys::read_stat(t.ctx.pid), "task {}", t.ctx.vpid));
    if (stats.back().session == t.ctx.pid) session_tty[t.ctx.pid] = stats.back().tty_nr;
  }
  for (size_t ti = 0; ti < tasks.size(); ++ti) {
    TaskFds& t = tasks[ti];
    const sys::ProcStat& st = stats[ti];
    auto leader = session_tty.find(st.session);
    const int expected = leader == session_tty.end() ? 0 : leader->second;
    if (st.tty_nr != expected)
      return unsupported("task {}: controlling terminal {}:{} unlike its session leader's ({}:{}): not supported yet",
                         t.ctx.vpid, major(static_cast<dev_t>(st.tty_nr)), minor(static_cast<dev_t>(st.tty_nr)),
                         major(static_cast<dev_t>(expected)), minor(static_cast<dev_t>(expected)));
    if (st.tty_nr == 0) continue;
    const dev_t tty = static_cast<dev_t>(st.tty_nr);
    if (st.session != t.ctx.pid) continue;  // the leader records it for its session
    if (!is_slave_rdev(tty))
      return unsupported("task {}: its controlling terminal {}:{} is not a pty of the container: not supported yet",
                         t.ctx.vpid, major(tty), minor(tty));
    const bool on_console = console && console_session == t.ctx.pid && tty == console->rdev;
    img::Fd* held = nullptr;
    for (img::Fd& f : *t.files.mutable_fds())
      if (f.kind() == img::FD_TTY && !f.tty().dev_tty() && !f.tty().master() && f.console() == on_console &&
          (on_console || f.tty().index() == slave_index(tty))) {
        held = &f;
        break;
      }
    if (!held && on_console)
      return unsupported("task {}: session leader without an fd of its controlling terminal, the container's "
                         "console: not supported yet",
                         t.ctx.vpid);
    if (!held)
      return unsupported("task {}: session leader without an fd of its controlling terminal /dev/pts/{}: not "
                         "supported yet",
                         t.ctx.vpid, slave_index(tty));
    int32_t fg = 0;
    if (st.tpgid > 0) {
      auto it = t.ctx.vpid_of ? t.ctx.vpid_of->find(st.tpgid) : std::map<pid_t, pid_t>::const_iterator{};
      if (!t.ctx.vpid_of || it == t.ctx.vpid_of->end())
        return unsupported("task {}: the foreground process group {} of /dev/pts/{} has no leader in the "
                           "container: not supported yet",
                           t.ctx.vpid, st.tpgid, slave_index(tty));
      fg = it->second;
    }
    held->mutable_tty()->set_controlling(true);
    held->mutable_tty()->set_foreground_pgrp(fg);
  }
  return {};
}

Result<std::vector<std::pair<uint64_t, UniqueFd>>> create_pty(const std::vector<img::Fd>& ends, pid_t creator,
                                                              int floor) {
  const img::Fd* master = nullptr;
  for (const img::Fd& e : ends)
    if (e.tty().master()) {
      if (master) return bad_input("pty {}: two master descriptions", e.tty().index());
      master = &e;
    }
  if (!master) return bad_input("pty {}: no master in the image", ends.front().tty().index());
  const img::Tty& t = master->tty();
  TRY(get_termios(t));  // checked before anything is made
  const int mflags = (static_cast<int>(master->flags()) & ~O_CLOEXEC) | O_NOCTTY | O_CLOEXEC;

  // The lowest free index is handed out: hold the lower ones until ours
  // comes. Another restoring process may hold ours for a moment as one of
  // its extras: then try again.
  UniqueFd m;
  for (int attempt = 0; !m; ++attempt) {
    std::vector<UniqueFd> extras;
    for (;;) {
      UniqueFd f = TRY_CTX(open_fd("/dev/ptmx", mflags), "pty {}", t.index());
      unsigned n = 0;
      TRY(ioctl_checked(f.get(), TIOCGPTN, &n, "TIOCGPTN"));
      if (n == t.index()) {
        m = std::move(f);
        break;
      }
      if (n > t.index()) break;
      extras.push_back(TRY(lift_fd(std::move(f), floor)));
    }
    if (m) break;
    if (attempt >= 2000) return failf("pty {}: devpts does not hand out this index (taken)", t.index());
    extras.clear();
    ::usleep(1000);
  }
  m = TRY(lift_fd(std::move(m), floor));
  int v = 0;
  TRY(ioctl_checked(m.get(), TIOCSPTLCK, &v, "TIOCSPTLCK"));
  std::vector<std::pair<uint64_t, UniqueFd>> out;
  int a_slave = -1;
  for (const img::Fd& e : ends) {
    if (e.tty().master()) continue;
    // TIOCGPTPEER keeps every flag it is given in f_flags (O_CLOEXEC too,
    // which fdinfo would then show on every fd of the description).
    const int sflags = (static_cast<int>(e.flags()) & ~O_CLOEXEC) | O_NOCTTY;
    int s = ::ioctl(m.get(), TIOCGPTPEER, sflags);
    if (s < 0) return sys_fail("pty {}: open the slave (TIOCGPTPEER)", t.index());
    UniqueFd sf(s);
    if (::fcntl(s, F_SETFD, FD_CLOEXEC) != 0) return sys_fail("pty {}: close-on-exec", t.index());
    sf = TRY(lift_fd(std::move(sf), floor));
    a_slave = sf.get();
    out.emplace_back(e.ofd_id(), std::move(sf));
  }
  // Every slave fd was closed after use: one opened and closed again leaves
  // the master in that state (reads EIO once empty).
  UniqueFd temp_slave;
  if (a_slave < 0 && t.slave_closed()) {
    int s = ::ioctl(m.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (s < 0) return sys_fail("pty {}: open the slave (TIOCGPTPEER)", t.index());
    temp_slave = UniqueFd(s);
    a_slave = s;
  }
  TRY(put_pair_state(m.get(), a_slave, t));
  temp_slave.reset();
  if (t.exclusive() && a_slave >= 0) TRY_CTX(ioctl_checked(a_slave, TIOCEXCL, nullptr, "TIOCEXCL"), "pty {}", t.index());
  if (t.packet_mode()) TRY_CTX(ioctl_checked(m.get(), TIOCPKT, &(v = 1), "TIOCPKT"), "pty {}", t.index());
  if (t.locked()) TRY_CTX(ioctl_checked(m.get(), TIOCSPTLCK, &(v = 1), "TIOCSPTLCK"), "pty {}", t.index());
  (void)creator;
  out.emplace_back(master->ofd_id(), std::move(m));
  return out;
}

Result<UniqueFd> open_pty_end(const img::Fd& fd, const OpenContext& ctx) {
  if (fd.tty().dev_tty()) {
    const int flags = (static_cast<int>(fd.flags()) & ~O_CLOEXEC) | O_NOCTTY | O_CLOEXEC;
    return TRY_CTX(sys::open_at(AT_FDCWD, "/dev/tty", flags, sys::kTaskPath),
                   "/dev/tty (the controlling terminal of the task)");
  }
  if (fd.console()) {
    if (ctx.console_fd < 0) return failf("the container's console is needed but none was given");
    if (ctx.console_original) {
      int d = ::fcntl(ctx.console_fd, F_DUPFD_CLOEXEC, 0);
      if (d < 0) return sys_fail("dup the console");
      return UniqueFd(d);
    }
    // Another description of the console (a separate open of /dev/pts/N):
    // O_NOCTTY, the controlling terminal is taken on purpose (TIOCSCTTY).
    const int flags = (static_cast<int>(fd.flags()) & ~O_CLOEXEC) | O_NOCTTY | O_CLOEXEC;
    return open_fd(fmt::format("/proc/self/fd/{}", ctx.console_fd), flags);
  }
  return failf("pty {} end: made with its pair by the creator of its holders, never alone", fd.tty().index());
}

Status verify_pty(const FdProbe& now, const img::Fd& fd) {
  if (!is_pty(now)) return failf("not a pty end any more ({})", now.link);
  if ((now.st.st_rdev == kDevTty) != fd.tty().dev_tty())
    return failf("{} where the image has {}", now.link, fd.tty().dev_tty() ? "/dev/tty" : "a pty end");
  if (fd.tty().dev_tty()) return {};
  const bool master = !is_slave_rdev(now.st.st_rdev);
  if (master != fd.tty().master()) return failf("a pty {} instead of a {}", master ? "master" : "slave", fd.tty().master() ? "master" : "slave");
  // The console is a new pty of the host's devpts: another index.
  const uint32_t index = master ? TRY(master_index(now)) : slave_index(now.st.st_rdev);
  if (!fd.console() && index != fd.tty().index()) return failf("pty index {}, the image has {}", index, fd.tty().index());
  return {};
}

}  // namespace amber::kinds::files

namespace amber::kinds {

Status take_controlling_tty(const img::Files& files, const std::map<uint64_t, int>& inherited, int console_fd) {
  for (const img::Fd& fd : files.fds()) {
    if (fd.kind() != img::FD_TTY || !fd.tty().controlling()) continue;
    if (fd.console()) {
      // Any fd of the new console will do; the leader has its slave.
      if (console_fd < 0) return failf("the container's console: none was given");
      if (::ioctl(console_fd, TIOCSCTTY, 0) != 0)
        return sys_fail("the container's console: take it as controlling terminal (TIOCSCTTY)");
      return {};
    }
    auto it = inherited.find(fd.ofd_id());
    if (it == inherited.end()) return failf("pty {}: the session leader does not have it yet", fd.tty().index());
    if (::ioctl(it->second, TIOCSCTTY, 0) != 0)
      return sys_fail("pty {}: take it as controlling terminal (TIOCSCTTY)", fd.tty().index());
    return {};
  }
  return {};
}

Status restore_tty_foreground(remote::RemoteTask& task, const img::Files& files) {
  for (const img::Fd& fd : files.fds()) {
    if (fd.kind() != img::FD_TTY || !fd.tty().controlling() || fd.tty().foreground_pgrp() <= 0) continue;
    if (!task.has_executor() || task.scratch_size() < sizeof(pid_t))
      return failf("task {}: no scratch area for TIOCSPGRP", task.tgid());
    const pid_t pgrp = fd.tty().foreground_pgrp();
    TRY(task.write(task.scratch_addr(), std::as_bytes(std::span(&pgrp, 1))));
    TRY(task.syscall_checked(fmt::format("pty {}: foreground process group {} (TIOCSPGRP)", fd.tty().index(), pgrp),
                             SYS_ioctl, static_cast<uint64_t>(fd.fd()), TIOCSPGRP, task.scratch_addr()));
  }
  return {};
}

}  // namespace amber::kinds
