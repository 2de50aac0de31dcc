// Image authentication (docs/image-format.md, "Authentication"): an image is
// trusted only if it was made with the key of this host (or the --key a user
// gave), because restoring it runs its registers and memory as root.
//
//   Key        32 secret bytes: /var/lib/amber/image.key (made on first use,
//              root only) or a file the user names (--key FILE).
//   ImageKeys  the keys of one image: HKDF-SHA256 of the key with the
//              image's random salt, so no two images share a key.
//   ChunkAuth  the GMAC tag (AES-256-GCM with the data as associated data)
//              of chunk i of one raw data file: a key per file (HKDF info
//              names the file), nonce = i, so a chunk moved to another place
//              or file does not verify, and nonces never repeat under a key.
//   metadata   SHA-256 of every metadata file in the inventory, the
//              inventory HMAC-SHA256'd (sign_inventory / verify_inventory).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <openssl/types.h>

#include "base/result.h"
#include "header.pb.h"

namespace amber::image {

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kSaltSize = 32;
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kSha256Size = 32;
inline constexpr uint32_t kAuthScheme = 1;
inline constexpr std::string_view kHostKeyPath = "/var/lib/amber/image.key";

using Tag = std::array<std::byte, kTagSize>;
using Sha256 = std::array<std::byte, kSha256Size>;

// What every refusal by a tag says after the object's name.
inline constexpr std::string_view kNotAuthentic = "not authenticated with this key (modified, or made with another key)";

// Test and benchmark switch, never for users: AMBER_INSECURE_NO_AUTH=1 makes
// a dump tag no raw data (XXH3 checksums instead, as before images were
// authenticated: the baseline bench/auth.sh compares with) and lets a
// restore take such an image. Metadata stays authenticated either way.
bool insecure_untagged_data();

// A secret key; its bytes are wiped when it goes.
class Key {
 public:
  static Key from_bytes(std::span<const std::byte, kKeySize> bytes);
  // An existing key file: a regular file of exactly 32 bytes, owned by the
  // user amber runs as (root), with no permission for group or others.
  static Result<Key> load(const std::string& path);
  // The host's key: $AMBER_KEY_FILE if set (tests), else kHostKeyPath.
  // Made on first use: its directory 0700, the file 0600, 32 bytes of
  // getrandom, published with link() so a concurrent first use reads a
  // whole key, never half of one.
  static Result<Key> host();
  // --key FILE (must exist: a mistyped path must not make a new key) or,
  // if empty, the host's key.
  static Result<Key> for_option(const std::string& key_file);

  Key(const Key&);
  Key& operator=(const Key&) = default;
  ~Key();
  std::span<const unsigned char, kKeySize> bytes() const { return bytes_; }
  const std::string& path() const { return path_; }  // where it came from ("" for from_bytes)

 private:
  Key() = default;
  std::array<unsigned char, kKeySize> bytes_{};
  std::string path_;
};

// Authenticates the chunks of one raw data file. Safe from several threads.
class ChunkAuth {
 public:
  ChunkAuth(const ChunkAuth&);
  ChunkAuth& operator=(const ChunkAuth&) = default;
  ~ChunkAuth();
  Result<Tag> tag(uint64_t index, std::span<const std::byte> data) const;
  // Whether `expected` (kTagSize bytes) is the tag of `data` as chunk `index`.
  Result<bool> verify(uint64_t index, std::span<const std::byte> data, std::span<const std::byte> expected) const;

 private:
  friend class ImageKeys;
  friend class ChunkStream;
  ChunkAuth() = default;
  Status start(EVP_CIPHER_CTX* ctx, uint64_t index) const;
  std::array<unsigned char, kKeySize> key_{};
  std::shared_ptr<EVP_CIPHER> cipher_;
};

// Tags a file written front to back in pieces of any size (each chunk's
// tag as its last byte arrives).
class ChunkStream {
 public:
  ChunkStream(const ChunkAuth& auth, size_t chunk_size) : auth_(auth), chunk_size_(chunk_size) {}
  ChunkStream(ChunkStream&&) noexcept;
  ~ChunkStream();
  Status update(std::span<const std::byte> data);
  // The tags of every chunk so far (the last may be short), back to back.
  Result<std::string> finish();

