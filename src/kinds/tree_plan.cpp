// plan_tree: how to fork the image's process tree so that sessions and
// process groups come out right (see tree.h). Pure: no task is touched.
#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "kinds/tree.h"

namespace amber::kinds {

namespace {

constexpr int kCoreFlag = 0x80;

bool default_terminates(int sig) {
  switch (sig) {
    case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
      return false;
    default:
      return sig >= 1 && sig <= 64;
  }
}

Status check_zombie_status(const TreeSpec& t) {
  const int st = t.exit_code;
  if ((st & 0x7f) == 0) {
    if (st & ~0xff00) return bad_input("zombie {}: exit status {:#x} is not a wait status", t.pid, st);
    return {};
  }
  if (st & kCoreFlag)
    return unsupported("zombie {}: killed by signal {} with a core dump: a stand-in cannot die with the same status",
                       t.pid, st & 0x7f);
  if ((st & ~0x7f) != 0 || !default_terminates(st & 0x7f))
    return bad_input("zombie {}: exit status {:#x} is not a wait status of an ended task", t.pid, st);
  return {};
}

class Planner {
 public:
  Planner(const std::vector<TreeSpec>& specs, pid_t pid_max, pid_t max_used)
      : specs_(specs), pid_max_(pid_max), max_pid_(max_used) {}

  Result<TreePlan> run() {
    TRY(index());
    TRY(place_sessions());
    TRY(place_tasks());
    TRY(place_group_helpers());
    TRY(compute_fork_ids());
    TRY(plan_actions());
    return std::move(plan_);
  }

 private:
  TreeNode& node(pid_t pid) { return plan_.nodes.at(pid); }
  bool has(pid_t pid) const { return plan_.nodes.contains(pid); }

  Status index() {
    pid_t init = 0;
    for (const TreeSpec& s : specs_) {
      if (s.pid <= 0 || s.pgid <= 0 || s.sid <= 0 || s.ppid < 0)
        return bad_input("task {}: bad ids (ppid {}, pgid {}, sid {})", s.pid, s.ppid, s.pgid, s.sid);
      if (s.pid >= pid_max_) return unsupported("task {}: pid above this host's pid_max {}", s.pid, pid_max_);
      TreeNode n;
      n.pid = s.pid;
      n.kind = s.zombie ? NodeKind::Zombie : NodeKind::Task;
      n.ppid = s.ppid;
      n.pgid = s.pgid;
      n.sid = s.sid;
      n.exit_signal = s.exit_signal;
      n.exit_code = s.exit_code;
      if (!plan_.nodes.emplace(s.pid, n).second) return bad_input("task {} is in the image twice", s.pid);
      ppid_[s.pid] = s.ppid;
      max_pid_ = std::max(max_pid_, s.pid);
      if (s.zombie) TRY(check_zombie_status(s));
      if (s.ppid == 0) {
        if (init) return bad_input("tasks {} and {} both have no parent", init, s.pid);
        init = s.pid;
      }
    }
    if (!init) return bad_input("the process tree has no init");
    if (init != 1) return bad_input("the container's init is pid {}, not 1", init);
    const TreeNode& in = node(init);
    if (in.kind == NodeKind::Zombie) return bad_input("the container's init is a zombie");
    if (in.sid != 1 || in.pgid != 1)
      return unsupported("the container's init is in session {} and group {}: only its own (1) can be recreated",
                         in.sid, in.pgid);
    for (const TreeSpec& s : specs_) {
      if (s.ppid == 0) continue;
      if (!has(s.ppid)) return bad_input("task {}: its parent {} is not in the image", s.pid, s.ppid);
      if (node(s.ppid).kind == NodeKind::Zombie) return bad_input("task {}: its parent {} is a zombie", s.pid, s.ppid);
      children_[s.ppid].push_back(s.pid);
    }
    // Parents before children; every task must hang from the init.
    std::deque<pid_t> queue{init};
    while (!queue.empty()) {
      pid_t p = queue.front();
      queue.pop_front();
      bfs_.push_back(p);
      for (pid_t c : children_[p]) queue.push_back(c);
    }
    if (bfs_.size() != specs_.size()) return bad_input("the process tree has tasks not descending from the init");
    for (const auto& [pid, n] : plan_.nodes) {
      sids_.insert(n.sid);
      pgids_.insert(n.pgid);
      if (n.kind != NodeKind::Zombie) session_tasks_[n.sid].push_back(pid);
    }
    for (auto& [sid, list] : session_tasks_) std::sort(list.begin(), list.end());
    return {};
  }

