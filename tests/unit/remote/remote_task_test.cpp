// The ptrace engine against real forked children: remote syscalls, the
// batch executor, and tasks that must carry on untouched after release.
#include "remote/remote_task.h"

#include <cpuid.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "child.h"
#include "sys/ptrace.h"

using namespace amber;
using namespace amber::testing;
using remote::Call;
using remote::RemoteTask;

namespace {

struct Counters {
  std::atomic<long> ready{0};
  std::atomic<long> loops{0};
  std::atomic<long> eintr{0};
  std::atomic<long> go{0};
  std::atomic<long> done{0};
  char buf[64]{};
};

void idle_forever() {
  for (;;) ::pause();
}

double us_since(std::chrono::steady_clock::time_point t0, int n) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
}

}  // namespace

TEST(RemoteTask, RemoteGetpidIsTheChildsPid) {
  Child child(idle_forever);
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_TRUE(t->stopped());
  EXPECT_EQ(status_field(child.pid(), "TracerPid"), std::to_string(getpid()));
  auto pid = t->syscall(SYS_getpid);
  ASSERT_TRUE(pid) << pid.error().message;
  EXPECT_EQ(*pid, child.pid());
  auto ppid = t->syscall_checked("getppid", SYS_getppid);
  ASSERT_TRUE(ppid) << ppid.error().message;
  EXPECT_EQ(static_cast<pid_t>(*ppid), getpid());
  // -errno becomes an Error with context and errno.
  auto bad = t->syscall_checked("close -1", SYS_close, static_cast<uint64_t>(-1));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().sys_errno, EBADF);
  EXPECT_NE(bad.error().message.find("close -1"), std::string::npos) << bad.error().message;

  ASSERT_TRUE(t->release());
  EXPECT_FALSE(t->attached());
  EXPECT_EQ(status_field(child.pid(), "TracerPid"), "0");
  EXPECT_TRUE(wait_until([&] { return proc_state(child.pid()) == 'S'; }));
}

TEST(RemoteTask, RemoteMmapAndMunmapShowInMaps) {
  Child child(idle_forever);
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  auto addr = t->syscall_checked("mmap", SYS_mmap, 0, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
                                 static_cast<uint64_t>(-1), 0);
  ASSERT_TRUE(addr) << addr.error().message;
  EXPECT_TRUE(maps_contain(child.pid(), *addr, *addr + 3 * 4096, "r--p"));
  auto un = t->syscall_checked("munmap", SYS_munmap, *addr, 3 * 4096);
  ASSERT_TRUE(un) << un.error().message;
  EXPECT_FALSE(maps_contain(child.pid(), *addr, *addr + 3 * 4096));
  ASSERT_TRUE(t->release());
}

TEST(RemoteTask, ExecutorRunsAThousandSyscallsInOneStop) {
  Child child(idle_forever);
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  constexpr int kN = 1000;

  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i) ASSERT_EQ(*t->syscall(SYS_getpid), child.pid());
  double vdso_us = us_since(t0, kN);

  ASSERT_TRUE(t->map_executor()) << "map_executor";
  const uint64_t base = t->executor_base();
  EXPECT_TRUE(maps_contain(child.pid(), base, base + 4096, "r-xs"));
  EXPECT_TRUE(maps_contain(child.pid(), base + 4096, base + t->executor_size(), "rw-s"));
  EXPECT_GE(t->scratch_size(), 4096u);

  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i) ASSERT_EQ(*t->syscall(SYS_getpid), child.pid());
  double exec_us = us_since(t0, kN);

  std::vector<Call> calls;
  for (int i = 0; i < kN; ++i) calls.push_back(remote::make_call(i % 2 ? SYS_getppid : SYS_getpid));
  t0 = std::chrono::steady_clock::now();
  auto r = t->run_batch(calls);
  double batch_us = us_since(t0, kN);
  ASSERT_TRUE(r) << r.error().message;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(calls[i].ran) << i;
    ASSERT_EQ(calls[i].result, i % 2 ? getpid() : child.pid()) << i;
  }
  // Again, with the table's pages already in place.
  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(t->run_batch(calls));
  double batch2_us = us_since(t0, kN);
  std::printf("[ remote   ] us/syscall: single via [vdso] %.2f, single via executor %.2f, batch of %d %.3f (again %.3f)\n",
              vdso_us, exec_us, kN, batch_us, batch2_us);

  ASSERT_TRUE(t->unmap_executor());
  EXPECT_FALSE(maps_contain(child.pid(), base, base + 4096));
  ASSERT_TRUE(t->release());
  EXPECT_EQ(status_field(child.pid(), "TracerPid"), "0");
}

