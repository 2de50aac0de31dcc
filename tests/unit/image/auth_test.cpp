// Image authentication (image/auth.h): chunk tags bound to their key, file
// and place; key files; the inventory and metadata files refused when edited
// without the key or read with another one.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "base/files.h"
#include "image/auth.h"
#include "image/format.h"
#include "image/layout.h"
#include "image/pages.h"
#include "image/reader.h"
#include "image/writer.h"
#include "image_test_util.h"
#include "test_key.h"

using namespace amber;
using namespace amber::image;
using namespace amber::image::testing;

namespace {

Key other_key() {
  std::array<std::byte, kKeySize> b{};
  b.fill(std::byte{0x42});
  return Key::from_bytes(b);
}

ChunkAuth chunk_auth(const Key& key, std::byte salt_byte, std::string_view file) {
  std::array<std::byte, kSaltSize> salt;
  salt.fill(salt_byte);
  auto keys = ImageKeys::derive(key, salt);
  EXPECT_TRUE(keys) << keys.error().message;
  auto a = keys->chunks(file);
  EXPECT_TRUE(a) << a.error().message;
  return *a;
}

std::vector<std::byte> pattern(size_t n, unsigned seed) {
  // xorshift: no two chunks alike.
  std::vector<std::byte> v(n);
  uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    v[i] = static_cast<std::byte>(x);
  }
  return v;
}

bool verifies(const ChunkAuth& a, uint64_t index, std::span<const std::byte> data, const Tag& tag) {
  auto r = a.verify(index, data, tag);
  EXPECT_TRUE(r) << r.error().message;
  return r && *r;
}

}  // namespace

TEST(Auth, ChunkTagVerifiesOnlyTheSameBytesAtTheSamePlaceWithTheSameKey) {
  const ChunkAuth a = chunk_auth(test_key(), std::byte{1}, "tasks/1/pages-1.bin");
  auto data = pattern(kChunkSize, 1);
  auto tag = a.tag(3, data);
  ASSERT_TRUE(tag) << tag.error().message;
  EXPECT_TRUE(verifies(a, 3, data, *tag));
  EXPECT_EQ(*a.tag(3, data), *tag) << "a tag is a function of key, place and bytes";

  auto flipped = data;
  flipped[12345] ^= std::byte{1};
  EXPECT_FALSE(verifies(a, 3, flipped, *tag)) << "one bit changed";
  EXPECT_FALSE(verifies(a, 3, std::span(data).first(data.size() - 1), *tag)) << "one byte shorter";
  EXPECT_FALSE(verifies(a, 2, data, *tag)) << "the chunk moved to another place in its file";
  EXPECT_FALSE(verifies(chunk_auth(test_key(), std::byte{1}, "tasks/2/pages-2.bin"), 3, data, *tag))
      << "the chunk moved to another file";
  EXPECT_FALSE(verifies(chunk_auth(test_key(), std::byte{2}, "tasks/1/pages-1.bin"), 3, data, *tag))
      << "the same file of another image (salt)";
  EXPECT_FALSE(verifies(chunk_auth(other_key(), std::byte{1}, "tasks/1/pages-1.bin"), 3, data, *tag))
      << "another key";
}

TEST(Auth, StreamTagsEqualChunkTagsWhateverThePieces) {
  const ChunkAuth a = chunk_auth(test_key(), std::byte{9}, "fs/0.bin");
  const size_t chunk = 64 * 1024;
  auto data = pattern(3 * chunk + 1000, 4);
  ChunkStream s(a, chunk);
  for (size_t at = 0, piece = 1; at < data.size(); at += piece, piece = piece * 3 + 7)
    ASSERT_TRUE(s.update(std::span(data).subspan(at, std::min(piece, data.size() - at))));
  auto tags = s.finish();
  ASSERT_TRUE(tags);
  ASSERT_EQ(tags->size(), 4 * kTagSize);
  for (uint64_t c = 0; c < 4; c++) {
    auto piece = std::span(data).subspan(c * chunk, std::min(chunk, data.size() - c * chunk));
    Tag t = *a.tag(c, piece);
    EXPECT_EQ(std::memcmp(t.data(), tags->data() + c * kTagSize, kTagSize), 0) << "chunk " << c;
  }
}

class KeyFiles : public ScratchDir {};

