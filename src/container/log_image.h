// The container's log travels in the image (docs/image-format.md, "The
// container's log"): `amber logs` after a restore shows what the container
// wrote before the dump, then what it writes after, on this host or any other
// the image was copied to. The bytes are a raw file of the image (log.bin),
// tagged chunk by chunk with the image's key like every other raw file, so a
// restore never writes a byte into the new log that the dump did not read.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "container.pb.h"
#include "image/auth.h"
#include "image/reader.h"
#include "image/writer.h"

namespace amber::container {

// Copies the log into the image in two steps, so that a long log does not
// keep the container frozen while it is copied: start(), before the hold,
// copies what the log holds then; finish(), while the container is held
// (nothing of it writes: what is read is what is kept), checks that this part
// is unchanged (a task may truncate or rewrite its log: then all of it is
// copied again) and copies what was appended since.
class LogCopy {
 public:
  static Result<LogCopy> start(const std::string& path, image::ImageWriter& image);
  // nullopt: there is no log, or it was empty at the first copy and is still.
  Result<std::optional<img::ContainerLog>> finish();

  LogCopy(LogCopy&&) noexcept = default;
  LogCopy& operator=(LogCopy&&) = delete;
  ~LogCopy();

 private:
  LogCopy(std::string path, image::ImageWriter& image) : path_(std::move(path)), image_(&image) {}
  // Appends from copied_ to the end of the log; `remember`: the xxh3 of
  // each piece, for unchanged().
  Status copy_from_end(bool remember);
  Result<bool> unchanged();  // the part start() copied still reads the same
  Status restart();          // empties log.bin to copy all of the log again

  std::string path_;
  image::ImageWriter* image_;
  UniqueFd in_;  // the log (none: it does not exist)
  UniqueFd out_;  // log.bin, made at the first byte
  std::optional<image::ChunkAuth> auth_;
  std::unique_ptr<image::ChunkStream> tags_;
  uint64_t copied_ = 0;
  std::vector<uint64_t> piece_xxh3_;  // of each kChunkSize piece copied, the last may be short
  std::unique_ptr<std::byte[]> buf_;
};

// Before anything is created: the log's data file is the image's own, of the
// recorded size, with a tag per chunk; `verify_data` also reads it through
// its tags (`amber show --verify`; a restore checks them while it copies).
Status check_log(const image::ImageReader& image, const img::ContainerLog& log, bool verify_data);

// Appends the image's log to `fd` (the restored container's new, empty log),
// each chunk verified before a byte of it is written.
Status restore_log(const image::ImageReader& image, const img::ContainerLog& log, int fd);

}  // namespace amber::container
