// Holding whole process trees with real processes: by cgroup v2 (freeze,
// seize, thaw) and by pid namespace (ptrace only), and releasing them so
// they carry on untraced.
#include "seal/hold.h"

#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include <array>
#include <cstdlib>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "../remote/child.h"
#include "base/files.h"
#include "sys/procfs.h"

using namespace amber;
using namespace amber::testing;
using seal::Hold;

namespace {

// The test run's cgroup root (AMBER_TEST_CGROUP_ROOT, exported by
// scripts/test.sh), else one of this process's own named as
// scripts/test-cgroups.bash names them (<v2>/amber-test/run-PID-START, so
// that scripts/clean-test-cgroups.sh removes it if this process is killed),
// removed with the last test cgroup in it.
struct RootOfRun {
  std::string path;
  bool own = false;
};
Result<RootOfRun> root_of_run(const std::string& v2) {
  if (const char* r = std::getenv("AMBER_TEST_CGROUP_ROOT"); r && *r) return RootOfRun{r, false};
  sys::ProcStat st = TRY(sys::read_stat(::getpid()));
  RootOfRun root{fmt::format("{}/amber-test/run-{}-{}", v2, ::getpid(), st.start_time), true};
  ::mkdir((v2 + "/amber-test").c_str(), 0755);
  if (::mkdir(root.path.c_str(), 0755) != 0 && errno != EEXIST) return sys_fail("mkdir {}", root.path);
  return root;
}

// A v2 cgroup of its own under the run's root. Its tasks are killed and it
// is removed at the end.
class TestCgroup {
 public:
  TestCgroup() {
    if (geteuid() != 0) {
      skip_ = "needs root to create cgroups";
      return;
    }
    std::string v2;
    for (const char* p : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
      struct statfs fs {};
      if (::statfs(p, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
        v2 = p;
        break;
      }
    }
    if (v2.empty()) {
      skip_ = "no cgroup2 hierarchy mounted";
      return;
    }
    auto root = root_of_run(v2);
    if (!root) {
      skip_ = fmt::format("cannot make the test cgroup root: {}", root.error().message);
      return;
    }
    root_ = *root;
    static int counter = 0;
    path_ = fmt::format("{}/remote-hold-{}-{}", root_.path, getpid(), counter++);
    if (::mkdir(path_.c_str(), 0755) != 0) {
      skip_ = fmt::format("cannot create {}: {}", path_, std::strerror(errno));
      path_.clear();
    }
  }
  ~TestCgroup() {
    if (path_.empty()) return;
    (void)write_file(path_ + "/cgroup.freeze", "0");
    (void)write_file(path_ + "/cgroup.kill", "1");
    wait_until([&] { return read_file(path_ + "/cgroup.events").value_or("").find("populated 0") != std::string::npos; });
    wait_until([&] { return ::rmdir(path_.c_str()) == 0; });
    if (root_.own) (void)::rmdir(root_.path.c_str());  // fails while another test's cgroup is in it
  }
  const std::string& skip_reason() const { return skip_; }
  const std::string& path() const { return path_; }
  std::string file(const char* name) const {
    std::string text = read_file(path_ + "/" + name).value_or("");
    return std::string(trim(text));
  }
  bool frozen() const { return file("cgroup.events").find("frozen 1") != std::string::npos; }
  std::vector<pid_t> threads() const {
    std::vector<pid_t> out;
    const std::string text = file("cgroup.threads");
    for (auto l : split(text, '\n'))
      if (auto v = parse_int(trim(l))) out.push_back(static_cast<pid_t>(*v));
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  RootOfRun root_;
  std::string path_;
  std::string skip_;
};

constexpr int kThreadsPer = 3;

// Process i counts in counters[i]; its extra threads in counters[32 + 3i + k].
struct Tree {
  std::atomic<long> ready{0};
  std::atomic<long> pids[32];
  std::atomic<long> counters[128];
  int nprocs = 0;
  bool multi(int i) const { return i % 4 == 1; }
};

void nap() {
  timespec ts{0, 1000000};
  ::nanosleep(&ts, nullptr);
}

[[noreturn]] void run_member(Tree* t, int i, const char* name = nullptr) {
  if (name) ::prctl(PR_SET_NAME, name);
  if (t->multi(i))
    for (int k = 0; k < kThreadsPer; ++k)
      std::thread([t, i, k] {
        for (;;) {
          nap();
          t->counters[32 + kThreadsPer * i + k]++;
        }
      }).detach();
  t->pids[i] = getpid();
  t->ready++;
  if (i % 4 == 2)
    for (;;) t->counters[i]++;  // busy
  for (;;) {
    nap();
    t->counters[i]++;
  }
}

// A leader that moves itself into `cg`, then forks n-1 members. Member 2 is
// named "traced-one".
void spawn_tree(Tree* t, const TestCgroup& cg, int n) {
  t->nprocs = n;
  if (!write_file(cg.path() + "/cgroup.procs", "0")) ::_exit(9);
  for (int i = 1; i < n; ++i)
    if (::fork() == 0) run_member(t, i, i == 2 ? "traced-one" : nullptr);
  run_member(t, 0);
}

std::vector<long> snapshot(const Tree* t) {
  std::vector<long> v;
  for (int i = 0; i < t->nprocs; ++i) {
    v.push_back(t->counters[i]);
    if (t->multi(i))
      for (int k = 0; k < kThreadsPer; ++k) v.push_back(t->counters[32 + kThreadsPer * i + k]);
  }
  return v;
}

// Every process and thread of the tree counts again.
bool all_advance(const Tree* t) {
  auto before = snapshot(t);
  return wait_until([&] {
    auto now = snapshot(t);
    for (size_t i = 0; i < now.size(); ++i)
      if (now[i] <= before[i]) return false;
    return true;
  });
}

bool none_traced(const std::vector<pid_t>& tids) {
  for (pid_t tid : tids) {
    std::string tracer = status_field(tid, "TracerPid");
    if (!tracer.empty() && tracer != "0") return false;
  }
  return true;
}

// Every one of the tree's `n` members runs. Setting up is not what is
// tested: forks next to spinning members take more than wait_until's
// default 5 s on a loaded machine, and in the sanitizer build (every fork
// copies ASan's page tables).
bool tree_ready(const Tree* t, int n) {
  return wait_until([&] { return t->ready.load() == n; }, std::chrono::seconds(60));
}

}  // namespace

TEST(Hold, CgroupTreeOfTwentyIsHeldAndReleased) {
  TestCgroup cg;
  if (!cg.skip_reason().empty()) GTEST_SKIP() << cg.skip_reason();
  auto* tree = shared_new<Tree>();
  Child leader([&] { spawn_tree(tree, cg, 20); });
  ASSERT_TRUE(tree_ready(tree, 20));
  const std::vector<pid_t> listed = cg.threads();
  ASSERT_EQ(listed.size(), 20u + 5 * kThreadsPer);

  auto hold = Hold::by_cgroup(cg.path());
  ASSERT_TRUE(hold) << hold.error().message;
  EXPECT_EQ(hold->all_threads(), listed);
  std::set<pid_t> expected;
  for (int i = 0; i < 20; ++i) expected.insert(static_cast<pid_t>(tree->pids[i].load()));
  auto procs = hold->processes();
  EXPECT_EQ(std::set<pid_t>(procs.begin(), procs.end()), expected);
  EXPECT_EQ(hold->threads(static_cast<pid_t>(tree->pids[1].load())).size(), 1u + kThreadsPer);
  for (pid_t tid : listed) {
    EXPECT_EQ(proc_state(tid), 't') << "thread " << tid;
    EXPECT_EQ(status_field(tid, "TracerPid"), std::to_string(getpid())) << "thread " << tid;
  }
  // Held by ptrace stops, not by the freezer.
  EXPECT_EQ(cg.file("cgroup.freeze"), "0");
  EXPECT_FALSE(cg.frozen());
  auto before = snapshot(tree);
  sleep_ms(50);
  EXPECT_EQ(snapshot(tree), before);
  for (pid_t pid : procs) {
    auto r = hold->task(pid)->syscall(SYS_getpid);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, pid);
  }

