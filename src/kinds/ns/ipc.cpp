#include "kinds/ns/ipc.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "base/files.h"
#include "base/unique_fd.h"
#include "kinds/ns/ipc_mqueue.h"
#include "sys/ns_thread.h"

namespace amber::kinds {

namespace {

// Per ipc namespace (ipc/ipc_sysctl.c, ipc/mq_sysctl.c), in restore order:
// limits before the defaults bounded by them, the *_next_id ones last (the
// next msgget/semget/shmget takes the id and resets it to -1).
constexpr const char* kSysctls[] = {
    "kernel/msgmax",         "kernel/msgmnb",          "kernel/msgmni",       "kernel/sem",
    "kernel/shmall",         "kernel/shmmax",          "kernel/shmmni",       "kernel/shm_rmid_forced",
    "fs/mqueue/queues_max",  "fs/mqueue/msg_max",      "fs/mqueue/msgsize_max",
    "fs/mqueue/msg_default", "fs/mqueue/msgsize_default",
    "kernel/msg_next_id",    "kernel/sem_next_id",     "kernel/shm_next_id",
};

// "32000\t1024000000\t500\t32000\n" -> "32000 1024000000 500 32000"
std::string normalized(std::string_view v) {
  std::string out;
  for (auto f : split_ws(trim(v))) {
    if (!out.empty()) out += ' ';
    out += f;
  }
  return out;
}

Result<img::IpcNs> read_ipc(image::ImageWriter* image) {
  img::IpcNs out;
  TRY(dump_sysv(out, image));
  TRY(dump_mqueues(out));
  for (const char* name : kSysctls) {
    // /proc/sys resolves per thread: the thread's nsproxy chooses the table.
    auto v = read_file(fmt::format("/proc/sys/{}", name));
    if (!v && v.error().sys_errno == ENOENT) continue;  // not built in (CONFIG_POSIX_MQUEUE): nothing to keep
    if (!v) return std::unexpected(std::move(v.error()).wrap("ipc namespace"));
    img::Sysctl* s = out.add_sysctls();
    s->set_name(name);
    s->set_value(normalized(*v));
  }
  return out;
}

bool known_sysctl(std::string_view name) {
  for (const char* k : kSysctls)
    if (name == k) return true;
  return false;
}

}  // namespace

Result<img::IpcNs> dump_ipc(pid_t pid, image::ImageWriter* image) {
  UniqueFd ns = TRY(open_fd(fmt::format("/proc/{}/ns/ipc", pid), O_RDONLY | O_CLOEXEC));
  return sys::in_namespace(ns.get(), CLONE_NEWIPC, [image] { return read_ipc(image); });
}

Status validate_ipc(const img::IpcNs& ipc) {
  // The image is input from outside: only the ipc namespace's own files.
  for (const img::Sysctl& s : ipc.sysctls())
    if (!known_sysctl(s.name())) return bad_input("ipc namespace: unknown sysctl {} in the image", s.name());
  TRY(validate_sysv(ipc));
  return validate_mqueues(ipc);
}

namespace {

Status write_sysctls(const img::IpcNs& ipc) {
  for (const img::Sysctl& s : ipc.sysctls()) {
    const std::string path = "/proc/sys/" + s.name();
    // A *_next_id of -1 (unset) is what a fresh namespace has, and the
    // kernel takes only 0..INT_MAX there (extra1 = SYSCTL_ZERO).
    const bool unset_id = s.name().ends_with("_next_id") && s.value() == "-1";
    if (!unset_id) TRY_CTX(write_file(path, s.value()), "ipc namespace: sysctl {} = '{}'", s.name(), s.value());
    std::string back = normalized(TRY(read_file(path)));
    if (back != normalized(s.value()))
      return failf("ipc namespace: sysctl {} reads '{}' after writing '{}'", s.name(), back, s.value());
  }
  return {};
}

Result<UniqueFd> ns_of(pid_t pid) { return open_fd(fmt::format("/proc/{}/ns/ipc", pid), O_RDONLY | O_CLOEXEC); }

}  // namespace

Status create_ipc_objects(pid_t pid, const img::IpcNs& ipc, std::vector<image::PageReader>& pages, SysvHold& hold) {
  TRY(validate_ipc(ipc));
  if (ipc.shm_size() + ipc.sem_size() + ipc.msg_size() == 0) return {};
  UniqueFd ns = TRY(ns_of(pid));
  // The objects' creator is this short-lived thread: it has exited (and
  // left them without a creator) before kernel.shm_rmid_forced is written.
  return sys::in_namespace(ns.get(), CLONE_NEWIPC, [&]() -> Status { return create_sysv(ipc, pages, hold); });
}

Status create_ipc_mqueues(const img::IpcNs& ipc) {
  TRY(validate_ipc(ipc));
  return create_mqueues(ipc);
}

Status restore_ipc_sysctls(pid_t pid, const img::IpcNs& ipc) {
  TRY(validate_ipc(ipc));
  UniqueFd ns = TRY(ns_of(pid));
  return sys::in_namespace(ns.get(), CLONE_NEWIPC, [&]() -> Status { return write_sysctls(ipc); });
}

Status verify_ipc(pid_t pid, const img::IpcNs& ipc) {
  UniqueFd ns = TRY(ns_of(pid));
  return sys::in_namespace(ns.get(), CLONE_NEWIPC, [&]() -> Status {
    TRY(verify_sysv(ipc));
    return verify_mqueues(ipc);
  });
}

}  // namespace amber::kinds
