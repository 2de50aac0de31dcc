// Interval timers of a process (setitimer: ITIMER_REAL, ITIMER_VIRTUAL,
// ITIMER_PROF), dumped and restored by remote getitimer / setitimer: only
// the process itself can ask for its own. POSIX timers (timer_create):
// posix_timers.h.
#pragma once
#include <sys/types.h>

#include "base/result.h"
#include "remote/remote_task.h"
#include "task.pb.h"

namespace amber::kinds {

// Fills out.itimer_{real,virtual,prof}. Needs the executor mapped.
Status dump_itimers(remote::RemoteTask& task, img::Task& out);

// Arms the three timers as the image has them (a disarmed one is disarmed:
// the task is a fork of amber, whose own timers it must not keep). The
// remaining time starts counting again here: run it late in the restore,
// so a short ITIMER_REAL does not fire long before the task is released
// (it would only be pending then, delivered at release, but early).
// ITIMER_VIRTUAL and ITIMER_PROF count the task's own CPU time, which the
// remote syscalls after this one spend too: microseconds.
Status restore_itimers(remote::RemoteTask& task, const img::Task& in);

}  // namespace amber::kinds
