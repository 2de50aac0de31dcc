#include "image/reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <set>

#include "base/files.h"
#include "base/unique_fd.h"
#include "image/pages.h"

namespace amber::image {

namespace {

// Opens an image file for reading; a missing one is bad input, not a failure.
Result<UniqueFd> open_image_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return bad_input("{}: missing", path);
    return sys_fail("open {}", path);
  }
  return UniqueFd(fd);
}

// `sha256`: what the inventory lists for the file (nullptr: the inventory
// itself, whose tag covers it).
Status read_checked(const std::string& path, Kind kind, google::protobuf::Message& out, const std::string* sha) {
  UniqueFd fd = TRY(open_image_file(path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return sys_fail("stat {}", path);
  // A directory opens for reading too; read() then fails with EISDIR.
  if (!S_ISREG(st.st_mode)) return bad_input("{}: not a regular file", path);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kHeaderSize) return bad_input("{}: truncated: {} bytes, shorter than the header", path, size);

  std::array<std::byte, kHeaderSize> raw;
  TRY_CTX(read_exact(fd.get(), raw.data(), raw.size()), "{}", path);
  Header h = TRY_CTX(decode_header(raw), "{}", path);
  if (h.kind != static_cast<uint32_t>(kind))
    return bad_input("{}: wrong kind: a {} file where a {} file belongs", path, kind_name(h.kind),
                     kind_name(kind));
  uint64_t have = size - kHeaderSize;
  if (have < h.payload_len)
    return bad_input("{}: truncated: payload is {} bytes, the header says {}", path, have, h.payload_len);
  if (have > h.payload_len)
    return bad_input("{}: corrupt: {} bytes after the payload", path, have - h.payload_len);
  if (h.payload_len > INT_MAX)  // protobuf parses at most 2 GiB
    return bad_input("{}: corrupt: payload of {} bytes is too large", path, h.payload_len);

  std::string payload(h.payload_len, '\0');
  TRY_CTX(read_exact(fd.get(), payload.data(), payload.size()), "{}", path);
  if (xxh3(payload) != h.payload_xxh3) return bad_input("{}: corrupt: payload checksum mismatch", path);
  // The header checks above name accidents (truncated, torn); this one
  // what a key alone can vouch for. XXH3 is no defence: anyone can
  // recompute it.
  if (sha) {
    Sha256 got = TRY(sha256(raw, std::as_bytes(std::span(payload.data(), payload.size()))));
    if (sha->size() != got.size() || std::memcmp(sha->data(), got.data(), got.size()) != 0)
      return bad_input("{}: {}", path, kNotAuthentic);
  }
  if (!out.ParseFromString(payload))
    return bad_input("{}: corrupt: payload does not parse as {}", path, out.GetTypeName());
  return {};
}

}  // namespace

Result<ImageReader> ImageReader::open(std::string dir, const Key& key) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return bad_input("{}: no such image directory", dir);
    return sys_fail("stat {}", dir);
  }
  if (!S_ISDIR(st.st_mode)) return bad_input("{}: not a directory", dir);
  ImageReader r(std::move(dir));
  std::string inv_path = r.path(kInventoryFile);
  if (!path_exists(inv_path))
    return bad_input("{}: missing (not an image directory, or an unfinished dump)", inv_path);
  TRY(read_checked(inv_path, img::KIND_INVENTORY, r.inventory_, nullptr));
  r.keys_.emplace(TRY(verify_inventory(r.inventory_, key, inv_path)));
  if (!r.data_tagged() && !insecure_untagged_data())
    return bad_input("{}: its page and file data carry no authentication tags (dumped with "
                     "AMBER_INSECURE_NO_AUTH=1, a switch for benchmarks only)", inv_path);
  std::set<std::string_view> seen;
  for (const img::FileEntry& f : r.inventory_.files()) {
    TRY_CTX(check_relpath(f.path()), "{}: corrupt", inv_path);
    if (!seen.insert(f.path()).second) return bad_input("{}: corrupt: {} listed twice", inv_path, f.path());
  }
  return r;
}

const img::FileEntry* ImageReader::find(std::string_view relpath) const {
  for (const img::FileEntry& f : inventory_.files())
    if (f.path() == relpath) return &f;
  return nullptr;
}

Status ImageReader::read_message(std::string_view relpath, Kind kind, google::protobuf::Message& out) const {
  TRY_CTX(check_relpath(relpath), "{}", dir_);
  const img::FileEntry* f = find(relpath);
  if (!f) return bad_input("{}: missing (not in the inventory)", path(relpath));
  return read_checked(path(relpath), kind, out, &f->sha256());
}

Result<std::optional<ChunkAuth>> ImageReader::chunk_auth(std::string_view relpath) const {
  if (!data_tagged()) return std::optional<ChunkAuth>{};
  return std::optional<ChunkAuth>(TRY(keys_->chunks(relpath)));
}

Status ImageReader::validate() const {
  std::set<std::string> data_files_used;
  for (const img::FileEntry& f : inventory_.files()) {
    std::string p = path(f.path());
    const KindInfo* k = find_kind(f.kind());
    if (!k) return bad_input("{}: {} (written by a newer amber?)", p, kind_name(f.kind()));
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return bad_input("{}: missing", p);
      return sys_fail("stat {}", p);
    }
    if (!S_ISREG(st.st_mode)) return bad_input("{}: not a regular file", p);
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < f.size()) return bad_input("{}: truncated: {} bytes, the inventory says {}", p, size, f.size());
    if (size != f.size()) return bad_input("{}: corrupt: {} bytes, the inventory says {}", p, size, f.size());
    if (f.kind() == img::KIND_PAGES_INDEX) {
      PageReader pages = TRY(PageReader::open(*this, f.path()));
      TRY(pages.validate_size());
      if (!data_files_used.insert(pages.index().data_file()).second)
        return bad_input("{}: corrupt: data file {} already belongs to another index", p, pages.index().data_file());
    } else if (k->prototype) {
      std::unique_ptr<google::protobuf::Message> msg(k->prototype->New());
      TRY(read_message(f.path(), f.kind(), *msg));
    }
  }
  // A data file no index points to is what an unfinished PageWriter leaves.
  for (const img::FileEntry& f : inventory_.files())
    if (f.kind() == img::KIND_PAGES_DATA && !data_files_used.contains(f.path()))
      return bad_input("{}: corrupt: page data without an index", path(f.path()));
  return {};
}

}  // namespace amber::image
