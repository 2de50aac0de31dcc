// Seccomp filters of a thread: dumped with PTRACE_SECCOMP_GET_FILTER (and
// _GET_METADATA for their flags), restored by remote
// seccomp(SECCOMP_SET_MODE_FILTER) in the thread itself, oldest first, so
// that the kernel's filter chain is the same. Strict mode (SECCOMP_MODE_STRICT)
// is refused at dump (Exit::Unsupported): not supported yet.
//
// Remote syscalls after a filter is installed are not filtered: every
// RemoteTask is seized with PTRACE_O_SUSPEND_SECCOMP. Filters still go last
// (DESIGN.md), with one exception: a thread without no_new_privs whose
// final effective set lacks CAP_SYS_ADMIN could not install them after
// restore_caps (EACCES, seccomp_prepare_filter); its filters are installed
// between restore_ids and restore_caps, while CAP_SYS_ADMIN is still held,
// as the program itself must have done (seccomp_needs_caps).
#pragma once
#include <sys/types.h>

#include "base/result.h"
#include "remote/remote_task.h"
#include "sys/procfs.h"
#include "task.pb.h"

namespace amber::kinds {

// Fills out.seccomp_filters (oldest first) of thread `tid` whose status is
// `st`. Exit::Unsupported for strict mode.
Status dump_seccomp(pid_t tid, const sys::ProcStatus& st, img::Thread& out);

// True when the filters must be installed before the capabilities are
// dropped (see above).
bool seccomp_needs_caps(const img::Thread& t);

// Installs the thread's filters. Needs the executor (the programs are
// written to its scratch area).
Status restore_seccomp(remote::RemoteTask& task, const img::Thread& t);

}  // namespace amber::kinds
