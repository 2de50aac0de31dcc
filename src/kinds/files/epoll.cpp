// epoll: every watch (target fd number, events, data), fdinfo's
// "tfd: N events: X data: Y pos: P ino: I sdev: D" lines.
//
// The kernel keys a watch by (description, fd number) and keeps no
// reference on the description: a watch lives as long as its target
// description does, even after the program closed that fd number (having a
// dup elsewhere). The dump finds, with kcmp(KCMP_EPOLL_TFD), the fd of the
// task that holds each target now: tfd itself, or another one; a target
// only other tasks hold is refused. Restore adds the watches once the whole
// fd table is installed (after_install), under their own fd numbers: a
// target held elsewhere is installed at tfd for the epoll_ctl and tfd gets
// back what it holds. An epoll watched by another is filled first
// (install_rank), so that the outer one sees it as it was.
//
// Readiness is not state of the epoll but of its targets, which are
// restored with theirs: epoll_ctl re-polls each target when it adds it. An
// EPOLLONESHOT watch that has fired keeps no event bits (fdinfo shows
// 40000000): epoll_ctl cannot add that (it forces EPOLLERR|EPOLLHUP in), so
// restore adds it with every event bit and lets it fire into an
// epoll_wait, which disables it the kernel's way; that needs its target to
// be ready, which the dump checks (see EpollTarget.fire_to_disable).
// Limits (as CRIU's): an edge-triggered watch whose target is ready reports
// one edge after the restore even if the program had taken it before the
// dump (the kernel does not show whether the edge is still queued; EPOLLET
// programs read until EAGAIN, so it is one more wake-up, never one less).
// An epoll description shared by several tasks (fork after epoll_create) is
// opened empty by their common ancestor (shared.h) and filled by one holder
// whose fd table holds every target (EpollState.added_by); if none does, it
// is refused.
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "base/files.h"
#include "kinds/files/fd_kinds.h"
#include "kinds/files/fdinfo_fields.h"
#include "sys/pidfd.h"

