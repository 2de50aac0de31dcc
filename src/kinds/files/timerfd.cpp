// timerfd: clock, settime flags (TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET),
// time to the next expiry, interval, and expirations not read yet.
//
// fdinfo shows a consistent snapshot of ticks, remaining time and interval,
// but a periodic timer that expired is only moved on to its next period
// when somebody reads it: until then fdinfo shows 1 tick and no time left,
// and restoring that would disarm it. The dump therefore first calls
// timerfd_gettime on its own copy of the description, which does what a
// read would do without consuming anything (it adds the missed periods to
// ticks and rearms the timer for the next one), then reads fdinfo.
//
// Time: an absolute timer (TFD_TIMER_ABSTIME) is restored at the same
// instant on its clock (CLOCK_REALTIME and CLOCK_BOOTTIME ones fire at the
// same wall-clock time, periods missed meanwhile counted in ticks). A
// relative timer keeps the time it had left, as CRIU does: the time between
// dump and restore does not count (nor does the fraction of a second
// between its fd being rebuilt and the tasks being released). Ticks come
// back with TFD_IOC_SET_TICKS (CONFIG_CHECKPOINT_RESTORE). Not visible, so
// not restored: whether a TFD_TIMER_CANCEL_ON_SET timer was already
// cancelled by a clock change the program has not read yet.
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>

#include "kinds/files/fd_kinds.h"
#include "kinds/files/fdinfo_fields.h"
#include "sys/pidfd.h"