  ASSERT_TRUE(hold->release());
  EXPECT_EQ(hold->size(), 0u);
  EXPECT_TRUE(none_traced(listed));
  EXPECT_TRUE(all_advance(tree));
  EXPECT_EQ(cg.file("cgroup.freeze"), "0");
  EXPECT_FALSE(cg.frozen());
  EXPECT_EQ(cg.threads(), listed);
  shared_delete(tree);
}

TEST(Hold, CgroupFrozenByItsOwnerIsFrozenAgainAtRelease) {
  TestCgroup cg;
  if (!cg.skip_reason().empty()) GTEST_SKIP() << cg.skip_reason();
  auto* tree = shared_new<Tree>();
  Child leader([&] { spawn_tree(tree, cg, 4); });
  ASSERT_TRUE(tree_ready(tree, 4));
  ASSERT_TRUE(write_file(cg.path() + "/cgroup.freeze", "1"));
  ASSERT_TRUE(wait_until([&] { return cg.frozen(); }));
  {
    auto hold = Hold::by_cgroup(cg.path());
    ASSERT_TRUE(hold) << hold.error().message;
    // Thawed while held, so remote code runs.
    auto r = hold->task(leader.pid())->syscall(SYS_getppid);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, getpid());
  }  // the destructor releases
  EXPECT_EQ(cg.file("cgroup.freeze"), "1");
  EXPECT_TRUE(wait_until([&] { return cg.frozen(); }));
  EXPECT_TRUE(none_traced(cg.threads()));
  auto before = snapshot(tree);
  sleep_ms(30);
  EXPECT_EQ(snapshot(tree), before);
  ASSERT_TRUE(write_file(cg.path() + "/cgroup.freeze", "0"));
  EXPECT_TRUE(all_advance(tree));
  shared_delete(tree);
}

