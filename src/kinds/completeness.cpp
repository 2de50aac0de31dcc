// The completeness table (see completeness.h). Each rule says why its class
// is what it is; the kernel source the keys come from is named per table.
#include "kinds/completeness.h"

#include <algorithm>
#include <csignal>

#include "base/files.h"
#include "sys/procfs.h"

namespace amber::kinds {

namespace {

using C = FieldClass;

// fs/proc/array.c task_state() and friends (Linux 6.18).
const std::vector<FieldRule> kStatus = {
    {"Name", C::Restored, "thread name (comm)"},
    {"Umask", C::Restored, "umask"},
    {"State", C::Info, "run state (the hold shows every task in a tracing stop)"},
    {"Tgid", C::Info, "host tgid (NStgid is restored)"},
    {"Ngid", C::Info, "NUMA group"},
    {"Pid", C::Info, "host pid (NSpid is restored)"},
    {"PPid", C::Info, "host parent pid (the tree is restored)"},
    {"TracerPid", C::Info, "tracer (amber during the hold; an outside tracer is a leak)"},
    {"Uid", C::Restored, "uids"},
    {"Gid", C::Restored, "gids"},
    {"FDSize", C::Info, "fd table size"},
    {"Groups", C::Restored, "supplementary groups"},
    {"NStgid", C::Restored, "tgid in the container"},
    {"NSpid", C::Restored, "pid in the container"},
    {"NSpgid", C::Restored, "process group in the container"},
    {"NSsid", C::Restored, "session in the container"},
    {"Kthread", C::Refused, "kernel thread", "0"},
    {"VmPeak", C::Info, "peak virtual memory"},
    {"VmSize", C::Info, "virtual memory"},
    // Resident locked pages: with MLOCK_ONFAULT only the faulted ones count,
    // and restore faults in only the pages it writes. The areas' lo and lf
    // VmFlags are what is restored and verified.
    {"VmLck", C::Info, "locked memory"},
    {"VmPin", C::Refused, "pinned memory", "0 kB"},
    {"VmHWM", C::Info, "peak resident memory"},
    {"VmRSS", C::Info, "resident memory"},
    {"RssAnon", C::Info, "resident anonymous memory"},
    {"RssFile", C::Info, "resident file memory"},
    {"RssShmem", C::Info, "resident shared memory"},
    {"VmData", C::Info, "data size"},
    {"VmStk", C::Info, "stack size"},
    {"VmExe", C::Info, "text size"},
    {"VmLib", C::Info, "library size"},
    {"VmPTE", C::Info, "page tables"},
    {"VmSwap", C::Info, "swapped memory"},
    {"HugetlbPages", C::Info, "hugetlb memory (hugetlb areas are refused by kinds/mm)"},
    {"CoreDumping", C::Refused, "core dump in progress", "0"},
    {"THP_enabled", C::Restored, "transparent huge pages (PR_SET_THP_DISABLE)"},
    {"untag_mask", C::Inherited, "linear address masking (ARCH_ENABLE_TAGGED_ADDR)"},
    {"x86_Thread_features", C::Inherited, "x86 thread features (shadow stack)"},
    {"x86_Thread_features_locked", C::Inherited, "locked x86 thread features"},
    {"Threads", C::Restored, "thread count"},
    {"SigQ", C::Info, "queued signals / limit"},
    {"SigPnd", C::Restored, "signals pending for the thread"},
    {"ShdPnd", C::Restored, "signals pending for the process"},
    {"SigBlk", C::Restored, "blocked signals"},
    {"SigIgn", C::Restored, "ignored signals"},
    {"SigCgt", C::Restored, "caught signals"},
    {"CapInh", C::Restored, "inheritable capabilities"},
    {"CapPrm", C::Restored, "permitted capabilities"},
    {"CapEff", C::Restored, "effective capabilities"},
    {"CapBnd", C::Restored, "bounding capabilities"},
    {"CapAmb", C::Restored, "ambient capabilities"},
    {"NoNewPrivs", C::Restored, "no_new_privs"},
    {"Seccomp", C::Restored, "seccomp mode"},
    {"Seccomp_filters", C::Restored, "seccomp filters"},
    {"Speculation_Store_Bypass", C::Inherited, "speculation control (PR_SET_SPECULATION_CTRL)"},
    {"SpeculationIndirectBranch", C::Inherited, "indirect branch speculation control (PR_SET_SPECULATION_CTRL)"},
    {"Cpus_allowed", C::Restored, "CPU affinity"},
    {"Cpus_allowed_list", C::Restored, "CPU affinity"},
    {"Mems_allowed", C::Inherited, "memory nodes (cpuset)"},
    {"Mems_allowed_list", C::Inherited, "memory nodes (cpuset)"},
    {"voluntary_ctxt_switches", C::Info, "context switches"},
    {"nonvoluntary_ctxt_switches", C::Info, "context switches"},
};

// fs/proc/array.c do_task_stat(): field numbers as proc(5) counts them.
const std::vector<FieldRule> kStat = {
    {"1", C::Info, "host pid"},
    {"2", C::Restored, "comm"},
    {"3", C::Info, "state"},
    {"4", C::Info, "host parent pid"},
    {"5", C::Info, "host process group"},
    {"6", C::Info, "host session"},
    {"7", C::Restored, "controlling terminal (a pty of the container, kinds/files/tty)"},
    // A host pgid: restored as Tty.foreground_pgrp (in the container), not compared.
    {"8", C::Info, "terminal foreground process group (host pgid; kinds/files/tty)"},
    {"9", C::Info, "kernel flags (PF_*)"},
    {"10", C::Info, "minor faults"},
    {"11", C::Info, "children's minor faults"},
    {"12", C::Info, "major faults"},
    {"13", C::Info, "children's major faults"},
    {"14", C::Info, "user time"},
    {"15", C::Info, "system time"},
    {"16", C::Info, "children's user time"},
    {"17", C::Info, "children's system time"},
    {"18", C::Restored, "scheduling priority"},
    {"19", C::Restored, "nice value"},
    {"20", C::Restored, "thread count"},
    {"21", C::Info, "itrealvalue (always 0)"},
    {"22", C::Info, "start time"},
    {"23", C::Info, "virtual memory size"},
    {"24", C::Info, "resident pages"},
    {"25", C::Restored, "RLIMIT_RSS"},
    {"26", C::Restored, "start of code"},
    {"27", C::Restored, "end of code"},
    {"28", C::Restored, "start of stack"},
    {"29", C::Info, "stack pointer (0 unless the task core dumps)"},
    {"30", C::Info, "instruction pointer (0 unless the task core dumps)"},
    {"31", C::Info, "pending signals (status has them)"},
    {"32", C::Info, "blocked signals (status has them)"},
    {"33", C::Info, "ignored signals (status has them)"},
    {"34", C::Info, "caught signals (status has them)"},
    {"35", C::Info, "wait channel"},
    {"36", C::Info, "nswap (always 0)"},
    {"37", C::Info, "cnswap (always 0)"},
    {"38", C::Restored, "exit signal"},
    {"39", C::Info, "last CPU"},
    {"40", C::Restored, "real-time priority"},
    {"41", C::Restored, "scheduling policy"},
    {"42", C::Info, "block I/O delay"},
    {"43", C::Info, "guest time"},
    {"44", C::Info, "children's guest time"},
    {"45", C::Restored, "start of data"},
    {"46", C::Restored, "end of data"},
    {"47", C::Restored, "start of heap"},
    {"48", C::Restored, "start of arguments"},
    {"49", C::Restored, "end of arguments"},
    {"50", C::Restored, "start of environment"},
    {"51", C::Restored, "end of environment"},
    {"52", C::Info, "exit code (zombies: kinds/tree)"},
};

// kernel/sched/debug.c proc_sched_show_task(): accounting is Info; what a
// task can set (policy, priority, its slice, utilization clamps) is not.
const std::vector<FieldRule> kSched = {
    {"policy", C::Restored, "scheduling policy"},
    {"prio", C::Restored, "scheduling priority"},
    {"se.slice", C::Inherited, "scheduler time slice (sched_setattr sched_runtime)"},
    {"se.load.weight", C::Info, "load weight (follows nice)"},
    {"se.", C::Info, "scheduler accounting", {}, true},
    {"nr_", C::Info, "scheduler counters", {}, true},
    {"numa_", C::Info, "NUMA statistics", {}, true},
    {"total_numa_faults", C::Info, "NUMA statistics"},
    {"mm->numa_scan_seq", C::Info, "NUMA statistics"},
    {"current_node", C::Info, "NUMA node"},
    {"clock-delta", C::Info, "clock read cost"},
    {"sum_sleep_runtime", C::Info, "schedstats"},
    {"sum_block_runtime", C::Info, "schedstats"},
    {"wait_", C::Info, "schedstats", {}, true},
    {"sleep_", C::Info, "schedstats", {}, true},
    {"block_", C::Info, "schedstats", {}, true},
    {"iowait_", C::Info, "schedstats", {}, true},
    {"exec_max", C::Info, "schedstats"},
    {"slice_max", C::Info, "schedstats"},
    {"core_forceidle_sum", C::Info, "schedstats"},
    {"avg_atom", C::Info, "schedstats"},
    {"avg_per_cpu", C::Info, "schedstats"},
    {"uclamp.min", C::Restored, "utilization clamp (sched_setattr)"},
    {"uclamp.max", C::Restored, "utilization clamp (sched_setattr)"},
    {"effective uclamp.", C::Info, "effective utilization clamp", {}, true},
    {"dl.", C::Refused, "SCHED_DEADLINE parameters", {}, true},
    {"ext.enabled", C::Refused, "sched_ext scheduling", "0"},
};

// fs/proc/task_mmu.c show_smap_vma_flags() mnemonics.
const std::vector<FieldRule> kVmFlags = {
    {"rd", C::Restored, "readable"},
    {"wr", C::Restored, "writable"},
    {"ex", C::Restored, "executable"},
    {"sh", C::Restored, "shared"},
    {"mr", C::Restored, "may read"},
    {"mw", C::Restored, "may write"},
    {"me", C::Restored, "may execute"},
    {"ms", C::Restored, "may share"},
    {"gd", C::Restored, "grows down"},
    {"pf", C::Refused, "PFN map (a device mapping)"},
    {"lo", C::Restored, "locked (mlock, MAP_LOCKED, mlockall)"},
    {"io", C::Refused, "memory-mapped I/O"},
    {"sr", C::Refused, "sequential read advice (MADV_SEQUENTIAL)"},
    {"rr", C::Refused, "random read advice (MADV_RANDOM)"},
    {"dc", C::Restored, "not copied on fork (MADV_DONTFORK)"},
    {"de", C::Refused, "not expandable (a driver's mapping)"},
    {"lf", C::Restored, "locked on fault (mlock2 MLOCK_ONFAULT)"},
    {"ac", C::Info, "accounted"},
    {"nr", C::Restored, "no swap reserve (MAP_NORESERVE)"},
    {"ht", C::Refused, "hugetlb"},
    {"sf", C::Refused, "synchronous page faults (MAP_SYNC)"},
    {"ar", C::Refused, "architecture-specific flag"},
    {"wf", C::Restored, "wiped on fork (MADV_WIPEONFORK)"},
    {"dd", C::Restored, "not in core dumps (MADV_DONTDUMP)"},
    {"bt", C::Refused, "arm64 BTI"},
    {"sd", C::Info, "soft-dirty"},
    {"mm", C::Refused, "mixed map (a driver's mapping)"},
    {"hg", C::Restored, "huge page advice (MADV_HUGEPAGE)"},
    {"nh", C::Restored, "no huge page advice (MADV_NOHUGEPAGE)"},
    {"mg", C::Refused, "KSM mergeable (MADV_MERGEABLE)"},
    {"um", C::Refused, "userfaultfd missing-page tracking"},
    {"uw", C::Refused, "userfaultfd write-protect tracking"},
    {"mt", C::Refused, "arm64 MTE"},
    {"ui", C::Refused, "userfaultfd minor faults"},
    {"ss", C::Refused, "shadow stack"},
    {"sl", C::Restored, "sealed (mseal)"},
    {"dp", C::Restored, "droppable (MAP_DROPPABLE; its pages come back empty)"},
    {"gu", C::Refused, "guard regions (MADV_GUARD_INSTALL)"},
};
// What the kernel's special mappings ([vdso], [vvar], ...) carry with them.
constexpr std::string_view kSpecialOk[] = {"pf", "io", "de"};

// fs/proc/fd.c seq_show() and fs/locks.c: the keys of the fd kinds amber
// restores (the other kinds are refused by kind before their keys matter).
const std::vector<FieldRule> kFdinfo = {
    {"pos", C::Restored, "file position"},
    {"flags", C::Restored, "open flags"},
    {"mnt_id", C::Info, "mount id"},
    {"ino", C::Info, "inode number"},
    {"lock", C::Restored, "file lock (kinds/files/locks)"},
    // fs/eventfd.c eventfd_show_fdinfo()
    {"eventfd-count", C::Restored, "eventfd counter"},
    {"eventfd-id", C::Info, "eventfd id (the kernel's numbering)"},
    {"eventfd-semaphore", C::Restored, "eventfd EFD_SEMAPHORE"},
    // fs/timerfd.c timerfd_show()
    {"clockid", C::Restored, "timerfd clock"},
    {"ticks", C::Restored, "timerfd expirations not read yet"},
    {"settime flags", C::Restored, "timerfd TFD_TIMER_ABSTIME / TFD_TIMER_CANCEL_ON_SET"},
    {"it_value", C::Restored, "timerfd time left"},
    {"it_interval", C::Restored, "timerfd interval"},
    // fs/signalfd.c signalfd_show_fdinfo()
    {"sigmask", C::Restored, "signalfd mask"},
    // fs/eventpoll.c ep_show_fdinfo()
    {"tfd", C::Restored, "epoll watch (target, events, data)"},
    {"inotify", C::Restored, "inotify watch (kinds/files/inotify)"},
    {"Pid", C::Restored, "a pidfd's task (kinds/files/pidfd)"},
    {"NSpid", C::Restored, "a pidfd's task in each pid namespace (kinds/files/pidfd)"},
    {"tty-index", C::Restored, "pty index (kinds/files/tty)"},
    // net/unix/af_unix.c unix_show_fdinfo(): fds in flight in the queue
    // (kinds/files/unix_socket refuses any).
    {"scm_fds", C::Restored, "unix socket: fds in flight (SCM_RIGHTS)"},
};

// fs/nsfs.c: every namespace kind in /proc/PID/ns.
const std::vector<FieldRule> kNs = {
    {"cgroup", C::Restored, "cgroup namespace (a new one at the container's cgroup)"},
    {"ipc", C::Restored, "ipc namespace"},
    {"mnt", C::Restored, "mount namespace (kinds/ns/mounts)"},
    {"net", C::Restored, "network namespace"},
    {"pid", C::Restored, "pid namespace"},
    {"pid_for_children", C::Restored, "pid namespace of future children"},
    {"time", C::Restored, "time namespace (the host's initial one only)"},
    {"time_for_children", C::Restored, "time namespace of future children"},
    {"user", C::Restored, "user namespace (the host's initial one only)"},
    {"uts", C::Restored, "uts namespace (kinds/ns/uts)"},
};

// fs/proc_namespace.c show_mountinfo() optional fields.
const std::vector<FieldRule> kMountOptional = {
    {"shared", C::Restored, "peer group"},
    {"master", C::Restored, "slave of a peer group"},
    {"propagate_from", C::Restored, "propagation source"},
    {"unbindable", C::Restored, "unbindable"},
};

// NStgid, NSpid, NSpgid, NSsid list the id in every pid namespace from the
// host's down: restore recreates the innermost one.
std::string normalize(ProcSource src, std::string_view key, std::string_view value) {
  if (src == ProcSource::Status && key.starts_with("NS")) {
    size_t sp = value.find_last_of(" \t");
    return std::string(sp == std::string_view::npos ? value : value.substr(sp + 1));
  }
  return std::string(value);
}

std::string class_hint(const FieldRule& r) {
  switch (r.cls) {
    case C::Inherited:
      return "amber restores it only as the value amber itself runs with";
    case C::Refused:
      return "not supported yet";
    default:
      return "";
  }
}

const std::map<std::string, std::string>* reference_of(ProcSource src, const Reference& ref) {
  switch (src) {
    case ProcSource::Status:
      return &ref.status;
    case ProcSource::Stat:
      return &ref.stat;
    case ProcSource::Sched:
      return &ref.sched;
    default:
      return nullptr;
  }
}

// Only the fields the table keeps, normalized as at the dump.
std::map<std::string, std::string> kept_fields(ProcSource src, const KeyValues& fields) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : fields) {
    const FieldRule* r = find_rule(src, key);
    if (r && (r->cls == C::Restored || r->cls == C::Inherited)) out[key] = normalize(src, key, value);
  }
  return out;
}

}  // namespace

