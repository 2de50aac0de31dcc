#include "dump/blockers.h"

#include <map>

#include "kinds/files/fdtable.h"
#include "kinds/mm.h"
#include "kinds/ns/ipc.h"
#include "kinds/ns/ipc_semundo.h"
#include "kinds/ns/membership.h"
#include "kinds/ns/mounts.h"
#include "kinds/ns/net.h"
#include "kinds/task_misc.h"

namespace amber::dump {

Result<std::vector<kinds::TreeTask>> tree_or_blocker(const std::map<pid_t, std::vector<pid_t>>& held, pid_t init,
                                                      kinds::Blockers& out) {
  auto tree = kinds::collect_tree(held, init);
  if (!tree) {
    Status st = std::unexpected(std::move(tree.error()));
    if (!out.keep(st)) return std::unexpected(std::move(st.error()));
    return std::vector<kinds::TreeTask>{};
  }
  Status st = kinds::check_unshared(*tree);
  if (st) st = kinds::check_same_namespaces(*tree);
  if (out.keep(st)) return std::vector<kinds::TreeTask>{};
  TRY(std::move(st));
  return tree;
}

Result<kinds::Blockers> find_blockers(const std::vector<kinds::TreeTask>& tree, const std::string& log_path,
                                      const kinds::ConsoleRef* console, const kinds::MountScope* mounts,
                                      const BlockerScan& scan) {
  kinds::Blockers out;
  if (tree.empty()) return out;
  const Declared none;
  const Declared& ext = scan.externals ? *scan.externals : none;
  TRY(find_external_blockers(tree, ext, scan.tcp_established, out));
  if (scan.runtime && !scan.tcp_established && !ext.has_ns("net"))
    TRY(refuse_connected_tcp(tree, ": kept only if the runtime asks for established connections (tcp_established: "
                                   "runc checkpoint --tcp-established)",
                             out));
  // The mount table: a mount amber cannot make again (the first such one;
  // the dump names the same).
  if (mounts) {
    auto classified = kinds::plan_task_mounts(tree.front().pid, *mounts);
    if (!classified) {
      Status st = std::unexpected(std::move(classified.error()));
      if (!out.keep(st)) return std::unexpected(std::move(st.error()));
    }
  }
  // An external ipc namespace is not dumped (its use is refused above).
  if (!ext.has_ns("ipc")) {
    auto ipc = kinds::dump_ipc(tree.front().pid, nullptr);
    if (!ipc) {
      Status st = std::unexpected(std::move(ipc.error()));
      if (!out.keep(st)) return std::unexpected(std::move(st.error()));
    }
    // SEM_UNDO lists of a shape the restore cannot rebuild (kinds/ns/ipc_semundo.h).
    if (auto h = kinds::find_sem_undo_holders(tree); !h) {
      Status st = std::unexpected(std::move(h.error()));
      if (!out.keep(st)) return std::unexpected(std::move(st.error()));
    }
  }
  // What dump_net refuses (the first it meets: another link kind, a legacy
  // table, a trial restore that differs).
  if (scan.net && !ext.has_ns("net")) {
    auto net = kinds::dump_net(tree.front().pid, scan.host);
    if (!net) {
      Status st = std::unexpected(std::move(net.error()));
      if (!out.keep(st)) return std::unexpected(std::move(st.error()));
    }
  }
  std::map<pid_t, pid_t> vpid_of;
  for (const kinds::TreeTask& t : tree) vpid_of[t.pid] = t.vpid;
  for (const kinds::TreeTask& t : tree) {
    if (t.zombie) continue;
    TRY(kinds::find_area_blockers(t.pid, t.vpid, out));
    const std::map<int, std::string> ext_fds = ext.fds_of(t.pid);
    kinds::FdDumpContext ctx{t.pid, t.vpid, TRY(kinds::read_root_link(t.pid)), log_path, &vpid_of};
    ctx.externals = &ext_fds;
    ctx.proc = kinds::proc_reopen_for(tree, t.vpid);
    ctx.console = console;
    ctx.read_queues = false;
    TRY(kinds::probe_fds(ctx, &out));
  }
  return out;
}

kinds::MountScope mount_scope(const std::string& rootfs, const std::vector<seal::External>& externals) {
  kinds::MountScope s;
  s.host_tree = rootfs.empty();
  s.rootfs = rootfs;
  for (const seal::External& e : externals)
    if (e.kind == "mount") s.externals.insert(e.value);
  return s;
}

}  // namespace amber::dump