 private:
  Status open_chunk();
  Status close_chunk();
  ChunkAuth auth_;
  size_t chunk_size_;
  EVP_CIPHER_CTX* ctx_ = nullptr;
  uint64_t chunk_ = 0;  // index of the chunk being tagged
  size_t in_chunk_ = 0;
  std::string tags_;
};

// Reads a raw data file whose chunks carry tags (the tmpfs content), a
// verified chunk at a time: no byte is handed out before its chunk's tag
// holds, and what was verified is what is used (a copy in memory, not the
// file again). Without `auth` (an untagged image) it only reads.
class TaggedReader {
 public:
  // `tags`: kTagSize bytes per chunk of `size` bytes (checked by the caller).
  TaggedReader(int fd, uint64_t size, size_t chunk_size, const ChunkAuth* auth, std::string_view tags,
               std::string path);
  // dst := the file's bytes [offset, offset + len). Keeps the last chunk:
  // files read in order read each chunk once.
  Status read(uint64_t offset, std::byte* dst, size_t len);
  // Every chunk, front to back.
  Status verify_all();

 private:
  Status load(uint64_t chunk);
  int fd_;
  uint64_t size_;
  size_t chunk_size_;
  const ChunkAuth* auth_;
  std::string_view tags_;
  std::string path_;
  std::unique_ptr<std::byte[]> buf_;
  uint64_t loaded_ = UINT64_MAX;  // the chunk in buf_
};

// The keys of one image.
class ImageKeys {
 public:
  static Result<ImageKeys> derive(const Key& key, std::span<const std::byte> salt);
  ImageKeys(const ImageKeys&);
  ImageKeys& operator=(const ImageKeys&) = default;
  ~ImageKeys();
  // HMAC-SHA256 with the image's inventory key.
  Result<Sha256> inventory_mac(std::string_view data) const;
  // The chunk authenticator of raw file `relpath` (its path in the image).
  Result<ChunkAuth> chunks(std::string_view relpath) const;
  std::span<const std::byte> salt() const { return std::as_bytes(std::span(salt_)); }

 private:
  ImageKeys() = default;
  Result<std::array<unsigned char, kKeySize>> expand(std::string_view info) const;
  std::array<unsigned char, kKeySize> prk_{};  // HKDF-Extract(salt, key)
  std::array<unsigned char, kSaltSize> salt_{};
};

Result<Sha256> sha256(std::span<const std::byte> data);
inline Result<Sha256> sha256(std::string_view s) { return sha256(std::as_bytes(std::span(s.data(), s.size()))); }
// Of `a` followed by `b` (a header and its payload).
Result<Sha256> sha256(std::span<const std::byte> a, std::span<const std::byte> b);

// A fresh random salt for a new image (getrandom).
Result<std::array<std::byte, kSaltSize>> new_salt();

// Sets inv.auth: scheme, the salt `keys` were derived with, and the tag
// over the rest of the inventory. `untagged_data`: see insecure_untagged_data.
Status sign_inventory(img::Inventory& inv, const ImageKeys& keys, bool untagged_data);
// The keys of the image whose inventory `inv` was read from `path`, once
// its tag verifies under `key` (Exit::BadInput naming `path` otherwise).
Result<ImageKeys> verify_inventory(const img::Inventory& inv, const Key& key, const std::string& path);

// Re-signs an image whose files were changed on purpose (test tools): every
// metadata file's size and SHA-256 are taken from disk again and the
// inventory is signed with `key` and rewritten. The salt stays (the raw
// data's tags still verify if `key` is the image's). The inventory is read
// with its header checks, not its tag.
Status resign_image(const std::string& dir, const Key& key);

}  // namespace amber::image
