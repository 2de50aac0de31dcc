// Signals kind: dispositions dumped from one child by remote rt_sigaction,
// restored into another, compared from outside and by remote reads, and
// proven by delivering a signal to the restored child.
#include "kinds/signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>

#include <array>
#include <set>

#include "kinds_test_util.h"

using namespace amber;
using amber::kinds_test::Forked;

namespace {

constexpr int kHandledExit = 42;
constexpr uint64_t kSaRestorer = 0x04000000;  // the kernel's SA_RESTORER (glibc hides it)

void on_usr1(int) { ::_exit(kHandledExit); }
void on_info(int, siginfo_t*, void*) {}
void on_hup(int) {}

// A's dispositions: handlers with flags and masks, an ignored signal, a
// real-time one.
int install_a(int&) {
  struct sigaction sa {};
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  if (sigaction(SIGUSR1, &sa, nullptr) != 0) return 20;
  struct sigaction si {};
  si.sa_sigaction = on_info;
  si.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigfillset(&si.sa_mask);
  if (sigaction(SIGRTMIN + 5, &si, nullptr) != 0) return 21;
  if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) return 22;
  struct sigaction rh {};
  rh.sa_handler = on_hup;
  rh.sa_flags = SA_RESETHAND;
  if (sigaction(SIGTERM, &rh, nullptr) != 0) return 23;
  return 0;
}

// B starts elsewhere: a handler A does not have, SIGUSR1 at default.
int install_b(int&) {
  struct sigaction sa {};
  sa.sa_handler = on_hup;
  if (sigaction(SIGHUP, &sa, nullptr) != 0) return 24;
  if (signal(SIGINT, SIG_IGN) == SIG_ERR) return 25;
  return 0;
}

std::string field(pid_t pid, const char* key) { return kinds_test::status_field(pid, key); }

}  // namespace

TEST(SignalsKind, DispositionsRestoredIntoAnotherChild) {
  Forked a(install_a);
  ASSERT_TRUE(a.ok());
  img::Task image;
  image.set_pid(1);
  std::array<kinds::KernelSigaction, kinds::kMaxSignal> acts_a{};
  {
    auto t = remote::RemoteTask::seize(a.pid());
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_TRUE(t->map_executor());
    auto st = kinds::dump_sigactions(*t, image);
    ASSERT_TRUE(st) << st.error().message;
    auto acts = kinds::read_sigactions(*t);
    ASSERT_TRUE(acts) << acts.error().message;
    acts_a = *acts;
    ASSERT_TRUE(t->unmap_executor());
    ASSERT_TRUE(t->release());
  }
  // Only what is not plain SIG_DFL is in the image.
  std::set<uint32_t> signos;
  for (const auto& s : image.sigactions()) signos.insert(s.signo());
  for (int sig : {SIGUSR1, SIGRTMIN + 5, SIGPIPE, SIGTERM}) EXPECT_TRUE(signos.contains(sig)) << sig;
  for (const auto& s : image.sigactions()) {
    if (s.signo() == SIGUSR1) {
      EXPECT_EQ(s.handler(), reinterpret_cast<uint64_t>(&on_usr1));
      EXPECT_TRUE(s.flags() & SA_RESTART);
      EXPECT_TRUE(s.flags() & kSaRestorer) << "glibc's restorer is part of the action";
      EXPECT_NE(s.restorer(), 0u);
      EXPECT_EQ(s.mask(), 1ull << (SIGUSR2 - 1));
    }
    if (s.signo() == SIGPIPE) {
      EXPECT_EQ(s.handler(), reinterpret_cast<uint64_t>(SIG_IGN));
    }
  }

  Forked b(install_b);
  ASSERT_TRUE(b.ok());
  ASSERT_NE(field(a.pid(), "SigCgt"), field(b.pid(), "SigCgt"));
  {
    auto t = remote::RemoteTask::seize(b.pid());
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_TRUE(t->map_executor());
    auto st = kinds::restore_sigactions(*t, image);
    ASSERT_TRUE(st) << st.error().message;
    auto acts = kinds::read_sigactions(*t);
    ASSERT_TRUE(acts) << acts.error().message;
    for (int sig = 1; sig <= kinds::kMaxSignal; ++sig) {
      const auto& x = acts_a[sig - 1];
      const auto& y = (*acts)[sig - 1];
      EXPECT_EQ(x.handler, y.handler) << "signal " << sig;
      EXPECT_EQ(x.flags, y.flags) << "signal " << sig;
      EXPECT_EQ(x.restorer, y.restorer) << "signal " << sig;
      EXPECT_EQ(x.mask, y.mask) << "signal " << sig;
    }
    ASSERT_TRUE(t->unmap_executor());
    ASSERT_TRUE(t->release());
  }
  EXPECT_EQ(field(a.pid(), "SigCgt"), field(b.pid(), "SigCgt"));
  EXPECT_EQ(field(a.pid(), "SigIgn"), field(b.pid(), "SigIgn"));

  // SIGUSR1 now runs A's handler in B (default would kill B by the signal).
  ASSERT_EQ(::kill(b.pid(), SIGUSR1), 0);
  int st = b.wait();
  ASSERT_TRUE(WIFEXITED(st)) << "status " << st;
  EXPECT_EQ(WEXITSTATUS(st), kHandledExit);
}

