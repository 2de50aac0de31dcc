// SEM_UNDO adjustments read by probing semops in a seized child, and given
// to another child by value-neutral semops (kinds/ns/ipc_semundo.h); the
// kernel's own exit_sem is the judge: a child's exit moves each value by
// exactly its semadj.
#include <gtest/gtest.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include <vector>

#include "kinds/ns/ipc.h"
#include "kinds/ns/ipc_semundo.h"
#include "kinds_test_util.h"
#include "remote/remote_task.h"

using namespace amber;
using amber::kinds_test::Forked;

namespace {

union SemArg {
  int val;
  unsigned short* array;
};

struct SemSet {
  int id = -1;
  explicit SemSet(std::vector<unsigned short> v) {
    id = semget(IPC_PRIVATE, static_cast<int>(v.size()), 0600);
    SemArg a{};
    a.array = v.data();
    if (id >= 0) semctl(id, 0, SETALL, a);
  }
  ~SemSet() {
    if (id >= 0) semctl(id, 0, IPC_RMID);
  }
  std::vector<unsigned short> values(size_t n) const {
    std::vector<unsigned short> v(n);
    SemArg a{};
    a.array = v.data();
    semctl(id, 0, GETALL, a);
    return v;
  }
};

img::IpcNs ns_with(const SemSet& s, size_t n) {
  img::IpcNs ipc;
  img::SysvSem* sem = ipc.add_sem();
  sem->mutable_perm()->set_id(s.id);
  for (unsigned short v : s.values(n)) sem->add_values(v);
  img::Sysctl* c = ipc.add_sysctls();
  c->set_name("kernel/sem");
  c->set_value("32000 1024000000 500 32000");
  return ipc;
}

}  // namespace

TEST(SemUndo, ReadWithoutChangeAndRebuiltExactly) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (ptrace)";
  SemSet set({10, 12767, 5, 0});
  ASSERT_GE(set.id, 0);
  const int id = set.id;
  // adj: +3 (value 7), -20000 (value at SEMVMX), 0, -32767 (value 0 again).
  Forked holder([id](int&) {
    sembuf ops[] = {{0, -3, SEM_UNDO}, {1, 20000, SEM_UNDO}, {3, 32767, SEM_UNDO}};
    if (semop(id, ops, 3) != 0) return 2;
    sembuf back = {3, -32767, 0};
    return semop(id, &back, 1) == 0 ? 0 : 3;
  });
  ASSERT_TRUE(holder.ok());
  const std::vector<unsigned short> held = {7, 32767, 5, 0};
  ASSERT_EQ(set.values(4), held);

  img::IpcNs ipc = ns_with(set, 4);
  {
    auto t = remote::RemoteTask::seize(holder.pid());
    ASSERT_TRUE(t) << t.error().message;
    auto st = kinds::dump_sem_undo(*t, 2, ipc);
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_FALSE(t->has_executor());
    ASSERT_TRUE(t->release());
  }
  ASSERT_EQ(ipc.sem(0).undo_size(), 1);
  EXPECT_EQ(ipc.sem(0).undo(0).pid(), 2);
  EXPECT_EQ(std::vector<int32_t>(ipc.sem(0).undo(0).adj().begin(), ipc.sem(0).undo(0).adj().end()),
            (std::vector<int32_t>{3, -20000, 0, -32767}));
  EXPECT_EQ(set.values(4), held) << "the probes changed a value";

  // A process with no list: nothing recorded, nothing changed.
  Forked idle([](int&) { return 0; });
  ASSERT_TRUE(idle.ok());
  {
    std::vector<kinds::TreeTask> tree(2);
    tree[0].pid = holder.pid();
    tree[0].vpid = 2;
    tree[0].threads = {holder.pid()};
    tree[1].pid = idle.pid();
    tree[1].vpid = 3;
    tree[1].threads = {idle.pid()};
    auto h = kinds::find_sem_undo_holders(tree);
    ASSERT_TRUE(h) << h.error().message;
    ASSERT_EQ(h->size(), 1u);
    EXPECT_EQ((*h)[0].vpid, 2);
    EXPECT_EQ((*h)[0].tid, holder.pid());
  }

  // The holder's exit applies exactly its adjustments (the probes left no
  // trace the kernel would apply).
  ::kill(holder.pid(), SIGKILL);
  holder.wait();
  EXPECT_EQ(set.values(4), (std::vector<unsigned short>{10, 12767, 5, 0}));

  // Rebuilt in `idle` from the image, with the values as they were held.
  SemArg a{};
  std::vector<unsigned short> v = held;
  a.array = v.data();
  ASSERT_EQ(semctl(id, 0, SETALL, a), 0);
  auto plan = kinds::plan_sem_undo(ipc, {2});
  ASSERT_TRUE(plan) << plan.error().message;
  {
    auto t = remote::RemoteTask::seize(idle.pid());
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_TRUE(t->map_executor());
    auto st = kinds::restore_sem_undo(*t, 3, plan->at(2), /*verify=*/true);
    EXPECT_TRUE(st) << st.error().message;
    ASSERT_TRUE(t->unmap_executor());
    ASSERT_TRUE(t->release());
  }
  EXPECT_EQ(set.values(4), held) << "the rebuild changed a value";
  ::kill(idle.pid(), SIGKILL);
  idle.wait();
  EXPECT_EQ(set.values(4), (std::vector<unsigned short>{10, 12767, 5, 0}));

  // An adjustment of a task that is not in the image is bad input.
  EXPECT_FALSE(kinds::plan_sem_undo(ipc, {1}));
}

TEST(SemUndo, ValidateRefusesAdjustmentsThatDoNotFitTheSet) {
  img::IpcNs ipc;
  img::SysvSem* s = ipc.add_sem();
  s->mutable_perm()->set_id(3);
  s->add_values(1);
  s->add_values(2);
  img::SemUndo* u = s->add_undo();
  u->set_pid(5);
  u->add_adj(1);
  u->add_adj(0);
  EXPECT_TRUE(kinds::validate_ipc(ipc));
  u->add_adj(4);  // 3 for a set of 2
  EXPECT_EQ(kinds::validate_ipc(ipc).error().exit, Exit::BadInput);
  u->mutable_adj()->RemoveLast();
  u->set_adj(0, 32768);  // beyond SEMAEM
  EXPECT_EQ(kinds::validate_ipc(ipc).error().exit, Exit::BadInput);
  u->set_adj(0, 0);  // all 0: never recorded
  EXPECT_EQ(kinds::validate_ipc(ipc).error().exit, Exit::BadInput);
  u->set_adj(0, -1);
  *s->add_undo() = *u;  // the same task twice
  EXPECT_EQ(kinds::validate_ipc(ipc).error().exit, Exit::BadInput);
}
