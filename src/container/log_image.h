// The container's log travels in the image (DESIGN.md "Containers amber
// runs"): `amber logs` after a restore shows what the container wrote before
// the dump, then what it writes after, on this host or any other the image
// was copied to. The bytes are a raw file of the image (log.bin), tagged
// chunk by chunk with the image's key like every other raw file, so a
// restore never writes a byte into the new log that the dump did not read.
#pragma once
#include <optional>
#include <string>

#include "base/result.h"
#include "container.pb.h"
#include "image/reader.h"
#include "image/writer.h"

namespace amber::container {

// Copies the log at `path` into the image, front to back. The container must
// be held: nothing of it may write meanwhile (what is read is what is kept).
// nullopt: the log is empty (a --tty container's stays so).
Result<std::optional<img::ContainerLog>> dump_log(const std::string& path, image::ImageWriter& image);

// Before anything is created: the log's data file is the image's own, of the
// recorded size, with a tag per chunk; `verify_data` also reads it through
// its tags (`amber show --verify`; a restore checks them while it copies).
Status check_log(const image::ImageReader& image, const img::ContainerLog& log, bool verify_data);

// Appends the image's log to `fd` (the restored container's new, empty log),
// each chunk verified before a byte of it is written.
Status restore_log(const image::ImageReader& image, const img::ContainerLog& log, int fd);

}  // namespace amber::container