TEST(RemoteTask, BatchStopsOnErrorAndSpansSeveralStops) {
  Child child(idle_forever);
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  // A table of 16 calls: 100 calls take 7 stops.
  ASSERT_TRUE(t->map_executor(0, 16, 4096));

  std::vector<Call> many;
  for (int i = 0; i < 100; ++i) many.push_back(remote::make_call(SYS_getpid));
  ASSERT_TRUE(t->run_batch(many));
  for (auto& c : many) EXPECT_TRUE(c.ran && c.result == child.pid());

  // A failing call without stop_on_error does not stop the batch; with it,
  // the batch ends there (also across a chunk boundary).
  std::vector<Call> calls(40, remote::make_call(SYS_getpid));
  calls[3] = remote::make_call(SYS_close, -1);
  calls[20] = remote::make_call(SYS_close, -1);
  calls[20].stop_on_error = true;
  auto r = t->run_batch(calls);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, EBADF);
  EXPECT_NE(r.error().message.find("#20"), std::string::npos) << r.error().message;
  EXPECT_TRUE(calls[3].ran);
  EXPECT_EQ(calls[3].result, -EBADF);
  EXPECT_TRUE(calls[19].ran);
  EXPECT_TRUE(calls[20].ran);
  EXPECT_EQ(calls[20].result, -EBADF);
  EXPECT_FALSE(calls[21].ran);
  EXPECT_FALSE(calls[39].ran);

  // Arguments in scratch memory: uname() fills a struct we read back.
  auto u = t->syscall_checked("uname", SYS_uname, t->scratch_addr());
  ASSERT_TRUE(u) << u.error().message;
  char sysname[65] = {};
  ASSERT_TRUE(t->read(t->scratch_addr(), std::as_writable_bytes(std::span(sysname, 64))));
  EXPECT_STREQ(sysname, "Linux");

  // Fixed address: MAP_FIXED_NOREPLACE refuses a taken one.
  const uint64_t taken = t->executor_base();
  ASSERT_TRUE(t->unmap_executor());
  ASSERT_TRUE(t->map_executor(0x5a0000000000));
  EXPECT_EQ(t->executor_base(), 0x5a0000000000u);
  ASSERT_TRUE(t->release());
  (void)taken;
}

TEST(RemoteTask, NanosleepingChildNeverSeesEintr) {
  auto* s = shared_new<Counters>();
  Child child([s] {
    for (;;) {
      timespec ts{0, 1000000};
      if (::nanosleep(&ts, nullptr) < 0 && errno == EINTR) s->eintr++;
      s->loops++;
    }
  });
  ASSERT_TRUE(wait_until([&] { return s->loops > 10; }));
  for (int round = 0; round < 20; ++round) {
    auto t = RemoteTask::seize(child.pid());
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_EQ(*t->syscall(SYS_getpid), child.pid());
    if (round % 2) {
      ASSERT_TRUE(t->map_executor());
      ASSERT_EQ(*t->syscall(SYS_gettid), child.pid());
      ASSERT_TRUE(t->unmap_executor());
    }
    ASSERT_TRUE(t->release());
    long before = s->loops;
    ASSERT_TRUE(wait_until([&] { return s->loops > before + 3; })) << "round " << round;
  }
  EXPECT_EQ(s->eintr.load(), 0);
  shared_delete(s);
}

