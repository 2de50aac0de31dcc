// POSIX timers (see posix_timers.h).
#include "kinds/posix_timers.h"

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "base/files.h"

namespace amber::kinds {

namespace {

// include/uapi/linux/prctl.h (Linux 6.14+; glibc's headers here predate it).
constexpr int kPrTimerCreateRestoreIds = 77;
constexpr int kRestoreIdsOff = 0, kRestoreIdsOn = 1;
// MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED): what CLOCK_PROCESS_CPUTIME_ID
// becomes in the kernel (and in ClockID).
constexpr int kProcessCpuClock = -6;
constexpr int64_t kNsPerSec = 1000000000;

struct KTimespec {
  int64_t sec, nsec;
};
struct KItimerspec {
  KTimespec interval, value;
};
static_assert(sizeof(KItimerspec) == 32);
// The kernel's struct sigevent on x86-64 (64 bytes): value, signo, notify,
// then the union whose first int is the SIGEV_THREAD_ID tid.
struct KSigevent {
  uint64_t value;
  int32_t signo;
  int32_t notify;
  int32_t tid;
  int32_t pad[11];
};
static_assert(sizeof(KSigevent) == 64);

bool keeps_counting(int clock) {
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
    case CLOCK_TAI:
      return true;
    default:
      return false;
  }
}

int64_t to_ns(const KTimespec& t) { return t.sec * kNsPerSec + t.nsec; }
KTimespec from_ns(int64_t ns) { return {ns / kNsPerSec, ns % kNsPerSec}; }

std::string what(const img::PosixTimer& t) { return fmt::format("POSIX timer {}", t.id()); }

Status check_timer(const img::PosixTimer& t, const std::set<int32_t>& threads) {
  if (t.id() < 0) return bad_input("{}: negative id", what(t));
  if (!keeps_counting(t.clock()) && t.clock() != kProcessCpuClock)
    return unsupported("{} on clock {} (a CPU-time clock of a thread or of another process): not supported yet",
                       what(t), t.clock());
  if (t.notify() != SIGEV_SIGNAL && t.notify() != SIGEV_NONE && t.notify() != (SIGEV_SIGNAL | SIGEV_THREAD_ID))
    return unsupported("{}: sigev_notify {}: not supported yet", what(t), t.notify());
  if (t.notify() != SIGEV_NONE && (t.signo() < 1 || t.signo() > 64))
    return bad_input("{}: signal {} out of range", what(t), t.signo());
  if (t.notify() == (SIGEV_SIGNAL | SIGEV_THREAD_ID) && !threads.contains(t.thread()))
    return bad_input("{}: its SIGEV_THREAD_ID target {} is not a thread of the process", what(t), t.thread());
  if (t.interval_ns() < 0 || t.remaining_ns() < 0 || t.expiry_ns() < 0)
    return bad_input("{}: negative time", what(t));
  return {};
}

// The timers of /proc/PID/timers with their targets as the container
// numbers them (the thread of SIGEV_THREAD_ID; 0 for the process).
Result<std::vector<img::PosixTimer>> read_timers(pid_t pid, const std::map<pid_t, pid_t>& vtid_of) {
  std::string text = TRY(read_file(fmt::format("/proc/{}/timers", pid)));
  std::vector<img::PosixTimer> timers = TRY_CTX(parse_proc_timers(text), "/proc/{}/timers", pid);
  for (img::PosixTimer& t : timers) {
    if (t.notify() & SIGEV_THREAD_ID) {
      auto it = vtid_of.find(t.thread());
      if (it == vtid_of.end())
        return unsupported("{}: its SIGEV_THREAD_ID target {} is not a thread of the process: not supported yet",
                           what(t), t.thread());
      t.set_thread(it->second);
    } else {
      t.set_thread(0);
    }
  }
  std::sort(timers.begin(), timers.end(), [](const auto& a, const auto& b) { return a.id() < b.id(); });
  return timers;
}

}  // namespace

