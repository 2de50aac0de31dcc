// The two sides the seal check compares:
//  - ContainerView: what every held task of the container uses (namespaces
//    per thread, fds, shared mappings), read from /proc while the tasks are
//    held still;
//  - HostIndex: one pass over every other task of the host, keeping only
//    what matches something the container uses (ScanWants), indexed by
//    inode or fd link — never a comparison of every pair of tasks.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/result.h"
#include "seal/leak.h"
#include "sys/procfs.h"

namespace amber::seal {

// The entries of /proc/PID/ns that name a namespace a task is in or will
// put its children in.
inline constexpr const char* kNsLinks[] = {"pid", "pid_for_children", "uts", "ipc",  "net",
                                           "mnt", "cgroup",           "user", "time", "time_for_children"};
// "pid_for_children" -> "pid".
std::string ns_type_of_link(std::string_view link);
// The host's initial user and time namespaces have fixed inodes
// (PROC_USER_INIT_INO, PROC_TIME_INIT_INO): always accepted (DESIGN.md).
bool is_initial_ns(std::string_view type, uint64_t inode);

struct FdRef {
  int fd = 0;
  std::string link;  // readlink of /proc/PID/fd/N: a path, "pipe:[N]", "socket:[N]", "net:[N]", ...
};

struct ContainerTask {
  TaskRef ref;
  std::vector<pid_t> tids;
  std::map<std::string, uint64_t> ns;  // the leader's, by link ("net", "pid_for_children", ...)
  std::vector<FdRef> fds;
  std::vector<sys::VmArea> maps;
};

// What the check is about: the held container, and the tasks that are
// neither inside nor outside (amber itself, the container's shim).
struct Target {
  std::string name;        // container name, or "pid N"
  pid_t init = 0;          // host pid of the container's init
  std::string cgroup;      // the cgroup the container was held by, "" for ptrace alone
  std::string cgroup_note; // why no cgroup is used (--pid), for the report
  std::vector<TaskRef> shims;  // the container's shim (amber's, or the init's parent outside for --pid)
  // --pid: the init's parent outside (also a shim). It shares the
  // container's namespaces and inherited files by design, but a pipe end it
  // holds is a channel from outside (podman's conmon reads the container's
  // stdout and stderr): the seal check counts those.
  std::vector<pid_t> parents;
};

struct ContainerView {
  Target target;
  std::vector<ContainerTask> tasks;  // one per held process, init first
  // Namespaces used by any container thread: inode -> type ("net", ...).
  std::map<uint64_t, std::string> ns;
  // The init's own namespaces: type -> inode.
  std::map<std::string, uint64_t> init_ns;
  // Held threads whose pid namespace is neither the init's nor nested in it
  // (only possible when holding by cgroup).
  std::vector<TaskRef> outside_pidns;
  // Container tasks traced by someone else (not held: ptrace allows one tracer).
  struct Traced {
    TaskRef task;
    pid_t tracer = 0;
  };
  std::vector<Traced> traced;
  std::set<pid_t> held;      // every held tid and tgid
  std::set<pid_t> excluded;  // amber's threads, the shims: never "outside"
  int vpid_level = 0;        // index of the container's level in NSpid

  const ContainerTask* task(pid_t pid) const;
  std::set<uint64_t> pidns_inodes() const;  // the init's pid namespace and ones nested in it
};

// Reads the view of the held processes `procs` (tgid -> its held tids).
// `light`: namespaces only, no fds or mappings (the cheap re-check).
Result<ContainerView> read_container(const Target& target, const std::map<pid_t, std::vector<pid_t>>& procs,
                                     bool light = false);

// What the outside scan keeps.
struct ScanWants {
  // Outside fds with these links. Always holds the container's namespaces
  // as nsfs fds show them ("net:[N]"): an outside fd pinning one.
  std::unordered_set<std::string> fd_links;
  std::set<std::pair<uint64_t, uint64_t>> maps;  // outside shared mappings of these (dev, inode)
  bool mount_namespaces = false;               // a member of every outside mount namespace
  bool sysv_maps = false;                      // every outside SysV shm mapping ("/SYSV%08x")
};
inline uint64_t dev_of(const sys::VmArea& a) { return (uint64_t{a.dev_major} << 32) | a.dev_minor; }

struct NsMember {
  pid_t pid = 0, tid = 0;
  std::string link;  // "net", "pid_for_children", ...
};
struct FdHolder {
  pid_t pid = 0;
  int fd = 0;
};
struct MapHolder {
  pid_t pid = 0;
  sys::VmArea area;
};

struct HostIndex {
  std::unordered_map<uint64_t, std::vector<NsMember>> ns_members;  // container ns inode -> outside members
  std::unordered_map<std::string, std::vector<FdHolder>> fds;      // wanted link -> outside holders
  std::map<std::pair<uint64_t, uint64_t>, std::vector<MapHolder>> maps;  // shared mappings only
  std::map<uint64_t, pid_t> mount_namespaces;  // outside mnt ns inode -> a member
  std::vector<MapHolder> sysv;                 // outside SysV shm mappings (ScanWants::sysv_maps)
  // Filled by load_outside_mounts(): mountinfo of each outside mount namespace.
  std::map<uint64_t, std::vector<sys::MountInfo>> mounts;
  bool mounts_loaded = false;
  size_t processes = 0;                        // outside processes scanned

  // comm of an outside task, read on first use ("?" if it is gone).
  std::string comm(pid_t pid);
  TaskRef ref(pid_t pid) { return TaskRef{pid, 0, comm(pid)}; }

 private:
  std::unordered_map<pid_t, std::string> comms_;
};

// One pass over /proc. Tasks that vanish meanwhile are skipped; kernel
// threads are never outside holders of anything the container could lose.
Result<HostIndex> scan_host(const ContainerView& view, const ScanWants& wants);
// Reads the mount table of every outside mount namespace once (needs
// ScanWants::mount_namespaces).
Status load_outside_mounts(HostIndex& idx);

// A container task's fd as a report holder: "fd N".
inline Holder fd_holder(const TaskRef& t, int fd) { return Holder{t, fmt::format("fd {}", fd), fd}; }

}  // namespace amber::seal