TEST(RemoteTask, ChildrenBlockedInReadAndWait4CarryOn) {
  auto* s = shared_new<Counters>();
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  Child reader([&] {
    ::close(p[1]);
    s->ready = 1;
    ssize_t n = ::read(p[0], s->buf, sizeof s->buf - 1);
    ::_exit(n == 5 ? 0 : (n < 0 ? 100 + errno : 50));
  });
  ::close(p[0]);
  Child waiter([&] {
    pid_t g = ::fork();
    if (g == 0) {
      while (!s->go) ::usleep(1000);
      ::_exit(7);
    }
    s->done = 1;
    int st = 0;
    pid_t r = ::wait4(g, &st, 0, nullptr);
    ::_exit(r == g && WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : (r < 0 ? 100 + errno : 50));
  });
  ASSERT_TRUE(wait_until([&] { return s->ready && s->done; }));
  ASSERT_TRUE(wait_until([&] { return proc_state(reader.pid()) == 'S' && proc_state(waiter.pid()) == 'S'; }));
  sleep_ms(20);

  for (pid_t pid : {reader.pid(), waiter.pid()}) {
    auto t = RemoteTask::seize(pid);
    ASSERT_TRUE(t) << t.error().message;
    // Stopped inside the syscall: orig_rax names it.
    EXPECT_EQ(t->saved_regs().orig_rax, pid == reader.pid() ? SYS_read : SYS_wait4);
    ASSERT_EQ(*t->syscall(SYS_getpid), pid);
    ASSERT_TRUE(t->map_executor());
    std::vector<Call> calls(10, remote::make_call(SYS_getppid));
    ASSERT_TRUE(t->run_batch(calls));
    ASSERT_TRUE(t->unmap_executor());
    ASSERT_TRUE(t->release());
  }
  sleep_ms(20);
  ASSERT_EQ(::write(p[1], "hello", 5), 5);
  s->go = 1;
  int rst = reader.wait();
  int wst = waiter.wait();
  EXPECT_TRUE(WIFEXITED(rst) && WEXITSTATUS(rst) == 0) << "reader status " << rst;
  EXPECT_STREQ(s->buf, "hello");
  EXPECT_TRUE(WIFEXITED(wst) && WEXITSTATUS(wst) == 0) << "waiter status " << wst;
  ::close(p[1]);
  shared_delete(s);
}

TEST(RemoteTask, SeccompFilteredChildSurvivesRemoteGetpid) {
  if (geteuid() != 0) GTEST_SKIP() << "PTRACE_O_SUSPEND_SECCOMP needs CAP_SYS_ADMIN (run as root)";
  auto* s = shared_new<Counters>();
  Child child([s] {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
      ::_exit(3);
    s->ready = 1;
    while (!s->go) ::usleep(1000);
    ::syscall(SYS_getpid);  // the filter kills here: proves it is in force
    ::_exit(0);
  });
  ASSERT_TRUE(wait_until([&] { return s->ready.load() == 1; }));
  {
    auto t = RemoteTask::seize(child.pid());
    ASSERT_TRUE(t) << t.error().message;
    auto filters = sys::get_seccomp_filters(child.pid());
    ASSERT_TRUE(filters) << filters.error().message;
    ASSERT_EQ(filters->size(), 1u);
    EXPECT_EQ((*filters)[0].insns.size(), 7u);
    auto pid = t->syscall(SYS_getpid);
    ASSERT_TRUE(pid) << pid.error().message;
    EXPECT_EQ(*pid, child.pid());
    ASSERT_TRUE(t->map_executor());
    std::vector<Call> calls(5, remote::make_call(SYS_getpid));
    ASSERT_TRUE(t->run_batch(calls));
    EXPECT_EQ(calls[4].result, child.pid());
    ASSERT_TRUE(t->unmap_executor());
    ASSERT_TRUE(t->release());
  }
  sleep_ms(30);
  EXPECT_NE(proc_state(child.pid()), 'Z');
  EXPECT_EQ(::kill(child.pid(), 0), 0);
  s->go = 1;
  int st = child.wait();
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) << "status " << st;
  shared_delete(s);
}

namespace {
struct SigLog {
  std::atomic<long> count{0};
  std::atomic<long> value{0};
  std::atomic<long> code{0};
  std::atomic<unsigned long long> seen{0};  // bit per sival_int value 0..63
  std::atomic<long> ready{0};
};
SigLog* g_siglog = nullptr;  // the child's handler needs it (child side only)
void record_signal(int, siginfo_t* si, void*) {
  g_siglog->value = si->si_value.sival_int;
  g_siglog->code = si->si_code;
  if (si->si_value.sival_int >= 0 && si->si_value.sival_int < 64) g_siglog->seen |= 1ull << si->si_value.sival_int;
  g_siglog->count++;
}
void install_recorder(SigLog* log, int sig) {
  g_siglog = log;
  struct sigaction sa {};
  sa.sa_sigaction = record_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  ::sigaction(sig, &sa, nullptr);
  log->ready = 1;
}
}  // namespace

