// Credentials, securebits, no_new_privs, personality, dumpable (see creds.h).
#include "kinds/creds.h"

#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "base/files.h"
#include "sys/procfs.h"

namespace amber::kinds {

namespace {

constexpr uint64_t kPersonalityQuery = 0xffffffff;
constexpr uint64_t kSuidDumpRoot = 2;

// capset(2)'s arguments, version 3: two 32-bit halves of each set.
struct CapArgs {
  __user_cap_header_struct hdr;
  __user_cap_data_struct data[2];
};
static_assert(sizeof(CapArgs) == 8 + 24);

CapArgs cap_args(uint64_t eff, uint64_t prm, uint64_t inh) {
  CapArgs a{};
  a.hdr.version = _LINUX_CAPABILITY_VERSION_3;
  a.hdr.pid = 0;  // the calling thread
  for (int i = 0; i < 2; ++i) {
    a.data[i].effective = static_cast<uint32_t>(eff >> (32 * i));
    a.data[i].permitted = static_cast<uint32_t>(prm >> (32 * i));
    a.data[i].inheritable = static_cast<uint32_t>(inh >> (32 * i));
  }
  return a;
}

// Calls that each stop the batch on failure; the error names the step.
class Steps {
 public:
  void add(remote::Call c, std::string label) {
    c.stop_on_error = true;
    calls_.push_back(c);
    labels_.push_back(std::move(label));
  }
  Status run(remote::RemoteTask& task, pid_t vtid) {
    Status st = task.run_batch(calls_);
    for (size_t i = 0; i < calls_.size(); ++i)
      if (calls_[i].failed())
        return sys_fail_errno(static_cast<int>(-calls_[i].result), "thread {}: {}", vtid, labels_[i]);
    return context(std::move(st), fmt::format("thread {}", vtid));
  }

