// Thread kind: restart rules, and a thread dumped from one child (blocked in
// nanosleep) restored into another (blocked in pause) that then finishes the
// first one's sleep and checks its own registers.
#include "kinds/thread.h"

#include <gtest/gtest.h>
#include <sys/rseq.h>  // __rseq_offset, RSEQ_FLAG_UNREGISTER
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <chrono>
#include <cstring>

#include "kinds_test_util.h"
#include "sys/ptrace.h"

using namespace amber;
using amber::kinds_test::Forked;
using amber::kinds_test::wait_until;

// Register-only code, so that it runs the same in any fork of this test
// binary, whatever that fork's stack holds:
//   amber_kt_sleeper: xmm15 = pattern; nanosleep(&amber_kt_ts, NULL); then
//     exit_group(0) if it returned 0 and xmm15 still holds the pattern,
//     1 if it returned anything else (EINTR, a stray -ERESTART*), 2 if xmm15
//     was lost.
//   amber_kt_pauser: xmm15 = 0; pause() for ever.
asm(R"(
  .pushsection .data.amber_kt, "aw"
  .balign 16
  .globl amber_kt_pattern, amber_kt_ts
amber_kt_pattern:
  .quad 0x0123456789abcdef, 0xfedcba9876543210
amber_kt_ts:
  .quad 0, 400000000
  .popsection
  .pushsection .text.amber_kt, "ax"
  .globl amber_kt_sleeper, amber_kt_pauser
amber_kt_sleeper:
  movdqu amber_kt_pattern(%rip), %xmm15
  mov $35, %eax
  lea amber_kt_ts(%rip), %rdi
  xor %esi, %esi
  syscall
  test %rax, %rax
  jnz 1f
  movdqu amber_kt_pattern(%rip), %xmm14
  pcmpeqb %xmm15, %xmm14
  pmovmskb %xmm14, %eax
  cmp $0xffff, %eax
  jne 2f
  xor %edi, %edi
  jmp 3f
1:
  mov $1, %edi
  jmp 3f
2:
  mov $2, %edi
3:
  mov $231, %eax
  syscall
  hlt
amber_kt_pauser:
  pxor %xmm15, %xmm15
4:
  mov $34, %eax
  syscall
  jmp 4b
  .popsection
)");
extern "C" void amber_kt_sleeper();
extern "C" void amber_kt_pauser();

namespace {

constexpr uint64_t kSyscallNr = 35;  // any number: the rules only look at rax/orig_rax

user_regs_struct stopped_in(long ret) {
  user_regs_struct r{};
  r.orig_rax = kSyscallNr;
  r.rax = static_cast<unsigned long long>(ret);
  r.rip = 0x401002;  // just after a 2-byte `syscall` at 0x401000
  r.rdi = 0x7ffd0000;
  return r;
}

void expect_reissued(long ret) {
  user_regs_struct out = kinds::apply_restart_rules(stopped_in(ret));
  EXPECT_EQ(out.rax, kSyscallNr) << ret;
  EXPECT_EQ(out.rip, 0x401000u) << ret;
  EXPECT_EQ(out.orig_rax, kSyscallNr) << ret;
  EXPECT_EQ(out.rdi, 0x7ffd0000u) << "arguments are kept";
}

// glibc registers rseq with these (KERNEL-NOTES).
constexpr uint32_t kGlibcRseqLen = 32;
constexpr uint32_t kGlibcRseqSig = 0x53053053;

int unregister_own_rseq() {
  auto* area = static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
  return ::syscall(SYS_rseq, area, kGlibcRseqLen, RSEQ_FLAG_UNREGISTER, kGlibcRseqSig) == 0 ? 0 : 30;
}

}  // namespace

TEST(RestartRules, ErestartsysIsIssuedAgain) { expect_reissued(-kinds::kErestartSys); }
TEST(RestartRules, ErestartnointrIsIssuedAgain) { expect_reissued(-kinds::kErestartNoIntr); }
TEST(RestartRules, ErestartnohandIsIssuedAgain) { expect_reissued(-kinds::kErestartNoHand); }
TEST(RestartRules, ErestartRestartblockReissuesTheOriginalSyscall) {
  // Not restart_syscall(2): the new task has no restart block.
  expect_reissued(-kinds::kErestartRestartBlock);
}

TEST(RestartRules, NotInASyscallIsUnchanged) {
  user_regs_struct in = stopped_in(-kinds::kErestartSys);  // rax is just a value of the program
  in.orig_rax = ~0ull;
  user_regs_struct out = kinds::apply_restart_rules(in);
  EXPECT_EQ(0, std::memcmp(&in, &out, sizeof in));
}

TEST(RestartRules, FinishedSyscallKeepsItsResult) {
  for (long ret : {0L, 42L, -static_cast<long>(EINTR), -static_cast<long>(EAGAIN)}) {
    user_regs_struct in = stopped_in(ret);
    user_regs_struct out = kinds::apply_restart_rules(in);
    EXPECT_EQ(0, std::memcmp(&in, &out, sizeof in)) << ret;
  }
}

TEST(RestartRules, OtherKernelInternalCodesBecomeEintr) {
  for (long code : {515L, 517L, 530L}) {  // ENOIOCTLCMD, EPROBE_DEFER, ...
    user_regs_struct out = kinds::apply_restart_rules(stopped_in(-code));
    EXPECT_EQ(static_cast<long>(out.rax), -static_cast<long>(EINTR)) << code;
    EXPECT_EQ(out.rip, 0x401002u) << code;
  }
}

