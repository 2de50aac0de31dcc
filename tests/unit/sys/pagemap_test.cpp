#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "sys/pagemap.h"

using namespace amber;
using namespace amber::sys;

TEST(Pagemap, FindsTouchedPagesSkipsHoles) {
  const size_t page = 4096, n = 64;
  char* p = static_cast<char*>(mmap(nullptr, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  p[3 * page] = 1;
  p[4 * page] = 1;
  p[10 * page] = 1;
  auto pm = Pagemap::open(getpid());
  if (!pm) GTEST_SKIP() << "no /proc/self/pagemap: " << pm.error().message;
  auto runs = pm->scan(reinterpret_cast<uint64_t>(p), reinterpret_cast<uint64_t>(p) + n * page,
                       dumpable_pages_filter(true));
  if (!runs && runs.error().sys_errno == ENOTTY) GTEST_SKIP() << "kernel lacks PAGEMAP_SCAN (6.7+)";
  ASSERT_TRUE(runs) << runs.error().message;
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].start, reinterpret_cast<uint64_t>(p + 3 * page));
  EXPECT_EQ((*runs)[0].end, reinterpret_cast<uint64_t>(p + 5 * page));
  EXPECT_EQ((*runs)[1].start, reinterpret_cast<uint64_t>(p + 10 * page));
  EXPECT_TRUE((*runs)[0].categories & kPagePresent);
  munmap(p, n * page);
}

TEST(Pagemap, AnonOnlySkipsUnwrittenFilePages) {
  char path[] = "/tmp/amber-pagemap-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  char buf[4 * 4096];
  memset(buf, 7, sizeof buf);
  ASSERT_EQ(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
  char* m = static_cast<char*>(mmap(nullptr, sizeof buf, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  ASSERT_NE(m, MAP_FAILED);
  volatile char r = m[0];  // page cache page, not copied
  (void)r;
  m[2 * 4096] = 9;  // copy-on-write: now anonymous
  auto pm = Pagemap::open(getpid());
  ASSERT_TRUE(pm);
  auto runs = pm->scan(reinterpret_cast<uint64_t>(m), reinterpret_cast<uint64_t>(m) + sizeof buf,
                       dumpable_pages_filter(true));
  if (!runs && runs.error().sys_errno == ENOTTY) GTEST_SKIP() << "kernel lacks PAGEMAP_SCAN (6.7+)";
  ASSERT_TRUE(runs) << runs.error().message;
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].start, reinterpret_cast<uint64_t>(m + 2 * 4096));
  EXPECT_EQ((*runs)[0].end, reinterpret_cast<uint64_t>(m + 3 * 4096));
  auto all = pm->scan(reinterpret_cast<uint64_t>(m), reinterpret_cast<uint64_t>(m) + sizeof buf,
                      dumpable_pages_filter(false));
  ASSERT_TRUE(all);
  // Fault-around may map more page-cache pages than the one read: at least
  // the read page and the written one are there.
  size_t pages = 0;
  for (auto& run : *all) pages += (run.end - run.start) / 4096;
  EXPECT_GE(pages, 2u);
  munmap(m, sizeof buf);
  close(fd);
}

// More separate runs than one PAGEMAP_SCAN call returns (its vector holds
// 4096): every call after the first must go on where the last one ended,
// without repeating or skipping a page. ASan's shadow made a dump plan
// overlapping runs here ("below the end of the previous run").
TEST(Pagemap, ManyRunsComeBackOnceInOrder) {
  constexpr size_t kPg = 4096, kPages = 3 * 4096 * 2 + 2;
  void* m = mmap(nullptr, kPages * kPg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  auto* p = static_cast<char*>(m);
  // Every other page written: kPages / 2 runs of one page.
  for (size_t i = 0; i < kPages; i += 2) p[i * kPg] = 1;
  auto pm = Pagemap::open(getpid());
  if (!pm) GTEST_SKIP() << "no /proc/self/pagemap: " << pm.error().message;
  const uint64_t start = reinterpret_cast<uint64_t>(p), end = start + kPages * kPg;
  auto runs = pm->scan(start, end, dumpable_pages_filter(true));
  if (!runs && runs.error().sys_errno == ENOTTY) GTEST_SKIP() << "kernel lacks PAGEMAP_SCAN (6.7+)";
  ASSERT_TRUE(runs) << runs.error().message;
  ASSERT_EQ(runs->size(), kPages / 2);
  for (size_t i = 0; i < runs->size(); i++) {
    EXPECT_EQ((*runs)[i].start, start + 2 * i * kPg) << i;
    EXPECT_EQ((*runs)[i].end, start + (2 * i + 1) * kPg) << i;
  }
  munmap(m, kPages * kPg);
}
