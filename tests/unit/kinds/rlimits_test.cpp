// Rlimits kind: dumped from one child, checked, restored into another from
// outside, compared with prlimit.
#include "kinds/rlimits.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "kinds_test_util.h"

using namespace amber;
using amber::kinds_test::Forked;

namespace {

constexpr int CAP_SYS_RESOURCE_BIT = 24;  // <linux/capability.h> CAP_SYS_RESOURCE

rlimit64 limit_of(pid_t pid, int resource) {
  rlimit64 l{};
  EXPECT_EQ(::prlimit64(pid, static_cast<__rlimit_resource>(resource), nullptr, &l), 0);
  return l;
}

}  // namespace

TEST(RlimitsKind, LoweredLimitsRestoredIntoAnotherChild) {
  Forked a([](int&) {
    rlimit64 nofile{100, 200}, core{0, 0}, stack{4 << 20, 16 << 20};
    if (::setrlimit64(RLIMIT_NOFILE, &nofile) != 0) return 20;
    if (::setrlimit64(RLIMIT_CORE, &core) != 0) return 21;
    if (::setrlimit64(RLIMIT_STACK, &stack) != 0) return 22;
    return 0;
  });
  ASSERT_TRUE(a.ok());
  img::Task image;
  image.set_pid(1);
  auto st = kinds::dump_rlimits(a.pid(), image);
  ASSERT_TRUE(st) << st.error().message;
  ASSERT_EQ(image.rlimits_size(), RLIM_NLIMITS);
  EXPECT_EQ(image.rlimits(RLIMIT_NOFILE).cur(), 100u);
  EXPECT_EQ(image.rlimits(RLIMIT_NOFILE).max(), 200u);
  st = kinds::check_rlimits(image);
  ASSERT_TRUE(st) << st.error().message;

  Forked b(nullptr);
  ASSERT_TRUE(b.ok());
  ASSERT_NE(limit_of(b.pid(), RLIMIT_NOFILE).rlim_max, 200u);
  st = kinds::restore_rlimits(b.pid(), image);
  ASSERT_TRUE(st) << st.error().message;
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    rlimit64 x = limit_of(a.pid(), r), y = limit_of(b.pid(), r);
    EXPECT_EQ(x.rlim_cur, y.rlim_cur) << kinds::rlimit_name(r);
    EXPECT_EQ(x.rlim_max, y.rlim_max) << kinds::rlimit_name(r);
  }
}

TEST(RlimitsKind, CheckRefusesAHardLimitAboveAmbersOwn) {
  rlimit64 own{};
  ASSERT_EQ(::getrlimit64(RLIMIT_NOFILE, &own), 0);
  if (own.rlim_max == RLIM64_INFINITY) GTEST_SKIP() << "amber's own RLIMIT_NOFILE is unlimited: nothing is above it";
  img::Task image;
  image.set_pid(7);
  auto* l = image.add_rlimits();
  l->set_resource(RLIMIT_NOFILE);
  l->set_cur(own.rlim_cur);
  l->set_max(own.rlim_max + 1);
  auto st = kinds::check_rlimits(image);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::Unsupported);
  EXPECT_EQ(st.error().exit_code(), 4);
  const std::string& m = st.error().message;
  EXPECT_NE(m.find("task 7"), std::string::npos) << m;
  EXPECT_NE(m.find("RLIMIT_NOFILE"), std::string::npos) << m;
  EXPECT_NE(m.find(std::to_string(own.rlim_max + 1)), std::string::npos) << m;
  EXPECT_NE(m.find(std::to_string(own.rlim_max)), std::string::npos) << m;

  // And really cannot be set here (no CAP_SYS_RESOURCE): the refusal is not
  // over-cautious.
  const uint64_t cap_eff = parse_uint(kinds_test::status_field(getpid(), "CapEff"), 16).value_or(0);
  if (!(cap_eff & (1ull << CAP_SYS_RESOURCE_BIT))) {
    Forked b(nullptr);
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(kinds::restore_rlimits(b.pid(), image));
  }

  l->set_max(own.rlim_max);
  EXPECT_TRUE(kinds::check_rlimits(image));
  l->set_cur(own.rlim_max);
  l->set_max(own.rlim_max - 1);
  auto bad = kinds::check_rlimits(image);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().exit, Exit::BadInput) << "soft above hard";
}