TEST(Hold, StoppedTaskInTheCgroupStaysStopped) {
  TestCgroup cg;
  if (!cg.skip_reason().empty()) GTEST_SKIP() << cg.skip_reason();
  auto* tree = shared_new<Tree>();
  Child leader([&] { spawn_tree(tree, cg, 4); });
  ASSERT_TRUE(tree_ready(tree, 4));
  const pid_t stopped = static_cast<pid_t>(tree->pids[3].load());
  ASSERT_EQ(::kill(stopped, SIGSTOP), 0);
  ASSERT_TRUE(wait_until([&] { return proc_state(stopped) == 'T'; }));
  {
    auto hold = Hold::by_cgroup(cg.path());
    ASSERT_TRUE(hold) << hold.error().message;
    EXPECT_TRUE(hold->task(stopped)->group_stopped());
    auto r = hold->task(stopped)->syscall(SYS_getpid);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, stopped);
  }
  sleep_ms(20);
  EXPECT_EQ(proc_state(stopped), 'T');
  long before = tree->counters[3];
  sleep_ms(20);
  EXPECT_EQ(tree->counters[3].load(), before);
  ASSERT_EQ(::kill(stopped, SIGCONT), 0);
  EXPECT_TRUE(all_advance(tree));
  shared_delete(tree);
}

TEST(Hold, RefusesATaskTracedBySomeoneElse) {
  TestCgroup cg;
  if (!cg.skip_reason().empty()) GTEST_SKIP() << cg.skip_reason();
  auto* tree = shared_new<Tree>();
  Child leader([&] { spawn_tree(tree, cg, 4); });
  ASSERT_TRUE(tree_ready(tree, 4));
  const pid_t victim = static_cast<pid_t>(tree->pids[2].load());
  Child tracer([&] {
    if (::ptrace(PTRACE_SEIZE, victim, 0, 0) != 0) ::_exit(1);
    for (;;) ::pause();
  });
  ASSERT_TRUE(wait_until([&] { return status_field(victim, "TracerPid") == std::to_string(tracer.pid()); }));
  const std::vector<pid_t> listed = cg.threads();

  auto hold = Hold::by_cgroup(cg.path());
  ASSERT_FALSE(hold);
  EXPECT_EQ(hold.error().exit, Exit::NotSealed);
  EXPECT_NE(hold.error().message.find(fmt::format("task {} (traced-one) is traced by pid {}", victim, tracer.pid())),
            std::string::npos)
      << hold.error().message;
  // Everything else as it was.
  for (pid_t tid : listed) {
    if (tid == victim) continue;
    EXPECT_EQ(status_field(tid, "TracerPid"), "0") << tid;
  }
  EXPECT_EQ(status_field(victim, "TracerPid"), std::to_string(tracer.pid()));
  EXPECT_EQ(cg.file("cgroup.freeze"), "0");
  EXPECT_FALSE(cg.frozen());
  EXPECT_TRUE(all_advance(tree));
  shared_delete(tree);
}