Result<std::vector<img::PosixTimer>> parse_proc_timers(std::string_view text) {
  std::vector<img::PosixTimer> out;
  int seen = 0;  // fields of the current timer: 1 ID, 2 signal, 4 notify, 8 ClockID
  auto done = [&]() -> Status {
    if (!out.empty() && seen != 15) return bad_input("timer {}: fields missing", out.back().id());
    return {};
  };
  for (std::string_view line : split(text, '\n')) {
    if (trim(line).empty()) continue;
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos) return bad_input("'{}': not 'key: value'", line);
    std::string_view key = line.substr(0, colon), value = trim(line.substr(colon + 2));
    if (key == "ID") {
      TRY(done());
      auto id = parse_int(value);
      if (!id || *id < 0 || *id > INT32_MAX) return bad_input("'{}': bad id", line);
      out.emplace_back().set_id(static_cast<int32_t>(*id));
      seen = 1;
      continue;
    }
    if (out.empty()) return bad_input("'{}' before the first ID", line);
    img::PosixTimer& t = out.back();
    if (key == "signal") {
      // "SIGNO/SIGEV_VALUE" (%d/%px)
      size_t slash = value.find('/');
      auto signo = parse_int(value.substr(0, slash));
      auto v = slash == std::string_view::npos ? std::nullopt : parse_uint(value.substr(slash + 1), 16);
      if (!signo || !v) return bad_input("'{}': bad signal", line);
      t.set_signo(static_cast<int32_t>(*signo));
      t.set_value(*v);
      seen |= 2;
    } else if (key == "notify") {
      // "signal|none|thread/pid|tid.N"
      size_t slash = value.find('/'), dot = value.find('.');
      if (slash == std::string_view::npos || dot == std::string_view::npos || dot < slash)
        return bad_input("'{}': bad notify", line);
      std::string_view how = value.substr(0, slash), to = value.substr(slash + 1, dot - slash - 1);
      auto n = parse_int(value.substr(dot + 1));
      if (!n || (to != "pid" && to != "tid")) return bad_input("'{}': bad notify", line);
      int notify = how == "signal" ? SIGEV_SIGNAL : how == "none" ? SIGEV_NONE : how == "thread" ? SIGEV_THREAD : -1;
      if (notify < 0) return bad_input("'{}': bad notify", line);
      if (to == "tid") notify |= SIGEV_THREAD_ID;
      t.set_notify(notify);
      t.set_thread(static_cast<int32_t>(*n));
      seen |= 4;
    } else if (key == "ClockID") {
      auto c = parse_int(value);
      if (!c || *c < INT32_MIN || *c > INT32_MAX) return bad_input("'{}': bad clock", line);
      t.set_clock(static_cast<int32_t>(*c));
      seen |= 8;
    } else {
      return bad_input("'{}': unknown key", line);
    }
  }
  TRY(done());
  return out;
}

Status dump_posix_timers(remote::RemoteTask& leader, const std::map<pid_t, pid_t>& vtid_of, img::Task& out) {
  std::vector<img::PosixTimer> timers = TRY(read_timers(leader.tgid(), vtid_of));
  std::set<int32_t> threads;
  for (const auto& [tid, vtid] : vtid_of) threads.insert(vtid);
  for (const img::PosixTimer& t : timers) TRY(check_timer(t, threads));
  if (timers.empty()) return {};
  if (!leader.has_executor()) return failf("POSIX timers need the executor");
  constexpr size_t kPer = sizeof(KTimespec) + sizeof(KItimerspec);
  const size_t per_batch = leader.scratch_size() / kPer;
  for (size_t first = 0; first < timers.size(); first += per_batch) {
    const size_t n = std::min(per_batch, timers.size() - first);
    const uint64_t base = leader.scratch_addr();
    std::vector<remote::Call> calls;
    for (size_t i = 0; i < n; ++i) {
      const img::PosixTimer& t = timers[first + i];
      const uint64_t at = base + i * kPer;
      calls.push_back(remote::make_call(SYS_clock_gettime, t.clock(), at));
      calls.push_back(remote::make_call(SYS_timer_gettime, t.id(), at + sizeof(KTimespec)));
      calls.push_back(remote::make_call(SYS_timer_getoverrun, t.id()));
    }
    TRY_CTX(leader.run_batch(calls), "POSIX timers");
    std::vector<std::byte> buf(n * kPer);
    TRY_CTX(leader.read(base, buf), "POSIX timers");
    for (size_t i = 0; i < n; ++i) {
      img::PosixTimer& t = timers[first + i];
      TRY(remote::check_syscall(calls[3 * i].result, fmt::format("{}: clock_gettime({})", what(t), t.clock())));
      TRY(remote::check_syscall(calls[3 * i + 1].result, fmt::format("{}: timer_gettime", what(t))));
      TRY(remote::check_syscall(calls[3 * i + 2].result, fmt::format("{}: timer_getoverrun", what(t))));
      KTimespec now{};
      KItimerspec its{};
      std::memcpy(&now, buf.data() + i * kPer, sizeof now);
      std::memcpy(&its, buf.data() + i * kPer + sizeof now, sizeof its);
      t.set_interval_ns(to_ns(its.interval));
      t.set_remaining_ns(to_ns(its.value));
      if (t.remaining_ns() != 0 && keeps_counting(t.clock())) t.set_expiry_ns(to_ns(now) + t.remaining_ns());
      t.set_overrun(static_cast<int32_t>(calls[3 * i + 2].result));
    }
  }
  for (img::PosixTimer& t : timers) *out.add_posix_timers() = std::move(t);
  return {};
}