  Result<pid_t> new_pid() {
    pid_t p = ++max_pid_;
    if (p >= pid_max_) return unsupported("no pid left for a helper task below pid_max {}", pid_max_);
    return p;
  }

  void add_node(TreeNode n, pid_t creator, bool before) {
    n.creator = creator;
    TreeNode& c = node(creator);
    (before ? c.before_setsid : c.after_setsid).push_back(n.pid);
    plan_.nodes.emplace(n.pid, std::move(n));
  }

  void attach(pid_t pid, pid_t creator, bool before) {
    node(pid).creator = creator;
    TreeNode& c = node(creator);
    (before ? c.before_setsid : c.after_setsid).push_back(pid);
  }

  // A leader pid that exists is the session's leader: the kernel keeps a
  // pid from reuse while it names a session or group.
  Status place_sessions() {
    for (pid_t sid : sids_) {
      if (has(sid)) {
        const TreeNode& l = node(sid);
        if (l.sid != sid) return bad_input("task {} is not the leader of session {}", sid, sid);
        continue;
      }
      TreeNode h;
      h.pid = sid;
      h.kind = NodeKind::SessionHelper;
      h.exit_signal = 0;
      h.setsid = true;
      h.sid = h.pgid = sid;
      add_node(h, plan_.init, false);
    }
    for (auto& [pid, n] : plan_.nodes)
      if (!is_helper(n.kind) && n.sid == pid && pid != plan_.init) n.setsid = true;
    node(plan_.init).setsid = true;
    return {};
  }

  // The session a node is born in: its creator's, before or after the
  // creator's own setsid(). The init is born outside the container.
  pid_t born_sid(pid_t pid) {
    const TreeNode& n = node(pid);
    if (n.creator == 0) return 0;
    const TreeNode& c = node(n.creator);
    bool before = std::find(c.before_setsid.begin(), c.before_setsid.end(), pid) != c.before_setsid.end();
    return before ? born_sid(n.creator) : c.sid;
  }

  Status place_tasks() {
    for (pid_t pid : bfs_) {
      if (pid == plan_.init) continue;
      const TreeNode& t = node(pid);
      const pid_t ppid = ppid_.at(pid);
      const TreeNode& p = node(ppid);
      if (t.sid == pid || t.sid == p.sid) {
        attach(pid, ppid, false);
      } else if (p.setsid && t.sid == born_sid(ppid)) {
        attach(pid, ppid, true);
      } else if (ppid == plan_.init) {
        // An orphan in a session the init is not in: forked by a stand-in
        // in that session, reparented to the init when the stand-in goes.
        TreeNode& leader = node(t.sid);
        if (leader.kind == NodeKind::SessionHelper || leader.kind == NodeKind::Zombie) {
          attach(pid, t.sid, false);
        } else {
          pid_t& helper = reparent_helper_[t.sid];
          if (!helper) {
            TreeNode h;
            h.pid = helper = TRY(new_pid());
            h.kind = NodeKind::ReparentHelper;
            h.exit_signal = 0;
            h.sid = t.sid;
            add_node(h, t.sid, false);
          }
          attach(pid, helper, false);
        }
      } else {
        return unsupported("task {} is in session {}, which its parent {} (in session {}) was not born in: such a "
                           "session cannot be recreated",
                           pid, t.sid, ppid, p.sid);
      }
    }
    return {};
  }

