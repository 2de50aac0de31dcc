#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/files.h"
#include "base/result.h"
#include "base/unique_fd.h"

using namespace amber;

static Result<int> half(int x) {
  if (x % 2) return bad_input("odd number {}", x);
  return x / 2;
}
static Result<int> quarter(int x) {
  int h = TRY_CTX(half(x), "quarter of {}", x);
  return TRY(half(h));
}
static Status check_even(int x) {
  TRY(half(x));
  return {};
}

TEST(Result, TryPropagatesValueAndError) {
  EXPECT_EQ(*quarter(8), 2);
  auto r = quarter(6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "odd number 3");
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  auto r2 = quarter(5);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message, "quarter of 5: odd number 5");
  EXPECT_TRUE(check_even(2));
  EXPECT_FALSE(check_even(3));
}

TEST(Result, SysFailCarriesErrno) {
  auto r = open_fd("/nonexistent/amber", O_RDONLY);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno, ENOENT);
  EXPECT_EQ(r.error().message, "open /nonexistent/amber: No such file or directory");
}

TEST(UniqueFd, ClosesAndMoves) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(Strings, SplitTrimParse) {
  auto v = split("a:b::c", ':');
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[2], "");
  auto w = split_ws("  a \t b  c ");
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[1], "b");
  EXPECT_EQ(trim("  x y \n"), "x y");
  EXPECT_EQ(parse_int("-42"), -42);
  EXPECT_EQ(parse_uint("7fff", 16), 0x7fffu);
  EXPECT_FALSE(parse_int("12x"));
  EXPECT_FALSE(parse_uint(""));
}

TEST(Files, AtomicWriteAndRemoveTree) {
  char tmpl[] = "/tmp/amber-unit-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(make_dirs(dir + "/a/b/c"));
  ASSERT_TRUE(write_file_atomic(dir + "/a/b/c/f", "hello"));
  EXPECT_EQ(*read_file(dir + "/a/b/c/f"), "hello");
  EXPECT_FALSE(path_exists(dir + "/a/b/c/f.tmp"));
  ASSERT_TRUE(remove_tree(dir));
  EXPECT_FALSE(path_exists(dir));
  EXPECT_FALSE(remove_tree("/"));
}
