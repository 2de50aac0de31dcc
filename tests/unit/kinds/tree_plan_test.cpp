// plan_tree: who forks whom so that sessions and groups come out right.
#include <gtest/gtest.h>

#include <algorithm>

#include "kinds/tree.h"

namespace amber {
namespace {

using kinds::NodeKind;
using kinds::TreeAction;
using kinds::TreeSpec;

TreeSpec task(pid_t pid, pid_t ppid, pid_t pgid, pid_t sid) { return TreeSpec{pid, ppid, pgid, sid, false, 0, SIGCHLD}; }
TreeSpec zombie(pid_t pid, pid_t ppid, pid_t pgid, pid_t sid, int status) {
  return TreeSpec{pid, ppid, pgid, sid, true, status, SIGCHLD};
}

bool has_action(const kinds::TreePlan& p, TreeAction::Kind k, pid_t pid) {
  return std::any_of(p.actions.begin(), p.actions.end(), [&](const TreeAction& a) { return a.kind == k && a.pid == pid; });
}

TEST(TreePlan, ChildrenAreForkedByTheirParents) {
  auto p = kinds::plan_tree({task(1, 0, 1, 1), task(2, 1, 1, 1), task(3, 2, 1, 1)}, 4194304);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->nodes.size(), 3u);
  EXPECT_EQ(p->node(2).creator, 1);
  EXPECT_EQ(p->node(3).creator, 2);
  EXPECT_TRUE(p->node(1).setsid);
  EXPECT_TRUE(p->actions.empty());
  EXPECT_EQ(p->order.front(), 1);
  EXPECT_EQ(p->common_creator({3, 2}), 2);
  EXPECT_EQ(p->common_creator({3, 1}), 1);
}

TEST(TreePlan, OrphanOfADeadSessionLeaderComesThroughASessionHelper) {
  // 5 was the leader of session 5 and is gone; 6 was reparented to the init.
  auto p = kinds::plan_tree({task(1, 0, 1, 1), task(6, 1, 5, 5), task(7, 6, 5, 5)}, 4194304);
  ASSERT_TRUE(p) << p.error().message;
  const auto& h = p->node(5);
  EXPECT_EQ(h.kind, NodeKind::SessionHelper);
  EXPECT_EQ(h.creator, 1);
  EXPECT_TRUE(h.setsid);
  EXPECT_EQ(h.exit_signal, 0);
  EXPECT_EQ(p->node(6).creator, 5);
  EXPECT_EQ(p->node(6).join_pgid, 0);  // inherits group 5 from the helper
  EXPECT_TRUE(has_action(*p, TreeAction::Kind::HelperEnd, 5));
}

TEST(TreePlan, OrphanInTheSessionOfALiveLeaderComesThroughAReparentHelper) {
  auto p = kinds::plan_tree({task(1, 0, 1, 1), task(2, 1, 2, 2), task(3, 1, 2, 2)}, 4194304);
  ASSERT_TRUE(p) << p.error().message;
  const pid_t creator = p->node(3).creator;
  ASSERT_GT(creator, 3);  // a new pid above every pid of the image
  EXPECT_EQ(p->node(creator).kind, NodeKind::ReparentHelper);
  EXPECT_EQ(p->node(creator).creator, 2);
  EXPECT_EQ(p->node(creator).sid, 2);
}

TEST(TreePlan, HelperPidsStayClearOfThreadIds) {
  auto p = kinds::plan_tree({task(1, 0, 1, 1), task(2, 1, 2, 2), task(3, 1, 2, 2)}, 4194304, 40);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_GT(p->node(3).creator, 40);
}

TEST(TreePlan, AGroupWithoutItsLeaderGetsAGroupHelperAndMembersJoinIt) {
  // Group 4's leader is gone; 5 is in it, its parent 2 in group 2.
  auto p = kinds::plan_tree({task(1, 0, 1, 1), task(2, 1, 2, 1), task(5, 2, 4, 1)}, 4194304);
  ASSERT_TRUE(p) << p.error().message;
  const auto& g = p->node(4);
  EXPECT_EQ(g.kind, NodeKind::GroupHelper);
  EXPECT_TRUE(g.own_pgrp);
  EXPECT_EQ(p->node(5).join_pgid, 4);
  EXPECT_TRUE(has_action(*p, TreeAction::Kind::Join, 5));
  EXPECT_TRUE(has_action(*p, TreeAction::Kind::HelperEnd, 4));
}

TEST(TreePlan, ZombiesEndInTheActionsAndTheirParentDrainsSigchld) {
  auto p = kinds::plan_tree({task(1, 0, 1, 1), zombie(2, 1, 1, 1, 7 << 8), zombie(3, 1, 1, 1, SIGTERM)}, 4194304);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(has_action(*p, TreeAction::Kind::ZombieExit, 2));
  EXPECT_TRUE(has_action(*p, TreeAction::Kind::ZombieExit, 3));
  EXPECT_EQ(p->drain_sigchld, std::vector<pid_t>{1});
}

TEST(TreePlan, RefusesWhatItCannotRecreate) {
  // A core-dumped zombie: a stand-in cannot end with that status.
  auto core = kinds::plan_tree({task(1, 0, 1, 1), zombie(2, 1, 1, 1, SIGSEGV | 0x80)}, 4194304);
  ASSERT_FALSE(core);
  EXPECT_EQ(core.error().exit, Exit::Unsupported);
  // 3's parent 2 is in session 2, 3 in session 1 without being an orphan.
  auto sess = kinds::plan_tree({task(1, 0, 1, 1), task(2, 1, 2, 2), task(4, 2, 4, 4), task(3, 4, 1, 1)}, 4194304);
  ASSERT_FALSE(sess);
  EXPECT_EQ(sess.error().exit, Exit::Unsupported);
  EXPECT_NE(sess.error().message.find("task 3"), std::string::npos) << sess.error().message;
  // Two leaders that swapped groups: the second join finds its group empty.
  auto swap = kinds::plan_tree({task(1, 0, 1, 1), task(10, 1, 20, 1), task(20, 1, 10, 1)}, 4194304);
  ASSERT_FALSE(swap);
  EXPECT_EQ(swap.error().exit, Exit::Unsupported);
  // Not a tree.
  auto two_roots = kinds::plan_tree({task(1, 0, 1, 1), task(2, 0, 2, 2)}, 4194304);
  ASSERT_FALSE(two_roots);
  EXPECT_EQ(two_roots.error().exit, Exit::BadInput);
}

TEST(TreePlan, ChildrenBornBeforeTheirParentsSetsidKeepTheOldSession) {
  // 2 forked 3 and then made its own session 2: 3 stays in session 1.
  auto p = kinds::plan_tree({task(1, 0, 1, 1), task(2, 1, 2, 2), task(3, 2, 1, 1)}, 4194304);
  ASSERT_TRUE(p) << p.error().message;
  const auto& two = p->node(2);
  EXPECT_EQ(two.before_setsid, std::vector<pid_t>{3});
  EXPECT_EQ(p->node(3).sid, 1);
}

img::Task image_task(pid_t pid, pid_t ppid, pid_t pgid, pid_t sid, std::vector<pid_t> tids) {
  img::Task t;
  t.set_pid(pid);
  t.set_ppid(ppid);
  t.set_pgid(pgid);
  t.set_sid(sid);
  for (pid_t tid : tids) t.add_threads()->set_tid(tid);
  return t;
}

TEST(TreePlan, ImageTreeChecksThreadIdsThenPlans) {
  // What the dump now checks before it writes an image (the restore did it
  // only when reading one back).
  auto one = image_task(1, 0, 1, 1, {1, 7});
  auto two = image_task(2, 1, 1, 1, {2});
  auto ok = kinds::plan_image_tree({&one, &two}, 4194304);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->nodes.size(), 2u);
  auto clash = image_task(7, 1, 1, 1, {7});
  auto dup = kinds::plan_image_tree({&one, &two, &clash}, 4194304);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().exit, Exit::BadInput);
  // init - A (session 2) - B (session 3) - C (session 4) - D, D still in
  // A's session: C was born in B's, so D's session cannot be recreated.
  auto a = image_task(2, 1, 2, 2, {2}), b = image_task(3, 2, 3, 3, {3}), c = image_task(4, 3, 4, 4, {4}),
       d = image_task(5, 4, 2, 2, {5});
  auto init = image_task(1, 0, 1, 1, {1});
  auto sess = kinds::plan_image_tree({&init, &a, &b, &c, &d}, 4194304);
  ASSERT_FALSE(sess);
  EXPECT_EQ(sess.error().exit, Exit::Unsupported);
  EXPECT_NE(sess.error().message.find("task 5 is in session 2"), std::string::npos) << sess.error().message;
}

}  // namespace
}  // namespace amber
