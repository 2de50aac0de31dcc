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

// Up to `len` bytes at `off`, fewer only at the end of the file.
Result<size_t> pread_up_to(int fd, std::byte* buf, size_t len, uint64_t off, const std::string& path) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf + got, len - got, static_cast<off_t>(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("read {}", path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

std::string what(const img::ContainerLog& log) { return fmt::format("the container's log ({})", log.data_file()); }

}  // namespace

LogCopy::~LogCopy() = default;

Result<LogCopy> LogCopy::start(const std::string& path, image::ImageWriter& image) {
  LogCopy c(path, image);
  auto in = open_fd(path, O_RDONLY | O_CLOEXEC);
  // No log file at all: nothing to carry (the init's fds on a removed log
  // are refused by the fd dump as a deleted file, not here).
  if (!in && in.error().sys_errno == ENOENT) return c;
  if (!in) return std::unexpected(std::move(in.error()));
  c.in_ = std::move(*in);
  c.buf_ = std::make_unique_for_overwrite<std::byte[]>(image::kChunkSize);
  TRY(c.copy_from_end(/*remember=*/true));
  return c;
}

Status LogCopy::copy_from_end(bool remember) {
  const std::string rel = image::log_data_path();
  for (;;) {
    const size_t n = TRY(pread_up_to(in_.get(), buf_.get(), image::kChunkSize, copied_, path_));
    if (n == 0) return {};
    if (!out_) {
      out_ = TRY(image_->create_raw(rel, img::KIND_LOG_DATA));
      auth_ = TRY(image_->chunk_auth(rel));
    }
    if (!tags_ && auth_) tags_ = std::make_unique<image::ChunkStream>(*auth_, image::kChunkSize);
    const std::span<const std::byte> piece(buf_.get(), n);
    TRY_CTX(write_all(out_.get(), piece.data(), n), "{}", rel);
    if (tags_) TRY_CTX(tags_->update(piece), "{}", rel);
    if (remember) piece_xxh3_.push_back(image::xxh3(piece));
    copied_ += n;
  }
}

Result<bool> LogCopy::unchanged() {
  // The pieces start() read: whole kChunkSize ones from 0, the last short.
  for (size_t i = 0; i < piece_xxh3_.size(); i++) {
    const uint64_t off = i * image::kChunkSize;
    const size_t len = static_cast<size_t>(std::min<uint64_t>(image::kChunkSize, copied_ - off));
    const size_t n = TRY(pread_up_to(in_.get(), buf_.get(), len, off, path_));
    if (n != len || image::xxh3(std::span<const std::byte>(buf_.get(), n)) != piece_xxh3_[i]) return false;
  }
  return true;
}

Status LogCopy::restart() {
  if (::ftruncate(out_.get(), 0) != 0 || ::lseek(out_.get(), 0, SEEK_SET) != 0)
    return sys_fail("{}: empty it to copy the log again", image::log_data_path());
  tags_.reset();
  piece_xxh3_.clear();
  copied_ = 0;
  return {};
}

Result<std::optional<img::ContainerLog>> LogCopy::finish() {
  if (!in_) return std::optional<img::ContainerLog>{};
  if (copied_ > 0 && !TRY(unchanged())) TRY(restart());
  TRY(copy_from_end(/*remember=*/false));
  if (!out_) return std::optional<img::ContainerLog>{};
  img::ContainerLog log;
  log.set_data_file(image::log_data_path());
  log.set_size(copied_);
  if (tags_) log.set_chunk_tags(TRY(tags_->finish()));
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