TEST(RemoteTask, SignalSentDuringBatchIsDeliveredAfterRelease) {
  auto* log = shared_new<SigLog>();
  Child child([log] {
    install_recorder(log, SIGUSR1);
    install_recorder(log, SIGUSR2);
    idle_forever();
  });
  ASSERT_TRUE(wait_until([&] { return log->ready.load() == 1; }));
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  auto send_later = [&](int sig, int value) {
    return std::thread([&, sig, value] {
      sleep_ms(50);
      sigval v{};
      v.sival_int = value;
      ::sigqueue(child.pid(), sig, v);
    });
  };
  // Through the executor: a batch sleeping 200 ms, a signal after 50 ms.
  ASSERT_TRUE(t->map_executor());
  timespec ts{0, 200 * 1000000};
  ASSERT_TRUE(t->write(t->scratch_addr(), std::as_bytes(std::span(&ts, 1))));
  std::thread sender = send_later(SIGUSR1, 5);
  std::vector<Call> calls{remote::make_call(SYS_nanosleep, t->scratch_addr(), 0), remote::make_call(SYS_getpid)};
  auto r = t->run_batch(calls);
  sender.join();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(calls[0].result, 0) << "nanosleep was interrupted";
  EXPECT_EQ(calls[1].result, child.pid());
  // Pending, not delivered into our stub.
  auto pending = sys::peek_siginfo(child.pid(), /*shared=*/true);
  ASSERT_TRUE(pending) << pending.error().message;
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].si_signo, SIGUSR1);
  EXPECT_EQ((*pending)[0].si_value.sival_int, 5);

  // Through [vdso]: the same with one remote nanosleep.
  const uint64_t ts_addr = t->scratch_addr();
  ASSERT_TRUE(t->unmap_executor());
  auto scratch = t->syscall_checked("mmap", SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                                    static_cast<uint64_t>(-1), 0);
  ASSERT_TRUE(scratch) << scratch.error().message;
  ASSERT_TRUE(t->write(*scratch, std::as_bytes(std::span(&ts, 1))));
  (void)ts_addr;
  std::thread sender2 = send_later(SIGUSR2, 6);
  auto n = t->syscall(SYS_nanosleep, *scratch, 0);
  sender2.join();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 0) << "nanosleep was interrupted";
  ASSERT_TRUE(t->syscall_checked("munmap", SYS_munmap, *scratch, 4096));
  EXPECT_EQ(log->count.load(), 0);
  EXPECT_EQ(t->saved_sigmask() & (1ull << (SIGUSR1 - 1)), 0u);
  ASSERT_TRUE(t->release());

  ASSERT_TRUE(wait_until([&] { return log->count.load() >= 2; }));
  sleep_ms(10);
  EXPECT_EQ(log->count.load(), 2);
  EXPECT_EQ(log->seen.load(), (1ull << 5) | (1ull << 6));
  EXPECT_EQ(log->code.load(), SI_QUEUE);
  auto mask = status_field(child.pid(), "SigBlk");
  EXPECT_EQ(mask, "0000000000000000");
  shared_delete(log);
}

TEST(RemoteTask, SignalsRacingTheSeizeAreNeitherLostNorDuplicated) {
  auto* log = shared_new<SigLog>();
  const int sig = SIGRTMIN + 1;
  Child child([log, sig] {
    install_recorder(log, sig);
    for (;;) {
      timespec ts{0, 100000};
      ::nanosleep(&ts, nullptr);
    }
  });
  ASSERT_TRUE(wait_until([&] { return log->ready.load() == 1; }));
  constexpr int kRounds = 40;
  for (int i = 0; i < kRounds; ++i) {
    sigval v{};
    v.sival_int = i;
    ASSERT_EQ(::sigqueue(child.pid(), sig, v), 0);
    auto t = RemoteTask::seize(child.pid());
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_EQ(*t->syscall(SYS_getpid), child.pid());
    ASSERT_TRUE(t->release());
  }
  ASSERT_TRUE(wait_until([&] { return log->count.load() >= kRounds; }));
  sleep_ms(20);
  EXPECT_EQ(log->count.load(), kRounds);
  EXPECT_EQ(log->seen.load(), (1ull << kRounds) - 1);
  shared_delete(log);
}

