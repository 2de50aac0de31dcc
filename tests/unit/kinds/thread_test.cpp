// Thread kind: restart rules, and a thread dumped from one child (blocked in
// nanosleep) restored into another (blocked in pause) that then finishes the
// first one's sleep and checks its own registers.
#include "kinds/thread.h"

#include <gtest/gtest.h>
#include <sys/rseq.h>  // __rseq_offset, RSEQ_FLAG_UNREGISTER
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "base/files.h"
#include "image/layout.h"
#include "image/pages.h"
#include "image/reader.h"
#include "image/writer.h"
#include "kinds/mm.h"
#include "kinds/signals.h"
#include "kinds_test_util.h"
#include "sys/procfs.h"
#include "sys/ptrace.h"
#include "test_key.h"

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

// ---- a whole child rebuilt: memory (kinds/mm), signals, thread ----

namespace {

volatile sig_atomic_t g_e2e_usr1 = 0;
void e2e_on_usr1(int) { g_e2e_usr1 = 1; }
char g_e2e_data[8192];

constexpr char kE2eName[] = "amber-e2e";

// Runs in A, then (after the rebuild) in B: A's memory, registers and
// kernel state must make it pass. 0: all fine; 1: the sleep failed (EINTR
// or a stray errno); 2: memory; 3: blocked mask; 4: SIGUSR1's action;
// 5: the handler did not run; 6: comm; 7: rseq. 77: B ran its own code.
[[noreturn]] __attribute__((noinline)) void e2e_sleeper() {
  char* heap = static_cast<char*>(std::malloc(100000));
  for (size_t i = 0; i < 100000; i++) heap[i] = static_cast<char>(i * 7 + 1);
  for (size_t i = 0; i < sizeof g_e2e_data; i++) g_e2e_data[i] = static_cast<char>(i * 13 + 5);
  struct timespec ts = {0, 500 * 1000 * 1000};
  long r = ::syscall(SYS_nanosleep, &ts, nullptr);
  if (r != 0) ::_exit(1);
  for (size_t i = 0; i < 100000; i++)
    if (heap[i] != static_cast<char>(i * 7 + 1)) ::_exit(2);
  for (size_t i = 0; i < sizeof g_e2e_data; i++)
    if (g_e2e_data[i] != static_cast<char>(i * 13 + 5)) ::_exit(2);
  sigset_t blocked;
  if (sigprocmask(SIG_BLOCK, nullptr, &blocked) != 0 || !sigismember(&blocked, SIGUSR2) ||
      sigismember(&blocked, SIGUSR1))
    ::_exit(3);
  struct sigaction sa {};
  if (sigaction(SIGUSR1, nullptr, &sa) != 0 || sa.sa_handler != e2e_on_usr1) ::_exit(4);
  ::raise(SIGUSR1);
  if (!g_e2e_usr1) ::_exit(5);
  char name[16] = {};
  if (prctl(PR_GET_NAME, name) != 0 || std::strcmp(name, kE2eName) != 0) ::_exit(6);
  // glibc's rseq area must be registered again (its memory alone still
  // looks fine): registering it a second time is EBUSY only if it is.
  auto* area = static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
  if (::syscall(SYS_rseq, area, kGlibcRseqLen, 0, kGlibcRseqSig) != -1 || errno != EBUSY) ::_exit(7);
  ::_exit(0);
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/amber-task-e2e-XXXXXX";
    path = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    if (!path.empty()) (void)remove_tree(path);
  }
};

}  // namespace

