// Page store: one task's memory contents. A raw data file (pages-ID.bin: page
// data only, back to back, page-aligned, no headers) plus an index file
// (PagesIndex: runs {vaddr, nr_pages, file_offset} and the authentication
// tag of every 1 MiB chunk of the data file, image/auth.h; XXH3-64
// checksums instead in an image dumped with AMBER_INSECURE_NO_AUTH=1).
//
// Built for GB-sized memory: the writer writes straight from the caller's
// buffer in large write() calls and hashes while writing, no per-page work;
// the reader streams through one reused buffer, or maps the whole file for a
// restore that copies straight from the mapping.
#pragma once
#include <cstddef>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "image/auth.h"
#include "pages.pb.h"

struct XXH3_state_s;

namespace amber::image {

class ImageWriter;
class ImageReader;

inline constexpr size_t kPageSize = 4096;
inline constexpr size_t kChunkSize = size_t{1} << 20;  // fixed by the format
// Data moves to the kernel in slices of this size: large enough that the
// syscall cost vanishes (1024 calls per GiB), small enough that the freshly
// hashed bytes are still in L2 when write() copies them. Measured on 1 GiB
// into tmpfs: on par with plain write() in 8 MiB calls; larger slices were
// no faster.
inline constexpr size_t kWriteSlice = size_t{1} << 20;
// The reader's reused buffer; a multiple of kChunkSize.
inline constexpr size_t kReadBuffer = size_t{8} << 20;
// write_at leaves zero pages out of the file (a hole reads as zeros) when at
// least this many bytes of them are contiguous: fewer would cost a write()
// call per few pages.
inline constexpr size_t kMinHole = size_t{64} << 10;

// Calls fn(offset, len) for each stretch of [p, p + len) to keep: all of it
// but the runs of zero pages of at least kMinHole bytes. len is whole pages.
// The writer leaves those out of the file; the restore leaves them out of
// fresh anonymous memory, which reads as zeros anyway.
template <class Fn>
void for_each_nonzero(const std::byte* p, size_t len, Fn&& fn);

class PageWriter {
 public:
  // Creates the data file `data_relpath` in `image`; finish() writes the
  // index to `index_relpath`. `image` must outlive the PageWriter and stay
  // where it is (the PageWriter keeps its address).
  static Result<PageWriter> create(ImageWriter& image, std::string index_relpath, std::string data_relpath);

  PageWriter(PageWriter&&) noexcept;
  PageWriter& operator=(PageWriter&&) = delete;
  ~PageWriter();

  // Appends the contents of pages [vaddr, vaddr + data.size()). vaddr and the
  // length are multiples of kPageSize; vaddr is at or above the end of the
  // previous append (areas are dumped in address order). An append that
  // starts where the previous one ended extends its run.
  Status append(uint64_t vaddr, std::span<const std::byte> data);
  // Parallel mode, for a task's memory: the whole layout first, then the
  // bytes from any number of threads. plan() lays `runs` (address order,
  // page-aligned, not overlapping, each at least a page) back to back in the
  // data file and sizes it; nothing is written yet, so the file is all hole.
  // Not mixed with append().
  struct Run {
    uint64_t vaddr;
    uint64_t len;
  };
  Status plan(std::span<const Run> runs);
  // The file's bytes [offset, offset + data.size()): offset chunk-aligned,
  // the size a multiple of kChunkSize unless the range ends the file. Each
  // chunk is tagged (or hashed) in the calling thread while it is in the
  // cache; zero pages in stretches of kMinHole or more stay holes.
  // Safe from several threads for disjoint ranges. finish() checks that
  // every byte of the plan was written.
  Status write_at(uint64_t offset, std::span<const std::byte> data);

  // Pages that are not stored because they are the parent task's
  // (PagesIndex.parent_runs): ascending, page-aligned, before finish().
  Status add_parent_runs(std::span<const Run> runs);

  // Closes the data file and writes the index. Call once, before commit().
  Status finish();

  uint64_t total_size() const { return total_; }
  const img::PagesIndex& index() const { return index_; }

 private:
  PageWriter(ImageWriter& image, std::string index_relpath, UniqueFd fd, std::optional<ChunkAuth> auth);
  Status write_slice(const std::byte* p, size_t n);