TEST(RemoteTask, XstateRoundTrip) {
  if (!__builtin_cpu_supports("avx")) GTEST_SKIP() << "no AVX on this CPU";
  struct Out {
    alignas(32) std::atomic<unsigned long long> ymm7[4];
    std::atomic<long> ready;
  };
  auto* out = shared_new<Out>();
  Child child([out] {
    alignas(32) static unsigned long long pattern[4] = {0x1111222233334444ull, 0x5555666677778888ull,
                                                        0x99990000aaaabbbbull, 0xccccddddeeeeffffull};
    out->ready = 1;
    // Keeps storing ymm7 to shared memory: the test sees what the register holds.
    asm volatile(
        "vmovdqu (%0), %%ymm7\n"
        "1: vmovdqu %%ymm7, (%1)\n"
        "jmp 1b\n" ::"r"(pattern),
        "r"(out->ymm7)
        : "memory");
  });
  ASSERT_TRUE(wait_until([&] { return out->ymm7[3].load() == 0xccccddddeeeeffffull; }));
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  auto xs = sys::get_xstate(child.pid());
  ASSERT_TRUE(xs) << xs.error().message;
  EXPECT_GE(xs->size(), 576u + 256u);
  EXPECT_LE(xs->size(), sys::xstate_buffer_size());
  std::printf("[ remote   ] NT_X86_XSTATE: %zu bytes (CPUID buffer %zu)\n", xs->size(), sys::xstate_buffer_size());
  // Standard (non-compacted) XSAVE layout: xmm7 at 160 + 7*16 in the legacy
  // area, the upper half of ymm7 at the AVX component's offset + 7*16.
  unsigned eax, ebx, ecx, edx;
  ASSERT_TRUE(__get_cpuid_count(0xd, 2, &eax, &ebx, &ecx, &edx));
  const size_t xmm7 = 160 + 7 * 16, ymm7_hi = ebx + 7 * 16;
  uint64_t lo[2], hi[2];
  std::memcpy(lo, xs->data() + xmm7, 16);
  std::memcpy(hi, xs->data() + ymm7_hi, 16);
  EXPECT_EQ(lo[0], 0x1111222233334444ull);
  EXPECT_EQ(lo[1], 0x5555666677778888ull);
  EXPECT_EQ(hi[0], 0x99990000aaaabbbbull);
  EXPECT_EQ(hi[1], 0xccccddddeeeeffffull);

  // Write new values; read back; the child then stores them.
  std::vector<uint8_t> changed = *xs;
  const uint64_t nlo[2] = {0x0123456789abcdefull, 0x0fedcba987654321ull};
  const uint64_t nhi[2] = {0xdeadbeefcafef00dull, 0x0badc0ffee0ddf00ull};
  std::memcpy(changed.data() + xmm7, nlo, 16);
  std::memcpy(changed.data() + ymm7_hi, nhi, 16);
  ASSERT_TRUE(sys::set_xstate(child.pid(), changed));
  auto back = sys::get_xstate(child.pid());
  ASSERT_TRUE(back);
  EXPECT_EQ(std::memcmp(back->data() + xmm7, nlo, 16), 0);
  EXPECT_EQ(std::memcmp(back->data() + ymm7_hi, nhi, 16), 0);
  // Remote syscalls leave the vector registers alone.
  ASSERT_EQ(*t->syscall(SYS_getpid), child.pid());
  ASSERT_TRUE(t->release());
  EXPECT_TRUE(wait_until([&] { return out->ymm7[0].load() == nlo[0] && out->ymm7[3].load() == nhi[1]; }));
  EXPECT_EQ(out->ymm7[1].load(), nlo[1]);
  EXPECT_EQ(out->ymm7[2].load(), nhi[0]);
  shared_delete(out);
}

