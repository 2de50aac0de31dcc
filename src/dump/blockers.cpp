#include "dump/blockers.h"

#include <map>

#include "kinds/files/fdtable.h"
#include "kinds/mm.h"
#include "kinds/ns/ipc.h"
#include "kinds/ns/ipc_semundo.h"
#include "kinds/ns/membership.h"
#include "kinds/ns/mounts.h"
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
                                      const kinds::ConsoleRef* console, const std::string* rootfs) {
  kinds::Blockers out;
  if (tree.empty()) return out;
  // The mount table: a mount the container made or unmounted (the first
  // such one; the dump names the same).
  if (rootfs) {
    auto classified = kinds::classify_task_mounts(tree.front().pid, *rootfs);
    if (!classified) {
      Status st = std::unexpected(std::move(classified.error()));
      if (!out.keep(st)) return std::unexpected(std::move(st.error()));
    }
  }
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
  std::map<pid_t, pid_t> vpid_of;
  for (const kinds::TreeTask& t : tree) vpid_of[t.pid] = t.vpid;
  for (const kinds::TreeTask& t : tree) {
    if (t.zombie) continue;
    TRY(kinds::find_area_blockers(t.pid, t.vpid, out));
    kinds::FdDumpContext ctx{t.pid, t.vpid, TRY(kinds::read_root_link(t.pid)), log_path, &vpid_of};
    ctx.proc = kinds::proc_reopen_for(tree, t.vpid);
    ctx.console = console;
    ctx.read_queues = false;
    TRY(kinds::probe_fds(ctx, &out));
  }
  return out;
}

}  // namespace amber::dump
