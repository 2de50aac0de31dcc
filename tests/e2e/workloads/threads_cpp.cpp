// Workload: the C++ flavour of threads.c — 8 std::threads besides the main
// one, each with its own name, signal mask and a std::atomic counter it
// keeps incrementing (1 ms sleeps), checking on every step that its tid and
// mask are still its own. Prints "threads_cpp: READY" when all run.
// SIGUSR2: the main thread notes every counter ("threads_cpp: MARK").
// SIGUSR1: it checks every counter went on from the noted value and still
// grows and that no thread saw itself change, then stops and joins them
// (std::thread::join waits for the kernel to clear each thread's tid) and
// prints "threads_cpp: OK" (exit 0) or "threads_cpp: FAIL <what>" (exit 1).
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace {

constexpr int kWorkers = 8;

struct Worker {
  std::thread th;
  std::atomic<unsigned long> counter{0};
  std::atomic<int> bad{0};  // first inconsistency it saw in itself (1 tid, 2 mask, 3 name)
};
std::array<Worker, kWorkers> workers;
std::atomic<bool> stop{false};

int own_signal(int i) { return SIGRTMIN + 2 + i; }

void run(int i) {
  Worker& w = workers[static_cast<size_t>(i)];
  std::string name = "cxx-worker-" + std::to_string(i);
  pthread_setname_np(pthread_self(), name.c_str());
  sigset_t mine;
  pthread_sigmask(SIG_SETMASK, nullptr, &mine);
  sigaddset(&mine, own_signal(i));
  pthread_sigmask(SIG_SETMASK, &mine, nullptr);
  const long tid = syscall(SYS_gettid);
  while (!stop.load()) {
    w.counter.fetch_add(1);
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, nullptr, &now);
    char comm[16] = {};
    pthread_getname_np(pthread_self(), comm, sizeof comm);
    int why = syscall(SYS_gettid) != tid ? 1 : !sigismember(&now, own_signal(i)) ? 2 : name != comm ? 3 : 0;
    if (why && w.bad.load() == 0) w.bad.store(why);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int fail(const std::string& what) {
  std::printf("threads_cpp: FAIL %s\n", what.c_str());
  return 1;
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  sigset_t waitset;
  sigemptyset(&waitset);
  sigaddset(&waitset, SIGUSR1);
  sigaddset(&waitset, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &waitset, nullptr);  // every thread inherits it: only sigwait takes them
  for (int i = 0; i < kWorkers; ++i) workers[static_cast<size_t>(i)].th = std::thread(run, i);
  std::printf("threads_cpp: READY\n");

  std::array<unsigned long, kWorkers> marked{};
  bool have_mark = false;
  for (;;) {
    int sig = 0;
    if (sigwait(&waitset, &sig) != 0) return fail("sigwait");
    if (sig == SIGUSR2) {
      for (int i = 0; i < kWorkers; ++i) marked[static_cast<size_t>(i)] = workers[static_cast<size_t>(i)].counter.load();
      have_mark = true;
      std::printf("threads_cpp: MARK\n");
      continue;
    }
    break;  // SIGUSR1
  }
  if (!have_mark) return fail("SIGUSR1 before SIGUSR2");
  std::array<unsigned long, kWorkers> at{};
  for (int i = 0; i < kWorkers; ++i) at[static_cast<size_t>(i)] = workers[static_cast<size_t>(i)].counter.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int i = 0; i < kWorkers; ++i) {
    const Worker& w = workers[static_cast<size_t>(i)];
    if (at[static_cast<size_t>(i)] < marked[static_cast<size_t>(i)])
      return fail("worker " + std::to_string(i) + " counter went back");
    if (w.counter.load() <= at[static_cast<size_t>(i)]) return fail("worker " + std::to_string(i) + " stopped counting");
    if (w.bad.load()) return fail("worker " + std::to_string(i) + " changed (" + std::to_string(w.bad.load()) + ")");
  }
  stop.store(true);
  for (auto& w : workers) w.th.join();
  std::printf("threads_cpp: OK\n");
  return 0;
}