TEST(RemoteTask, StoppedChildStaysStoppedAfterRelease) {
  Child child(idle_forever);
  ASSERT_EQ(::kill(child.pid(), SIGSTOP), 0);
  ASSERT_TRUE(wait_until([&] { return proc_state(child.pid()) == 'T'; }));
  {
    auto t = RemoteTask::seize(child.pid());
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_TRUE(t->group_stopped());
    ASSERT_EQ(*t->syscall(SYS_getpid), child.pid());
    ASSERT_TRUE(t->release());
  }
  sleep_ms(20);
  EXPECT_EQ(proc_state(child.pid()), 'T');
  ASSERT_EQ(::kill(child.pid(), SIGCONT), 0);
  EXPECT_TRUE(wait_until([&] { return proc_state(child.pid()) == 'S'; }));
}

TEST(RemoteTask, OneThreadOfAMultiThreadedProcess) {
  auto* s = shared_new<Counters>();
  Child child([s] {
    std::thread([s] {
      s->ready = static_cast<long>(::gettid());
      for (;;) s->loops++;
    }).detach();
    idle_forever();
  });
  ASSERT_TRUE(wait_until([&] { return s->ready.load() != 0; }));
  const pid_t tid = static_cast<pid_t>(s->ready.load());
  auto t = RemoteTask::seize(tid);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->tgid(), child.pid());
  EXPECT_EQ(*t->syscall(SYS_gettid), tid);
  EXPECT_EQ(*t->syscall(SYS_getpid), child.pid());
  long frozen = s->loops;
  sleep_ms(10);
  EXPECT_EQ(s->loops.load(), frozen);
  ASSERT_TRUE(t->release());
  EXPECT_TRUE(wait_until([&] { return s->loops.load() > frozen; }));
  shared_delete(s);
}

TEST(RemoteTask, KillWhileSeized) {
  Child child(idle_forever);
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_TRUE(t->kill());
  EXPECT_FALSE(t->attached());
  EXPECT_EQ(child.wait(), -1);  // reaped by the tracer's wait
  EXPECT_EQ(::kill(child.pid(), 0), -1);
}

TEST(RemoteTask, FaultInRemoteCodeIsAnErrorAndNotDelivered) {
  auto* log = shared_new<SigLog>();
  Child child([log] {
    install_recorder(log, SIGSEGV);
    idle_forever();
  });
  ASSERT_TRUE(wait_until([&] { return log->ready.load() == 1; }));
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_TRUE(t->map_executor());
  // The call table follows the code page. Making it read-only from inside
  // the batch makes the stub fault when it stores that call's result.
  const uint64_t table = t->executor_base() + static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<Call> calls{remote::make_call(SYS_mprotect, table, 4096, PROT_READ), remote::make_call(SYS_getpid)};
  auto r = t->run_batch(calls);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("Segmentation fault"), std::string::npos) << r.error().message;
  EXPECT_FALSE(calls[1].ran);
  // The task is still ours and usable.
  ASSERT_TRUE(t->syscall_checked("mprotect", SYS_mprotect, table, 4096, PROT_READ | PROT_WRITE));
  calls[0] = remote::make_call(SYS_getppid);
  r = t->run_batch(calls);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(calls[1].result, child.pid());
  ASSERT_TRUE(t->unmap_executor());
  ASSERT_TRUE(t->release());
  sleep_ms(20);
  EXPECT_EQ(log->count.load(), 0) << "the fault of our stub reached the task's handler";
  EXPECT_EQ(::kill(child.pid(), 0), 0);
  EXPECT_NE(proc_state(child.pid()), 'Z');
  shared_delete(log);
}

// A thread spinning inside an rseq critical section whose abort handler
// re-arms it. Inside the section it checks rseq_cs is still armed: finding
// it cleared means it was resumed mid-section unprotected.
asm(R"(
  .pushsection .text
  .globl amber_test_rseq_spin
  .type amber_test_rseq_spin, @function
amber_test_rseq_spin:           # rdi = struct rseq, rsi = struct rseq_cs, rdx = &aborts, rcx = &lost
  lea 2f(%rip), %rax
  mov %rax, 8(%rsi)
  lea 3f(%rip), %r8
  sub %rax, %r8
  mov %r8, 16(%rsi)
  lea 4f(%rip), %rax
  mov %rax, 24(%rsi)
  movq $0, 0(%rsi)
1:
  mov %rsi, 8(%rdi)
2:
  cmpq $0, 8(%rdi)
  je 5f
  jmp 2b
3:
  .long 0x53053053
4:
  lock incq (%rdx)
  jmp 1b
5:
  lock incq (%rcx)
  jmp 1b
  .popsection
)");
extern "C" [[noreturn]] void amber_test_rseq_spin(void* rseq, void* cs, long* aborts, long* lost);

