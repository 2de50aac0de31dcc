// Resource limits by prlimit64 from outside.
#include "kinds/rlimits.h"

#include <sys/resource.h>
#include <sys/syscall.h>

#include <array>

namespace amber::kinds {

namespace {

constexpr std::array<const char*, RLIM_NLIMITS> kNames = {
    "RLIMIT_CPU",     "RLIMIT_FSIZE",   "RLIMIT_DATA",       "RLIMIT_STACK",  "RLIMIT_CORE",   "RLIMIT_RSS",
    "RLIMIT_NPROC",   "RLIMIT_NOFILE",  "RLIMIT_MEMLOCK",    "RLIMIT_AS",     "RLIMIT_LOCKS",  "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE",   "RLIMIT_RTPRIO",     "RLIMIT_RTTIME"};
static_assert(RLIM_NLIMITS == 16, "a new RLIMIT_*: name it above");

std::string value(uint64_t v) { return v == RLIM64_INFINITY ? std::string("unlimited") : fmt::format("{}", v); }

}  // namespace

std::string rlimit_name(unsigned resource) {
  if (resource < kNames.size()) return kNames[resource];
  return fmt::format("rlimit {}", resource);
}

Status dump_rlimits(pid_t pid, img::Task& out) {
  out.clear_rlimits();
  for (unsigned r = 0; r < RLIM_NLIMITS; ++r) {
    rlimit64 lim{};
    if (::prlimit64(pid, static_cast<__rlimit_resource>(r), nullptr, &lim) != 0)
      return sys_fail("task {}: prlimit64 {} (read)", out.pid(), rlimit_name(r));
    img::Rlimit* l = out.add_rlimits();
    l->set_resource(r);
    l->set_cur(lim.rlim_cur);
    l->set_max(lim.rlim_max);
  }
  return {};
}

Status dump_rlimits(remote::RemoteTask& task, img::Task& out) {
  out.clear_rlimits();
  std::array<rlimit64, RLIM_NLIMITS> lims{};
  if (!task.has_executor() || task.scratch_size() < sizeof lims)
    return failf("task {}: rlimits need the executor's scratch area", out.pid());
  std::vector<remote::Call> calls;
  for (unsigned r = 0; r < RLIM_NLIMITS; ++r)
    calls.push_back(remote::make_call(SYS_prlimit64, 0, r, 0, task.scratch_addr() + r * sizeof(rlimit64)));
  TRY_CTX(task.run_batch(calls), "task {}: prlimit64", out.pid());
  for (unsigned r = 0; r < RLIM_NLIMITS; ++r)
    TRY(remote::check_syscall(calls[r].result, fmt::format("task {}: prlimit64 {} (read)", out.pid(), rlimit_name(r))));
  TRY_CTX(task.read(task.scratch_addr(), std::as_writable_bytes(std::span(lims))), "task {}: read rlimits", out.pid());
  for (unsigned r = 0; r < RLIM_NLIMITS; ++r) {
    img::Rlimit* l = out.add_rlimits();
    l->set_resource(r);
    l->set_cur(lims[r].rlim_cur);
    l->set_max(lims[r].rlim_max);
  }
  return {};
}

Status check_rlimits(const img::Task& task) {
  for (const img::Rlimit& l : task.rlimits()) {
    if (l.resource() >= RLIM_NLIMITS)
      return bad_input("task {}: unknown resource limit {}", task.pid(), l.resource());
    if (l.cur() > l.max())
      return bad_input("task {}: {}: soft limit {} above hard limit {}", task.pid(), rlimit_name(l.resource()),
                       value(l.cur()), value(l.max()));
    rlimit64 own{};
    if (::getrlimit64(static_cast<__rlimit_resource>(l.resource()), &own) != 0)
      return sys_fail("getrlimit64 {}", rlimit_name(l.resource()));
    if (l.max() > own.rlim_max)
      return unsupported(
          "task {}: {}: hard limit {} is above amber's own {} and cannot be raised here (needs CAP_SYS_RESOURCE)",
          task.pid(), rlimit_name(l.resource()), value(l.max()), value(own.rlim_max));
  }
  return {};
}

Status restore_rlimits(pid_t pid, const img::Task& task) {
  for (const img::Rlimit& l : task.rlimits()) {
    if (l.resource() >= RLIM_NLIMITS)
      return bad_input("task {}: unknown resource limit {}", task.pid(), l.resource());
    rlimit64 lim{l.cur(), l.max()};
    if (::prlimit64(pid, static_cast<__rlimit_resource>(l.resource()), &lim, nullptr) != 0)
      return sys_fail("task {}: prlimit64 {} = {}/{}", task.pid(), rlimit_name(l.resource()), value(l.cur()),
                      value(l.max()));
  }
  return {};
}

}  // namespace amber::kinds
