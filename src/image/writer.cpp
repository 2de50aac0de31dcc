#include "image/writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <climits>

#include "base/files.h"

namespace amber::image {

Result<ImageWriter> ImageWriter::create(std::string dir, const Key& key) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) return bad_input("image directory: empty path");
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0) return bad_input("{}: image directory exists", dir);
  if (errno != ENOENT) return sys_fail("stat {}", dir);
  size_t slash = dir.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash);
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return bad_input("{}: parent directory {} does not exist", dir, parent);

  ImageKeys keys = TRY(ImageKeys::derive(key, TRY(new_salt())));
  std::string tmp = temp_dir_for(dir);
  if (::mkdir(tmp.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      return failf("{}: temporary directory exists (another dump into it is running, or one crashed)", tmp);
    return sys_fail("mkdir {}", tmp);
  }
  return ImageWriter(std::move(dir), std::move(tmp), std::move(keys));
}

std::string ImageWriter::temp_dir_for(const std::string& dir) { return fmt::format("{}.tmp-{}", dir, ::getpid()); }

ImageWriter::ImageWriter(ImageWriter&& o) noexcept
    : dir_(std::move(o.dir_)),
      tmp_(std::exchange(o.tmp_, {})),
      entries_(std::move(o.entries_)),
      made_dirs_(std::move(o.made_dirs_)),
      committed_(o.committed_),
      keys_(o.keys_),
      untagged_(o.untagged_) {}

ImageWriter::~ImageWriter() {
  if (!committed_ && !tmp_.empty()) (void)remove_tree(tmp_);
}

Result<UniqueFd> ImageWriter::create_file(std::string_view relpath, Kind kind, bool raw) {
  if (committed_ || tmp_.empty()) return failf("{}: image already committed", dir_);
  TRY_CTX(check_relpath(relpath), "{}: writing a file", dir_);
  if (relpath == kInventoryFile) return failf("{}: {} is written by commit()", dir_, relpath);
  for (const Entry& e : entries_)
    if (e.path == relpath) return failf("{}: {} written twice", dir_, relpath);
  if (size_t slash = relpath.rfind('/'); slash != std::string_view::npos) {
    std::string_view parent = relpath.substr(0, slash);
    if (!made_dirs_.contains(parent)) {
      TRY(make_dirs(fmt::format("{}/{}", tmp_, parent), 0755));
      made_dirs_.emplace(parent);
    }
  }
  std::string path = fmt::format("{}/{}", tmp_, relpath);
  UniqueFd fd = TRY(open_fd(path, O_WRONLY | O_CREAT | O_EXCL, 0644));
  entries_.push_back({std::string(relpath), kind, 0, raw});
  return fd;
}

Status ImageWriter::write(std::string_view relpath, Kind kind, const google::protobuf::Message& msg) {
  std::string payload;
  if (!msg.SerializeToString(&payload)) return failf("{}/{}: cannot serialize {}", dir_, relpath, msg.GetTypeName());
  UniqueFd fd = TRY(create_file(relpath, kind, false));
  auto header = encode_header(kind, payload);
  iovec iov[2] = {{header.data(), header.size()}, {payload.data(), payload.size()}};
  size_t total = header.size() + payload.size();
  // What the inventory lists: the file as it is on disk, header included.
  Sha256 hash = TRY(sha256(header, std::as_bytes(std::span(payload.data(), payload.size()))));
  ssize_t n = ::writev(fd.get(), iov, 2);
  if (n < 0) return sys_fail("write {}/{}", tmp_, relpath);
  // A short writev (signal, huge payload): finish with plain writes.
  if (static_cast<size_t>(n) < header.size()) {
    TRY(write_all(fd.get(), header.data() + n, header.size() - n));
    n = static_cast<ssize_t>(header.size());
  }
  size_t done = static_cast<size_t>(n) - header.size();
  TRY_CTX(write_all(fd.get(), payload.data() + done, payload.size() - done), "{}/{}", tmp_, relpath);
  entries_.back().size = total;
  entries_.back().sha256.assign(reinterpret_cast<const char*>(hash.data()), hash.size());
  return {};
}

Result<UniqueFd> ImageWriter::create_raw(std::string_view relpath, Kind kind) {
  return create_file(relpath, kind, true);
}

Result<std::optional<ChunkAuth>> ImageWriter::chunk_auth(std::string_view relpath) const {
  if (untagged_) return std::optional<ChunkAuth>{};
  return std::optional<ChunkAuth>(TRY(keys_.chunks(relpath)));
}

Status ImageWriter::commit() {
  if (committed_ || tmp_.empty()) return failf("{}: image already committed", dir_);
  img::Inventory inv;
  inv.set_amber_version(std::string(kAmberVersion));
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  inv.mutable_created()->set_seconds(now.tv_sec);
  inv.mutable_created()->set_nanos(static_cast<int32_t>(now.tv_nsec));
  utsname uts{};
  if (::uname(&uts) == 0) inv.set_kernel_release(uts.release);
  inv.set_page_size(static_cast<uint32_t>(::sysconf(_SC_PAGESIZE)));
  for (Entry& e : entries_) {
    if (e.raw) {
      // Raw files are written through fds the caller held: measure them now.
      struct stat st {};
      std::string path = fmt::format("{}/{}", tmp_, e.path);
      if (::stat(path.c_str(), &st) != 0) return sys_fail("stat {}", path);
      e.size = static_cast<uint64_t>(st.st_size);
    }
    img::FileEntry* f = inv.add_files();
    f->set_path(e.path);
    f->set_kind(e.kind);
    f->set_size(e.size);
    if (!e.raw) f->set_sha256(e.sha256);
  }
  TRY(sign_inventory(inv, keys_, untagged_));

  TRY(write_new_file(fmt::format("{}/{}", tmp_, kInventoryFile), TRY(encode_inventory(inv))));

  if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, dir_.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) return bad_input("{}: image directory exists", dir_);
    return sys_fail("rename {} to {}", tmp_, dir_);
  }
  committed_ = true;
  inventory_ = std::move(inv);
  return {};
}

Result<std::string> ImageWriter::encode_inventory(const img::Inventory& inv) const {
  std::string payload;
  if (!inv.SerializeToString(&payload)) return failf("{}: cannot serialize the inventory", dir_);
  auto header = encode_header(img::KIND_INVENTORY, payload);
  std::string file(reinterpret_cast<const char*>(header.data()), header.size());
  file += payload;
  return file;
}

Status ImageWriter::amend_inventory(const img::DumpStats& stats) {
  if (!committed_) return failf("{}: amend_inventory before commit", dir_);
  img::Inventory inv = inventory_;
  *inv.mutable_dump_stats() = stats;
  TRY(sign_inventory(inv, keys_, untagged_));
  TRY(write_file_atomic(fmt::format("{}/{}", dir_, kInventoryFile), TRY(encode_inventory(inv))));
  inventory_ = std::move(inv);
  return {};
}

}  // namespace amber::image
