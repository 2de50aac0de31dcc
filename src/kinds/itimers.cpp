// Interval timers (see itimers.h).
#include "kinds/itimers.h"

#include <sys/syscall.h>
#include <sys/time.h>

#include <array>
#include <vector>

#include "base/files.h"

namespace amber::kinds {

namespace {

constexpr std::array<int, 3> kWhich = {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF};
constexpr const char* kNames[] = {"ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"};
// A usec field the kernel accepts (setitimer: EINVAL outside [0, 1e6)).
constexpr int64_t kUsecPerSec = 1000000;

img::ITimer* slot(img::Task& t, size_t i) {
  return i == 0 ? t.mutable_itimer_real() : i == 1 ? t.mutable_itimer_virtual() : t.mutable_itimer_prof();
}
const img::ITimer& slot(const img::Task& t, size_t i) {
  return i == 0 ? t.itimer_real() : i == 1 ? t.itimer_virtual() : t.itimer_prof();
}

Status check_scratch(const remote::RemoteTask& task) {
  if (!task.has_executor() || task.scratch_size() < sizeof(itimerval) * kWhich.size())
    return failf("task {}: itimers need the executor's scratch area", task.tgid());
  return {};
}

bool valid(const img::ITimer& t) {
  return t.interval_sec() >= 0 && t.value_sec() >= 0 && t.interval_usec() >= 0 && t.value_usec() >= 0 &&
         t.interval_usec() < kUsecPerSec && t.value_usec() < kUsecPerSec;
}

}  // namespace

Status dump_itimers(remote::RemoteTask& task, img::Task& out) {
  TRY(check_scratch(task));
  const uint64_t base = task.scratch_addr();
  std::vector<remote::Call> calls;
  for (size_t i = 0; i < kWhich.size(); ++i)
    calls.push_back(remote::make_call(SYS_getitimer, kWhich[i], base + i * sizeof(itimerval)));
  TRY_CTX(task.run_batch(calls), "task {}: getitimer", task.tgid());
  for (size_t i = 0; i < kWhich.size(); ++i)
    TRY(remote::check_syscall(calls[i].result, fmt::format("task {}: getitimer({})", task.tgid(), kNames[i])));
  std::array<itimerval, 3> got{};
  TRY_CTX(task.read(base, std::as_writable_bytes(std::span(got))), "task {}: read itimers", task.tgid());
  for (size_t i = 0; i < kWhich.size(); ++i) {
    img::ITimer* t = slot(out, i);
    t->set_interval_sec(got[i].it_interval.tv_sec);
    t->set_interval_usec(got[i].it_interval.tv_usec);
    t->set_value_sec(got[i].it_value.tv_sec);
    t->set_value_usec(got[i].it_value.tv_usec);
  }
  return {};
}

Status restore_itimers(remote::RemoteTask& task, const img::Task& in) {
  TRY(check_scratch(task));
  std::array<itimerval, 3> want{};
  for (size_t i = 0; i < kWhich.size(); ++i) {
    const img::ITimer& t = slot(in, i);
    if (!valid(t)) return bad_input("task {}: {} is not a valid itimerval", in.pid(), kNames[i]);
    want[i].it_interval = {static_cast<time_t>(t.interval_sec()), static_cast<suseconds_t>(t.interval_usec())};
    want[i].it_value = {static_cast<time_t>(t.value_sec()), static_cast<suseconds_t>(t.value_usec())};
    // A periodic ITIMER_REAL that expired while its SIGALRM is still
    // pending (a held task dequeues nothing) reads as value 0: the kernel
    // re-arms it only when that SIGALRM is dequeued (dequeue_signal(),
    // it_real_incr). setitimer with value 0 would disarm it for good, so it
    // is armed one interval ahead; the SIGALRM itself is in the pending
    // queue and is delivered at release.
    if (i == 0 && want[i].it_value.tv_sec == 0 && want[i].it_value.tv_usec == 0) want[i].it_value = want[i].it_interval;
  }
  const uint64_t base = task.scratch_addr();
  TRY_CTX(task.write(base, std::as_bytes(std::span(want))), "task {}: write itimers", in.pid());
  std::vector<remote::Call> calls;
  for (size_t i = 0; i < kWhich.size(); ++i)
    calls.push_back(remote::make_call(SYS_setitimer, kWhich[i], base + i * sizeof(itimerval), 0));
  TRY_CTX(task.run_batch(calls), "task {}: setitimer", in.pid());
  for (size_t i = 0; i < kWhich.size(); ++i)
    TRY(remote::check_syscall(calls[i].result, fmt::format("task {}: setitimer({})", in.pid(), kNames[i])));
  return {};
}

}  // namespace amber::kinds