TEST(Hold, InterruptedHoldReleasesEverything) {
  TestCgroup cg;
  if (!cg.skip_reason().empty()) GTEST_SKIP() << cg.skip_reason();
  auto* tree = shared_new<Tree>();
  Child leader([&] { spawn_tree(tree, cg, 6); });
  ASSERT_TRUE(tree_ready(tree, 6));
  const std::vector<pid_t> listed = cg.threads();
  {
    auto guard = seal::InterruptGuard::block();
    ASSERT_TRUE(guard) << guard.error().message;
    EXPECT_TRUE(guard->check());
    // As if the user pressed ^C: SIGINT to this thread, blocked, seen by the hold.
    ASSERT_EQ(::syscall(SYS_tgkill, getpid(), gettid(), SIGINT), 0);
    seal::HoldOptions opts;
    opts.guard = &*guard;
    auto hold = Hold::by_cgroup(cg.path(), opts);
    ASSERT_FALSE(hold);
    EXPECT_EQ(hold.error().message, "interrupted by SIGINT");
    EXPECT_EQ(guard->caught(), SIGINT);
  }
  EXPECT_TRUE(none_traced(listed));
  EXPECT_EQ(cg.file("cgroup.freeze"), "0");
  EXPECT_FALSE(cg.frozen());
  EXPECT_TRUE(all_advance(tree));
  shared_delete(tree);
}

TEST(Hold, KillWhileHeld) {
  TestCgroup cg;
  if (!cg.skip_reason().empty()) GTEST_SKIP() << cg.skip_reason();
  auto* tree = shared_new<Tree>();
  Child leader([&] { spawn_tree(tree, cg, 8); });
  ASSERT_TRUE(tree_ready(tree, 8));
  auto hold = Hold::by_cgroup(cg.path());
  ASSERT_TRUE(hold) << hold.error().message;
  ASSERT_TRUE(hold->kill());
  EXPECT_EQ(hold->size(), 0u);
  EXPECT_TRUE(wait_until([&] { return cg.file("cgroup.events").find("populated 0") != std::string::npos; }));
  // Gone, or zombies waiting for their real parent (pid 1 here, the leader died).
  for (int i = 0; i < 8; ++i) {
    char state = proc_state(static_cast<pid_t>(tree->pids[i].load()));
    EXPECT_TRUE(state == '?' || state == 'Z') << i << " " << state;
  }
  shared_delete(tree);
}

namespace {
struct NsTree {
  std::atomic<long> init_pid{0};
  std::atomic<long> ready{0};
  std::atomic<long> counters[16];
};

[[noreturn]] void ns_member(NsTree* t, int i, int threads = 0) {
  for (int k = 0; k < threads; ++k)
    std::thread([t, k] {
      for (;;) {
        nap();
        t->counters[8 + k]++;
      }
    }).detach();
  t->ready++;
  for (;;) {
    nap();
    t->counters[i]++;
  }
}

// outer (host pid ns) → init (pid 1 of a new ns) → c1 (forks short-lived
// children all the time), c2 (2 threads), c3 → g (pid 1 of a nested ns).
void spawn_ns_tree(NsTree* t) {
  if (::unshare(CLONE_NEWPID) != 0) ::_exit(5);
  pid_t init = ::fork();
  if (init == 0) {
    ::signal(SIGCHLD, SIG_IGN);  // reap the forker's children automatically
    if (::fork() == 0) {
      t->ready++;
      for (;;) {
        pid_t c = ::fork();
        if (c == 0) ::_exit(0);
        t->counters[1]++;
        nap();
      }
    }
    if (::fork() == 0) ns_member(t, 2, 2);
    if (::fork() == 0) {
      if (::unshare(CLONE_NEWPID) != 0) ::_exit(5);
      if (::fork() == 0) ns_member(t, 4);
      ns_member(t, 3);
    }
    ns_member(t, 0);
  }
  t->init_pid = init;
  for (;;) ::pause();
}
}  // namespace