const std::vector<FieldRule>& rules(ProcSource src) {
  switch (src) {
    case ProcSource::Status:
      return kStatus;
    case ProcSource::Stat:
      return kStat;
    case ProcSource::Sched:
      return kSched;
    case ProcSource::VmFlags:
      return kVmFlags;
    case ProcSource::Fdinfo:
      return kFdinfo;
    case ProcSource::Ns:
      return kNs;
    case ProcSource::MountOptional:
      return kMountOptional;
  }
  return kStatus;
}

std::string_view source_name(ProcSource src) {
  switch (src) {
    case ProcSource::Status:
      return "status";
    case ProcSource::Stat:
      return "stat";
    case ProcSource::Sched:
      return "sched";
    case ProcSource::VmFlags:
      return "VmFlags";
    case ProcSource::Fdinfo:
      return "fdinfo";
    case ProcSource::Ns:
      return "ns";
    case ProcSource::MountOptional:
      return "mountinfo optional field";
  }
  return "?";
}

const FieldRule* find_rule(ProcSource src, std::string_view key) {
  const FieldRule* best = nullptr;
  for (const FieldRule& r : rules(src)) {
    if (!r.prefix && r.key == key) return &r;
    if (r.prefix && key.starts_with(r.key) && (!best || r.key.size() > best->key.size())) best = &r;
  }
  return best;
}

