// Scheduling attributes: dumped from one child, set on another from outside,
// compared with what the kernel reports; SCHED_DEADLINE refused by name.
#include "kinds/task_attrs.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "kinds_test_util.h"

using namespace amber;
using amber::kinds_test::Forked;

namespace {

struct SchedAttr {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
};

constexpr int kIoprioBe3 = (2 << 13) | 3;

int set_batch_nice5_cpu0() {
  SchedAttr a{sizeof(SchedAttr), SCHED_BATCH, 0, 5, 0, 0, 0, 0};
  if (::syscall(SYS_sched_setattr, 0, &a, 0) != 0) return 10;
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(0, &s);
  if (::sched_setaffinity(0, sizeof s, &s) != 0) return 11;
  if (::syscall(SYS_ioprio_set, 1, 0, kIoprioBe3) != 0) return 12;
  return 0;
}

}  // namespace

TEST(TaskAttrs, SchedRoundTripFromOutside) {
  Forked from([](int&) { return set_batch_nice5_cpu0(); });
  ASSERT_TRUE(from.ok());
  img::Thread th;
  th.set_tid(1);
  ASSERT_TRUE(kinds::dump_sched(from.pid(), *th.mutable_sched()));
  EXPECT_EQ(th.sched().policy(), static_cast<uint32_t>(SCHED_BATCH));
  EXPECT_EQ(th.sched().nice(), 5);
  EXPECT_EQ(th.sched().ioprio(), kIoprioBe3);
  ASSERT_GE(th.sched().cpus_allowed_size(), 1);
  EXPECT_EQ(th.sched().cpus_allowed(0), 1u);

  Forked to([](int&) { return 0; });
  ASSERT_TRUE(to.ok());
  auto r = kinds::restore_sched({{to.pid(), 1, &th}});
  ASSERT_TRUE(r) << r.error().message;
  SchedAttr a{};
  ASSERT_EQ(::syscall(SYS_sched_getattr, to.pid(), &a, sizeof a, 0), 0);
  EXPECT_EQ(a.policy, static_cast<uint32_t>(SCHED_BATCH));
  EXPECT_EQ(::getpriority(PRIO_PROCESS, static_cast<id_t>(to.pid())), 5);
  EXPECT_EQ(::syscall(SYS_ioprio_get, 1, to.pid()), kIoprioBe3);
  cpu_set_t s;
  ASSERT_EQ(::sched_getaffinity(to.pid(), sizeof s, &s), 0);
  EXPECT_EQ(CPU_COUNT(&s), 1);
  EXPECT_TRUE(CPU_ISSET(0, &s));
}

TEST(TaskAttrs, SchedDeadlineIsRefusedByName) {
  Forked dl([](int&) {
    SchedAttr a{sizeof(SchedAttr), 6 /* SCHED_DEADLINE */, 0, 0, 0, 1000000, 100000000, 100000000};
    return ::syscall(SYS_sched_setattr, 0, &a, 0) == 0 ? 0 : 77;
  });
  if (!dl.ok()) GTEST_SKIP() << "SCHED_DEADLINE cannot be set here";
  img::Sched s;
  auto r = kinds::dump_sched(dl.pid(), s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::Unsupported);
  EXPECT_NE(r.error().message.find("scheduling policy SCHED_DEADLINE is not supported yet"), std::string::npos)
      << r.error().message;
}