TEST(Hold, PidNamespaceIsHeldWithPtraceOnly) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a new pid namespace";
  auto* t = shared_new<NsTree>();
  Child outer([&] { spawn_ns_tree(t); });
  struct KillNs {
    NsTree* t;
    ~KillNs() {
      if (t->init_pid) ::kill(static_cast<pid_t>(t->init_pid.load()), SIGKILL);  // ends the whole namespace
      shared_delete(t);
    }
  } kill_ns{t};
  ASSERT_TRUE(wait_until([&] { return t->ready.load() == 5 && t->init_pid.load() != 0; }));
  const pid_t init = static_cast<pid_t>(t->init_pid.load());

  auto hold = Hold::by_pidns(init);
  ASSERT_TRUE(hold) << hold.error().message;
  auto procs = hold->processes();
  // init, forker, c2, c3, g, plus whatever short-lived children of the
  // forker were caught alive.
  EXPECT_GE(procs.size(), 5u);
  EXPECT_TRUE(std::count(procs.begin(), procs.end(), init));
  EXPECT_FALSE(std::count(procs.begin(), procs.end(), outer.pid()));
  std::set<long> nspids;  // innermost pid of each held process
  for (pid_t pid : procs) {
    const std::string nspid = status_field(pid, "NSpid");
    auto ns = split_ws(nspid);
    ASSERT_GE(ns.size(), 2u) << pid;
    nspids.insert(parse_int(ns[1]).value_or(-1));
  }
  EXPECT_TRUE(nspids.count(1));
  size_t threads = 0;
  for (pid_t tid : hold->all_threads()) {
    EXPECT_EQ(proc_state(tid), 't') << tid;
    ++threads;
  }
  EXPECT_GE(threads, procs.size() + 2);
  std::array<long, 16> before{};
  for (int i = 0; i < 16; ++i) before[i] = t->counters[i];
  sleep_ms(30);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(t->counters[i].load(), before[i]) << i;

  const auto held = hold->all_threads();
  ASSERT_TRUE(hold->release());
  for (pid_t tid : held) {
    std::string tracer = status_field(tid, "TracerPid");
    EXPECT_TRUE(tracer.empty() || tracer == "0") << tid;
  }
  EXPECT_TRUE(wait_until([&] {
    for (int i : {0, 1, 2, 3, 4, 8, 9})
      if (t->counters[i].load() <= before[i]) return false;
    return true;
  }));
}

TEST(Hold, RefusesAmbersOwnPidNamespace) {
  auto hold = Hold::by_pidns(getpid());
  ASSERT_FALSE(hold);
  EXPECT_EQ(hold.error().exit, Exit::BadInput);
  EXPECT_NE(hold.error().message.find("amber's own pid namespace"), std::string::npos) << hold.error().message;
}

TEST(Hold, RefusesAmbersOwnCgroup) {
  TestCgroup cg;
  if (!cg.skip_reason().empty()) GTEST_SKIP() << cg.skip_reason();
  // A child moves itself into the cgroup and tries to hold it: it would
  // freeze itself.
  Child self_holder([&] {
    if (!write_file(cg.path() + "/cgroup.procs", "0")) ::_exit(9);
    auto hold = Hold::by_cgroup(cg.path());
    ::_exit(!hold && hold.error().exit == Exit::BadInput &&
                    hold.error().message.find("contains amber itself") != std::string::npos
                ? 0
                : 1);
  });
  int st = self_holder.wait();
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  EXPECT_FALSE(cg.frozen());
}