KeyValues parse_status_fields(std::string_view text) {
  KeyValues out;
  for (std::string_view line : split(text, '\n')) {
    size_t colon = line.find(':');
    if (line.empty() || colon == std::string_view::npos) continue;
    out.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
  }
  return out;
}

KeyValues parse_sched_fields(std::string_view text) {
  KeyValues out;
  size_t n = 0;
  for (std::string_view line : split(text, '\n')) {
    // Line 1 is "comm (pid, #threads: N)", line 2 dashes.
    if (n++ < 2 || trim(line).empty()) continue;
    size_t colon = line.find(" : ");
    if (colon == std::string_view::npos) colon = line.find(':');
    if (colon != std::string_view::npos) {
      out.emplace_back(std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
      continue;
    }
    // "current_node=0, numa_group_id=0", "numa_faults node=0 task_private=0 ..."
    size_t end = line.find_first_of("= ");
    out.emplace_back(std::string(trim(line.substr(0, end))), std::string(end == line.npos ? "" : line.substr(end)));
  }
  return out;
}

Result<KeyValues> parse_stat_fields(std::string_view text) {
  size_t open = text.find('('), close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return bad_input("stat: no (comm)");
  KeyValues out;
  out.emplace_back("1", std::string(trim(text.substr(0, open))));
  out.emplace_back("2", std::string(text.substr(open + 1, close - open - 1)));
  int i = 3;
  for (std::string_view f : split_ws(text.substr(close + 1))) out.emplace_back(std::to_string(i++), std::string(f));
  return out;
}

Result<Reference> read_reference() {
  Reference r;
  std::string status = TRY(read_file("/proc/thread-self/status"));
  for (auto& [k, v] : parse_status_fields(status)) r.status[k] = v;
  std::string stat = TRY(read_file("/proc/thread-self/stat"));
  for (auto& [k, v] : TRY(parse_stat_fields(stat))) r.stat[k] = v;
  std::string sched = TRY(read_file("/proc/thread-self/sched"));
  for (auto& [k, v] : parse_sched_fields(sched)) r.sched[k] = v;
  return r;
}

Result<std::map<std::string, std::string>> check_fields(ProcSource src, const KeyValues& fields,
                                                        const Reference& ref, std::string_view who) {
  const auto* mine = reference_of(src, ref);
  for (const auto& [key, value] : fields) {
    const FieldRule* r = find_rule(src, key);
    if (!r)
      return unsupported("{}: /proc {} field '{}' ({}) is unknown to this amber (a newer kernel?): not supported yet",
                         who, source_name(src), key, value);
    switch (r->cls) {
      case C::Info:
        break;
      case C::Refused:
        if (r->dflt.empty() || value != r->dflt)
          return unsupported("{}: {} ({} '{}' is {}): {}", who, r->what, source_name(src), key, value,
                             class_hint(*r));
        break;
      case C::Inherited:
        if (mine) {
          auto it = mine->find(key);
          if (it == mine->end() || it->second != value)
            return unsupported("{}: {} ({} '{}' is {}, amber runs with {}): {}", who, r->what, source_name(src), key,
                               value, it == mine->end() ? "none" : it->second, class_hint(*r));
        }
        break;
      case C::Restored:
        break;
    }
  }
  return kept_fields(src, fields);
}

Result<std::string> check_vmflags(const std::vector<std::string>& mnemonics, bool special, std::string_view who) {
  for (const std::string& m : mnemonics) {
    const FieldRule* r = find_rule(ProcSource::VmFlags, m);
    if (!r) return unsupported("{}: VmFlags '{}' is unknown to this amber (a newer kernel?): not supported yet", who, m);
    if (r->cls != C::Refused) continue;
    if (special && std::find(std::begin(kSpecialOk), std::end(kSpecialOk), m) != std::end(kSpecialOk)) continue;
    return unsupported("{}: {} (VmFlags '{}'): not supported yet", who, r->what, m);
  }
  return verified_vmflags(mnemonics);
}

std::string verified_vmflags(const std::vector<std::string>& mnemonics) {
  std::vector<std::string> keep;
  for (const std::string& m : mnemonics) {
    const FieldRule* r = find_rule(ProcSource::VmFlags, m);
    if (!r || r->cls == C::Restored || r->cls == C::Inherited) keep.push_back(m);
  }
  std::sort(keep.begin(), keep.end());
  std::string out;
  for (const std::string& m : keep) out += (out.empty() ? "" : " ") + m;
  return out;
}

Status check_fdinfo_keys(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view who) {
  for (const auto& [key, value] : fields) {
    const FieldRule* r = find_rule(ProcSource::Fdinfo, key);
    if (!r)
      return unsupported("{}: fdinfo field '{}' ({}) is unknown to this amber (a newer kernel?): not supported yet",
                         who, key, value);
    if (r->cls == C::Refused) return unsupported("{}: {} (fdinfo '{}'): not supported yet", who, r->what, key);
  }
  return {};
}

Status check_mount_optional(const std::vector<std::string>& optional_fields, std::string_view who) {
  for (const std::string& f : optional_fields) {
    std::string_view tag = f;
    tag = tag.substr(0, tag.find(':'));
    if (!find_rule(ProcSource::MountOptional, tag))
      return unsupported("{}: mountinfo optional field '{}' is unknown to this amber (a newer kernel?): not supported yet",
                         who, f);
  }
  return {};
}

namespace {

// Signals the kernel may queue between the restore of the timers and the
// verification (the tasks are stopped, so they stay pending): SIGALRM,
// SIGVTALRM, SIGPROF of the itimers the image arms, and the signals of its
// armed POSIX timers — to the process (thread 0), or with SIGEV_THREAD_ID
// to thread `thread` only.
uint64_t timer_signals(const img::Task& task, pid_t thread = 0) {
  auto armed = [](const img::ITimer& t) { return t.value_sec() != 0 || t.value_usec() != 0; };
  auto bit = [](int sig) { return sig >= 1 && sig <= 64 ? uint64_t{1} << (sig - 1) : 0; };
  uint64_t bits = 0;
  if (thread == 0)
    bits = (armed(task.itimer_real()) ? bit(SIGALRM) : 0) | (armed(task.itimer_virtual()) ? bit(SIGVTALRM) : 0) |
           (armed(task.itimer_prof()) ? bit(SIGPROF) : 0);
  for (const img::PosixTimer& t : task.posix_timers()) {
    if (t.remaining_ns() == 0 || t.notify() == SIGEV_NONE) continue;
    const bool to_thread = (t.notify() & SIGEV_THREAD_ID) != 0;
    if (to_thread ? t.thread() == thread : thread == 0) bits |= bit(t.signo());
  }
  return bits;
}

uint64_t pending_bits(const google::protobuf::RepeatedPtrField<img::PendingSignal>& pending) {
  uint64_t bits = 0;
  for (const img::PendingSignal& p : pending)
    if (p.signo() >= 1 && p.signo() <= 64) bits |= uint64_t{1} << (p.signo() - 1);
  return bits;
}

// A pending set may have grown by `extra` signals and lost none.
bool pending_matches(std::string_view have, std::string_view want, uint64_t extra) {
  auto h = parse_uint(have, 16), w = parse_uint(want, 16);
  return h && w && (*h & *w) == *w && (*h & ~*w & ~extra) == 0;
}

Status compare(ProcSource src, const google::protobuf::Map<std::string, std::string>& want,
               const std::map<std::string, std::string>& have, std::string_view who, uint64_t extra_shared = 0,
               uint64_t extra_thread = 0) {
  for (const auto& [key, value] : want) {
    auto it = have.find(key);
    if (it != have.end() && src == ProcSource::Status && key == "ShdPnd" && pending_matches(it->second, value, extra_shared))
      continue;
    if (it != have.end() && src == ProcSource::Status && key == "SigPnd" && pending_matches(it->second, value, extra_thread))
      continue;
    if (it == have.end() || it->second != value) {
      const FieldRule* r = find_rule(src, key);
      return failf("{}: {} ({} '{}') is {} after the restore, the image has {}", who, r ? r->what : "?",
                   source_name(src), key, it == have.end() ? "missing" : "'" + it->second + "'", "'" + value + "'");
    }
  }
  return {};
}

std::string thread_path(pid_t pid, pid_t tid, std::string_view file) {
  return fmt::format("/proc/{}/task/{}/{}", pid, tid, file);
}

}  // namespace

Status record_proc_fields(pid_t pid, const std::vector<pid_t>& tids, const Reference& ref, img::Task& task) {
  const std::string who = fmt::format("task {}", task.pid());
  std::string stat = TRY_CTX(read_file(fmt::format("/proc/{}/stat", pid)), "{}", who);
  auto kept = TRY(check_fields(ProcSource::Stat, TRY_CTX(parse_stat_fields(stat), "{}", who), ref, who));
  task.mutable_proc_stat()->insert(kept.begin(), kept.end());
  if (static_cast<int>(tids.size()) != task.threads_size())
    return failf("{}: {} threads held, {} dumped", who, tids.size(), task.threads_size());
  for (size_t i = 0; i < tids.size(); ++i) {
    img::Thread& th = *task.mutable_threads(static_cast<int>(i));
    const std::string twho = th.tid() == task.pid() ? who : fmt::format("{} thread {}", who, th.tid());
    std::string status = TRY_CTX(read_file(thread_path(pid, tids[i], "status")), "{}", twho);
    auto st = TRY(check_fields(ProcSource::Status, parse_status_fields(status), ref, twho));
    th.mutable_proc_status()->insert(st.begin(), st.end());
    std::string sched = TRY_CTX(read_file(thread_path(pid, tids[i], "sched")), "{}", twho);
    auto sc = TRY(check_fields(ProcSource::Sched, parse_sched_fields(sched), ref, twho));
    th.mutable_proc_sched()->insert(sc.begin(), sc.end());
  }
  return {};
}

Status verify_proc_fields(pid_t pid, const std::vector<pid_t>& tids, const img::Task& task) {
  const std::string who = fmt::format("task {}", task.pid());
  std::string stat = TRY_CTX(read_file(fmt::format("/proc/{}/stat", pid)), "{}", who);
  TRY(compare(ProcSource::Stat, task.proc_stat(),
              kept_fields(ProcSource::Stat, TRY_CTX(parse_stat_fields(stat), "{}", who)), who));
  for (size_t i = 0; i < tids.size() && i < static_cast<size_t>(task.threads_size()); ++i) {
    const img::Thread& th = task.threads(static_cast<int>(i));
    const std::string twho = th.tid() == task.pid() ? who : fmt::format("{} thread {}", who, th.tid());
    std::string status = TRY_CTX(read_file(thread_path(pid, tids[i], "status")), "{}", twho);
    // What restore queues is the image's pending lists: SigPnd and ShdPnd
    // are derived from them. The status lines read at the dump can hold a
    // timer signal that fired (the tasks are held, their itimers run) after
    // the lists were read.
    google::protobuf::Map<std::string, std::string> want = th.proc_status();
    if (want.contains("SigPnd")) want["SigPnd"] = fmt::format("{:016x}", pending_bits(th.pending()));
    if (want.contains("ShdPnd")) want["ShdPnd"] = fmt::format("{:016x}", pending_bits(task.shared_pending()));
    TRY(compare(ProcSource::Status, want, kept_fields(ProcSource::Status, parse_status_fields(status)), twho,
                timer_signals(task), timer_signals(task, th.tid())));
    std::string sched = TRY_CTX(read_file(thread_path(pid, tids[i], "sched")), "{}", twho);
    TRY(compare(ProcSource::Sched, th.proc_sched(), kept_fields(ProcSource::Sched, parse_sched_fields(sched)), twho));
  }
  return {};
}

}  // namespace amber::kinds