Status check_posix_timers_image(const img::Task& in) {
  std::set<int32_t> threads, ids;
  for (const img::Thread& th : in.threads()) threads.insert(th.tid());
  for (const img::PosixTimer& t : in.posix_timers()) {
    TRY_CTX(check_timer(t, threads), "task {}", in.pid());
    if (!ids.insert(t.id()).second) return bad_input("task {}: POSIX timer {} twice", in.pid(), t.id());
  }
  return {};
}

Status restore_posix_timers(remote::RemoteTask& leader, const std::map<pid_t, pid_t>& vtid_of, const img::Task& in) {
  if (in.posix_timers().empty()) return {};
  TRY(check_posix_timers_image(in));
  if (!leader.has_executor()) return failf("task {}: POSIX timers need the executor", in.pid());
  // Per timer: its sigevent, its id (in: the one wanted), its itimerspec.
  constexpr size_t kPer = sizeof(KSigevent) + sizeof(int32_t) * 2 + sizeof(KItimerspec);
  const size_t per_batch = leader.scratch_size() / kPer;
  const int count = in.posix_timers_size();
  for (int first = 0; first < count; first += static_cast<int>(per_batch)) {
    const int n = std::min(static_cast<int>(per_batch), count - first);
    std::vector<std::byte> buf(static_cast<size_t>(n) * kPer);
    const uint64_t base = leader.scratch_addr();
    std::vector<remote::Call> calls;
    calls.push_back(remote::make_call(SYS_prctl, kPrTimerCreateRestoreIds, kRestoreIdsOn, 0, 0, 0));
    for (int i = 0; i < n; ++i) {
      const img::PosixTimer& t = in.posix_timers(first + i);
      const size_t off = static_cast<size_t>(i) * kPer;
      KSigevent sev{};
      sev.value = t.value();
      sev.signo = t.signo();
      sev.notify = t.notify();
      sev.tid = t.thread();
      const int32_t id[2] = {t.id(), 0};
      KItimerspec its{};
      its.interval = from_ns(t.interval_ns());
      int flags = 0;
      if (t.remaining_ns() != 0) {
        if (keeps_counting(t.clock())) {
          its.value = from_ns(t.expiry_ns());
          flags = TIMER_ABSTIME;
        } else {
          its.value = from_ns(t.remaining_ns());
        }
      }
      std::memcpy(buf.data() + off, &sev, sizeof sev);
      std::memcpy(buf.data() + off + sizeof sev, id, sizeof id);
      std::memcpy(buf.data() + off + sizeof sev + sizeof id, &its, sizeof its);
      const uint64_t at = base + off;
      calls.push_back(remote::make_call(SYS_timer_create, t.clock(), at, at + sizeof sev));
      if (t.remaining_ns() != 0)
        calls.push_back(remote::make_call(SYS_timer_settime, t.id(), flags, at + sizeof sev + sizeof id, 0));
    }
    calls.push_back(remote::make_call(SYS_prctl, kPrTimerCreateRestoreIds, kRestoreIdsOff, 0, 0, 0));
    for (remote::Call& c : calls) c.stop_on_error = true;
    TRY_CTX(leader.write(base, buf), "task {}: POSIX timers", in.pid());
    Status ran = leader.run_batch(calls);
    if (calls.front().failed() && calls.front().result == -EINVAL)
      return unsupported("task {}: POSIX timers: this kernel cannot create a timer with a given id "
                         "(PR_TIMER_CREATE_RESTORE_IDS, Linux 6.14+)",
                         in.pid());
    TRY_CTX(std::move(ran), "task {}: POSIX timers", in.pid());
  }
  // What the kernel has now, against the image (the notify targets read
  // back in the container's numbers).
  std::vector<img::PosixTimer> now = TRY_CTX(read_timers(leader.tgid(), vtid_of), "task {}", in.pid());
  if (static_cast<int>(now.size()) != count)
    return failf("task {}: {} POSIX timer(s) after the restore, the image has {}", in.pid(), now.size(), count);
  for (int i = 0; i < count; ++i) {
    const img::PosixTimer& w = in.posix_timers(i);
    const img::PosixTimer& h = now[static_cast<size_t>(i)];
    if (h.id() != w.id() || h.clock() != w.clock() || h.notify() != w.notify() || h.signo() != w.signo() ||
        h.value() != w.value() || h.thread() != w.thread())
      return failf("task {}: POSIX timer {} after the restore: id {} clock {} notify {} signal {} value {:#x} thread "
                   "{}, the image has id {} clock {} notify {} signal {} value {:#x} thread {}",
                   in.pid(), w.id(), h.id(), h.clock(), h.notify(), h.signo(), h.value(), h.thread(), w.id(),
                   w.clock(), w.notify(), w.signo(), w.value(), w.thread());
  }
  return {};
}

}  // namespace amber::kinds