namespace {

// A cgroup v1 freezer directory of its own (a runtime's containers live in
// the v1 hierarchies of a hybrid host): its tasks are killed and it is
// removed at the end.
class TestFreezerV1 {
 public:
  TestFreezerV1() {
    if (geteuid() != 0) {
      skip_ = "needs root to create cgroups";
      return;
    }
    if (!path_exists("/sys/fs/cgroup/freezer/freezer.state") && !path_exists("/sys/fs/cgroup/freezer/tasks")) {
      skip_ = "no cgroup v1 freezer hierarchy at /sys/fs/cgroup/freezer";
      return;
    }
    static int counter = 0;
    path_ = fmt::format("/sys/fs/cgroup/freezer/amber-test-hold-{}-{}", getpid(), counter++);
    if (::mkdir(path_.c_str(), 0755) != 0) {
      skip_ = fmt::format("cannot create {}: {}", path_, std::strerror(errno));
      path_.clear();
    }
  }
  ~TestFreezerV1() {
    if (path_.empty()) return;
    (void)write_file(path_ + "/freezer.state", "THAWED");
    // Members that outlived the test (a failed assertion): killed.
    wait_until([&] {
      const std::string procs = read_file(path_ + "/cgroup.procs").value_or("");
      for (auto l : split(procs, '\n'))
        if (auto v = parse_int(trim(l))) ::kill(static_cast<pid_t>(*v), SIGKILL);
      return ::rmdir(path_.c_str()) == 0;
    });
  }
  const std::string& skip_reason() const { return skip_; }
  const std::string& path() const { return path_; }
  std::string state() const { return std::string(trim(read_file(path_ + "/freezer.state").value_or(""))); }

 private:
  std::string path_;
  std::string skip_;
};

void spawn_tree_v1(Tree* t, const TestFreezerV1& cg, int n) {
  t->nprocs = n;
  if (!write_file(cg.path() + "/cgroup.procs", "0")) ::_exit(9);
  for (int i = 1; i < n; ++i)
    if (::fork() == 0) run_member(t, i);
  run_member(t, 0);
}

}  // namespace

TEST(Hold, V1FreezerCgroupIsHeldAndReleased) {
  TestFreezerV1 cg;
  if (!cg.skip_reason().empty()) GTEST_SKIP() << cg.skip_reason();
  auto* tree = shared_new<Tree>();
  Child leader([&] { spawn_tree_v1(tree, cg, 6); });
  ASSERT_TRUE(wait_until([&] { return tree->ready.load() == 6; }, std::chrono::seconds(30)));
  auto hold = Hold::by_cgroup(cg.path());
  ASSERT_TRUE(hold) << hold.error().message;
  EXPECT_EQ(hold->processes().size(), 6u);
  EXPECT_EQ(hold->all_threads().size(), 6u + 2 * kThreadsPer);  // members 1 and 5 have threads
  // Held by ptrace stops: thawed again after the seize.
  EXPECT_EQ(cg.state(), "THAWED");
  for (pid_t tid : hold->all_threads()) EXPECT_EQ(proc_state(tid), 't') << "thread " << tid;
  auto before = snapshot(tree);
  sleep_ms(50);
  EXPECT_EQ(snapshot(tree), before);
  auto r = hold->task(leader.pid())->syscall(SYS_getpid);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, leader.pid());
  const std::vector<pid_t> held = hold->all_threads();
  ASSERT_TRUE(hold->release());
  EXPECT_TRUE(none_traced(held));
  EXPECT_TRUE(all_advance(tree));
  EXPECT_EQ(cg.state(), "THAWED");
  shared_delete(tree);
}

TEST(Hold, V1FreezerFrozenByItsOwnerIsFrozenAgainAtRelease) {
  TestFreezerV1 cg;
  if (!cg.skip_reason().empty()) GTEST_SKIP() << cg.skip_reason();
  auto* tree = shared_new<Tree>();
  Child leader([&] { spawn_tree_v1(tree, cg, 3); });
  ASSERT_TRUE(wait_until([&] { return tree->ready.load() == 3; }));
  ASSERT_TRUE(write_file(cg.path() + "/freezer.state", "FROZEN"));
  ASSERT_TRUE(wait_until([&] { return cg.state() == "FROZEN"; }));
  {
    auto hold = Hold::by_cgroup(cg.path());
    ASSERT_TRUE(hold) << hold.error().message;
    auto r = hold->task(leader.pid())->syscall(SYS_getppid);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, getpid());
  }
  EXPECT_TRUE(wait_until([&] { return cg.state() == "FROZEN"; }));
  auto before = snapshot(tree);
  sleep_ms(30);
  EXPECT_EQ(snapshot(tree), before);
  ASSERT_TRUE(write_file(cg.path() + "/freezer.state", "THAWED"));
  EXPECT_TRUE(all_advance(tree));
  shared_delete(tree);
}