TEST(TaskRebuild, WholeChildRebuiltFromItsImageVerifiesItself) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (PR_SET_MM_MAP, /proc/PID/mem)";
  TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string image_dir = dir.path + "/img";

  Forked a(
      [](int&) {
        struct sigaction sa {};
        sa.sa_handler = e2e_on_usr1;
        sa.sa_flags = SA_RESTART;
        if (sigaction(SIGUSR1, &sa, nullptr) != 0) return 20;
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return 21;
        return prctl(PR_SET_NAME, kE2eName) == 0 ? 0 : 22;
      },
      []() -> int { e2e_sleeper(); });
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(wait_until([&] { return kinds_test::blocked_syscall(a.pid()) == SYS_nanosleep; }));

  // Dump A: thread first (its registers at the stop), then what needs the
  // executor, then memory (the executor is not part of it).
  img::Task task;
  task.set_pid(1);
  img::Mm mm;
  {
    auto t = remote::RemoteTask::seize(a.pid());
    ASSERT_TRUE(t) << t.error().message;
    auto thread = kinds::dump_thread(*t);
    ASSERT_TRUE(thread) << thread.error().message;
    *task.add_threads() = *thread;
    ASSERT_TRUE(t->map_executor());
    auto st = kinds::dump_sigactions(*t, task);
    ASSERT_TRUE(st) << st.error().message;
    auto w = image::ImageWriter::create(image_dir, image::test_key());
    ASSERT_TRUE(w) << w.error().message;
    auto pw = image::PageWriter::create(*w, image::pages_index_path(1), image::pages_data_path(1));
    ASSERT_TRUE(pw) << pw.error().message;
    auto m = kinds::dump_mm(*t, *pw);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_TRUE(pw->finish());
    m->set_pages_index(image::pages_index_path(1));
    ASSERT_TRUE(w->write(image::mm_path(1), img::KIND_MM, *m));
    ASSERT_TRUE(w->write(image::task_path(1), img::KIND_TASK, task));
    auto c = w->commit();
    ASSERT_TRUE(c) << c.error().message;
    // Killed while seized, as a dump ends: nothing of A runs again.
    ASSERT_TRUE(t->kill());
  }
  a.wait();

  // B: a plain fork in pause(), like a restore's init before its rebuild.
  Forked b([](int&) { return 0; }, [] {
    for (;;) ::pause();
    return 77;
  });
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(wait_until([&] { return kinds_test::blocked_syscall(b.pid()) == SYS_pause; }));
  auto reader = image::ImageReader::open(image_dir, image::test_key());
  ASSERT_TRUE(reader) << reader.error().message;
  auto loaded_mm = reader->read<img::Mm>(image::mm_path(1), img::KIND_MM);
  ASSERT_TRUE(loaded_mm) << loaded_mm.error().message;
  auto loaded_task = reader->read<img::Task>(image::task_path(1), img::KIND_TASK);
  ASSERT_TRUE(loaded_task) << loaded_task.error().message;
  auto pages = image::PageReader::open(*reader, loaded_mm->pages_index());
  ASSERT_TRUE(pages) << pages.error().message;

  // The controller's sequence (DESIGN.md "Restoring"; thread.h).
  auto t = remote::RemoteTask::seize(b.pid());
  ASSERT_TRUE(t) << t.error().message;
  auto current = sys::read_maps(b.pid());
  ASSERT_TRUE(current) << current.error().message;
  uint64_t at = kinds::pick_executor_addr(*loaded_mm, *current, size_t{1} << 20);
  ASSERT_NE(at, 0u);
  ASSERT_TRUE(t->map_executor(at));
  auto st = kinds::restore_mm(*t, *loaded_mm, *pages, {});
  ASSERT_TRUE(st) << st.error().message;
  st = kinds::restore_sigactions(*t, *loaded_task);
  ASSERT_TRUE(st) << st.error().message;
  st = kinds::restore_thread(*t, loaded_task->threads(0));
  ASSERT_TRUE(st) << st.error().message;
  ASSERT_TRUE(t->unmap_executor());
  st = kinds::verify_mm(b.pid(), *loaded_mm, 0, 0);
  EXPECT_TRUE(st) << st.error().message;
  st = kinds::restore_thread_final(*t, loaded_task->threads(0));
  ASSERT_TRUE(st) << st.error().message;
  auto released_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(t->release());

  EXPECT_EQ(kinds_test::proc_text(b.pid(), "comm"), std::string(kE2eName) + "\n");
  int status = b.wait();
  auto ran = std::chrono::steady_clock::now() - released_at;
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status
                                 << (WIFSIGNALED(status) ? std::string(" signal ") + strsignal(WTERMSIG(status)) : "");
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1 sleep, 2 memory, 3 mask, 4 sigaction, 5 handler, 6 comm, 7 rseq, 77 own code";
  EXPECT_GE(ran, std::chrono::milliseconds(400)) << "the interrupted nanosleep was issued again";
}