namespace amber::kinds::files {

namespace {

// <linux/timerfd.h>'s TFD_IOC_SET_TICKS: that header clashes with glibc's
// <sys/timerfd.h>.
constexpr unsigned long kSetTicks = _IOW('T', 0, uint64_t);
constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr uint32_t kSettimeFlags = TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET;

// "(SEC, NSEC)" of it_value / it_interval.
Result<int64_t> parse_pair_ns(const sys::FdInfo& info, std::string_view key) {
  auto v = fdinfo_field(info, key);
  if (!v) return bad_input("fdinfo has no '{}' line", key);
  std::string_view s = *v;
  const size_t comma = s.find(',');
  if (!s.starts_with('(') || !s.ends_with(')') || comma == std::string_view::npos)
    return bad_input("fdinfo '{}': bad value '{}'", key, *v);
  auto sec = parse_number<int64_t>(s.substr(1, comma - 1));
  auto nsec = parse_number<int64_t>(s.substr(comma + 1, s.size() - comma - 2));
  if (!sec || !nsec || *sec < 0 || *nsec < 0 || *nsec >= kNsPerSec || *sec > INT64_MAX / kNsPerSec - 1)
    return bad_input("fdinfo '{}': bad value '{}'", key, *v);
  return *sec * kNsPerSec + *nsec;
}

timespec to_timespec(int64_t ns) { return {static_cast<time_t>(ns / kNsPerSec), static_cast<long>(ns % kNsPerSec)}; }

Result<int64_t> clock_now(int clockid) {
  timespec ts{};
  if (::clock_gettime(clockid, &ts) != 0) return sys_fail("clock_gettime {}", clockid);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

bool known_clock(int c) {
  return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME || c == CLOCK_REALTIME_ALARM ||
         c == CLOCK_BOOTTIME_ALARM;
}

}  // namespace

bool is_timerfd(const FdProbe& p) { return p.link == "anon_inode:[timerfd]"; }

Result<img::TimerfdState> parse_timerfd(const sys::FdInfo& info) {
  img::TimerfdState s;
  s.set_clockid(TRY(fdinfo_number<int32_t>(info, "clockid")));
  s.set_ticks(TRY(fdinfo_number<uint64_t>(info, "ticks")));
  s.set_settime_flags(TRY(fdinfo_number<uint32_t>(info, "settime flags", 8)));
  s.set_value_ns(TRY(parse_pair_ns(info, "it_value")));  // time left, whatever the flags
  s.set_interval_ns(TRY(parse_pair_ns(info, "it_interval")));
  if ((s.settime_flags() & ~kSettimeFlags) != 0) return bad_input("timerfd settime flags {:#o}", s.settime_flags());
  return s;
}

Status dump_timerfd(const FdProbe& p, const FdDumpContext& ctx, img::Fd& out) {
  UniqueFd pidfd = TRY(sys::pidfd_open(ctx.pid));
  UniqueFd copy = TRY_CTX(sys::pidfd_getfd(pidfd.get(), p.fd), "{}", p.link);
  img::TimerfdState s;
  // A period may end between timerfd_gettime and the fdinfo read: then the
  // snapshot is of an expired, not yet advanced periodic timer again.
  for (int attempt = 0;; ++attempt) {
    itimerspec cur{};
    if (::timerfd_gettime(copy.get(), &cur) != 0) return sys_fail("{}: timerfd_gettime", p.link);
    sys::FdInfo info = TRY_CTX(sys::read_fdinfo(ctx.pid, p.fd), "{}", p.link);
    s = TRY_CTX(parse_timerfd(info), "{}", p.link);
    if (s.value_ns() != 0 || s.interval_ns() == 0) break;
    if (attempt == 10) return failf("{}: its period ({} ns) is too short to read it", p.link, s.interval_ns());
  }
  if (!known_clock(s.clockid())) return unsupported("{} (timerfd on clock {}): not supported yet", p.link, s.clockid());
  if ((s.settime_flags() & TFD_TIMER_ABSTIME) && s.value_ns() != 0) {
    // The instant it expires on its clock: fdinfo's time left is counted
    // from a moment before clock_now, so this is never early.
    const int64_t now = TRY_CTX(clock_now(s.clockid()), "{}", p.link);
    s.set_value_ns(now + s.value_ns());
  }
  out.set_kind(img::FD_TIMERFD);
  *out.mutable_timerfd() = s;
  out.set_pos(0);
  return {};
}

Result<UniqueFd> open_timerfd(const img::Fd& fd, const OpenContext&) {
  const img::TimerfdState& s = fd.timerfd();
  if (!known_clock(s.clockid())) return bad_input("timerfd clock {}", s.clockid());
  if ((s.settime_flags() & ~kSettimeFlags) != 0 || s.value_ns() < 0 || s.interval_ns() < 0)
    return bad_input("timerfd flags {:#o} value {} interval {}", s.settime_flags(), s.value_ns(), s.interval_ns());
  int raw = ::timerfd_create(s.clockid(), TFD_CLOEXEC | TFD_NONBLOCK);
  if (raw < 0) return sys_fail("timerfd_create clock {}", s.clockid());
  UniqueFd t(raw);
  // Also when disarmed: the settime flags are part of what fdinfo shows.
  const itimerspec spec{to_timespec(s.interval_ns()), to_timespec(s.value_ns())};
  if (::timerfd_settime(t.get(), static_cast<int>(s.settime_flags()), &spec, nullptr) != 0)
    return sys_fail("timerfd_settime flags {:#o} value {} ns interval {} ns", s.settime_flags(), s.value_ns(),
                    s.interval_ns());
  if (s.ticks() != 0) {
    const uint64_t ticks = s.ticks();
    if (::ioctl(t.get(), kSetTicks, &ticks) != 0) return sys_fail("timerfd: TFD_IOC_SET_TICKS {}", ticks);
  }
  TRY_CTX(set_status_flags(t.get(), fd.flags()), "timerfd");
  return t;
}

// The timer runs on: ticks can only have grown and the time left shrunk
// since the restore.
Status verify_timerfd(const FdProbe& now, const img::Fd& fd) {
  img::TimerfdState s = TRY_CTX(parse_timerfd(now.info), "timerfd");
  const img::TimerfdState& want = fd.timerfd();
  if (s.clockid() != want.clockid() || s.settime_flags() != want.settime_flags() ||
      s.interval_ns() != want.interval_ns())
    return failf("timerfd clock {} flags {:#o} interval {} ns, the image has {} {:#o} {} ns",
                 s.clockid(), s.settime_flags(), s.interval_ns(), want.clockid(), want.settime_flags(),
                 want.interval_ns());
  if (s.ticks() < want.ticks())
    return failf("timerfd has {} unread expirations, the image has {}", s.ticks(), want.ticks());
  if (want.value_ns() == 0 && want.interval_ns() == 0 && (s.value_ns() != 0 || s.ticks() != want.ticks()))
    return failf("timerfd disarmed in the image, armed or expired now");
  if (want.value_ns() != 0 && s.value_ns() == 0 && s.ticks() == want.ticks())
    return failf("timerfd armed in the image, disarmed now");
  return {};
}

}  // namespace amber::kinds::files
