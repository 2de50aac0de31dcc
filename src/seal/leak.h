// What the seal check reports (DESIGN.md "The principle"): a leak is a kernel
// object the container uses that a task outside it also uses, so that the
// outside task could change it while it is dumped.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace amber::seal {

// The leak classes of issue 4, in the order the check runs them.
enum class LeakClass : int {
  Namespace = 1,      // an outside task is a member of a container namespace
  NamespacePin = 2,   // an outside nsfs fd or bind mount pins one
  SharedFile = 3,     // an open file description shared with an outside task (kcmp)
  Pipe = 4,           // a pipe or FIFO with an end held outside
  UnixSocket = 5,     // a unix socket whose peer (or pending client) is outside
  SysvShm = 6,        // a SysV shm segment attached from outside
  SharedMapping = 7,  // a shared mapping (anon shared, memfd, tmpfs, /dev/shm) mapped outside
  MountPropagation = 8,  // a mount in a peer group with an outside mount
  Tracer = 9,         // a container task traced from outside
  CgroupPidns = 10,   // cgroup and pid namespace disagree about who is inside
};
inline constexpr int kLeakClassCount = 10;
// "namespace", "namespace-pin", "shared-file", ... (stable: JSON and docs use it)
const char* leak_class_name(LeakClass c);
// One line: what the class means.
const char* leak_class_title(LeakClass c);

// A task: host pid, and for container tasks the pid inside the container.
struct TaskRef {
  pid_t pid = 0;   // host pid
  pid_t vpid = 0;  // pid inside the container's pid namespace; 0 for outside tasks
  std::string comm;
};

// An outside task holding the object, and how ("member of the namespace",
// "fd 5", "mapping at 0x7f..", "mount 123 in mnt:[4026531841]", "tracer").
struct Holder {
  TaskRef task;
  std::string how;
  int fd = -1;  // the fd "how" names, -1 if it names none
};

struct Leak {
  LeakClass cls = LeakClass::Namespace;
  std::string kind;  // object kind: "net namespace", "pipe", "unix socket", "file", ...
  std::string id;    // "net:[4026532001]", "pipe:[1234]", "shmid 5", "mount 456", ...
  std::string name;  // path or name when there is one, else ""
  std::vector<Holder> inside;   // container tasks holding it (how: "fd 3", ...)
  std::vector<Holder> outside;  // every outside task holding it
  size_t outside_omitted = 0;   // outside holders beyond the report's limit
  std::string external;         // the --external SPEC that accepts it, "" if none can
  std::string remedy;           // what to do instead when no --external applies
  bool accepted = false;        // a declared --external matched: reported, not refused
};

// One `--external SPEC` (docs/seal-check.md):
//   TYPE            a namespace: pid uts ipc net mnt cgroup user time
//   file:PATH       open file descriptions of PATH shared with outside tasks
//   fifo:PATH       a FIFO with an end outside
//   pipe:INODE      an anonymous pipe (pipe:[INODE] in /proc/PID/fd)
//   unix:INODE      a unix socket (socket:[INODE]) with an outside peer
//   shm:SHMID       a SysV shm segment attached from outside
//   mapping:PATH    a shared mapping of PATH ("/dev/zero", "/memfd:NAME")
//   mount:PATH      a container mount (its path inside) with shared propagation
struct External {
  std::string kind;   // "net", "file", "pipe", ...
  std::string value;  // "" for namespaces
  std::string spec() const { return value.empty() ? kind : kind + ":" + value; }
};
// What `amber restore --external` takes to give it back:
// "--external net:PATH|PID (the net namespace to join)".
std::string restore_form(const External& e);
// Exit 2 with a one-line message on a malformed SPEC.
Result<External> parse_external(std::string_view spec);
Result<std::vector<External>> parse_externals(const std::vector<std::string>& specs);

// Sets `accepted` on every leak some declared external matches.
void apply_externals(std::vector<Leak>& leaks, const std::vector<External>& externals);

}  // namespace amber::seal
