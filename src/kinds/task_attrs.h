// Per-task attributes the kernel keeps outside memory, registers and creds:
// scheduling (policy, rt priority, reset-on-fork, nice, uclamp, CPU
// affinity, io priority: per thread), prctl state (parent-death signal and
// timer slack per thread; child subreaper per process; THP disable per
// address space), membarrier registrations (per address space),
// oom_score_adj (per process), the audit loginuid, and the job-control stop.
//
// Where each is read and set, and why there:
//   sched_*, nice, affinity, ioprio   read and set from outside by amber
//                                     (sched_getattr/setattr, get/setpriority,
//                                     sched_get/setaffinity, ioprio_get/set on
//                                     the host tid). Set by restore_sched as
//                                     the very last step before the release:
//                                     a SCHED_FIFO task made runnable early
//                                     could starve amber on a small machine
//                                     (it stays in its ptrace stop, but so the
//                                     order never matters). SCHED_DEADLINE is
//                                     refused at dump (Unsupported).
//   pdeathsig, timer slack            remote prctl in each thread (the calls
//                                     answer about the calling thread); set
//                                     after the credentials: commit_creds()
//                                     clears pdeath_signal when ids change.
//   subreaper, THP disable,           remote prctl / membarrier in the leader.
//   membarrier                        membarrier has no query: the PRIVATE_
//                                     EXPEDITED(_SYNC_CORE, _RSEQ) command
//                                     itself returns 0 when registered, EPERM
//                                     when not. GLOBAL_EXPEDITED never fails,
//                                     so its registration cannot be seen: every
//                                     restored process registers it (it only
//                                     adds barriers the process may receive).
//   oom_score_adj                     /proc/PID/oom_score_adj, from outside.
//                                     Lowering it below the value the task was
//                                     forked with needs CAP_SYS_RESOURCE:
//                                     refused with Unsupported when so.
//   loginuid                          only the task itself may write its
//                                     /proc/self/loginuid: done in the fork
//                                     phase (apply_loginuid_in_child); the
//                                     threads created after it inherit it.
//   stopped                           the hold saw a group-stop (RemoteTask::
//                                     group_stopped). Restored by SIGSTOP to
//                                     every thread while the tasks are
//                                     detached in the frozen cgroup: each
//                                     thread takes it before returning to
//                                     user space, so none runs an instruction.
#pragma once
#include <sys/types.h>

#include <vector>

#include "base/result.h"
#include "remote/remote_task.h"
#include "task.pb.h"

namespace amber::kinds {

// Scheduling attributes of one thread (host tid), from outside; the
// caller's context names the task and thread. Unsupported: SCHED_DEADLINE
// (and SCHED_EXT, or a policy this amber does not know).
Status dump_sched(pid_t tid, img::Sched& out);

// Parent-death signal and timer slack of the thread (remote prctl; the
// executor mapped or shared).
Status dump_thread_prctl(remote::RemoteTask& task, img::Thread& out);
Status restore_thread_prctl(remote::RemoteTask& task, const img::Thread& thread);

// Per process: child subreaper, THP disable, membarrier registrations
// (remote, in the leader), oom_score_adj and loginuid (/proc), and whether
// the process is in a job-control stop (`stopped`, from the hold).
Status dump_process_attrs(remote::RemoteTask& leader, bool stopped, img::Task& out);
// The remote half of the restore (subreaper, THP, membarrier), in the leader,
// and oom_score_adj from outside.
Status restore_process_attrs(remote::RemoteTask& leader, const img::Task& task);

// Runs inside the restored task (fork phase, before its threads exist).
Status apply_loginuid_in_child(const img::Task& task);

// One thread of a restored task, for the last steps.
struct SchedTarget {
  pid_t host_tid = 0;
  pid_t vpid = 0;
  const img::Thread* thread = nullptr;
};
// Sets every thread's scheduling attributes; real-time policies after all
// others (see above). Run just before the release, all tasks still stopped.
Status restore_sched(const std::vector<SchedTarget>& threads);

// After the tasks are detached into the frozen cgroup: SIGSTOP to every
// thread of a task that was stopped (host tgid and tids).
Status stop_again(pid_t host_tgid, const std::vector<pid_t>& host_tids, pid_t vpid);

}  // namespace amber::kinds