TEST(ThreadKind, NanosleepingThreadRestoredIntoAnotherChildFinishesItsSleep) {
  const uint64_t kBlockedA = (1ull << (SIGUSR2 - 1)) | (1ull << (SIGRTMIN + 3 - 1));

  // A: named, some signals blocked, asleep in nanosleep.
  Forked a(
      [](int&) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        sigaddset(&set, SIGRTMIN + 3);
        if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return 20;
        return prctl(PR_SET_NAME, "amber-sleeper") == 0 ? 0 : 21;
      },
      [] {
        amber_kt_sleeper();
        return 99;
      });
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(wait_until([&] { return kinds_test::blocked_syscall(a.pid()) == SYS_nanosleep; }));

  img::Thread image;
  {
    auto t = remote::RemoteTask::seize(a.pid());
    ASSERT_TRUE(t) << t.error().message;
    auto dumped = kinds::dump_thread(*t);
    ASSERT_TRUE(dumped) << dumped.error().message;
    image = *dumped;
    ASSERT_TRUE(t->release());
  }
  EXPECT_EQ(image.tid(), a.pid());
  EXPECT_EQ(image.comm(), "amber-sleeper");
  EXPECT_EQ(image.blocked(), kBlockedA);
  EXPECT_EQ(image.regs().size(), sizeof(user_regs_struct));
  EXPECT_GT(image.xstate().size(), 512u);  // legacy area + header + extended state
  EXPECT_TRUE(image.syscall().in_syscall());
  EXPECT_EQ(image.syscall().nr(), SYS_nanosleep);
  EXPECT_EQ(image.syscall().ret(), -kinds::kErestartRestartBlock);
  EXPECT_NE(image.rseq().ptr(), 0u);
  EXPECT_EQ(image.rseq().len(), kGlibcRseqLen);
  EXPECT_EQ(image.rseq().sig(), kGlibcRseqSig);
  // A itself was only held: it finishes its sleep without EINTR.
  int st_a = a.wait();
  ASSERT_TRUE(WIFEXITED(st_a)) << st_a;
  EXPECT_EQ(WEXITSTATUS(st_a), 0);

  // B: another name, nothing blocked, no rseq, xmm15 = 0, in pause().
  Forked b([](int&) { return prctl(PR_SET_NAME, "amber-pauser") == 0 ? unregister_own_rseq() : 22; },
           [] {
             amber_kt_pauser();
             return 99;
           });
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(wait_until([&] { return kinds_test::blocked_syscall(b.pid()) == SYS_pause; }));

  auto t = remote::RemoteTask::seize(b.pid());
  ASSERT_TRUE(t) << t.error().message;
  {
    // B as dumped: pause() stopped with -ERESTARTNOHAND, no rseq.
    auto before = kinds::dump_thread(*t);
    ASSERT_TRUE(before) << before.error().message;
    EXPECT_EQ(before->syscall().nr(), SYS_pause);
    EXPECT_EQ(before->syscall().ret(), -kinds::kErestartNoHand);
    EXPECT_EQ(before->rseq().ptr(), 0u);
    EXPECT_EQ(before->comm(), "amber-pauser");
  }
  ASSERT_TRUE(t->map_executor());
  auto st = kinds::restore_thread(*t, image);
  ASSERT_TRUE(st) << st.error().message;
  auto rseq = sys::get_rseq_configuration(b.pid());
  ASSERT_TRUE(rseq) << rseq.error().message;
  EXPECT_EQ(rseq->rseq_abi_pointer, image.rseq().ptr());
  EXPECT_EQ(rseq->rseq_abi_size, image.rseq().len());
  EXPECT_EQ(rseq->signature, image.rseq().sig());
  ASSERT_TRUE(t->unmap_executor());
  st = kinds::restore_thread_final(*t, image);
  ASSERT_TRUE(st) << st.error().message;
  auto released_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(t->release());

  // B now sleeps A's nanosleep again, with A's mask and name.
  EXPECT_EQ(kinds_test::proc_text(b.pid(), "comm"), "amber-sleeper\n");
  EXPECT_EQ(kinds_test::status_field(b.pid(), "SigBlk"), fmt::format("{:016x}", kBlockedA));
  int st_b = b.wait();
  auto slept = std::chrono::steady_clock::now() - released_at;
  ASSERT_TRUE(WIFEXITED(st_b)) << st_b;
  EXPECT_EQ(WEXITSTATUS(st_b), 0) << "1: nanosleep returned an error in B; 2: xmm15 (xstate) was not restored";
  EXPECT_GE(slept, std::chrono::milliseconds(300)) << "the original nanosleep was issued again";
}

TEST(ThreadKind, RestoreRefusesRegistersOfTheWrongSize) {
  Forked b(nullptr);
  ASSERT_TRUE(b.ok());
  auto t = remote::RemoteTask::seize(b.pid());
  ASSERT_TRUE(t) << t.error().message;
  img::Thread bad;
  bad.set_tid(7);
  bad.set_regs("short");
  auto st = kinds::restore_thread_final(*t, bad);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput);
  EXPECT_NE(st.error().message.find("thread 7"), std::string::npos) << st.error().message;
}
