#include "image/auth.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "base/files.h"
#include "base/unique_fd.h"
#include "image/format.h"

namespace amber::image {

namespace {

// OpenSSL's own reason for the last failure, for a message.
std::string ssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::unexpected<Error> ssl_fail(std::string_view what) { return failf("{}: {}", what, ssl_error()); }

// GCM nonce of chunk `index`: 4 zero bytes, then the index big-endian.
// Unique per file key (ChunkAuth), which is unique per file and image.
std::array<unsigned char, 12> nonce(uint64_t index) {
  std::array<unsigned char, 12> iv{};
  for (int i = 0; i < 8; i++) iv[4 + i] = static_cast<unsigned char>(index >> (56 - 8 * i));
  return iv;
}

// Feeds `data` to GCM as associated data; EVP takes an int length.
bool add_aad(EVP_CIPHER_CTX* ctx, std::span<const std::byte> data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  for (size_t left = data.size(); left > 0;) {
    int n = static_cast<int>(std::min<size_t>(left, size_t{1} << 30)), out = 0;
    if (EVP_EncryptUpdate(ctx, nullptr, &out, p, n) != 1) return false;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

Result<Tag> finish_tag(EVP_CIPHER_CTX* ctx) {
  unsigned char none[16];
  int out = 0;
  Tag tag;
  if (EVP_EncryptFinal_ex(ctx, none, &out) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagSize, tag.data()) != 1)
    return ssl_fail("GMAC");
  return tag;
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// A key file's owner and mode: only the user amber runs as may read it.
Status check_key_file(const std::string& path, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return bad_input("key file {}: not a regular file", path);
  if (st.st_uid != ::geteuid())
    return bad_input("key file {}: owned by uid {}, not by {} (chown {} {})", path, st.st_uid,
                     ::geteuid() == 0 ? std::string("root") : fmt::format("uid {}", ::geteuid()), ::geteuid(), path);
  if (st.st_mode & 077)
    return bad_input("key file {}: mode {:04o} gives group or others access to it (chmod 600 {})", path,
                     st.st_mode & 07777, path);
  if (static_cast<uint64_t>(st.st_size) != kKeySize)
    return bad_input("key file {}: {} bytes, a key is {} random bytes", path, st.st_size, kKeySize);
  return {};
}

Status fill_random(void* p, size_t n) {
  auto* b = static_cast<unsigned char*>(p);
  while (n > 0) {
    ssize_t k = ::getrandom(b, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return sys_fail("getrandom");
    b += k;
    n -= static_cast<size_t>(k);
  }
  return {};
}

// Makes the key file `path` if it does not exist yet (first use).
Status create_key_file(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) TRY(make_dirs(path.substr(0, slash), 0700));
  const std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
  (void)::unlink(tmp.c_str());  // a leftover of a crashed amber of the same pid
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return sys_fail("create key file {}", tmp);
  UniqueFd f(fd);
  std::array<unsigned char, kKeySize> key{};
  Status st = fill_random(key.data(), key.size());
  if (st) st = write_all(f.get(), key.data(), key.size());
  OPENSSL_cleanse(key.data(), key.size());
  if (st && ::fchmod(f.get(), 0600) != 0) st = sys_fail("chmod {}", tmp);
  if (st && ::fsync(f.get()) != 0) st = sys_fail("fsync {}", tmp);
  f.reset();
  // link() publishes the whole file or fails with EEXIST: another amber
  // made the key meanwhile, and that one is the key.
  if (st && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) st = sys_fail("create key file {}", path);
  (void)::unlink(tmp.c_str());
  // The key outlives a crash of the host: images signed with it must stay
  // restorable.
  if (st) {
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d) (void)::fsync(d.get());
  }
  return st;
}

}  // namespace

bool insecure_untagged_data() {
  const char* e = std::getenv("AMBER_INSECURE_NO_AUTH");
  return e && std::string_view(e) == "1";
}

// ---- Key ----

Key Key::from_bytes(std::span<const std::byte, kKeySize> bytes) {
  Key k;
  std::memcpy(k.bytes_.data(), bytes.data(), kKeySize);
  return k;
}

Key::Key(const Key& o) : bytes_(o.bytes_), path_(o.path_) {}
Key::~Key() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

Result<Key> Key::load(const std::string& path) {
  // O_NONBLOCK: a FIFO at the path must not hang amber before the S_ISREG check.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return bad_input("key file {}: missing", path);
    if (errno == EACCES) return bad_input("key file {}: Permission denied", path);
    return sys_fail("open key file {}", path);
  }
  UniqueFd f(fd);
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) return sys_fail("stat key file {}", path);
  TRY(check_key_file(path, st));
  Key k;
  TRY_CTX(read_exact(f.get(), k.bytes_.data(), k.bytes_.size()), "key file {}", path);
  k.path_ = path;
  return k;
}

