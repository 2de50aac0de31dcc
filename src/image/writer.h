// ImageWriter: builds a NEW image directory. Everything goes into a temporary
// sibling (DIR.tmp-PID); commit() writes the inventory and renames it to DIR,
// so a half-written image never looks complete. Without commit() the
// destructor removes the temporary directory. Every image is authenticated
// with `key` (image/auth.h): a fresh salt, each metadata file's SHA-256 in
// the inventory, the inventory signed, raw data tagged chunk by chunk by
// its writer (PageWriter, the tmpfs content) with chunk_auth().
#pragma once
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message.h>

#include "base/result.h"
#include "base/unique_fd.h"
#include "image/auth.h"
#include "image/format.h"

namespace amber::image {

class ImageWriter {
 public:
  // Refuses an existing DIR (bad input: "image directory exists"); the
  // parent directory must exist.
  static Result<ImageWriter> create(std::string dir, const Key& key);

  ImageWriter(ImageWriter&& o) noexcept;
  ImageWriter& operator=(ImageWriter&&) = delete;
  ImageWriter(const ImageWriter&) = delete;
  ~ImageWriter();

  // Writes header + serialized `msg` to `relpath` (parent dirs made as needed).
  Status write(std::string_view relpath, Kind kind, const google::protobuf::Message& msg);
  // A headerless file (page data); listed in the inventory with its size at
  // commit time.
  Result<UniqueFd> create_raw(std::string_view relpath, Kind kind);
  // Writes inventory.img, renames the temporary directory to DIR
  // (RENAME_NOREPLACE: a DIR created meanwhile is not replaced).
  Status commit();
  // After commit(): records what is known only once the dump is over (how
  // long the container was frozen) by writing the inventory again under a
  // temporary name and renaming it over the committed one, so a reader sees
  // the old inventory or the new one, never a mix.
  Status amend_inventory(const img::DumpStats& stats);
  // The committed inventory (empty before commit()).
  const img::Inventory& inventory() const { return inventory_; }

  // The authenticator of raw file `relpath`'s chunks; nullopt when raw data
  // goes untagged (insecure_untagged_data(), tests and benchmarks only).
  Result<std::optional<ChunkAuth>> chunk_auth(std::string_view relpath) const;

  const std::string& dir() const { return dir_; }
  const std::string& tmp_dir() const { return tmp_; }
  // The temporary directory create(dir) makes in this process.
  static std::string temp_dir_for(const std::string& dir);
  bool committed() const { return committed_; }

 private:
  ImageWriter(std::string dir, std::string tmp, ImageKeys keys)
      : dir_(std::move(dir)), tmp_(std::move(tmp)), keys_(std::move(keys)) {}
  Result<UniqueFd> create_file(std::string_view relpath, Kind kind, bool raw);
  Result<std::string> encode_inventory(const img::Inventory& inv) const;

  struct Entry {
    std::string path;
    Kind kind;
    uint64_t size;
    bool raw;
    std::string sha256;  // metadata files
  };
  std::string dir_, tmp_;
  std::vector<Entry> entries_;
  std::set<std::string, std::less<>> made_dirs_;
  bool committed_ = false;
  ImageKeys keys_;
  bool untagged_ = insecure_untagged_data();
  img::Inventory inventory_;
};

}  // namespace amber::image
