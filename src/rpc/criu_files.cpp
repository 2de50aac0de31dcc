#include "rpc/criu_files.h"

#include <cstdint>
#include <limits>

#include "base/files.h"
#include "criu_images.pb.h"

namespace amber::rpc {
namespace {

// CRIU's magic numbers (criu_images.proto says where each goes).
constexpr uint32_t kInventoryMagic = 0x58313116;
constexpr uint32_t kServiceMagic = 0x55105940;
constexpr uint32_t kStatsMagic = 0x57093306;
// The image set version of CRIU's inventory: 2 ("v1.1": the magic heads
// every image file but the inventory).
constexpr uint32_t kImagesV1_1 = 2;

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The magic numbers, then one entry: its size and the message.
Status write_image(const std::string& path, std::initializer_list<uint32_t> magics,
                   const google::protobuf::MessageLite& entry) {
  std::string data;
  for (uint32_t m : magics) put_u32(data, m);
  const std::string payload = entry.SerializeAsString();
  put_u32(data, static_cast<uint32_t>(payload.size()));
  data += payload;
  return write_file_atomic(path, data, 0600);
}

// ms as CRIU's µs counters (uint32: 71 minutes at most).
uint32_t us(double ms) {
  const double v = ms * 1000;
  return v <= 0 ? 0 : v >= std::numeric_limits<uint32_t>::max() ? std::numeric_limits<uint32_t>::max()
                                                                 : static_cast<uint32_t>(v);
}

}  // namespace

Status write_inventory(const std::string& images_dir) {
  criuimg::inventory_entry inv;
  inv.set_img_version(kImagesV1_1);
  return write_image(images_dir + "/" + kInventoryFile, {kInventoryMagic}, inv);
}

Status write_dump_stats(const std::string& work_dir, const dump::DumpSummary& sum) {
  criuimg::stats_entry st;
  criuimg::dump_stats_entry& d = *st.mutable_dump();
  d.set_freezing_time(us(sum.hold_ms));
  d.set_frozen_time(us(sum.frozen_ms));
  d.set_memdump_time(us(sum.memory_ms));
  d.set_memwrite_time(0);  // written while read: in memdump_time
  d.set_pages_scanned(sum.pages_written + sum.pages_shared);
  d.set_pages_skipped_parent(0);
  d.set_pages_written(sum.pages_written);
  d.set_pages_lazy(0);
  return write_image(work_dir + "/" + kDumpStatsFile, {kServiceMagic, kStatsMagic}, st);
}

Status write_restore_stats(const std::string& work_dir, const restore::RestoreSummary& sum) {
  criuimg::stats_entry st;
  criuimg::restore_stats_entry& r = *st.mutable_restore();
  r.set_pages_compared(0);
  r.set_pages_skipped_cow(0);
  r.set_forking_time(us(sum.fork_ms));
  r.set_restore_time(us(sum.total_ms));
  return write_image(work_dir + "/" + kRestoreStatsFile, {kServiceMagic, kStatsMagic}, st);
}

}  // namespace amber::rpc
