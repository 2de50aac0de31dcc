// The files of CRIU's image set that runtimes read themselves, written beside
// amber's own image (proto/criu_images.proto has their layout): podman checks
// `inventory.img` in the image directory before it restores and reads
// `stats-dump` (--print-stats, and its --export archive carries it) and
// `stats-restore` in the work directory. They describe amber's image, they
// are not one: amber's image is the directory `amber/` beside them.
#pragma once
#include <string>

#include "base/result.h"
#include "dump/dump.h"
#include "restore/restore.h"

namespace amber::rpc {

inline constexpr const char* kInventoryFile = "inventory.img";
inline constexpr const char* kDumpStatsFile = "stats-dump";
inline constexpr const char* kRestoreStatsFile = "stats-restore";

// `images_dir`/inventory.img: a complete checkpoint is there.
Status write_inventory(const std::string& images_dir);
// `work_dir`/stats-dump and stats-restore: CRIU's statistics of the dump or
// restore, from amber's summary.
Status write_dump_stats(const std::string& work_dir, const dump::DumpSummary& sum);
Status write_restore_stats(const std::string& work_dir, const restore::RestoreSummary& sum);

}  // namespace amber::rpc
