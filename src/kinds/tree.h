// The process tree: which processes (and zombies) the container has, their
// parents, sessions and process groups. Dump and restore side by side.
//
// Dump (tree.cpp): the held processes, plus the zombies, which no cgroup
// listing shows (a task leaves cgroup.procs when it exits): they are found
// in /proc/PID/task/TID/children of the held threads. Ids are read as the
// container sees them (NSpid/NSpgid/NSsid of /proc/PID/status).
//
// Restore, in three parts:
//  1. plan_tree (tree_plan.cpp, pure): who forks whom, in which order, so
//     that sessions come out right — a session is only ever inherited at
//     fork or made by setsid(), never joined. Each process forks its own
//     children (clone3 + set_tid), those whose session is the one it was
//     born in before its setsid(), the others after. A task whose session
//     its parent is not in can only be an orphan (its parent is the init):
//     it is forked by a stand-in in that session that then goes away, and
//     the kernel reparents it to the init:
//       - the session's leader is dead: a *session helper* at the leader's
//         pid, forked by the init, calls setsid() and forks it;
//       - the leader is a zombie: the zombie's stand-in forks it;
//       - the leader lives: a *reparent helper* forked by the leader.
//     Process groups, unlike sessions, can be joined later: every process
//     whose pid is a group id of the container makes that group in the
//     fork phase (setpgid(0, 0)), a *group helper* stands in for a group
//     whose leader is dead, and every task then joins its real group from
//     the controller (remote setpgid) once all exist — non-leaders first,
//     so that a leader that moved to another group leaves its own last.
//     A zombie is a stand-in process that, when the controller signals it,
//     joins its group and exits with the saved status (or dies of the saved
//     signal); nothing reaps it. Helpers are killed at the end and reaped by
//     a remote wait4 in their parent; their exit signal is 0, so nobody gets
//     a SIGCHLD for them. Anything else is refused (Exit::Unsupported)
//     naming the task, never recreated differently.
//  2. The fork phase runs in the restored processes themselves (restore/).
//  3. The controller's phase (tree.cpp): joins, zombie and helper ends,
//     draining the SIGCHLDs the zombies' ends queued in their (traced)
//     parents, and a check of every id against the image.
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "remote/remote_task.h"
#include "task.pb.h"

namespace amber::kinds {

// ---- dump ----

// One process of the container as the dump found it.
struct TreeTask {
  pid_t pid = 0;  // as amber sees it
  // In the container's pid namespace; ppid 0 for the container's init.
  pid_t vpid = 0, ppid = 0, pgid = 0, sid = 0;
  bool zombie = false;
  int exit_code = 0;    // zombies: the wait status their parent will reap
  int exit_signal = 0;  // sent to the parent at exit
  std::string comm;
  std::vector<pid_t> threads;  // host tids, the leader first; none for a zombie
};

// Every held process (tgid -> its held threads) and every zombie child of
// one, parents before children, the init first. Unsupported: a thread group
// whose leader has exited while other threads run; a child of a held task
// that is neither held nor a zombie is an error (it left the cgroup).
Result<std::vector<TreeTask>> collect_tree(const std::map<pid_t, std::vector<pid_t>>& held, pid_t init);

// Processes that share an address space, fd table or fs context without
// being threads of one process (vfork, clone(CLONE_VM | CLONE_FILES ...)):
// Unsupported, naming both (kcmp KCMP_VM / KCMP_FILES / KCMP_FS).
Status check_unshared(const std::vector<TreeTask>& tasks);

// Fills the ids, state, exit status and signal of `out` from `t`.
void fill_task_ids(const TreeTask& t, img::Task& out);

// ---- restore: the plan ----

// The ids of one process of the image.
struct TreeSpec {
  pid_t pid = 0, ppid = 0, pgid = 0, sid = 0;
  bool zombie = false;
  int exit_code = 0;
  int exit_signal = SIGCHLD;
};
TreeSpec tree_spec(const img::Task& task);

enum class NodeKind { Task, Zombie, SessionHelper, GroupHelper, ReparentHelper };
const char* node_kind_name(NodeKind k);
inline bool is_helper(NodeKind k) { return k != NodeKind::Task && k != NodeKind::Zombie; }

struct TreeNode {
  pid_t pid = 0;
  NodeKind kind = NodeKind::Task;
  pid_t creator = 0;  // the node that forks it; 0 for the init
  int exit_signal = SIGCHLD;
  bool setsid = false;     // fork phase: setsid() after forking `before_setsid`
  bool own_pgrp = false;   // fork phase: setpgid(0, 0) (a group some task needs)
  std::vector<pid_t> before_setsid, after_setsid;  // the nodes it forks, in order
  pid_t ppid = 0;           // tasks and zombies: the parent in the image
  pid_t pgid = 0, sid = 0;  // final ids (helpers: what they hold)
  pid_t fork_pgid = 0;      // its process group at the end of the fork phase
  pid_t join_pgid = 0;      // the group it joins afterwards (0: none)
  int exit_code = 0;        // zombies
  int depth = 0;            // in the creator tree, the init 0
};

// A step of the controller's phase, in order.
struct TreeAction {
  enum class Kind { Join, ZombieExit, HelperEnd } kind;
  pid_t pid = 0;  // the node
};

struct TreePlan {
  pid_t init = 1;
  std::map<pid_t, TreeNode> nodes;
  std::vector<pid_t> order;           // creators before what they create
  std::vector<TreeAction> actions;    // the controller's phase
  std::vector<pid_t> drain_sigchld;   // tasks whose zombie children's ends queue a SIGCHLD

