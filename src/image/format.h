// The on-disk header every image file (except raw page data) starts with, the
// registry of file kinds, and the path rules. Layout: docs/image-format.md.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "base/result.h"
#include "header.pb.h"

namespace amber::image {

using Kind = img::FileKind;

inline constexpr std::string_view kAmberVersion = "0.1.0";
// Bumped only when an older amber would misread a newer image (see the
// versioning rule in docs/image-format.md). Readers accept 1..kFormatVersion.
// 2: images are authenticated (image/auth.h); page stores carry tags, not
// XXH3 checksums, which version 1 readers would refuse as corrupt. A
// version 1 image has no tag and is refused as not authenticated.
// 3: a page index may list pages as its parent task's (PagesIndex.parent_runs,
// copy-on-write sharing kept): a version 2 reader would ignore them and give
// the task zeros there.
inline constexpr uint32_t kFormatVersion = 3;
inline constexpr char kMagic[8] = {'A', 'M', 'B', 'R', 'I', 'M', 'G', '\0'};
inline constexpr size_t kHeaderSize = 40;
inline constexpr std::string_view kInventoryFile = "inventory.img";

// Fixed 40-byte header, little-endian:
//   0 magic[8] | 8 version u32 | 12 kind u32 | 16 payload_len u64
//   | 24 payload_xxh3 u64 | 32 header_xxh3 u64 (XXH3-64 of bytes 0..31)
// Magic and version stay at these offsets in every future version, so an old
// reader can always say "newer version" instead of "corrupt".
struct Header {
  uint32_t version = kFormatVersion;
  uint32_t kind = 0;
  uint64_t payload_len = 0;
  uint64_t payload_xxh3 = 0;
};

// Header for `payload`, ready to write.
std::array<std::byte, kHeaderSize> encode_header(Kind kind, std::string_view payload);
// Checks magic, version, header checksum. Errors are BadInput, without the
// file name (the caller adds it).
Result<Header> decode_header(std::span<const std::byte, kHeaderSize> raw);

uint64_t xxh3(std::span<const std::byte> data);
inline uint64_t xxh3(std::string_view s) { return xxh3(std::as_bytes(std::span(s.data(), s.size()))); }

// Registry: one line per kind in format.cpp. `prototype` is null for raw
// (headerless) files.
struct KindInfo {
  Kind kind;
  std::string_view name;
  const google::protobuf::Message* prototype;
};
const KindInfo* find_kind(uint32_t kind);  // nullptr: unknown
std::string kind_name(uint32_t kind);       // "task", or "unknown kind 42"
// A fresh message of the kind's type (nullptr for raw or unknown kinds).
std::unique_ptr<google::protobuf::Message> new_message(uint32_t kind);

// A relative path inside an image: not empty, not absolute, no "", "." or
// ".." component, no name over NAME_MAX, at most kMaxRelpath bytes.
// Inventories come from files a user may have edited.
inline constexpr size_t kMaxRelpath = 1024;
Status check_relpath(std::string_view relpath);

}  // namespace amber::image