  ImageWriter* image_;
  std::string index_relpath_;
  UniqueFd fd_;
  img::PagesIndex index_;
  std::unique_ptr<XXH3_state_s, void (*)(XXH3_state_s*)> hash_;
  // Tagged chunks (an authenticated image): the file's authenticator, and
  // append()'s running tags.
  std::optional<ChunkAuth> auth_;
  std::optional<ChunkStream> stream_;
  uint64_t total_ = 0;
  uint64_t next_vaddr_ = 0;  // end of the last run
  bool failed_ = false, finished_ = false;
  // Parallel mode: a checksum or tag slot per chunk, and the bytes written
  // so far.
  bool planned_ = false;
  std::vector<uint64_t> chunk_hash_;
  std::vector<Tag> chunk_tag_;
  std::unique_ptr<std::atomic<uint64_t>> written_;
};

class PageReader {
 public:
  // Reads the index and checks it against itself and the inventory (runs
  // ascending and contiguous in the file, chunk count, data file listed).
  static Result<PageReader> open(const ImageReader& image, std::string_view index_relpath);

  PageReader(PageReader&&) noexcept;
  PageReader& operator=(PageReader&&) = delete;
  ~PageReader();

  const img::PagesIndex& index() const { return index_; }
  const std::string& data_path() const { return data_path_; }
  uint64_t nr_pages() const { return index_.total_size() / kPageSize; }

  // The data file has exactly the size the index says: a truncated file is
  // refused before any of it is used.
  Status validate_size() const;

  // Streams every run in address order. A run may arrive in several pieces
  // (vaddr, data) of at most kReadBuffer bytes; each piece's chunks were
  // verified before it is handed out. `data` is valid during the call only.
  // The sink's error stops the walk and is returned.
  using Sink = std::function<Status(uint64_t vaddr, std::span<const std::byte> data)>;
  Status for_each_run(const Sink& sink);

  // Maps the whole data file read-only (after validate_size()). Nothing is
  // faulted in yet: verify_all() populates it.
  Status map();
  // Checks every chunk's tag (or checksum) over the mapping (maps first if needed).
  Status verify_all();
  // Reads the file's bytes [offset, offset + len) into `dst` (a truncated
  // file is an error) and checks their chunks: offset chunk-aligned, len a
  // whole number of chunks or up to the end. Safe from several threads.
  Status read_verified(uint64_t offset, std::byte* dst, size_t len) const;
  // The same through `fd`, the data file as a fork that moved it has it open.
  Status read_verified(uint64_t offset, std::byte* dst, size_t len, int fd) const;
  int fd() const { return fd_.get(); }
  bool mapped() const { return map_ != nullptr || index_.total_size() == 0; }
  // The bytes of run `i` inside the mapping; map() first.
  std::span<const std::byte> run_data(int i) const;

 private:
  PageReader() = default;
  Status check_chunks(const std::byte* data, uint64_t offset, uint64_t len) const;
  // Has the kernel fault in the file range [from, to) of the mapping in one
  // call, then checks its chunks (from chunk-aligned). map() first.
  Status verify_range(uint64_t from, uint64_t to) const;
  // The mapping's bytes from `offset` on; map() first.
  const std::byte* mapped_at(uint64_t offset) const { return static_cast<const std::byte*>(map_) + offset; }

  img::PagesIndex index_;
  std::string index_path_, data_path_;
  UniqueFd fd_;
  void* map_ = nullptr;
  std::unique_ptr<std::byte, void (*)(void*)> buf_{nullptr, nullptr};
  std::optional<ChunkAuth> auth_;  // nullopt: an untagged image (XXH3 only)
};

// Random data fails at the first word: the full scan runs on zero pages only.
inline bool zero_page(const std::byte* p) {
  const auto* w = reinterpret_cast<const uint64_t*>(p);
  if (w[0] | w[kPageSize / 8 - 1]) return false;
  uint64_t acc = 0;
  for (size_t i = 1; i < kPageSize / 8 - 1; i++) acc |= w[i];
  return acc == 0;
}

template <class Fn>
void for_each_nonzero(const std::byte* p, size_t len, Fn&& fn) {
  size_t from = 0;  // start of the stretch being kept
  for (size_t at = 0; at < len;) {
    if (!zero_page(p + at)) {
      at += kPageSize;
      continue;
    }
    size_t z = at;
    while (z < len && zero_page(p + z)) z += kPageSize;
    if (z - at >= kMinHole) {
      if (at > from) fn(from, at - from);
      from = z;
    }
    at = z;
  }
  if (len > from) fn(from, len - from);
}

}  // namespace amber::image
