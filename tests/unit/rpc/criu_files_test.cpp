// CRIU's inventory.img and stats files as runtimes read them (rpc/criu_files.h):
// the magic numbers, the entry's size, then the message with its required fields.
#include "rpc/criu_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>

#include "base/files.h"
#include "criu_images.pb.h"

using namespace amber;
using namespace amber::rpc;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/amber-criu-files-XXXXXX";
  EXPECT_NE(::mkdtemp(tmpl), nullptr);
  return tmpl;
}

uint32_t u32_at(const std::string& data, size_t at) {
  uint32_t v = 0;
  std::memcpy(&v, data.data() + at, 4);  // little-endian on x86_64, as CRIU writes it
  return v;
}

// The message after `magics` magic numbers, parsed as a reader does.
template <class M>
M entry(const std::string& data, size_t magics) {
  const size_t at = 4 * magics;
  EXPECT_GE(data.size(), at + 4);
  const uint32_t size = u32_at(data, at);
  EXPECT_EQ(at + 4 + size, data.size());
  M m;
  EXPECT_TRUE(m.ParseFromString(data.substr(at + 4, size)));
  EXPECT_TRUE(m.IsInitialized()) << m.InitializationErrorString();
  return m;
}

// A stats file: the service and stats magic numbers, then its entry.
criuimg::stats_entry read_stats(const std::string& path) {
  const std::string data = *read_file(path);
  EXPECT_EQ(0x55105940u, u32_at(data, 0));
  EXPECT_EQ(0x57093306u, u32_at(data, 4));
  return entry<criuimg::stats_entry>(data, 2);
}

// Each test writes into a directory of its own, removed after it.
class CriuFilesTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_TRUE(remove_tree(dir)); }
  const std::string dir = temp_dir();
};

}  // namespace

TEST_F(CriuFilesTest, InventoryHasItsMagicAndVersion) {
  ASSERT_TRUE(write_inventory(dir));
  const std::string data = *read_file(dir + "/inventory.img");
  EXPECT_EQ(0x58313116u, u32_at(data, 0));
  EXPECT_EQ(2u, entry<criuimg::inventory_entry>(data, 1).img_version());
}

TEST_F(CriuFilesTest, DumpStatsCarryAmbersNumbers) {
  dump::DumpSummary sum;
  sum.hold_ms = 1.5;
  sum.frozen_ms = 40.25;
  sum.memory_ms = 12;
  sum.pages_written = 70;
  sum.pages_shared = 5;
  ASSERT_TRUE(write_dump_stats(dir, sum));
  const auto st = read_stats(dir + "/stats-dump");
  ASSERT_TRUE(st.has_dump());
  EXPECT_FALSE(st.has_restore());
  EXPECT_EQ(1500u, st.dump().freezing_time());
  EXPECT_EQ(40250u, st.dump().frozen_time());
  EXPECT_EQ(12000u, st.dump().memdump_time());
  EXPECT_EQ(75u, st.dump().pages_scanned());
  EXPECT_EQ(70u, st.dump().pages_written());
}

TEST_F(CriuFilesTest, RestoreStatsCarryAmbersTimes) {
  restore::RestoreSummary sum;
  sum.fork_ms = 3;
  sum.total_ms = 90;
  ASSERT_TRUE(write_restore_stats(dir, sum));
  const auto st = read_stats(dir + "/stats-restore");
  ASSERT_TRUE(st.has_restore());
  EXPECT_EQ(3000u, st.restore().forking_time());
  EXPECT_EQ(90000u, st.restore().restore_time());
}
