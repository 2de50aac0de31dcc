#include <gtest/gtest.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/files.h"
#include "kinds/ns/ipc.h"

using namespace amber;

namespace {

std::string sysctl(const img::IpcNs& ipc, std::string_view name) {
  for (const auto& s : ipc.sysctls())
    if (s.name() == name) return s.value();
  return "(missing)";
}

}  // namespace

TEST(Ipc, DumpReadsTheTasksSysctlsAndRefusesItsObjects) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (unshare CLONE_NEWIPC)";
  int ready[2], go[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  pid_t child = fork();
  if (child == 0) {
    if (unshare(CLONE_NEWIPC) != 0) _exit(1);
    if (!write_file("/proc/sys/kernel/msgmax", "4321") || !write_file("/proc/sys/kernel/sem_next_id", "9"))
      _exit(2);
    char c = 1;
    (void)!write(ready[1], &c, 1);
    (void)!read(go[0], &c, 1);
    if (msgget(0x4242, IPC_CREAT | 0600) < 0) _exit(3);
    (void)!write(ready[1], &c, 1);
    (void)!read(go[0], &c, 1);
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  auto ipc = kinds::dump_ipc(child);
  ASSERT_TRUE(ipc) << ipc.error().message;
  EXPECT_EQ(sysctl(*ipc, "kernel/msgmax"), "4321");
  EXPECT_EQ(sysctl(*ipc, "kernel/sem_next_id"), "9");
  EXPECT_EQ(sysctl(*ipc, "kernel/msg_next_id"), "-1");
  EXPECT_NE(read_file("/proc/sys/kernel/msgmax").value_or(""), "4321\n");  // ours is untouched
  // The next-id ones are written last.
  EXPECT_EQ(ipc->sysctls(ipc->sysctls_size() - 1).name(), "kernel/shm_next_id");
  ASSERT_EQ(write(go[1], &c, 1), 1);
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  auto refused = kinds::dump_ipc(child);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().exit, Exit::Unsupported);
  EXPECT_NE(refused.error().message.find("SysV message queue key 0x4242 (id 0, 0 messages"), std::string::npos)
      << refused.error().message;
  ASSERT_EQ(write(go[1], &c, 1), 1);
  int st;
  waitpid(child, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(Ipc, ValidateRefusesSysctlsOutsideTheIpcNamespace) {
  img::IpcNs ipc;
  auto* s = ipc.add_sysctls();
  s->set_name("kernel/msgmax");
  s->set_value("8192");
  EXPECT_TRUE(kinds::validate_ipc(ipc));
  s = ipc.add_sysctls();
  s->set_name("../../etc/passwd");
  auto r = kinds::validate_ipc(ipc);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
}