  Status place_group_helpers() {
    for (pid_t g : pgids_) {
      if (has(g)) continue;
      // A task of the group's session forks it after its own setsid().
      pid_t sid = 0;
      for (const auto& [pid, n] : plan_.nodes)
        if (!is_helper(n.kind) && n.pgid == g) sid = n.sid;
      auto it = session_tasks_.find(sid);
      if (it == session_tasks_.end() || it->second.empty())
        return unsupported("process group {} (session {}) has lost its leader and has no live task in its session to "
                           "stand in for it",
                           g, sid);
      pid_t creator = it->second.front();
      for (pid_t m : it->second)
        if (node(m).pgid == g) {
          creator = m;
          break;
        }
      TreeNode h;
      h.pid = g;
      h.kind = NodeKind::GroupHelper;
      h.exit_signal = 0;
      h.own_pgrp = true;
      h.sid = sid;
      h.pgid = g;
      add_node(h, creator, false);
    }
    for (auto& [pid, n] : plan_.nodes)
      if (!is_helper(n.kind) && !n.setsid && pgids_.contains(pid)) n.own_pgrp = true;
    return {};
  }

  // Walks the creator tree from the init, in fork order, and computes each
  // node's session and group at the end of the fork phase.
  Status compute_fork_ids() {
    struct Frame {
      pid_t pid;
      pid_t sid_in, pgid_in;  // inherited at fork
    };
    std::vector<Frame> stack{{plan_.init, 0, 0}};
    std::set<pid_t> seen;
    while (!stack.empty()) {
      Frame f = stack.back();
      stack.pop_back();
      if (!seen.insert(f.pid).second) return bad_input("task {} is created twice", f.pid);
      TreeNode& n = node(f.pid);
      n.depth = n.creator ? node(n.creator).depth + 1 : 0;
      plan_.order.push_back(f.pid);
      pid_t sid = n.setsid ? n.pid : f.sid_in;
      pid_t pgid = (n.setsid || n.own_pgrp) ? n.pid : f.pgid_in;
      if (n.kind == NodeKind::ReparentHelper) n.pgid = pgid;
      if (sid != n.sid)
        return failf("plan: {} {} would be in session {}, not {}", node_kind_name(n.kind), n.pid, sid, n.sid);
      n.fork_pgid = pgid;
      if (!is_helper(n.kind) && n.pgid != pgid) n.join_pgid = n.pgid;
      // Pushed in reverse: the stack pops them in fork order.
      for (auto it = n.after_setsid.rbegin(); it != n.after_setsid.rend(); ++it) stack.push_back({*it, sid, pgid});
      for (auto it = n.before_setsid.rbegin(); it != n.before_setsid.rend(); ++it)
        stack.push_back({*it, f.sid_in, f.pgid_in});
    }
    if (seen.size() != plan_.nodes.size()) return failf("plan: {} of {} tasks are never created", plan_.nodes.size() - seen.size(), plan_.nodes.size());
    return {};
  }

  // Joins and ends, checked by playing them on group member counts: a
  // setpgid() needs the target group to have a member.
  Status plan_actions() {
    std::map<pid_t, int> members;
    for (const auto& [pid, n] : plan_.nodes) members[n.fork_pgid]++;
    auto join = [&](const TreeNode& n) -> Status {
      if (members[n.join_pgid] == 0)
        return unsupported("task {} cannot join process group {}: no process is left in it at that point", n.pid,
                           n.join_pgid);
      members[n.fork_pgid]--;
      members[n.join_pgid]++;
      return {};
    };
    for (int round = 0; round < 2; ++round) {
      for (pid_t pid : plan_.order) {
        const TreeNode& n = node(pid);
        if (is_helper(n.kind) || pgids_.contains(pid) != (round == 1)) continue;
        if (n.join_pgid) TRY(join(n));
        if (n.kind == NodeKind::Zombie)
          plan_.actions.push_back({TreeAction::Kind::ZombieExit, pid});
        else if (n.join_pgid)
          plan_.actions.push_back({TreeAction::Kind::Join, pid});
      }
    }
    std::set<pid_t> drain;
    for (pid_t pid : plan_.order) {
      const TreeNode& n = node(pid);
      if (is_helper(n.kind)) plan_.actions.push_back({TreeAction::Kind::HelperEnd, pid});
      if (n.kind == NodeKind::Zombie) drain.insert(ppid_.at(pid));
    }
    plan_.drain_sigchld.assign(drain.begin(), drain.end());
    return {};
  }