TEST_F(KeyFiles, LoadChecksOwnerModeAndSize) {
  const std::string k = path("k");
  std::string bytes(kKeySize, 'x');
  ASSERT_TRUE(write_new_file(k, bytes, 0600));
  auto key = Key::load(k);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(std::memcmp(key->bytes().data(), bytes.data(), kKeySize), 0);

  ASSERT_EQ(::chmod(k.c_str(), 0640), 0);
  auto g = Key::load(k);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().exit, Exit::BadInput);
  EXPECT_EQ(g.error().message, fmt::format("key file {}: mode 0640 gives group or others access to it (chmod 600 {})", k, k));
  ASSERT_EQ(::chmod(k.c_str(), 0604), 0);
  EXPECT_FALSE(Key::load(k));

  ASSERT_TRUE(write_new_file(path("short"), "abc", 0600));
  auto s = Key::load(path("short"));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("3 bytes, a key is 32 random bytes"), std::string::npos) << s.error().message;
  auto m = Key::load(path("missing"));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().exit, Exit::BadInput);
  EXPECT_EQ(m.error().message, fmt::format("key file {}: missing", path("missing")));
  if (::geteuid() == 0) {
    ASSERT_EQ(::chmod(k.c_str(), 0600), 0);
    ASSERT_EQ(::chown(k.c_str(), 1000, 1000), 0);
    auto o = Key::load(k);
    ASSERT_FALSE(o);
    EXPECT_NE(o.error().message.find("owned by uid 1000, not by root"), std::string::npos) << o.error().message;
  }
}

TEST_F(KeyFiles, HostKeyIsMadeOnFirstUseForTheOwnerOnly) {
  const std::string k = path("state/amber/image.key");
  ASSERT_EQ(::setenv("AMBER_KEY_FILE", k.c_str(), 1), 0);
  auto first = Key::host();
  auto again = Key::host();
  ::unsetenv("AMBER_KEY_FILE");
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(std::memcmp(first->bytes().data(), again->bytes().data(), kKeySize), 0) << "made once, then read";
  struct stat st {};
  ASSERT_EQ(::stat(k.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kKeySize));
  ASSERT_EQ(::stat(path("state/amber").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  std::string zero(kKeySize, '\0');
  EXPECT_NE(std::memcmp(first->bytes().data(), zero.data(), kKeySize), 0);
  // --key names an existing file: a typo must not make a new key.
  EXPECT_FALSE(Key::for_option(path("no-such.key")));
}

class AuthImage : public ScratchDir {};

TEST_F(AuthImage, AnotherKeyIsRefusedNamingTheInventory) {
  const std::string dir = path("img");
  write_sample_image(dir);
  ASSERT_TRUE(ImageReader::open(dir, test_key()));
  auto r = ImageReader::open(dir, other_key());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  EXPECT_EQ(r.error().message,
            dir + "/inventory.img: not authenticated with this key (modified, or made with another key)");
}

// What tests/e2e/tools/image_edit --no-sign does: a field changed, every
// XXH3 (and the SHA-256 of the file) recomputed, no key.
TEST_F(AuthImage, HandEditedFilesAreNotAuthenticated) {
  const std::string dir = path("img");
  write_sample_image(dir);
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  img::Task t = *r->read<img::Task>(task_path(1), img::KIND_TASK);
  for (int i = 0; i < 4; i++) t.mutable_threads(0)->mutable_creds()->add_uids(0);
  t.set_cwd("/root");
  std::string payload = t.SerializeAsString();
  auto h = encode_header(img::KIND_TASK, payload);
  std::string file = std::string(reinterpret_cast<const char*>(h.data()), h.size()) + payload;
  ASSERT_TRUE(write_new_file(dir + "/" + task_path(1), file));

  // The inventory as it was (its sizes are stale, its SHA-256 too).
  auto st = r->read<img::Task>(task_path(1), img::KIND_TASK);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, dir + "/" + task_path(1) + ": " + std::string(kNotAuthentic));

  // The inventory edited to match, without the key: its tag refuses it.
  img::Inventory inv = r->inventory();
  for (auto& f : *inv.mutable_files())
    if (f.path() == task_path(1)) {
      f.set_size(file.size());
      f.set_sha256(std::string(reinterpret_cast<const char*>(sha256(file)->data()), kSha256Size));
    }
  std::string ip = inv.SerializeAsString();
  auto ih = encode_header(img::KIND_INVENTORY, ip);
  ASSERT_TRUE(write_new_file(dir + "/inventory.img", std::string(reinterpret_cast<const char*>(ih.data()), ih.size()) + ip));
  auto r2 = ImageReader::open(dir, test_key());
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message, dir + "/inventory.img: " + std::string(kNotAuthentic));

  // Signed with the key (what a test tool may do): read as edited.
  ASSERT_TRUE(resign_image(dir, test_key()));
  auto r3 = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r3) << r3.error().message;
  EXPECT_EQ(r3->read<img::Task>(task_path(1), img::KIND_TASK)->cwd(), "/root");
  EXPECT_TRUE(r3->validate());
}