TEST(RemoteTask, ThreadInsideAnRseqSectionIsAbortedNotResumedUnprotected) {
  if (__rseq_size == 0) GTEST_SKIP() << "glibc did not register rseq (disabled by tunable?)";
  struct Shared {
    long aborts = 0;
    long lost = 0;
    alignas(32) unsigned char cs[32] = {};
  };
  auto* sh = shared_new<Shared>();
  Child child([sh] {
    void* area = static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
    amber_test_rseq_spin(area, sh->cs, &sh->aborts, &sh->lost);
  });
  sleep_ms(20);
  int inside = 0;
  for (int round = 0; round < 30; ++round) {
    auto t = RemoteTask::seize(child.pid());
    ASSERT_TRUE(t) << t.error().message;
    uint64_t start = 0, len = 0;
    std::memcpy(&start, sh->cs + 8, 8);
    std::memcpy(&len, sh->cs + 16, 8);
    inside += t->saved_regs().rip - start < len;
    ASSERT_EQ(*t->syscall(SYS_getpid), child.pid());
    ASSERT_TRUE(t->release());
    sleep_ms(2);
  }
  std::printf("[ remote   ] stopped inside the rseq section %d times of 30; %ld aborts\n", inside,
              __atomic_load_n(&sh->aborts, __ATOMIC_SEQ_CST));
  EXPECT_GT(inside, 0) << "never caught inside the section: the test proves nothing";
  sleep_ms(20);
  EXPECT_EQ(__atomic_load_n(&sh->lost, __ATOMIC_SEQ_CST), 0);
  EXPECT_EQ(::kill(child.pid(), 0), 0);
  shared_delete(sh);
}

namespace {

struct TrapLog {
  std::atomic<long> ready{0};
  std::atomic<long> go{0};
  std::atomic<long> traps{0};
};
TrapLog* g_trap_log = nullptr;

// A child with a SIGTRAP handler, SIGTRAP blocked or not, that raises
// SIGTRAP once told to: the handler must still be there after remote code.
void trap_child(TrapLog* log, bool blocked) {
  g_trap_log = log;
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_trap_log->traps++; };
  ::sigaction(SIGTRAP, &sa, nullptr);
  sigset_t t;
  sigemptyset(&t);
  sigaddset(&t, SIGTRAP);
  if (blocked) ::sigprocmask(SIG_BLOCK, &t, nullptr);
  log->ready = 1;
  while (!log->go) {
    timespec ts{0, 1000000};
    ::nanosleep(&ts, nullptr);
  }
  ::sigprocmask(SIG_UNBLOCK, &t, nullptr);
  ::raise(SIGTRAP);
  for (;;) ::pause();
}

}  // namespace

// The int3 and single-step traps are force_sig(SIGTRAP): with SIGTRAP
// blocked the kernel would reset the task's handler to SIG_DFL, and its own
// raise(SIGTRAP) would then kill it.
TEST(RemoteTask, SigtrapHandlerSurvivesRemoteCode) {
  for (bool blocked : {false, true}) {
    SCOPED_TRACE(blocked ? "SIGTRAP blocked" : "SIGTRAP unblocked");
    auto* log = shared_new<TrapLog>();
    Child child([log, blocked] { trap_child(log, blocked); });
    ASSERT_TRUE(wait_until([&] { return log->ready.load() == 1; }));
    const std::string cgt = status_field(child.pid(), "SigCgt");
    const std::string blk = status_field(child.pid(), "SigBlk");
    auto t = RemoteTask::seize(child.pid());
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_TRUE(t->syscall_checked("getpid", SYS_getpid));  // through [vdso], single-stepped
    ASSERT_TRUE(t->map_executor());
    std::vector<Call> calls = {remote::make_call(SYS_getpid), remote::make_call(SYS_getppid)};
    ASSERT_TRUE(t->run_batch(calls));
    ASSERT_TRUE(t->unmap_executor());
    ASSERT_TRUE(t->release());
    EXPECT_EQ(status_field(child.pid(), "SigCgt"), cgt);
    EXPECT_EQ(status_field(child.pid(), "SigBlk"), blk);
    log->go = 1;
    EXPECT_TRUE(wait_until([&] { return log->traps.load() == 1; }));
    EXPECT_NE(proc_state(child.pid()), 'Z') << "the child died of its own SIGTRAP";
    shared_delete(log);
  }
}

