// Who a thread is: uids and gids (real, effective, saved, fs), supplementary
// groups, capabilities (effective, permitted, inheritable, bounding,
// ambient), securebits, no_new_privs, personality; and its process's
// dumpable flag. Each thread has its own struct cred: dumped and restored
// thread by thread. Read from /proc/PID/task/TID/status where the kernel
// shows it, by remote prctl/personality where only the thread can answer.
//
// Restore, in each thread of a task that is a fork of amber (root, every
// capability amber has), in the DESIGN.md order, driven by restore/rebuild:
//   restore_ids        keepcaps → setgroups → setresgid, setfsgid →
//                      setresuid → capset (every permitted cap effective
//                      again, inheritable set) → setfsuid → bounding caps
//                      dropped (PR_CAPBSET_DROP needs CAP_SETPCAP, still
//                      effective) → ambient → securebits → personality
//   [seccomp filters, when only CAP_SYS_ADMIN allows them: seccomp.h]
//   restore_caps       capset to the saved effective/permitted/inheritable
// then per process restore_dumpable (commit_creds() resets mm->dumpable
// to fs.suid_dumpable whenever euid/fsuid change, so it comes after every
// thread's ids), per thread restore_no_new_privs, seccomp filters, and
// verify_creds.
#pragma once
#include <sys/types.h>

#include "base/result.h"
#include "remote/remote_task.h"
#include "task.pb.h"

namespace amber::kinds {

// Fills out.creds for the stopped thread `task` of process `pid`. Needs the
// executor mapped (or shared).
Status dump_creds(remote::RemoteTask& task, pid_t pid, img::Thread& out);
// PR_GET_DUMPABLE of the process into out.dumpable. 2 (SUID_DUMP_ROOT, only
// reachable through fs.suid_dumpable = 2) cannot be set with prctl:
// Exit::Unsupported.
Status dump_dumpable(remote::RemoteTask& leader, img::Task& out);

// Refuses, before touching the thread, capabilities the fresh thread (a
// fork of amber) does not hold in its permitted or bounding set: they can
// never be raised (no CAP_SYS_RESOURCE here, for one).
// What restore_* would refuse in the image alone (Exit::BadInput), checked
// before anything is created (restore/plan.cpp).
Status check_creds_image(const img::Thread& t);

// What amber itself holds: a restored thread is a fork of amber and can be
// given no more. From amber's /proc/self/status and cap_last_cap.
struct OwnCreds {
  uint64_t cap_prm = 0, cap_eff = 0, cap_bnd = 0, cap_inh = 0;
  int last_cap = 0;
};
Result<OwnCreds> own_creds();
// Credentials of thread `t` of task `pid` above amber's own, or that the
// restore could not set as recorded, are bad input (one line naming the
// task, the thread and the capability or id), refused before anything is
// created: capabilities amber's permitted or bounding set lacks (no
// CAP_SYS_RESOURCE here, for one) or the kernel does not know, an
// effective or ambient set the kernel could never show, an id of -1 (to
// setresuid it means "unchanged": the thread would stay root), ids or
// groups amber lacks CAP_SETUID / CAP_SETGID to set, unknown securebits
// or securebits without CAP_SETPCAP, the personality query value.
Status check_creds_here(pid_t pid, const img::Thread& t, const OwnCreds& own);
Status check_dumpable_image(const img::Task& in);
Status restore_ids(remote::RemoteTask& task, const img::Thread& t);
Status restore_caps(remote::RemoteTask& task, const img::Thread& t);
Status restore_dumpable(remote::RemoteTask& leader, const img::Task& in);
Status restore_no_new_privs(remote::RemoteTask& task, const img::Thread& t);

// The thread's /proc status says exactly what the image says: uids, gids,
// groups, the five capability sets, NoNewPrivs, seccomp filter count.
// setfsuid/setfsgid report no errors: this is how a failure shows.
Status verify_creds(pid_t pid, pid_t tid, const img::Thread& t);

}  // namespace amber::kinds
