// ImageReader: opens a committed image directory and reads its files, each
// checked (magic, version, kind, length, checksums) before it is parsed.
// Every refusal is Exit::BadInput naming the file. An image is read only
// with the key it was made with (image/auth.h): the inventory's tag, then
// each metadata file's SHA-256 as listed in it, are checked before a byte of
// them is parsed; raw data is checked chunk by chunk as it is read.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "base/result.h"
#include "image/auth.h"
#include "image/format.h"

namespace amber::image {

class ImageReader {
 public:
  // Reads and checks inventory.img and that it is authenticated with `key`.
  static Result<ImageReader> open(std::string dir, const Key& key);

  const img::Inventory& inventory() const { return inventory_; }
  const std::string& dir() const { return dir_; }
  std::string path(std::string_view relpath) const { return fmt::format("{}/{}", dir_, relpath); }
  // The inventory entry of `relpath`, nullptr if the image has no such file.
  const img::FileEntry* find(std::string_view relpath) const;

  // The authenticator of raw file `relpath`'s chunks; nullopt for an image
  // whose raw data is untagged (insecure_untagged_data(): tests, benchmarks).
  Result<std::optional<ChunkAuth>> chunk_auth(std::string_view relpath) const;
  bool data_tagged() const { return !inventory_.auth().untagged_data(); }

  // Reads `relpath`, which must be a metadata file the inventory lists, of
  // kind `kind`, into `out`.
  Status read_message(std::string_view relpath, Kind kind, google::protobuf::Message& out) const;
  template <class T>
  Result<T> read(std::string_view relpath, Kind kind) const {
    T msg;
    TRY(read_message(relpath, kind, msg));
    return msg;
  }

  // Checks every file the inventory lists before anything is restored: it
  // exists with the listed size, metadata headers and checksums hold and the
  // payload parses, each page index agrees with its data file. Page data
  // itself is checked chunk by chunk while it is streamed (PageReader).
  Status validate() const;

 private:
  explicit ImageReader(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  img::Inventory inventory_;
  std::optional<ImageKeys> keys_;
};

}  // namespace amber::image
