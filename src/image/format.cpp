#include "image/format.h"

#include <bit>
#include <climits>
#include <cstring>

// The dispatching entry points pick AVX2/AVX-512 at run time (about 1.6x
// the generic SSE2 speed here); same hashes.
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>
#else
#include <xxhash.h>
#endif

#include "base/files.h"
#include "container.pb.h"
#include "files.pb.h"
#include "fs.pb.h"
#include "mm.pb.h"
#include "pages.pb.h"
#include "shmem.pb.h"
#include "task.pb.h"

namespace amber::image {

static_assert(std::endian::native == std::endian::little, "header fields are stored little-endian");

namespace {

// A function-local static: default instances are ready only once the protobuf
// runtime initialised, not during our own static initialisation.
std::span<const KindInfo> kinds() {
  static const KindInfo table[] = {
      {img::KIND_INVENTORY, "inventory", &img::Inventory::default_instance()},
      {img::KIND_CONTAINER, "container", &img::Container::default_instance()},
      {img::KIND_TASK, "task", &img::Task::default_instance()},
      {img::KIND_MM, "mm", &img::Mm::default_instance()},
      {img::KIND_PAGES_INDEX, "pages-index", &img::PagesIndex::default_instance()},
      {img::KIND_PAGES_DATA, "pages-data", nullptr},
      {img::KIND_FILES, "files", &img::Files::default_instance()},
      {img::KIND_FS_TREE, "fs-tree", &img::FsTree::default_instance()},
      {img::KIND_FS_DATA, "fs-data", nullptr},
      {img::KIND_SHMEM, "shmem", &img::SharedMemory::default_instance()},
      {img::KIND_LOG_DATA, "log-data", nullptr},
  };
  return table;
}

template <class T>
void put(std::byte* at, T v) {
  std::memcpy(at, &v, sizeof v);
}
template <class T>
T get(const std::byte* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

}  // namespace

uint64_t xxh3(std::span<const std::byte> data) { return XXH3_64bits(data.data(), data.size()); }

std::array<std::byte, kHeaderSize> encode_header(Kind kind, std::string_view payload) {
  std::array<std::byte, kHeaderSize> h{};
  std::memcpy(h.data(), kMagic, sizeof kMagic);
  put<uint32_t>(h.data() + 8, kFormatVersion);
  put<uint32_t>(h.data() + 12, static_cast<uint32_t>(kind));
  put<uint64_t>(h.data() + 16, payload.size());
  put<uint64_t>(h.data() + 24, xxh3(payload));
  put<uint64_t>(h.data() + 32, xxh3(std::span<const std::byte>(h.data(), 32)));
  return h;
}

Result<Header> decode_header(std::span<const std::byte, kHeaderSize> raw) {
  const std::byte* p = raw.data();
  if (std::memcmp(p, kMagic, sizeof kMagic) != 0) return bad_input("not an amber image file (bad magic)");
  Header h;
  h.version = get<uint32_t>(p + 8);
  // Version before the header checksum: a newer amber may lay out the rest
  // of its header differently.
  if (h.version > kFormatVersion)
    return bad_input("written by a newer amber: format version {}, this amber reads up to {}", h.version,
                     kFormatVersion);
  if (h.version == 0) return bad_input("corrupt: format version 0");
  if (get<uint64_t>(p + 32) != xxh3(std::span<const std::byte>(p, 32)))
    return bad_input("corrupt: header checksum mismatch");
  h.kind = get<uint32_t>(p + 12);
  h.payload_len = get<uint64_t>(p + 16);
  h.payload_xxh3 = get<uint64_t>(p + 24);
  return h;
}

const KindInfo* find_kind(uint32_t kind) {
  for (const KindInfo& k : kinds())
    if (static_cast<uint32_t>(k.kind) == kind) return &k;
  return nullptr;
}

std::string kind_name(uint32_t kind) {
  const KindInfo* k = find_kind(kind);
  return k ? std::string(k->name) : fmt::format("unknown kind {}", kind);
}

std::unique_ptr<google::protobuf::Message> new_message(uint32_t kind) {
  const KindInfo* k = find_kind(kind);
  if (!k || !k->prototype) return nullptr;
  return std::unique_ptr<google::protobuf::Message>(k->prototype->New());
}

Status check_relpath(std::string_view relpath) {
  if (relpath.empty()) return bad_input("empty path");
  // Longer than any name amber writes; the file system would refuse it
  // with ENAMETOOLONG, which is an I/O failure (exit 1), not bad input.
  if (relpath.size() > kMaxRelpath)
    return bad_input("path '{}...' is longer than {} bytes", relpath.substr(0, 64), kMaxRelpath);
  if (relpath.front() == '/') return bad_input("path '{}' is absolute", relpath);
  for (std::string_view part : split(relpath, '/')) {
    if (part.empty() || part == "." || part == "..") return bad_input("path '{}' leaves or bends the image directory", relpath);
    if (part.size() > NAME_MAX)
      return bad_input("path '{}...' has a name longer than {} bytes", relpath.substr(0, 64), NAME_MAX);
  }
  if (relpath.find('\0') != std::string_view::npos) return bad_input("path contains a NUL byte");
  return {};
}

}  // namespace amber::image
