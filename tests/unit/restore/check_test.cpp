#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "restore/check.h"

using namespace amber;

TEST(RestoreCheck, ImagePathsAreAbsoluteAndPlain) {
  for (const std::string& p : std::vector<std::string>{"/", "/tmp", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/a b/..c/.d"})
    EXPECT_TRUE(restore::check_image_path(p)) << p;
  for (const std::string& p : std::vector<std::string>{"", "tmp", "/tmp/../etc", "/tmp/./x", "/tmp//x", "/tmp/", "/..", std::string("/a\0b", 4)}) {
    auto st = restore::check_image_path(p);
    ASSERT_FALSE(st) << p;
    EXPECT_EQ(st.error().exit, Exit::BadInput) << p;
  }
}