Result<Key> Key::host() {
  const char* env = std::getenv("AMBER_KEY_FILE");
  const std::string path = env && *env ? env : std::string(kHostKeyPath);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    // Its directory is root's alone: another user learns nothing of it.
    if (errno == EACCES)
      return bad_input("the host's image key {}: Permission denied: it is root's (run amber as root, or give "
                       "--key FILE)", path);
    if (errno != ENOENT) return sys_fail("stat key file {}", path);
    TRY(create_key_file(path));
  }
  return load(path);
}

Result<Key> Key::for_option(const std::string& key_file) {
  if (key_file.empty()) return host();
  return load(key_file);
}

// ---- ChunkAuth ----

ChunkAuth::ChunkAuth(const ChunkAuth& o) : key_(o.key_), cipher_(o.cipher_) {}
ChunkAuth::~ChunkAuth() { OPENSSL_cleanse(key_.data(), key_.size()); }

Status ChunkAuth::start(EVP_CIPHER_CTX* ctx, uint64_t index) const {
  auto iv = nonce(index);
  if (EVP_EncryptInit_ex2(ctx, cipher_.get(), key_.data(), iv.data(), nullptr) != 1) return ssl_fail("AES-256-GCM");
  return {};
}

Result<Tag> ChunkAuth::tag(uint64_t index, std::span<const std::byte> data) const {
  // A context per call (~1 µs against ~150 µs for a 1 MiB chunk): callers
  // tag from several threads.
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return ssl_fail("GMAC");
  TRY(start(ctx.get(), index));
  if (!add_aad(ctx.get(), data)) return ssl_fail("GMAC");
  return finish_tag(ctx.get());
}

Result<bool> ChunkAuth::verify(uint64_t index, std::span<const std::byte> data,
                               std::span<const std::byte> expected) const {
  if (expected.size() != kTagSize) return false;
  Tag t = TRY(tag(index, data));
  return CRYPTO_memcmp(t.data(), expected.data(), kTagSize) == 0;
}

ChunkStream::ChunkStream(ChunkStream&& o) noexcept
    : auth_(o.auth_), chunk_size_(o.chunk_size_), ctx_(std::exchange(o.ctx_, nullptr)), chunk_(o.chunk_),
      in_chunk_(o.in_chunk_), tags_(std::move(o.tags_)) {}

ChunkStream::~ChunkStream() { EVP_CIPHER_CTX_free(ctx_); }

Status ChunkStream::open_chunk() {
  if (!ctx_ && !(ctx_ = EVP_CIPHER_CTX_new())) return ssl_fail("GMAC");
  return auth_.start(ctx_, chunk_);
}

Status ChunkStream::close_chunk() {
  Tag t = TRY(finish_tag(ctx_));
  tags_.append(reinterpret_cast<const char*>(t.data()), t.size());
  chunk_++;
  in_chunk_ = 0;
  return {};
}

Status ChunkStream::update(std::span<const std::byte> data) {
  while (!data.empty()) {
    if (in_chunk_ == 0) TRY(open_chunk());
    size_t n = std::min(data.size(), chunk_size_ - in_chunk_);
    if (!add_aad(ctx_, data.first(n))) return ssl_fail("GMAC");
    in_chunk_ += n;
    data = data.subspan(n);
    if (in_chunk_ == chunk_size_) TRY(close_chunk());
  }
  return {};
}

Result<std::string> ChunkStream::finish() {
  if (in_chunk_ > 0) TRY(close_chunk());
  return std::move(tags_);
}

// ---- TaggedReader ----

TaggedReader::TaggedReader(int fd, uint64_t size, size_t chunk_size, const ChunkAuth* auth, std::string_view tags,
                           std::string path)
    : fd_(fd), size_(size), chunk_size_(chunk_size), auth_(auth), tags_(tags), path_(std::move(path)) {}

