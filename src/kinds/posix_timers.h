// POSIX timers of a process (timer_create): id, clock, sigevent, time.
//
// /proc/PID/timers (CONFIG_CHECKPOINT_RESTORE) names each timer's id,
// signal and sigev_value, notification (and the pid or tid it goes to, in
// the reader's pid namespace) and clock; the time left, the interval and
// the overrun only the process itself can ask for (remote timer_gettime,
// timer_getoverrun, clock_gettime in one batch).
//
// Restore (remote, in the thread-group leader, after the threads and the
// pending signals): prctl(PR_TIMER_CREATE_RESTORE_IDS) makes timer_create
// take the id it is given, then timer_settime arms each one.
//
// The kernel shows no difference between a timer armed with TIMER_ABSTIME
// and a relative one: each is re-armed at the same instant of its clock
// (TIMER_ABSTIME at dump-time clock + remaining), so an absolute
// CLOCK_REALTIME timer fires at its wall-clock time and a relative one
// when it would have had the process kept running; one whose time passed
// between dump and restore fires at once (a periodic one with the missed
// periods as its overrun). The one exception is the process's CPU-time
// clock, which starts again in the new process: its time left is kept.
//
// Refused (Unsupported, by id): CPU-time clocks of a thread or of another
// process (their target cannot be told from /proc), a SIGEV_THREAD_ID
// target that is not a thread of the process.
//
// A timer signal pending at the dump (SI_TIMER, si_timerid, si_overrun) is
// queued again by kinds/signals as the siginfo it was: same id and overrun
// for the handler. The kernel no longer ties it to the timer: the restored
// timer is armed already and does not wait for that signal's delivery to
// re-arm.
#pragma once
#include <sys/types.h>

#include <map>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "remote/remote_task.h"
#include "task.pb.h"

namespace amber::kinds {

// /proc/PID/timers, as the reader's pid namespace numbers the notify
// targets (img::PosixTimer.thread holds that number): id, clock, notify,
// signo, value.
Result<std::vector<img::PosixTimer>> parse_proc_timers(std::string_view text);

// Fills out.posix_timers (by id). `vtid_of`: every thread of the process,
// its tid as amber sees it -> its tid in the container. Needs the executor.
Status dump_posix_timers(remote::RemoteTask& leader, const std::map<pid_t, pid_t>& vtid_of, img::Task& out);

// What restore_posix_timers would refuse in the image alone.
Status check_posix_timers_image(const img::Task& in);

// Creates every timer with its id, sigevent and clock, arms it, and checks
// /proc/PID/timers against the image. `vtid_of` as for the dump (the
// restored threads). Needs the executor.
Status restore_posix_timers(remote::RemoteTask& leader, const std::map<pid_t, pid_t>& vtid_of, const img::Task& in);

}  // namespace amber::kinds
