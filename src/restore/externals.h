// `amber restore --external`: what each external the image declares
// (Container.externals, src/dump/externals.h) binds to on this host. The
// idea of CRIU's --join-ns and --inherit-fd, one option:
//   net:TARGET, uts:TARGET, ipc:TARGET, cgroup:TARGET (or TYPE=TARGET)
//       the restored container joins that namespace instead of making its
//       own; TARGET is a namespace file (/var/run/netns/NAME,
//       /proc/PID/ns/net) or a PID (its namespace of that type)
//   pipe:INODE=fd:N, fifo:PATH=fd:N, file:PATH=fd:N
//       fd N of amber restore (inherited from its caller, as a shell's
//       `N<&...`) is that open file description: the container's fds on it
//       get it back
//   mount:PATH=HOSTPATH
//       the host bind mount declared `--external mount:PATH` at the dump
//       is bound from HOSTPATH (default: the host path the dump saw)
// Every external of the image needs one, and every one given must be one
// the image declares: otherwise exit 2 naming it, before anything is made.
// A front end (amber swrk) builds ExternalBinding values itself.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "restore/plan.h"
#include "seal/leak.h"

namespace amber::restore {

struct ExternalBinding {
  seal::External what;  // as the dump recorded it: {"net", ""}, {"pipe", "1234"}
  std::string to;       // a namespace file or a pid; "fd:N"; a host path (mount)
  // Offered, not asked for: used only if the image declares it (a runtime's
  // inherit_fd: CRIU, too, ignores one no image file needs).
  bool offered = false;
};
// Exit 2 with one line for a malformed SPEC.
Result<ExternalBinding> parse_binding(std::string_view spec);
Result<std::vector<ExternalBinding>> parse_bindings(const std::vector<std::string>& specs);

// The image declares the namespace of this type ("net", "uts", "ipc", "cgroup")
// external: the restored container joins one, nothing of it is restored.
bool declares_namespace(const img::Container& c, std::string_view type);

// What the restore hands the container: opened, checked, close-on-exec.
struct BoundExternals {
  std::map<std::string, UniqueFd> ns;  // "net", "uts", "ipc", "cgroup" -> a file of that namespace
  std::map<uint64_t, UniqueFd> fds;    // ofd_id of the image -> the description handed in
  // `flags` (CLONE_NEW*) without the namespaces the container joins.
  uint64_t clone_flags(uint64_t flags) const;
  bool joins(const std::string& type) const { return ns.contains(type); }
};

// The image's externals are ones amber restore gives back, each listed
// once, and its FD_EXTERNAL fds name listed ones, one description each
// (exit 2 otherwise). Part of check_image (amber show --verify).
Status check_externals(const Plan& plan);

// Binds every external of the image (it is checked too: kinds, and the
// fds on each). Exit 2 for an external without a binding, a binding for
// none, or a target that is not what the external needs (not that
// namespace type; an fd not open, amber's own, of another file type or
// with other flags than the image's description).
Result<BoundExternals> bind_externals(const Plan& plan, const std::vector<ExternalBinding>& given);

// The mount:PATH=HOSTPATH bindings given (bind_externals skips them), by
// external name for kinds/ns/mounts.h; exit 2 for one that names no host
// bind mount of the image.
Result<std::map<std::string, std::string>> mount_bindings(const Plan& plan, const std::vector<ExternalBinding>& given);

// The raw fds the fork phase uses (the init's side of BoundExternals).
struct ExternalFds {
  std::vector<std::pair<int, int>> ns;  // (CLONE_NEW* type, fd), joined by the init first
  std::map<uint64_t, int> fds;          // ofd_id -> fd: inherited descriptions of every process
  std::vector<int> all() const;
};
ExternalFds raw_fds(const BoundExternals& b);

// In the restored init, before anything else: setns into each namespace.
Status join_namespaces(const ExternalFds& ext);

}  // namespace amber::restore