Status TaggedReader::load(uint64_t chunk) {
  if (chunk == loaded_) return {};
  if (!buf_) buf_ = std::make_unique_for_overwrite<std::byte[]>(chunk_size_);
  loaded_ = UINT64_MAX;
  const uint64_t off = chunk * chunk_size_;
  const size_t len = static_cast<size_t>(std::min<uint64_t>(chunk_size_, size_ - off));
  for (size_t got = 0; got < len;) {
    ssize_t n = ::pread(fd_, buf_.get() + got, len - got, static_cast<off_t>(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("read {}", path_);
    if (n == 0) return bad_input("{}: truncated: ends at byte {}, {} expected", path_, off + got, size_);
    got += static_cast<size_t>(n);
  }
  if (auth_) {
    if ((chunk + 1) * kTagSize > tags_.size()) return bad_input("{}: chunk {} has no tag", path_, chunk);
    auto tag = std::as_bytes(std::span(tags_.data() + chunk * kTagSize, kTagSize));
    if (!TRY_CTX(auth_->verify(chunk, std::span(buf_.get(), len), tag), "{}", path_))
      return bad_input("{}: chunk {} (bytes {}..{}) {}", path_, chunk, off, off + len, kNotAuthentic);
  }
  loaded_ = chunk;
  return {};
}

Status TaggedReader::read(uint64_t offset, std::byte* dst, size_t len) {
  if (offset > size_ || len > size_ - offset)
    return bad_input("{}: {} bytes at {} are beyond its {} bytes", path_, len, offset, size_);
  while (len > 0) {
    const uint64_t chunk = offset / chunk_size_, in = offset % chunk_size_;
    TRY(load(chunk));
    const uint64_t chunk_len = std::min<uint64_t>(chunk_size_, size_ - chunk * chunk_size_);
    const size_t n = static_cast<size_t>(std::min<uint64_t>(len, chunk_len - in));
    std::memcpy(dst, buf_.get() + in, n);
    dst += n;
    offset += n;
    len -= n;
  }
  return {};
}

Status TaggedReader::verify_all() {
  for (uint64_t c = 0; c * chunk_size_ < size_; c++) TRY(load(c));
  return {};
}

// ---- ImageKeys ----

ImageKeys::ImageKeys(const ImageKeys& o) : prk_(o.prk_), salt_(o.salt_) {}
ImageKeys::~ImageKeys() { OPENSSL_cleanse(prk_.data(), prk_.size()); }

namespace {

// One HKDF-SHA256 step (RFC 5869): extract (key + salt) or expand (prk + info).
Status hkdf(int mode, std::span<const unsigned char> key, std::span<const unsigned char> salt_or_info,
            std::span<unsigned char, kKeySize> out) {
  std::unique_ptr<EVP_KDF, void (*)(EVP_KDF*)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr), EVP_KDF_free);
  if (!kdf) return ssl_fail("HKDF");
  std::unique_ptr<EVP_KDF_CTX, void (*)(EVP_KDF_CTX*)> ctx(EVP_KDF_CTX_new(kdf.get()), EVP_KDF_CTX_free);
  if (!ctx) return ssl_fail("HKDF");
  char digest[] = "SHA256";
  const char* what = mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY ? OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(key.data()), key.size()),
      OSSL_PARAM_construct_octet_string(what, const_cast<unsigned char*>(salt_or_info.data()), salt_or_info.size()),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) return ssl_fail("HKDF");
  return {};
}

}  // namespace

Result<ImageKeys> ImageKeys::derive(const Key& key, std::span<const std::byte> salt) {
  if (salt.size() != kSaltSize) return bad_input("salt of {} bytes, not {}", salt.size(), kSaltSize);
  ImageKeys k;
  std::memcpy(k.salt_.data(), salt.data(), kSaltSize);
  TRY(hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, key.bytes(), k.salt_, k.prk_));
  return k;
}

Result<std::array<unsigned char, kKeySize>> ImageKeys::expand(std::string_view info) const {
  std::array<unsigned char, kKeySize> out{};
  TRY(hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk_,
           std::span(reinterpret_cast<const unsigned char*>(info.data()), info.size()), out));
  return out;
}

Result<Sha256> ImageKeys::inventory_mac(std::string_view data) const {
  auto key = TRY(expand("amber image v1: inventory"));
  Sha256 mac;
  unsigned int len = 0;
  const unsigned char* r = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                                reinterpret_cast<unsigned char*>(mac.data()), &len);
  OPENSSL_cleanse(key.data(), key.size());
  if (!r || len != mac.size()) return ssl_fail("HMAC-SHA256");
  return mac;
}

Result<ChunkAuth> ImageKeys::chunks(std::string_view relpath) const {
  // The NUL keeps "chunks of a" + "b" apart from "chunks of ab" for any
  // future info string; a path holds no NUL (check_relpath).
  ChunkAuth a;
  a.key_ = TRY(expand(fmt::format("amber image v1: chunks of{}{}", '\0', relpath)));
  EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (!c) return ssl_fail("AES-256-GCM");
  a.cipher_ = std::shared_ptr<EVP_CIPHER>(c, EVP_CIPHER_free);
  return a;
}

