#include "container/log_image.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <span>

#include "base/files.h"
#include "image/layout.h"
#include "image/pages.h"

namespace amber::container {

namespace {

// Up to `len` bytes, fewer only at the end of the file.
Result<size_t> read_up_to(int fd, std::byte* buf, size_t len, const std::string& path) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("read {}", path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

std::string what(const img::ContainerLog& log) { return fmt::format("the container's log ({})", log.data_file()); }

}  // namespace

Result<std::optional<img::ContainerLog>> dump_log(const std::string& path, image::ImageWriter& image) {
  auto in = open_fd(path, O_RDONLY | O_CLOEXEC);
  // No log file at all: nothing to carry (the init's fds on a removed log
  // are refused by the fd dump as a deleted file, not here).
  if (!in && in.error().sys_errno == ENOENT) return std::nullopt;
  if (!in) return std::unexpected(std::move(in.error()));
  auto buf = std::make_unique_for_overwrite<std::byte[]>(image::kChunkSize);
  size_t n = TRY(read_up_to(in->get(), buf.get(), image::kChunkSize, path));
  if (n == 0) return std::nullopt;  // an empty log leaves no file in the image

  img::ContainerLog log;
  log.set_data_file(image::log_data_path());
  UniqueFd out = TRY(image.create_raw(log.data_file(), img::KIND_LOG_DATA));
  std::optional<image::ChunkAuth> auth = TRY(image.chunk_auth(log.data_file()));
  std::optional<image::ChunkStream> tags;
  if (auth) tags.emplace(*auth, image::kChunkSize);
  uint64_t size = 0;
  while (n > 0) {
    TRY_CTX(write_all(out.get(), buf.get(), n), "{}", what(log));
    if (tags) TRY_CTX(tags->update(std::span<const std::byte>(buf.get(), n)), "{}", what(log));
    size += n;
    n = TRY(read_up_to(in->get(), buf.get(), image::kChunkSize, path));
  }
  log.set_size(size);
  if (tags) log.set_chunk_tags(TRY(tags->finish()));
  return log;
}

Status check_log(const image::ImageReader& image, const img::ContainerLog& log, bool verify_data) {
  const img::FileEntry* f = image.find(log.data_file());
  if (!f || f->kind() != img::KIND_LOG_DATA) return bad_input("{}: not in the image", what(log));
  // validate() checked the file on disk has the inventory's size.
  if (f->size() != log.size())
    return bad_input("{}: corrupt: {} bytes recorded, the inventory says {}", what(log), log.size(), f->size());
  std::optional<image::ChunkAuth> auth = TRY(image.chunk_auth(f->path()));
  const uint64_t chunks = (log.size() + image::kChunkSize - 1) / image::kChunkSize;
  if (auth && log.chunk_tags().size() != chunks * image::kTagSize)
    return bad_input("{}: corrupt: {} bytes of chunk tags for {} bytes of log", what(log), log.chunk_tags().size(),
                     log.size());
  if (!verify_data) return {};
  UniqueFd in = TRY(open_fd(image.path(f->path()), O_RDONLY | O_CLOEXEC));
  image::TaggedReader r(in.get(), log.size(), image::kChunkSize, auth ? &*auth : nullptr, log.chunk_tags(),
                        image.path(f->path()));
  return r.verify_all();
}

Status restore_log(const image::ImageReader& image, const img::ContainerLog& log, int fd) {
  TRY(check_log(image, log, /*verify_data=*/false));
  const std::string path = image.path(log.data_file());
  std::optional<image::ChunkAuth> auth = TRY(image.chunk_auth(log.data_file()));
  UniqueFd in = TRY(open_fd(path, O_RDONLY | O_CLOEXEC));
  image::TaggedReader r(in.get(), log.size(), image::kChunkSize, auth ? &*auth : nullptr, log.chunk_tags(), path);
  auto buf = std::make_unique_for_overwrite<std::byte[]>(image::kChunkSize);
  for (uint64_t off = 0; off < log.size(); off += image::kChunkSize) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(image::kChunkSize, log.size() - off));
    TRY(r.read(off, buf.get(), n));
    TRY_CTX(write_all(fd, buf.get(), n), "the restored container's log");
  }
  return {};
}

}  // namespace amber::container