 private:
  std::vector<remote::Call> calls_;
  std::vector<std::string> labels_;
};

Result<int> cap_last_cap() {
  std::string s = TRY(read_file("/proc/sys/kernel/cap_last_cap"));
  int v = 0;
  try {
    v = std::stoi(s);
  } catch (...) {
    return failf("/proc/sys/kernel/cap_last_cap: \"{}\"", s);
  }
  if (v < 0 || v > 63) return failf("/proc/sys/kernel/cap_last_cap: {}", v);
  return v;
}

// Names as in capabilities(7), by number (0..40 on 6.x kernels).
constexpr std::string_view kCapNames[] = {
    "CAP_CHOWN",          "CAP_DAC_OVERRIDE",    "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",         "CAP_KILL",            "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",        "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",      "CAP_NET_RAW",         "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",      "CAP_SYS_ADMIN",       "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",   "CAP_SYS_TIME",        "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",          "CAP_AUDIT_WRITE",     "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",   "CAP_MAC_ADMIN",       "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",      "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

// "capability 24 (CAP_SYS_RESOURCE)", or "capabilities 24 (CAP_SYS_RESOURCE), 40 (...)".
std::string cap_names(uint64_t caps) {
  std::string out;
  int n = 0;
  for (int c = 0; c < 64; ++c) {
    if (!(caps & (uint64_t{1} << c))) continue;
    out += fmt::format("{}{} ({})", n++ ? ", " : "", c,
                       c < static_cast<int>(std::size(kCapNames)) ? kCapNames[c] : std::string_view("unknown"));
  }
  return fmt::format("{} {}", n == 1 ? "capability" : "capabilities", out);
}

constexpr uint64_t bit(int cap) { return uint64_t{1} << cap; }

std::string cap_list(uint64_t caps) {
  std::string out;
  for (int c = 0; c < 64; ++c)
    if (caps & (uint64_t{1} << c)) out += (out.empty() ? "" : ",") + std::to_string(c);
  return out;
}

}  // namespace

Status check_dumpable_image(const img::Task& in) {
  if (in.dumpable() >= kSuidDumpRoot) return bad_input("task {}: dumpable {} cannot be set", in.pid(), in.dumpable());
  return {};
}

Status check_creds_image(const img::Thread& t) {
  if (!t.has_creds()) return bad_input("thread {}: no credentials in the image", t.tid());
  const img::Creds& c = t.creds();
  if (c.uids_size() != 4 || c.gids_size() != 4)
    return bad_input("thread {}: credentials need 4 uids and 4 gids, the image has {} and {}", t.tid(), c.uids_size(),
                     c.gids_size());
  return {};
}

Result<OwnCreds> own_creds() {
  sys::ProcStatus st = TRY_CTX(sys::read_status(::getpid()), "amber's own credentials");
  OwnCreds own;
  own.cap_prm = st.cap_prm;
  own.cap_eff = st.cap_eff;
  own.cap_bnd = st.cap_bnd;
  own.cap_inh = st.cap_inh;
  own.last_cap = TRY(cap_last_cap());
  return own;
}

Status check_creds_here(pid_t pid, const img::Thread& t, const OwnCreds& own) {
  TRY(check_creds_image(t));
  const img::Creds& c = t.creds();
  auto refuse = [&](std::string what) -> Status {
    return bad_input("task {}: thread {}: {}", pid, t.tid(), what);
  };
  const uint64_t known = own.last_cap >= 63 ? ~uint64_t{0} : (uint64_t{1} << (own.last_cap + 1)) - 1;
  const uint64_t all = c.cap_prm() | c.cap_eff() | c.cap_inh() | c.cap_bnd() | c.cap_amb();
  if (uint64_t x = all & ~known)
    return refuse(fmt::format("{} unknown to this kernel (its last is {})", cap_names(x), own.last_cap));
  // Permitted (and so effective, ambient): only what amber holds itself.
  if (uint64_t x = c.cap_prm() & ~own.cap_prm)
    return refuse(fmt::format("permitted {} above amber's own: refused", cap_names(x)));
  // Bounding: can only be dropped; inheritable: capset keeps it within the
  // bounding set (amber has CAP_SETPCAP) or amber's own inheritable set.
  if (uint64_t x = c.cap_bnd() & ~own.cap_bnd)
    return refuse(fmt::format("bounding {} outside amber's bounding set: refused", cap_names(x)));
  const uint64_t inh_ok = own.cap_inh | ((own.cap_eff & bit(CAP_SETPCAP)) ? own.cap_bnd : own.cap_prm);
  if (uint64_t x = c.cap_inh() & ~inh_ok)
    return refuse(fmt::format("inheritable {} amber cannot grant: refused", cap_names(x)));
  if (uint64_t x = c.cap_eff() & ~c.cap_prm())
    return refuse(fmt::format("effective {} not permitted (the kernel never shows that)", cap_names(x)));
  if (uint64_t x = c.cap_amb() & ~(c.cap_prm() & c.cap_inh()))
    return refuse(fmt::format("ambient {} not permitted and inheritable", cap_names(x)));
  // Ids: -1 to setres[ug]id means "leave it": the thread would keep amber's 0.
  for (int i = 0; i < 4; ++i) {
    if (c.uids(i) == UINT32_MAX) return refuse("uid -1 (to setresuid it means 'unchanged'): refused");
    if (c.gids(i) == UINT32_MAX) return refuse("gid -1 (to setresgid it means 'unchanged'): refused");
  }
  for (uint32_t g : c.groups())
    if (g == UINT32_MAX) return refuse("supplementary group -1: refused");
  if (c.groups_size() > NGROUPS_MAX) return refuse(fmt::format("{} supplementary groups (at most {})", c.groups_size(), NGROUPS_MAX));
  const bool ids_change = std::any_of(c.uids().begin(), c.uids().end(), [](uint32_t u) { return u != ::getuid(); });
  const bool gids_change = std::any_of(c.gids().begin(), c.gids().end(), [](uint32_t g) { return g != ::getgid(); }) ||
                           c.groups_size() > 0;
  if (ids_change && !(own.cap_eff & bit(CAP_SETUID)))
    return refuse(fmt::format("uids {} need CAP_SETUID, which amber lacks", fmt::join(c.uids(), " ")));
  if (gids_change && !(own.cap_eff & bit(CAP_SETGID)))
    return refuse(fmt::format("gids {} need CAP_SETGID, which amber lacks", fmt::join(c.gids(), " ")));
  // restore_ids sets securebits (and drops bounding caps) with CAP_SETPCAP.
  constexpr uint32_t kKnownSecurebits = SECURE_ALL_BITS | SECURE_ALL_LOCKS;
  if (uint32_t x = c.securebits() & ~kKnownSecurebits) return refuse(fmt::format("unknown securebits {:#x}: refused", x));
  if (!(own.cap_eff & bit(CAP_SETPCAP)))
    return refuse("securebits and the bounding set need CAP_SETPCAP, which amber lacks");
  if (c.personality() == 0xffffffff) return refuse("personality 0xffffffff (personality(2)'s query, not a value)");
  return {};
}

Status dump_creds(remote::RemoteTask& task, pid_t pid, img::Thread& out) {
  const pid_t tid = task.tid();
  sys::ProcStatus st = TRY_CTX(sys::read_thread_status(pid, tid), "thread {}: status", out.tid());
  img::Creds* c = out.mutable_creds();
  c->Clear();
  for (uint32_t u : st.uid) c->add_uids(u);
  for (uint32_t g : st.gid) c->add_gids(g);
  for (uint32_t g : st.groups) c->add_groups(g);
  c->set_cap_inh(st.cap_inh);
  c->set_cap_prm(st.cap_prm);
  c->set_cap_eff(st.cap_eff);
  c->set_cap_bnd(st.cap_bnd);
  c->set_cap_amb(st.cap_amb);
  c->set_no_new_privs(st.no_new_privs != 0);
  // Securebits and personality: only the thread itself can ask.
  std::vector<remote::Call> calls = {remote::make_call(SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0),
                                     remote::make_call(SYS_personality, kPersonalityQuery)};
  TRY_CTX(task.run_batch(calls), "thread {}: securebits / personality", out.tid());
  c->set_securebits(static_cast<uint32_t>(
      TRY(remote::check_syscall(calls[0].result, fmt::format("thread {}: PR_GET_SECUREBITS", out.tid())))));
  c->set_personality(static_cast<uint32_t>(
      TRY(remote::check_syscall(calls[1].result, fmt::format("thread {}: personality", out.tid())))));
  return {};
}

Status dump_dumpable(remote::RemoteTask& leader, img::Task& out) {
  uint64_t d = TRY(leader.syscall_checked("prctl(PR_GET_DUMPABLE)", SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0));
  if (d >= kSuidDumpRoot)
    return unsupported("task {}: dumpable is {} (SUID_DUMP_ROOT, from fs.suid_dumpable): prctl cannot set it back",
                       out.pid(), d);
  out.set_dumpable(static_cast<uint32_t>(d));
  return {};
}

Status restore_ids(remote::RemoteTask& task, const img::Thread& t) {
  TRY(check_creds_image(t));
  const img::Creds& c = t.creds();
  const pid_t vtid = t.tid();
  sys::ProcStatus now = TRY_CTX(sys::read_thread_status(task.tgid(), task.tid()), "thread {}: status", vtid);
  if (uint64_t missing = c.cap_prm() & ~now.cap_prm)
    return failf("thread {}: permitted capabilities {} are not amber's to give", vtid, cap_list(missing));
  if (uint64_t missing = c.cap_bnd() & ~now.cap_bnd)
    return failf("thread {}: bounding capabilities {} are not in amber's bounding set", vtid, cap_list(missing));
  if (uint64_t extra = c.cap_amb() & ~(c.cap_prm() & c.cap_inh()))
    return bad_input("thread {}: ambient capabilities {} are not permitted and inheritable", vtid, cap_list(extra));
  const int last = TRY(cap_last_cap());

  // Arguments: the capset structs and the groups, in the scratch area.
  const CapArgs regain = cap_args(now.cap_prm, now.cap_prm, c.cap_inh());
  std::vector<uint32_t> groups(c.groups().begin(), c.groups().end());
  const size_t groups_at = sizeof regain;
  if (groups_at + groups.size() * sizeof(uint32_t) > task.scratch_size())
    return failf("thread {}: {} supplementary groups do not fit the executor's scratch area", vtid, groups.size());
  std::string buf(reinterpret_cast<const char*>(&regain), sizeof regain);
  buf.append(reinterpret_cast<const char*>(groups.data()), groups.size() * sizeof(uint32_t));
  TRY_CTX(task.write(task.scratch_addr(), std::as_bytes(std::span(buf.data(), buf.size()))),
          "thread {}: write credentials", vtid);
  const uint64_t base = task.scratch_addr();

  Steps s;
  // Keep the permitted set across the switch away from uid 0
  // (cap_emulate_setxuid clears it otherwise).
  s.add(remote::make_call(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)");
  s.add(remote::make_call(SYS_setgroups, groups.size(), base + groups_at), fmt::format("setgroups({} groups)", groups.size()));
  s.add(remote::make_call(SYS_setresgid, c.gids(0), c.gids(1), c.gids(2)),
        fmt::format("setresgid({}, {}, {})", c.gids(0), c.gids(1), c.gids(2)));
  // setfsgid/setfsuid return the old value and never an error: verify_creds tells.
  s.add(remote::make_call(SYS_setfsgid, c.gids(3)), fmt::format("setfsgid({})", c.gids(3)));
  s.add(remote::make_call(SYS_setresuid, c.uids(0), c.uids(1), c.uids(2)),
        fmt::format("setresuid({}, {}, {})", c.uids(0), c.uids(1), c.uids(2)));
  // A non-zero euid cleared the effective set: every permitted cap back in
  // it for the steps below (setfsuid, bounding, securebits need them).
  s.add(remote::make_call(SYS_capset, base, base + sizeof(regain.hdr)), "capset (all permitted effective)");
  s.add(remote::make_call(SYS_setfsuid, c.uids(3)), fmt::format("setfsuid({})", c.uids(3)));
  for (int cap = 0; cap <= last; ++cap) {
    const uint64_t bit = uint64_t{1} << cap;
    if ((now.cap_bnd & bit) && !(c.cap_bnd() & bit))
      s.add(remote::make_call(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0), fmt::format("PR_CAPBSET_DROP({})", cap));
  }
  s.add(remote::make_call(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "PR_CAP_AMBIENT_CLEAR_ALL");
  for (int cap = 0; cap <= last; ++cap)
    if (c.cap_amb() & (uint64_t{1} << cap))
      s.add(remote::make_call(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0),
            fmt::format("PR_CAP_AMBIENT_RAISE({})", cap));
  // After the ambient raises: SECBIT_NO_CAP_AMBIENT_RAISE would forbid them.
  // Replaces the keep-caps bit set above with the saved one.
  s.add(remote::make_call(SYS_prctl, PR_SET_SECUREBITS, c.securebits(), 0, 0, 0),
        fmt::format("PR_SET_SECUREBITS({:#x})", c.securebits()));
  s.add(remote::make_call(SYS_personality, c.personality()), fmt::format("personality({:#x})", c.personality()));
  return s.run(task, vtid);
}

Status restore_caps(remote::RemoteTask& task, const img::Thread& t) {
  TRY(check_creds_image(t));
  const img::Creds& c = t.creds();
  const CapArgs want = cap_args(c.cap_eff(), c.cap_prm(), c.cap_inh());
  TRY_CTX(task.write(task.scratch_addr(), std::as_bytes(std::span(&want, 1))), "thread {}: write capset", t.tid());
  Steps s;
  s.add(remote::make_call(SYS_capset, task.scratch_addr(), task.scratch_addr() + sizeof(want.hdr)),
        fmt::format("capset(eff {:#x}, prm {:#x}, inh {:#x})", c.cap_eff(), c.cap_prm(), c.cap_inh()));
  return s.run(task, t.tid());
}

Status restore_dumpable(remote::RemoteTask& leader, const img::Task& in) {
  TRY(check_dumpable_image(in));
  Steps s;
  s.add(remote::make_call(SYS_prctl, PR_SET_DUMPABLE, in.dumpable(), 0, 0, 0),
        fmt::format("prctl(PR_SET_DUMPABLE, {})", in.dumpable()));
  return s.run(leader, in.pid());
}

Status restore_no_new_privs(remote::RemoteTask& task, const img::Thread& t) {
  TRY(check_creds_image(t));
  // A fork of amber has it clear, and it can never be cleared again.
  if (!t.creds().no_new_privs()) return {};
  Steps s;
  s.add(remote::make_call(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
  return s.run(task, t.tid());
}

Status verify_creds(pid_t pid, pid_t tid, const img::Thread& t) {
  TRY(check_creds_image(t));
  const img::Creds& c = t.creds();
  sys::ProcStatus st = TRY_CTX(sys::read_thread_status(pid, tid), "thread {}: status", t.tid());
  auto differ = [&](std::string_view what, const std::string& got, const std::string& want) -> Status {
    return failf("thread {}: {} is {} after restore, the image has {}", t.tid(), what, got, want);
  };
  for (int i = 0; i < 4; ++i) {
    if (st.uid[i] != c.uids(i)) return differ("Uid", fmt::format("{}", fmt::join(st.uid, " ")), fmt::format("{}", fmt::join(c.uids(), " ")));
    if (st.gid[i] != c.gids(i)) return differ("Gid", fmt::format("{}", fmt::join(st.gid, " ")), fmt::format("{}", fmt::join(c.gids(), " ")));
  }
  if (!std::equal(st.groups.begin(), st.groups.end(), c.groups().begin(), c.groups().end()))
    return differ("Groups", fmt::format("{}", fmt::join(st.groups, " ")), fmt::format("{}", fmt::join(c.groups(), " ")));
  const std::pair<const char*, std::pair<uint64_t, uint64_t>> caps[] = {
      {"CapInh", {st.cap_inh, c.cap_inh()}}, {"CapPrm", {st.cap_prm, c.cap_prm()}},
      {"CapEff", {st.cap_eff, c.cap_eff()}}, {"CapBnd", {st.cap_bnd, c.cap_bnd()}},
      {"CapAmb", {st.cap_amb, c.cap_amb()}}};
  for (const auto& [name, v] : caps)
    if (v.first != v.second) return differ(name, fmt::format("{:016x}", v.first), fmt::format("{:016x}", v.second));
  if ((st.no_new_privs != 0) != c.no_new_privs()) return differ("NoNewPrivs", std::to_string(st.no_new_privs), std::to_string(c.no_new_privs()));
  if (st.seccomp_filters != t.seccomp_filters_size())
    return differ("Seccomp_filters", std::to_string(st.seccomp_filters), std::to_string(t.seccomp_filters_size()));
  return {};
}

}  // namespace amber::kinds
