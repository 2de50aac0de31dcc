// A container's state directory <state root>/NAME (docs/containers.md):
//   state.json  what `amber run` started (written atomically, JSON)
//   exit        how the init ended, written by the shim ("exit N" / "signal N")
//   log         the init's stdout and stderr
// Creating the directory is the name reservation.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "container/proc_ref.h"
#include "container/spawn.h"
#include "ns.pb.h"

namespace amber::container {

inline constexpr int kStateVersion = 1;

// `amber run --net veth`: the pair's names and addresses (kinds/ns/net_host.h).
struct VethState {
  std::string host_name;     // the host's end, "am-NAME"
  std::string host_address;  // "10.200.0.1/30"
  std::string address;       // the container's end, "10.200.0.2/30"
  std::string name;          // the container's end, "eth0"
  std::vector<std::string> publish;  // "HOSTPORT:CTRPORT" (--publish)
};

struct ContainerState {
  std::string name;
  ProcRef init;   // host pid of the container's init
  ProcRef shim;
  std::string cgroup;                           // absolute v2 cgroup directory
  std::map<std::string, uint64_t> namespaces;   // "pid", "uts", "ipc", "net", "mnt", "cgroup" -> inode
  std::vector<std::string> command;
  std::vector<std::string> env;                 // the --env K=V entries given to run
  std::string hostname;
  std::string rootfs;                           // "" when the container shares the host's tree
  std::string created;                          // RFC 3339 UTC, e.g. 2024-05-01T12:00:00Z
  std::optional<VethState> veth;                // --net veth; none: loopback only
};

// --net veth: the container's end of the pair as the image records it (the
// host link, kinds/ns/net.h); nullopt without one.
std::optional<img::HostLink> host_link(const ContainerState& s);

std::string state_to_json(const ContainerState& s);
Result<ContainerState> parse_state(std::string_view json);  // exit 2 on malformed input

// mkdir <state root>/NAME (making the root if needed): EEXIST is exit 2
// "container NAME already exists". Returns the directory.
Result<std::string> reserve_state_dir(const std::string& name);

// reserve_state_dir for a caller that journals it (recover/): the directory
// is made as `hidden` (a name no container can have) with a mark file
// holding `owner`, then renamed to NAME without replacing anything. Until
// the caller has recorded the result, a directory NAME holding the same
// mark is the caller's (reserved_by). The mark is removed by drop_mark.
std::string reservation_dir(const std::string& name, const std::string& owner);
Result<std::string> reserve_state_dir_marked(const std::string& name, const std::string& hidden,
                                             const std::string& owner);
bool reserved_by(const std::string& dir, const std::string& owner);
Status drop_mark(const std::string& dir);
Status write_state(const std::string& dir, const ContainerState& s);
// Unknown NAME: exit 2 "no container named NAME". A directory without
// state.json (a run in progress, or one killed half-way): error with ENOENT.
Result<ContainerState> load_state(const std::string& name);
// The names of every state directory, sorted.
Result<std::vector<std::string>> list_containers();
// The shim's record, if it wrote one.
std::optional<ExitStatus> read_exit_status(const std::string& dir);

// What a container is doing now.
struct LiveStatus {
  enum class Kind { Running, Frozen, Stopped } kind = Kind::Stopped;
  std::optional<ExitStatus> exit;  // Stopped: how the init ended, if known
  // "running", "frozen", "stopped (exit 7)", "stopped (signal 9)", "stopped"
  std::string text() const;
};
LiveStatus live_status(const ContainerState& s);

}  // namespace amber::container