namespace amber::kinds::files {

namespace {

// fs/eventpoll.c EP_PRIVATE_BITS: what a fired EPOLLONESHOT watch keeps.
constexpr uint32_t kPrivateBits = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
constexpr uint32_t kAllEvents = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM |
                                EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP | EPOLLERR | EPOLLHUP;

bool fired_oneshot(uint32_t events) { return (events & EPOLLONESHOT) && (events & ~kPrivateBits) == 0; }

// Parses "N events: X data: Y pos:P ino:I sdev:D" (the value of a tfd line).
Result<EpollWatch> parse_watch(std::string_view v) {
  EpollWatch w;
  auto next = [&](std::string_view tag) -> std::optional<std::string_view> {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    if (!tag.empty()) {
      if (!v.starts_with(tag)) return std::nullopt;
      v.remove_prefix(tag.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    }
    const size_t end = std::min(v.find_first_of(" \t"), v.size());
    std::string_view tok = v.substr(0, end);
    v.remove_prefix(end);
    return tok;
  };
  auto tfd = next("");
  auto events = next("events:");
  auto data = next("data:");
  auto pos = next("pos:");
  auto ino = next("ino:");
  auto sdev = next("sdev:");
  if (!tfd || !events || !data || !pos || !ino || !sdev) return bad_input("bad epoll watch line");
  auto n = parse_number<int32_t>(*tfd);
  auto e = parse_number<uint32_t>(*events, 16);
  auto d = parse_number<uint64_t>(*data, 16);
  auto p = parse_number<int64_t>(*pos);
  auto i = parse_number<uint64_t>(*ino, 16);
  auto s = parse_number<uint32_t>(*sdev, 16);
  if (!n || *n < 0 || !e || !d || !p || !i || !s) return bad_input("bad epoll watch line");
  w.tfd = *n;
  w.events = *e;
  w.data = *d;
  w.pos = *p;
  w.ino = *i;
  w.sdev = *s;
  return w;
}

// Is the description behind `fd` of the task ready for any event (poll,
// which consumes nothing)? A signalfd answers for the caller's signals,
// not the task's: it counts as not ready (restore adds watches before the
// task's pending signals are back, so it is not ready then either).
Result<bool> target_ready(int pidfd, pid_t pid, int fd) {
  auto link = read_link(fmt::format("/proc/{}/fd/{}", pid, fd));
  if (link && *link == "anon_inode:[signalfd]") return false;
  UniqueFd copy = TRY(sys::pidfd_getfd(pidfd, fd));
  pollfd p{copy.get(), POLLIN | POLLPRI | POLLOUT | POLLRDHUP | POLLRDNORM | POLLRDBAND | POLLWRNORM | POLLWRBAND, 0};
  int n = ::poll(&p, 1, 0);
  if (n < 0) return sys_fail("poll");
  return n == 1 && p.revents != 0;
}

// Targets whose readiness reports never include EPOLLERR or EPOLLHUP.
bool never_err_hup(pid_t pid, int fd) {
  auto link = read_link(fmt::format("/proc/{}/fd/{}", pid, fd));
  return link && (*link == "anon_inode:[eventfd]" || *link == "anon_inode:[timerfd]" ||
                  *link == "anon_inode:[signalfd]" || *link == "anon_inode:[eventpoll]");
}

// What fdinfo shows after the restore for a watch of the image.
uint32_t restored_events(const img::EpollTarget& t) {
  if (fired_oneshot(t.events()) && !t.fire_to_disable()) return t.events() | EPOLLERR | EPOLLHUP;
  return t.events();
}

int highest_fd(const img::Files& files) { return files.fds().empty() ? -1 : files.fds(files.fds_size() - 1).fd(); }

const img::Fd* fd_of(const img::Files& files, int n) {
  for (const img::Fd& f : files.fds())
    if (f.fd() == n) return &f;
  return nullptr;
}

// epoll_ctl(ADD) of `t` under its own fd number; its description is
// borrowed from source_fd when tfd holds another one (or none).
Status add_watch(int ep, const img::EpollTarget& t, uint32_t events, int top) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = t.data();
  if (t.source_fd() == t.tfd()) {
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, t.tfd(), &ev) != 0)
      return sys_fail("epoll_ctl ADD fd {} events {:#x}", t.tfd(), events);
    return {};
  }
  // tfd's own description (if any) waits above every fd of the image.
  UniqueFd saved;
  int saved_flags = ::fcntl(t.tfd(), F_GETFD);
  if (saved_flags >= 0) {
    int d = ::fcntl(t.tfd(), F_DUPFD_CLOEXEC, top + 1);
    if (d < 0) return sys_fail("keep fd {} aside", t.tfd());
    saved = UniqueFd(d);
  }
  if (::dup3(t.source_fd(), t.tfd(), O_CLOEXEC) < 0)
    return sys_fail("put fd {}'s description at fd {}", t.source_fd(), t.tfd());
  const int rc = ::epoll_ctl(ep, EPOLL_CTL_ADD, t.tfd(), &ev);
  const int err = errno;
  if (saved) {
    if (::dup3(saved.get(), t.tfd(), (saved_flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
      return sys_fail("put fd {} back", t.tfd());
  } else {
    ::close(t.tfd());
  }
  if (rc != 0)
    return sys_fail_errno(err, "epoll_ctl ADD fd {} (the description of fd {}) events {:#x}", t.tfd(), t.source_fd(),
                          events);
  return {};
}

}  // namespace

bool is_epoll(const FdProbe& p) { return p.link == "anon_inode:[eventpoll]"; }

Result<std::vector<EpollWatch>> parse_epoll(const sys::FdInfo& info) {
  std::vector<EpollWatch> out;
  for (const auto& [k, v] : info.fields) {
    if (k != "tfd") continue;
    out.push_back(TRY_CTX(parse_watch(v), "fdinfo 'tfd: {}'", v));
  }
  return out;
}

Status dump_epoll(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  std::vector<EpollWatch> watches = TRY_CTX(parse_epoll(p.info), "{}", p.link);
  std::vector<int> fds = TRY(sys::list_fds(ctx.pid));
  UniqueFd pidfd = TRY(sys::pidfd_open(ctx.pid));
  out.set_kind(img::FD_EPOLL);
  out.set_pos(0);
  std::map<int, uint32_t> seen;  // tfd -> watches under that number so far (kcmp's toff)
  for (const EpollWatch& w : watches) {
    const uint32_t toff = seen[w.tfd]++;
    // Which fd of the task holds the target's description: tfd first.
    auto holds = [&](int fd) -> Result<bool> {
      auto r = sys::kcmp_epoll_tfd(ctx.pid, ctx.pid, fd, p.fd, w.tfd, toff);
      if (!r && r.error().sys_errno == EBADF) return false;
      return TRY_CTX(std::move(r), "kcmp KCMP_EPOLL_TFD fd {} watch {}", fd, w.tfd) == 0;
    };
    int source = -1;
    if (std::binary_search(fds.begin(), fds.end(), w.tfd) && TRY_CTX(holds(w.tfd), "{}", p.link)) source = w.tfd;
    for (size_t i = 0; source < 0 && i < fds.size(); ++i)
      if (fds[i] != w.tfd && TRY_CTX(holds(fds[i]), "{}", p.link)) source = fds[i];
    // None: another task holding the same epoll may (check_shared_epolls).
    img::EpollTarget* t = out.mutable_epoll()->add_targets();
    t->set_tfd(w.tfd);
    t->set_events(w.events);
    t->set_data(w.data);
    t->set_source_fd(source);
    if (source >= 0 && fired_oneshot(w.events)) {
      const bool ready = TRY_CTX(target_ready(pidfd.get(), ctx.pid, source), "{}: watch of fd {}", p.link, w.tfd);
      if (ready)
        t->set_fire_to_disable(true);
      else if (!never_err_hup(ctx.pid, source))
        return unsupported(
            "{} (EPOLLONESHOT watch of fd {} that has fired, on a target not ready now): not supported yet", p.link,
            w.tfd);
    }
  }
  return {};
}

Result<UniqueFd> open_epoll(const img::Fd& fd, const OpenContext&) {
  int raw = ::epoll_create1(EPOLL_CLOEXEC);
  if (raw < 0) return sys_fail("epoll_create1");
  UniqueFd e(raw);
  TRY_CTX(set_status_flags(e.get(), fd.flags()), "epoll");
  return e;
}

int install_rank_epoll(const img::Fd& fd, const img::Files& files) {
  if (fd.epoll().added_by() != 0) return 0;
  // Nesting depth: the kernel allows 4 levels (EP_MAX_NESTS), the bound
  // only guards against a hand-made image with a loop.
  auto depth = [&](auto&& self, const img::Fd& e, int level) -> int {
    int d = 0;
    if (level > 8) return d;
    for (const img::EpollTarget& t : e.epoll().targets()) {
      const img::Fd* target = fd_of(files, t.source_fd());
      if (target && target->kind() == img::FD_EPOLL) d = std::max(d, 1 + self(self, *target, level + 1));
    }
    return d;
  };
  return depth(depth, fd, 0);
}

Status after_install_epoll(const img::Fd& fd, const img::Files& files) {
  if (fd.epoll().added_by() != 0) return {};  // another holder's table adds them
  const int top = highest_fd(files);
  for (const img::EpollTarget& t : fd.epoll().targets()) {
    if (t.tfd() < 0 || !fd_of(files, t.source_fd()))
      return bad_input("epoll watch of fd {}: its description's fd {} is not in the image", t.tfd(), t.source_fd());
    if (t.fire_to_disable() && !fired_oneshot(t.events()))
      return bad_input("epoll watch of fd {}: events {:#x} are not those of a fired EPOLLONESHOT watch", t.tfd(),
                       t.events());
  }
  // The fired EPOLLONESHOT watches alone first, so that the epoll_wait
  // that disables them can see nothing else.
  int firing = 0;
  for (const img::EpollTarget& t : fd.epoll().targets())
    if (t.fire_to_disable()) {
      TRY(add_watch(fd.fd(), t, (t.events() & kPrivateBits) | kAllEvents, top));
      ++firing;
    }
  if (firing > 0) {
    std::vector<epoll_event> got(static_cast<size_t>(firing) + 1);
    int n = ::epoll_wait(fd.fd(), got.data(), static_cast<int>(got.size()), 0);
    if (n < 0) return sys_fail("epoll_wait to disable {} fired EPOLLONESHOT watches", firing);
    if (n != firing)
      return failf("{} of {} fired EPOLLONESHOT watches have a ready target, they all had at dump", n, firing);
  }
  for (const img::EpollTarget& t : fd.epoll().targets())
    if (!t.fire_to_disable()) TRY(add_watch(fd.fd(), t, t.events(), top));
  return {};
}

Status verify_epoll(const FdProbe& now, const img::Fd& fd) {
  using Key = std::tuple<int32_t, uint32_t, uint64_t>;
  std::vector<Key> have, want;
  for (const EpollWatch& w : TRY_CTX(parse_epoll(now.info), "epoll")) have.emplace_back(w.tfd, w.events, w.data);
  for (const img::EpollTarget& t : fd.epoll().targets()) want.emplace_back(t.tfd(), restored_events(t), t.data());
  std::sort(have.begin(), have.end());
  std::sort(want.begin(), want.end());
  if (have == want) return {};
  auto missing = [](const std::vector<Key>& a, const std::vector<Key>& b) -> std::string {
    std::vector<Key> d;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(d));
    std::string s;
    for (const auto& [n, e, x] : d) s += fmt::format("{}fd {} events {:#x} data {:#x}", s.empty() ? "" : ", ", n, e, x);
    return s.empty() ? "none" : s;
  };
  return failf("epoll watches differ from the image: missing {}; not in the image {}",
               missing(want, have), missing(have, want));
}

Status check_shared_epolls(std::vector<TaskFds>& tasks) {
  // Every fd of each epoll description, in process tree order.
  std::map<uint64_t, std::vector<std::pair<TaskFds*, img::Fd*>>> holders;
  for (TaskFds& t : tasks)
    for (img::Fd& f : *t.files.mutable_fds())
      if (f.kind() == img::FD_EPOLL && f.ofd_id() != 0) holders[f.ofd_id()].emplace_back(&t, &f);
  auto complete = [](const img::Fd& f) {
    return std::all_of(f.epoll().targets().begin(), f.epoll().targets().end(),
                       [](const img::EpollTarget& t) { return t.source_fd() >= 0; });
  };
  for (auto& [ofd, fds] : holders) {
    // The first holder that holds every target adds the watches.
    auto adder = std::find_if(fds.begin(), fds.end(), [&](const auto& h) { return complete(*h.second); });
    if (adder == fds.end()) {
      const auto& [t, f] = fds.front();
      int missing = -1;
      for (const img::EpollTarget& e : f->epoll().targets())
        if (e.source_fd() < 0) missing = e.tfd();
      return unsupported(
          "task {}: fd {}: anon_inode:[eventpoll] (watches fd {}, closed, whose description no fd of {} holds any "
          "more): not supported yet",
          t->ctx.vpid, f->fd(), missing, fds.size() > 1 ? "a task holding this epoll" : "this task");
    }
    const pid_t adder_vpid = adder->first->ctx.vpid;
    for (auto& [t, f] : fds) {
      if (t->ctx.vpid == adder_vpid) continue;
      *f->mutable_epoll() = adder->second->epoll();
      f->mutable_epoll()->set_added_by(adder_vpid);
    }
  }
  return {};
}

}  // namespace amber::kinds::files