  const TreeNode& node(pid_t pid) const { return nodes.at(pid); }
  // The deepest node that created (directly or not) every one of `pids`
  // (each of them counts as created by itself).
  pid_t common_creator(const std::vector<pid_t>& pids) const;
};

// Unsupported (exit 4) for a tree it cannot recreate, BadInput for an
// inconsistent one. Helper pids are taken above every pid of the image and
// `max_used` (its highest thread id), below pid_max.
Result<TreePlan> plan_tree(const std::vector<TreeSpec>& tasks, pid_t pid_max, pid_t max_used = 0);

// The plan of an image's tasks (tree order, the init first): thread ids
// checked (each once, none another task's pid, none taken by a helper), then
// plan_tree. The dump runs it on what it is about to write, so that it
// refuses (exit 4, naming the task) a tree the restore would refuse.
Result<TreePlan> plan_image_tree(const std::vector<const img::Task*>& tasks, pid_t pid_max);

// ---- restore: the controller's phase ----

// A zombie's stand-in waits for this signal (sigwaitinfo) to join its group
// and exit.
inline constexpr int kZombieSignal = 64;  // SIGRTMAX

// vpid -> host pid of every process in the container's cgroup (tasks,
// zombie stand-ins before their end, helpers).
Result<std::map<pid_t, pid_t>> map_container_pids(const std::string& cgroup);

// The plan's actions: joins run as remote setpgid in the (seized) task; a
// zombie is signalled and awaited; a helper is killed, awaited, and reaped
// by a remote wait4 in its parent. `leaders`: the seized leader thread of
// every task.
Status run_tree_actions(const TreePlan& plan, const std::map<pid_t, pid_t>& host_of,
                        const std::map<pid_t, remote::RemoteTask*>& leaders);

// Dequeues the SIGCHLDs queued in `task` by the ends of zombie stand-ins
// (rt_sigtimedwait, no wait): the dumped task had handled them long ago.
// Needs the executor mapped.
Status drain_sigchld(remote::RemoteTask& task);

// Every task and zombie has the image's parent, group and session (and a
// zombie its exit status), read from /proc; every helper is gone. `host_of`
// as mapped before the actions (an exited task leaves cgroup.procs).
Status verify_tree(const TreePlan& plan, const std::map<pid_t, pid_t>& host_of);

}  // namespace amber::kinds
