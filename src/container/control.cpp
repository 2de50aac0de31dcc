#include "container/control.h"

#include "kinds/ns/net_host.h"

#include "base/files.h"
#include "container/paths.h"
#include "container/proc_ref.h"
#include "container/state.h"
#include "kinds/ns/net_host.h"
#include "sys/cgroup.h"

namespace amber::container {

namespace {
constexpr std::chrono::seconds kKillTimeout{10};
constexpr std::chrono::seconds kThawTimeout{5};

// Kills every task of the cgroup and waits for it to be empty.
Status empty_cgroup(const std::string& cg) {
  // A v2 frozen task does get SIGKILL, but thawing first also covers the
  // tasks' exit paths and matches what a person would do by hand.
  auto frozen = sys::cgroup_freeze_requested(cg);
  if (frozen && *frozen) TRY(write_file(cg + "/cgroup.freeze", "0"));
  TRY(sys::cgroup_kill(cg));
  return sys::cgroup_wait_empty(cg, kKillTimeout);
}
}  // namespace

Status kill_container(const std::string& name, Log& log) {
  if (!valid_name(name) || !path_exists(state_dir(name))) return bad_input("no container named {}", name);
  std::string what = fmt::format("container {}", name);
  auto st = load_state(name);
  std::string cg;
  if (st) {
    cg = st->cgroup;
  } else if (st.error().sys_errno == ENOENT) {
    // Half made (amber run died between reserving the name and recording the
    // state): its cgroup, if any, has the default place.
    log.warn("{}: {}; removing what there is", what, st.error().message);
    if (auto root = cgroup_root()) cg = *root + "/" + name;
  } else {
    return std::unexpected(std::move(st.error()));
  }

  if (!cg.empty() && sys::cgroup_exists(cg)) TRY_CTX(empty_cgroup(cg), "{}", what);
  // The shim writes the exit status into the state directory: wait for it
  // to be gone before removing the directory.
  if (st) TRY_CTX(wait_exited(st->shim, kKillTimeout), "{}: shim", what);
  if (!cg.empty()) TRY_CTX(sys::cgroup_remove(cg), "{}", what);
  // The pair goes with the container's net namespace, but the kernel frees
  // a namespace asynchronously: removed now, a restore of the same name
  // right after finds the host side's name free.
  if (st && st->veth) {
    TRY_CTX(kinds::unpublish_ports(st->veth->host_name), "{}", what);
    TRY_CTX(kinds::remove_host_link(st->veth->host_name), "{}", what);
  }
  TRY_CTX(remove_tree(state_dir(name)), "{}", what);
  log.debug("{}: killed and removed", what);
  return {};
}

Result<bool> thaw_container(const std::string& name, Log& log) {
  ContainerState st = TRY(load_state(name));
  LiveStatus live = live_status(st);
  if (live.kind == LiveStatus::Kind::Stopped || !sys::cgroup_exists(st.cgroup))
    return bad_input("container {} is {}: nothing to thaw", name, live.text());
  bool requested = TRY_CTX(sys::cgroup_freeze_requested(st.cgroup), "container {}", name);
  auto frozen = sys::cgroup_frozen(st.cgroup);
  bool was = requested || (frozen && *frozen);
  TRY_CTX(sys::cgroup_thaw(st.cgroup, kThawTimeout), "container {}", name);
  log.debug("container {}: cgroup.freeze was {}", name, was ? 1 : 0);
  return was;
}

}  // namespace amber::container
