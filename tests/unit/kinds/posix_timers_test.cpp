// /proc/PID/timers parsing (kinds/posix_timers.h), against this process's
// own timers too.
#include "kinds/posix_timers.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "base/files.h"

using namespace amber;

namespace {

TEST(PosixTimers, ParsesProcTimers) {
  auto t = kinds::parse_proc_timers(
      "ID: 44\nsignal: 35/0000000000001234\nnotify: none/pid.2957\nClockID: -6\n"
      "ID: 43\nsignal: 35/00007ffc00000010\nnotify: signal/tid.2958\nClockID: 7\n"
      "ID: 0\nsignal: 14/0000000000000000\nnotify: signal/pid.2957\nClockID: 1\n");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[0].id(), 44);
  EXPECT_EQ((*t)[0].notify(), SIGEV_NONE);
  EXPECT_EQ((*t)[0].clock(), -6);
  EXPECT_EQ((*t)[0].value(), 0x1234u);
  EXPECT_EQ((*t)[1].notify(), SIGEV_SIGNAL | SIGEV_THREAD_ID);
  EXPECT_EQ((*t)[1].thread(), 2958);
  EXPECT_EQ((*t)[1].signo(), 35);
  EXPECT_EQ((*t)[1].value(), 0x7ffc00000010u);
  EXPECT_EQ((*t)[2].id(), 0);
  EXPECT_EQ((*t)[2].signo(), SIGALRM);
  EXPECT_EQ((*t)[2].clock(), CLOCK_MONOTONIC);
  EXPECT_EQ((*t)[2].notify(), SIGEV_SIGNAL);
}

TEST(PosixTimers, RejectsBadText) {
  for (std::string_view bad : {
           "signal: 14/0\n",                                                    // before an ID
           "ID: 1\nsignal: 14/0\nnotify: signal/pid.1\n",                       // no ClockID
           "ID: x\nsignal: 14/0\nnotify: signal/pid.1\nClockID: 1\n",           // bad id
           "ID: 1\nsignal: 14\nnotify: signal/pid.1\nClockID: 1\n",             // no value
           "ID: 1\nsignal: 14/0\nnotify: wave/pid.1\nClockID: 1\n",             // bad notify
           "ID: 1\nsignal: 14/0\nnotify: signal/pid.1\nClockID: 1\nColor: 2\n",  // unknown key
       }) {
    auto t = kinds::parse_proc_timers(bad);
    EXPECT_FALSE(t) << bad;
  }
  auto none = kinds::parse_proc_timers("");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(PosixTimers, ParsesThisProcessTimers) {
  struct sigevent ev {};
  ev.sigev_notify = SIGEV_NONE;
  ev.sigev_value.sival_int = 77;
  timer_t id;
  ASSERT_EQ(::timer_create(CLOCK_BOOTTIME, &ev, &id), 0);
  auto t = kinds::parse_proc_timers(*read_file("/proc/self/timers"));
  ASSERT_TRUE(t) << t.error().message;
  bool found = false;
  for (const img::PosixTimer& p : *t)
    if (p.id() == static_cast<int>(reinterpret_cast<intptr_t>(id))) {
      found = true;
      EXPECT_EQ(p.clock(), CLOCK_BOOTTIME);
      EXPECT_EQ(p.notify(), SIGEV_NONE);
      EXPECT_EQ(p.thread(), ::getpid());
      EXPECT_EQ(p.value(), 77u);
    }
  EXPECT_TRUE(found);
  ::timer_delete(id);
}

}  // namespace
