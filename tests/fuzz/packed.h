// The fuzzer's view of an image: every file of an image directory in memory
// (path -> bytes), packed into one file for the corpus and for crashing
// inputs, and written out into a work directory for the checks to read.
//
// Packed format ("amfz"), little-endian:
//   "AMBFUZZ1" | u32 nfiles | per file: u16 path_len, path, u8 how, u64 size,
//   then `size` bytes if how == 0 (literal); how == 1: `size` zero bytes
//   (page data: real dumps' memory is not needed to reach any check, and
//   zeros keep the corpus small).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace amber::fuzz {

struct File {
  std::string path;  // relative to the image directory
  std::shared_ptr<const std::string> data;
};

// Files in path order. Copies share the bytes of unchanged files.
struct Image {
  std::vector<File> files;
  std::string name;  // where it came from, for messages

  File* find(std::string_view path);
  const File* find(std::string_view path) const;
  void set(std::string_view path, std::string data);  // adds or replaces
  void remove(std::string_view path);
};

// Upper bounds for images read from untrusted packed files (a replayed or
// AFL-made input must not make the harness itself allocate gigabytes).
inline constexpr uint64_t kMaxImageBytes = uint64_t{256} << 20;
inline constexpr size_t kMaxFiles = 4096;

// A path the harness will write under its work directory: relative, no
// "", "." or ".." component, no NUL, at most 512 bytes.
bool safe_relpath(std::string_view path);

// Every regular file under `dir` (an image directory).
Result<Image> load_dir(const std::string& dir);

// Files whose bytes are all zero are stored by size only.
std::string pack(const Image& image);
Result<Image> unpack(std::string_view packed, std::string name);
// Writes the packed form of `image` to `fd` with write() only: used from a
// crash handler, so it allocates nothing.
void pack_to_fd(int fd, const Image& image);

// A directory holding one image at a time. put() writes only the files
// that differ from what is there and removes the ones that are gone.
class WorkDir {
 public:
  explicit WorkDir(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  // Empties the directory (created if missing).
  Status reset();
  // False (and a reason) if the image cannot be laid out as files (a path
  // that is both a file and a directory).
  Status put(const Image& image);

 private:
  std::string dir_;
  Image on_disk_;
};

}  // namespace amber::fuzz
