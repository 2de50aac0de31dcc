// Seccomp filters (see seccomp.h).
#include "kinds/seccomp.h"

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <algorithm>
#include <string>

#include "sys/ptrace.h"

namespace amber::kinds {

namespace {

// /proc/PID/status "Seccomp:" values.
constexpr int kModeStrict = 1;
// BPF_MAXINSNS: the kernel's limit for one filter program.
constexpr size_t kMaxInsns = 4096;
// Flags seccomp(SECCOMP_SET_MODE_FILTER) takes back that _GET_METADATA
// reports (only SECCOMP_FILTER_FLAG_LOG today).
constexpr uint64_t kRestorableFlags = SECCOMP_FILTER_FLAG_LOG;

}  // namespace

Status dump_seccomp(pid_t tid, const sys::ProcStatus& st, img::Thread& out) {
  out.clear_seccomp_filters();
  if (st.seccomp == kModeStrict)
    return unsupported("thread {}: seccomp strict mode (SECCOMP_MODE_STRICT): only read/write/exit are allowed to it",
                       out.tid());
  if (st.seccomp_filters == 0) return {};
  std::vector<sys::SeccompFilter> filters = TRY_CTX(sys::get_seccomp_filters(tid), "thread {}", out.tid());
  if (static_cast<int>(filters.size()) != st.seccomp_filters)
    return failf("thread {}: {} seccomp filters read, /proc says {}", out.tid(), filters.size(), st.seccomp_filters);
  // PTRACE_SECCOMP_GET_FILTER numbers them newest first.
  std::reverse(filters.begin(), filters.end());
  for (const sys::SeccompFilter& f : filters) {
    if (f.flags & ~kRestorableFlags)
      return unsupported("thread {}: seccomp filter with flags {:#x}", out.tid(), f.flags);
    img::SeccompFilter* o = out.add_seccomp_filters();
    o->set_flags(f.flags);
    o->set_insns(std::string(reinterpret_cast<const char*>(f.insns.data()), f.insns.size() * sizeof(sock_filter)));
  }
  return {};
}

bool seccomp_needs_caps(const img::Thread& t) {
  return t.seccomp_filters_size() > 0 && !t.creds().no_new_privs() &&
         !(t.creds().cap_eff() & (uint64_t{1} << CAP_SYS_ADMIN));
}

Status restore_seccomp(remote::RemoteTask& task, const img::Thread& t) {
  if (!task.has_executor()) return failf("thread {}: seccomp filters need the executor", t.tid());
  int n = 0;
  for (const img::SeccompFilter& f : t.seccomp_filters()) {
    ++n;
    const size_t len = f.insns().size() / sizeof(sock_filter);
    if (f.insns().size() % sizeof(sock_filter) != 0 || len == 0 || len > kMaxInsns)
      return bad_input("thread {}: seccomp filter {} of {} bytes is not a BPF program", t.tid(), n, f.insns().size());
    if (f.flags() & ~kRestorableFlags)
      return bad_input("thread {}: seccomp filter {} has flags {:#x}", t.tid(), n, f.flags());
    // struct sock_fprog { u16 len; u64 filter; } followed by the program.
    const uint64_t prog = task.scratch_addr() + sizeof(sock_fprog);
    if (sizeof(sock_fprog) + f.insns().size() > task.scratch_size())
      return failf("thread {}: seccomp filter {} does not fit the executor's scratch area", t.tid(), n);
    sock_fprog fp{};
    fp.len = static_cast<unsigned short>(len);
    fp.filter = reinterpret_cast<sock_filter*>(prog);
    std::string buf(reinterpret_cast<const char*>(&fp), sizeof fp);
    buf += f.insns();
    TRY_CTX(task.write(task.scratch_addr(), std::as_bytes(std::span(buf.data(), buf.size()))),
            "thread {}: write seccomp filter {}", t.tid(), n);
    TRY(task.syscall_checked(fmt::format("thread {}: seccomp filter {} of {} ({} insns)", t.tid(), n,
                                         t.seccomp_filters_size(), len),
                             SYS_seccomp, SECCOMP_SET_MODE_FILTER, f.flags(), task.scratch_addr()));
  }
  return {};
}

}  // namespace amber::kinds
