// CRIU's criu_opts mapped onto amber's options, in one place: which option
// amber reads, which it accepts as a permission it does not need, and which
// it refuses by name (docs: README "amber as criu"). An unknown field number
// is refused too: nothing a runtime asks for is ignored.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "criu_rpc.pb.h"
#include "dump/dump.h"
#include "restore/restore.h"
#include "rpc/channel.h"
#include "seal/leak.h"

namespace amber::rpc {

// Where the request's files go: the image directory (images_dir_fd), the
// work directory (work_dir_fd, else the image directory) and the log file in
// it (log_file), all of the runtime's.
struct Dirs {
  PeerDir images;
  std::optional<PeerDir> work;
  std::string log_name;  // log_file, a name in the work directory
  const std::string& work_path() const { return work ? work->path : images.path; }
  std::string log_path() const { return work_path() + "/" + log_name; }
};
Result<Dirs> map_dirs(const criurpc::criu_opts& o, pid_t peer);

// amber's image inside the runtime's image directory (which holds the
// runtime's own files too, e.g. runc's descriptors.json).
std::string image_dir(const Dirs& d);

// What the runtime declares to be outside the container. Kept apart so that
// it can be handed to amber's recorded externals (the seal check accepts the
// dump side; the restore gives each back): external, ext_mnt, unix_sk_ino,
// the namespaces the container shares with the runtime (CRIU does not dump a
// namespace the tree shares with the engine), inherit_fd and join_ns.
struct Externals {
  std::vector<seal::External> accepted;                      // dump
  std::vector<std::pair<std::string, int>> inherit_fds;      // restore: key -> amber's fd
  std::vector<std::pair<std::string, std::string>> join_ns;  // restore: type -> namespace file
  std::vector<std::pair<std::string, std::string>> mounts;   // restore: mount point -> host source
};

// Refuses an unknown field, an option amber does not support (set to
// anything but its default), and a dump option in a restore or back.
Status check_options(const criurpc::criu_opts& o, criurpc::criu_req_type type);

struct DumpRequest {
  dump::DumpOptions opts;  // notify is the caller's
  Externals externals;
};
Result<DumpRequest> map_dump(const criurpc::criu_opts& o, const Dirs& dirs);

struct RestoreRequest {
  restore::RestoreOptions opts;  // notify is the caller's
  Externals externals;
};
Result<RestoreRequest> map_restore(const criurpc::criu_opts& o, const Dirs& dirs);

}  // namespace amber::rpc