TEST_F(AuthImage, AnUnsignedImageIsRefused) {
  const std::string dir = path("img");
  write_sample_image(dir);
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  img::Inventory inv = r->inventory();
  inv.clear_auth();
  std::string ip = inv.SerializeAsString();
  auto ih = encode_header(img::KIND_INVENTORY, ip);
  ASSERT_TRUE(write_new_file(dir + "/inventory.img", std::string(reinterpret_cast<const char*>(ih.data()), ih.size()) + ip));
  auto r2 = ImageReader::open(dir, test_key());
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().exit, Exit::BadInput);
  EXPECT_NE(r2.error().message.find("inventory.img: not authenticated: it has no tag"), std::string::npos)
      << r2.error().message;
}

// Page data: chunks swapped inside a file, or a whole data file put in the
// place of another task's (its index edited to match and signed), fail.
TEST_F(AuthImage, SwappedOrMovedPageChunksFail) {
  const std::string dir = path("img");
  {
    auto w = ImageWriter::create(dir, test_key());
    ASSERT_TRUE(w);
    for (pid_t pid : {1, 2}) {
      auto pw = PageWriter::create(*w, pages_index_path(pid), pages_data_path(pid));
      ASSERT_TRUE(pw);
      auto data = pattern(2 * kChunkSize, pid);
      ASSERT_TRUE(pw->plan(std::vector<PageWriter::Run>{{0x100000, data.size()}}));
      ASSERT_TRUE(pw->write_at(0, data));
      ASSERT_TRUE(pw->finish());
    }
    ASSERT_TRUE(w->commit());
  }
  auto verify = [&](pid_t pid) -> Status {
    auto r = TRY(ImageReader::open(dir, test_key()));
    auto p = TRY(PageReader::open(r, pages_index_path(pid)));
    return p.verify_all();
  };
  ASSERT_TRUE(verify(1));
  ASSERT_TRUE(verify(2));

  // Swap the two chunks of task 1's data.
  const std::string d1 = dir + "/" + pages_data_path(1), d2 = dir + "/" + pages_data_path(2);
  std::string b1 = *read_file(d1);
  std::string swapped = b1.substr(kChunkSize) + b1.substr(0, kChunkSize);
  ASSERT_TRUE(write_new_file(d1, swapped));
  auto st = verify(1);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().exit, Exit::BadInput);
  EXPECT_NE(st.error().message.find("pages-1.bin: chunk 0 (bytes 0..1048576) not authenticated"), std::string::npos)
      << st.error().message;

  // Task 2's data and tags in task 1's place: the tags were made for
  // pages-2.bin, so under pages-1.bin's key they do not hold.
  ASSERT_TRUE(write_new_file(d1, *read_file(d2)));
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  img::PagesIndex i2 = *r->read<img::PagesIndex>(pages_index_path(2), img::KIND_PAGES_INDEX);
  i2.set_data_file(pages_data_path(1));
  std::string payload = i2.SerializeAsString();
  auto h = encode_header(img::KIND_PAGES_INDEX, payload);
  ASSERT_TRUE(write_new_file(dir + "/" + pages_index_path(1),
                             std::string(reinterpret_cast<const char*>(h.data()), h.size()) + payload));
  ASSERT_TRUE(resign_image(dir, test_key()));
  st = verify(1);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("not authenticated with this key"), std::string::npos) << st.error().message;
}

// AMBER_INSECURE_NO_AUTH=1 (benchmarks' baseline): XXH3 per chunk, no tag;
// a reader without the switch refuses the image, with it reads it.
TEST_F(AuthImage, UntaggedDataOnlyWithTheInsecureSwitch) {
  const std::string dir = path("img");
  ASSERT_EQ(::setenv("AMBER_INSECURE_NO_AUTH", "1", 1), 0);
  write_sample_image(dir);
  auto with = ImageReader::open(dir, test_key());
  ::unsetenv("AMBER_INSECURE_NO_AUTH");
  ASSERT_TRUE(with) << with.error().message;
  EXPECT_TRUE(with->inventory().auth().untagged_data());
  auto p = PageReader::open(*with, pages_index_path(1));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->index().chunk_tags().empty());
  EXPECT_GT(p->index().chunk_xxh3_size(), 0);
  EXPECT_TRUE(p->verify_all());

  auto without = ImageReader::open(dir, test_key());
  ASSERT_FALSE(without);
  EXPECT_EQ(without.error().exit, Exit::BadInput);
  EXPECT_NE(without.error().message.find("AMBER_INSECURE_NO_AUTH"), std::string::npos) << without.error().message;
}