TEST(SignalsKind, NeedsTheExecutorAndRefusesBadSignals) {
  Forked b(nullptr);
  ASSERT_TRUE(b.ok());
  auto t = remote::RemoteTask::seize(b.pid());
  ASSERT_TRUE(t) << t.error().message;
  img::Task image;
  auto st = kinds::dump_sigactions(*t, image);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("executor"), std::string::npos) << st.error().message;

  ASSERT_TRUE(t->map_executor());
  image.set_pid(3);
  image.add_sigactions()->set_signo(SIGKILL);
  st = kinds::restore_sigactions(*t, image);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput);
  EXPECT_NE(st.error().message.find("signal 9"), std::string::npos) << st.error().message;
  image.mutable_sigactions(0)->set_signo(65);
  EXPECT_FALSE(kinds::restore_sigactions(*t, image));
  ASSERT_TRUE(t->unmap_executor());
}

// What restore_sigactions and restore_pending would refuse only once the
// tasks exist, check_signals_image refuses from the image alone.
TEST(Signals, CheckImageRefusesWhatCannotBeRestored) {
  img::Task good;
  good.set_pid(5);
  img::Thread* th = good.add_threads();
  th->set_tid(5);
  img::SigAction* sa = good.add_sigactions();
  sa->set_signo(SIGUSR1);
  sa->set_handler(0x401000);
  siginfo_t si{};
  si.si_signo = SIGUSR2;
  img::PendingSignal* p = th->add_pending();
  p->set_signo(SIGUSR2);
  p->set_siginfo(std::string(reinterpret_cast<const char*>(&si), sizeof si));
  EXPECT_TRUE(kinds::check_signals_image(good));

  auto refused = [](const img::Task& t, Exit exit, const char* why) {
    auto st = kinds::check_signals_image(t);
    ASSERT_FALSE(st) << why;
    EXPECT_EQ(st.error().exit, exit) << why << ": " << st.error().message;
  };
  img::Task t = good;
  t.mutable_sigactions(0)->set_signo(SIGKILL);
  refused(t, Exit::BadInput, "an action for SIGKILL");
  t = good;
  t.mutable_sigactions(0)->set_signo(SIGTRAP);
  t.mutable_sigactions(0)->set_handler(reinterpret_cast<uint64_t>(SIG_IGN));
  refused(t, Exit::Unsupported, "SIGTRAP ignored");
  t = good;
  t.mutable_threads(0)->mutable_pending(0)->set_siginfo("short");
  refused(t, Exit::BadInput, "a siginfo of 5 bytes");
  t = good;
  *t.add_shared_pending() = good.threads(0).pending(0);
  t.mutable_shared_pending(0)->set_signo(SIGUSR1);  // its siginfo says SIGUSR2
  refused(t, Exit::BadInput, "a process-wide signal whose siginfo disagrees");
}