// An ignored SIGTRAP would be reset to SIG_DFL by the first trap: refused
// before any remote instruction runs, the task untouched.
TEST(RemoteTask, IgnoredSigtrapIsRefusedBeforeAnyRemoteCode) {
  Child child([] {
    ::signal(SIGTRAP, SIG_IGN);
    idle_forever();
  });
  ASSERT_TRUE(wait_until([&] { return status_field(child.pid(), "SigIgn") == "0000000000000010"; }));
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  auto r = t->syscall(SYS_getpid);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::Unsupported);
  EXPECT_NE(r.error().message.find("SIGTRAP is ignored"), std::string::npos) << r.error().message;
  ASSERT_TRUE(t->release());
  EXPECT_EQ(status_field(child.pid(), "SigIgn"), "0000000000000010");
}

// A SIGTRAP pending while blocked would be taken by our code once SIGTRAP is
// unblocked for it: refused before any remote code, still pending after.
TEST(RemoteTask, PendingSigtrapIsRefusedBeforeAnyRemoteCode) {
  Child child([] {
    sigset_t t;
    sigemptyset(&t);
    sigaddset(&t, SIGTRAP);
    ::sigprocmask(SIG_BLOCK, &t, nullptr);
    ::kill(::getpid(), SIGTRAP);
    idle_forever();
  });
  ASSERT_TRUE(wait_until([&] { return status_field(child.pid(), "ShdPnd") == "0000000000000010"; }));
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  auto r = t->syscall(SYS_getpid);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::Unsupported);
  EXPECT_NE(r.error().message.find("SIGTRAP is pending"), std::string::npos) << r.error().message;
  ASSERT_TRUE(t->release());
  EXPECT_EQ(status_field(child.pid(), "ShdPnd"), "0000000000000010");
  EXPECT_EQ(status_field(child.pid(), "SigBlk"), "0000000000000010");
}

// A SIGTRAP sent while our code runs (SIGTRAP unblocked for it) must not run
// the task's handler on top of our stub: it is held back and sent again at
// release.
TEST(RemoteTask, SigtrapSentDuringBatchReachesTheHandlerAfterRelease) {
  auto* log = shared_new<TrapLog>();
  Child child([log] {
    g_trap_log = log;
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_trap_log->traps++; };
    ::sigaction(SIGTRAP, &sa, nullptr);
    log->ready = 1;
    idle_forever();
  });
  ASSERT_TRUE(wait_until([&] { return log->ready.load() == 1; }));
  auto t = RemoteTask::seize(child.pid());
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_TRUE(t->map_executor());
  timespec ts{0, 200 * 1000000};
  ASSERT_TRUE(t->write(t->scratch_addr(), std::as_bytes(std::span(&ts, 1))));
  std::thread sender([&] {
    sleep_ms(50);
    ::kill(child.pid(), SIGTRAP);
  });
  std::vector<Call> calls{remote::make_call(SYS_nanosleep, t->scratch_addr(), 0), remote::make_call(SYS_getpid)};
  auto r = t->run_batch(calls);
  sender.join();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(calls[1].result, child.pid());
  EXPECT_EQ(log->traps.load(), 0) << "the handler ran on top of remote code";
  ASSERT_TRUE(t->unmap_executor());
  ASSERT_TRUE(t->release());
  EXPECT_TRUE(wait_until([&] { return log->traps.load() == 1; }));
  sleep_ms(10);
  EXPECT_EQ(log->traps.load(), 1);
  EXPECT_NE(proc_state(child.pid()), 'Z');
  shared_delete(log);
}