// ---- metadata ----

Result<Sha256> sha256(std::span<const std::byte> data) {
  Sha256 out;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len, EVP_sha256(),
                 nullptr) != 1)
    return ssl_fail("SHA-256");
  return out;
}

Result<Sha256> sha256(std::span<const std::byte> a, std::span<const std::byte> b) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  Sha256 out;
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1 || EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len) != 1)
    return ssl_fail("SHA-256");
  return out;
}

Result<std::array<std::byte, kSaltSize>> new_salt() {
  std::array<std::byte, kSaltSize> s;
  TRY(fill_random(s.data(), s.size()));
  return s;
}

namespace {

// What the inventory tag covers: the inventory with the tag left empty.
Result<Sha256> inventory_tag(img::Inventory inv, const ImageKeys& keys) {
  inv.mutable_auth()->clear_tag();
  std::string bytes;
  if (!inv.SerializeToString(&bytes)) return failf("cannot serialize the inventory");
  return keys.inventory_mac(bytes);
}

}  // namespace

Status sign_inventory(img::Inventory& inv, const ImageKeys& keys, bool untagged_data) {
  img::ImageAuth& a = *inv.mutable_auth();
  a.set_scheme(kAuthScheme);
  a.set_salt(std::string(reinterpret_cast<const char*>(keys.salt().data()), keys.salt().size()));
  a.set_untagged_data(untagged_data);
  Sha256 tag = TRY(inventory_tag(inv, keys));
  a.set_tag(std::string(reinterpret_cast<const char*>(tag.data()), tag.size()));
  return {};
}

Result<ImageKeys> verify_inventory(const img::Inventory& inv, const Key& key, const std::string& path) {
  if (!inv.has_auth() || inv.auth().tag().empty())
    return bad_input("{}: not authenticated: it has no tag (written by an amber from before images were "
                     "authenticated, or modified)", path);
  const img::ImageAuth& a = inv.auth();
  if (a.scheme() != kAuthScheme)
    return bad_input("{}: authentication scheme {} is not known to this amber", path, a.scheme());
  if (a.salt().size() != kSaltSize || a.tag().size() != kSha256Size) return bad_input("{}: {}", path, kNotAuthentic);
  ImageKeys keys = TRY(ImageKeys::derive(key, std::as_bytes(std::span(a.salt().data(), a.salt().size()))));
  Sha256 tag = TRY(inventory_tag(inv, keys));
  if (CRYPTO_memcmp(tag.data(), a.tag().data(), kSha256Size) != 0) return bad_input("{}: {}", path, kNotAuthentic);
  return keys;
}

Status resign_image(const std::string& dir, const Key& key) {
  const std::string inv_path = fmt::format("{}/{}", dir, kInventoryFile);
  std::string file = TRY(read_file(inv_path));
  if (file.size() < kHeaderSize) return bad_input("{}: truncated", inv_path);
  TRY_CTX(decode_header(std::span<const std::byte, kHeaderSize>(reinterpret_cast<const std::byte*>(file.data()),
                                                                  kHeaderSize)),
          "{}", inv_path);
  img::Inventory inv;
  if (!inv.ParseFromString(file.substr(kHeaderSize))) return bad_input("{}: does not parse", inv_path);
  for (img::FileEntry& f : *inv.mutable_files()) {
    TRY(check_relpath(f.path()));
    const std::string p = fmt::format("{}/{}", dir, f.path());
    const KindInfo* k = find_kind(f.kind());
    if (k && k->prototype) {
      std::string data = TRY(read_file(p));
      f.set_size(data.size());
      Sha256 h = TRY(sha256(data));
      f.set_sha256(std::string(reinterpret_cast<const char*>(h.data()), h.size()));
    } else {
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0) return sys_fail("stat {}", p);
      f.set_size(static_cast<uint64_t>(st.st_size));
    }
  }
  std::array<std::byte, kSaltSize> salt{};
  if (inv.auth().salt().size() == kSaltSize)
    std::memcpy(salt.data(), inv.auth().salt().data(), kSaltSize);
  else
    salt = TRY(new_salt());
  ImageKeys keys = TRY(ImageKeys::derive(key, salt));
  TRY(sign_inventory(inv, keys, inv.auth().untagged_data()));
  std::string payload;
  if (!inv.SerializeToString(&payload)) return failf("{}: cannot serialize", inv_path);
  auto header = encode_header(img::KIND_INVENTORY, payload);
  return write_file_atomic(inv_path,
                           std::string(reinterpret_cast<const char*>(header.data()), header.size()) + payload);
}

}  // namespace amber::image
