// The filesystems a restore mounts new (img::MOUNT_NEW) and the parameters
// of theirs it passes on: the options their superblock shows in mountinfo
// ("rw,size=65536k,mode=755"), as fsconfig(2) takes them. Anything else a
// superblock shows is refused by name (it would come back different).
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace amber::kinds {

struct FsKind {
  const char* fstype;
  std::vector<std::string_view> keys;   // parameters with a value ("mode")
  std::vector<std::string_view> flags;  // parameters without one ("inode64")
};

// proc, sysfs, tmpfs, devpts, mqueue; nullptr for another type.
const FsKind* new_fs_kind(std::string_view fstype);

// The fsconfig parameters of `super_options` ("ro" is one, "rw" is the
// default); Exit::Unsupported naming an option `kind` does not take.
Result<std::vector<std::pair<std::string, std::string>>> new_fs_params(const FsKind& kind,
                                                                       std::string_view super_options);

// Whether the superblock is read-only ("ro" among its options).
bool is_sb_readonly(std::string_view super_options);

}  // namespace amber::kinds