  const std::vector<TreeSpec>& specs_;
  pid_t pid_max_;
  pid_t max_pid_;
  TreePlan plan_;
  std::map<pid_t, pid_t> ppid_;
  std::map<pid_t, std::vector<pid_t>> children_;
  std::vector<pid_t> bfs_;
  std::set<pid_t> sids_, pgids_;
  std::map<pid_t, std::vector<pid_t>> session_tasks_;  // live tasks by session
  std::map<pid_t, pid_t> reparent_helper_;             // by session
};

}  // namespace

const char* node_kind_name(NodeKind k) {
  switch (k) {
    case NodeKind::Task: return "task";
    case NodeKind::Zombie: return "zombie";
    case NodeKind::SessionHelper: return "session helper";
    case NodeKind::GroupHelper: return "group helper";
    case NodeKind::ReparentHelper: return "reparent helper";
  }
  return "node";
}

TreeSpec tree_spec(const img::Task& task) {
  TreeSpec s;
  s.pid = task.pid();
  s.ppid = task.ppid();
  s.pgid = task.pgid();
  s.sid = task.sid();
  s.zombie = task.state() == img::TASK_ZOMBIE;
  s.exit_code = task.exit_code();
  s.exit_signal = task.exit_signal() ? task.exit_signal() : SIGCHLD;
  return s;
}

pid_t TreePlan::common_creator(const std::vector<pid_t>& pids) const {
  if (pids.empty()) return 0;
  pid_t a = pids.front();
  for (size_t i = 1; i < pids.size(); ++i) {
    pid_t b = pids[i];
    while (a != b) {
      const TreeNode& na = node(a);
      const TreeNode& nb = node(b);
      if (na.depth >= nb.depth) a = na.creator;
      else b = nb.creator;
      if (a == 0 || b == 0) return init;
    }
  }
  return a;
}

Result<TreePlan> plan_tree(const std::vector<TreeSpec>& tasks, pid_t pid_max, pid_t max_used) {
  return Planner(tasks, pid_max, max_used).run();
}

Result<TreePlan> plan_image_tree(const std::vector<const img::Task*>& tasks, pid_t pid_max) {
  std::vector<TreeSpec> specs;
  std::set<pid_t> pids;
  std::map<pid_t, pid_t> tids;  // every thread id -> its process
  for (const img::Task* t : tasks) {
    specs.push_back(tree_spec(*t));
    pids.insert(t->pid());
    for (const img::Thread& th : t->threads())
      if (!tids.emplace(th.tid(), t->pid()).second) return bad_input("thread id {} is in the image twice", th.tid());
  }
  for (const auto& [tid, pid] : tids)
    if (tid != pid && pids.contains(tid)) return bad_input("thread id {} of task {} is also a task", tid, pid);
  TreePlan plan = TRY(plan_tree(specs, pid_max, tids.empty() ? 0 : tids.rbegin()->first));
  for (const auto& [tid, pid] : tids)
    if (plan.nodes.contains(tid) && tid != pid)
      return bad_input("thread id {} of task {} is taken by a helper task", tid, pid);
  return plan;
}

}  // namespace amber::kinds
