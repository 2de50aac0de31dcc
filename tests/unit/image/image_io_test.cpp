// ImageWriter / ImageReader: round trips of every kind, refusals of bad files
// with the file named, commit atomicity.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>

#include "base/files.h"
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

class ImageIo : public ScratchDir {
 protected:
  void write_sample(const std::string& dir) { write_sample_image(dir); }

  // The error of reading `rel` of image `dir` as `kind`.
  Error read_error(const std::string& dir, const std::string& rel, Kind kind) {
    auto r = ImageReader::open(dir, test_key());
    EXPECT_TRUE(r) << r.error().message;
    if (!r) return r.error();
    img::Task t;
    auto st = r->read_message(rel, kind, t);
    EXPECT_FALSE(st);
    return st ? Error{} : st.error();
  }
};

TEST_F(ImageIo, RoundTripOfEveryKind) {
  std::string dir = path("img");
  write_sample(dir);
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->validate()) << r->validate().error().message;

  auto c = r->read<img::Container>(container_path(), img::KIND_CONTAINER);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(same(*c, sample_container()));
  auto t1 = r->read<img::Task>(task_path(1), img::KIND_TASK);
  ASSERT_TRUE(t1) << t1.error().message;
  EXPECT_TRUE(same(*t1, sample_task(1, 0)));
  EXPECT_EQ(t1->cwd(), "/srv/\xff\xfe-not-utf8");  // not UTF-8, still there
  auto t7 = r->read<img::Task>(task_path(7), img::KIND_TASK);
  ASSERT_TRUE(t7);
  EXPECT_EQ(t7->files_shared_with(), 1);
  auto mm = r->read<img::Mm>(mm_path(1), img::KIND_MM);
  ASSERT_TRUE(mm) << mm.error().message;
  EXPECT_TRUE(same(*mm, sample_mm(pages_index_path(1))));
  auto files = r->read<img::Files>(files_path(1), img::KIND_FILES);
  ASSERT_TRUE(files) << files.error().message;
  EXPECT_TRUE(same(*files, sample_files()));
  auto ix = r->read<img::PagesIndex>(pages_index_path(1), img::KIND_PAGES_INDEX);
  ASSERT_TRUE(ix) << ix.error().message;
  EXPECT_EQ(ix->total_size(), 4 * kPageSize);
  EXPECT_EQ(ix->runs_size(), 2);

  // The inventory lists every file (in write order) with its real size.
  const img::Inventory& inv = r->inventory();
  ASSERT_EQ(inv.files_size(), 8);
  EXPECT_EQ(inv.files(0).path(), "container.img");
  EXPECT_EQ(inv.files(0).kind(), img::KIND_CONTAINER);
  for (const img::FileEntry& f : inv.files())
    EXPECT_EQ(static_cast<off_t>(f.size()), file_size(dir + "/" + f.path())) << f.path();
  EXPECT_EQ(inv.files(6).kind(), img::KIND_PAGES_DATA);
  EXPECT_EQ(inv.files(6).size(), 4 * kPageSize);
  EXPECT_EQ(inv.amber_version(), kAmberVersion);
  EXPECT_EQ(inv.page_size(), static_cast<uint32_t>(sysconf(_SC_PAGESIZE)));
  utsname u{};
  ASSERT_EQ(uname(&u), 0);
  EXPECT_EQ(inv.kernel_release(), u.release);
  EXPECT_NEAR(static_cast<double>(inv.created().seconds()), static_cast<double>(time(nullptr)), 60);
}

TEST_F(ImageIo, HeaderLayoutIsFixed) {
  std::string dir = path("img");
  write_sample(dir);
  auto raw = read_file(dir + "/" + task_path(1));
  ASSERT_TRUE(raw);
  ASSERT_GE(raw->size(), kHeaderSize);
  EXPECT_EQ(std::memcmp(raw->data(), "AMBRIMG\0", 8), 0);
  uint32_t version, kind;
  uint64_t len;
  std::memcpy(&version, raw->data() + 8, 4);
  std::memcpy(&kind, raw->data() + 12, 4);
  std::memcpy(&len, raw->data() + 16, 8);
  EXPECT_EQ(version, 3u);
  EXPECT_EQ(kind, static_cast<uint32_t>(img::KIND_TASK));
  EXPECT_EQ(len, raw->size() - kHeaderSize);
  img::Task t;
  ASSERT_TRUE(t.ParseFromString(raw->substr(kHeaderSize)));
  EXPECT_EQ(t.pid(), 1);
}

TEST_F(ImageIo, MissingImageOrFileIsBadInput) {
  auto r = ImageReader::open(path("nope"), test_key());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  EXPECT_NE(r.error().message.find(path("nope")), std::string::npos) << r.error().message;

  ASSERT_EQ(mkdir(path("empty").c_str(), 0755), 0);
  auto e = ImageReader::open(path("empty"), test_key());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().exit, Exit::BadInput);
  EXPECT_NE(e.error().message.find("inventory.img: missing"), std::string::npos) << e.error().message;

  std::string dir = path("img");
  write_sample(dir);
  Error err = read_error(dir, "tasks/99/task.img", img::KIND_TASK);
  EXPECT_EQ(err.exit, Exit::BadInput);
  EXPECT_EQ(err.message, dir + "/tasks/99/task.img: missing (not in the inventory)");

  // A file listed in the inventory but gone: validate() names it.
  ASSERT_EQ(unlink((dir + "/" + files_path(1)).c_str()), 0);
  auto r2 = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r2);
  auto v = r2->validate();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().exit, Exit::BadInput);
  EXPECT_EQ(v.error().message, dir + "/" + files_path(1) + ": missing");
}

TEST_F(ImageIo, RefusesBadMagic) {
  std::string dir = path("img");
  write_sample(dir);
  std::string f = dir + "/" + task_path(1);
  flip_byte(f, 2);
  Error e = read_error(dir, task_path(1), img::KIND_TASK);
  EXPECT_EQ(e.exit, Exit::BadInput);
  EXPECT_EQ(e.message, f + ": not an amber image file (bad magic)");
}

TEST_F(ImageIo, RefusesWrongKind) {
  std::string dir = path("img");
  write_sample(dir);
  Error e = read_error(dir, task_path(1), img::KIND_MM);
  EXPECT_EQ(e.exit, Exit::BadInput);
  EXPECT_EQ(e.message, dir + "/" + task_path(1) + ": wrong kind: a task file where a mm file belongs");
}

TEST_F(ImageIo, RefusesNewerVersion) {
  std::string dir = path("img");
  write_sample(dir);
  std::string f = dir + "/" + task_path(1);
  // A newer amber may change the rest of the header: the version alone decides.
  int fd = open(f.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  uint32_t v = 7;
  ASSERT_EQ(pwrite(fd, &v, 4, 8), 4);
  close(fd);
  Error e = read_error(dir, task_path(1), img::KIND_TASK);
  EXPECT_EQ(e.exit, Exit::BadInput);
  EXPECT_EQ(e.message, f + ": written by a newer amber: format version 7, this amber reads up to 3");

  // Also when it is the inventory: the image cannot even be opened.
  std::string inv = dir + "/inventory.img";
  fd = open(inv.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, &v, 4, 8), 4);
  close(fd);
  auto r = ImageReader::open(dir, test_key());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit, Exit::BadInput);
  EXPECT_EQ(r.error().message, inv + ": written by a newer amber: format version 7, this amber reads up to 3");
}

TEST_F(ImageIo, RefusesFlippedHeaderAndPayloadBytes) {
  std::string dir = path("img");
  write_sample(dir);
  std::string f = dir + "/" + mm_path(1);
  flip_byte(f, 20);  // payload length field
  Error e = read_error(dir, mm_path(1), img::KIND_MM);
  EXPECT_EQ(e.exit, Exit::BadInput);
  EXPECT_EQ(e.message, f + ": corrupt: header checksum mismatch");
  flip_byte(f, 20);

  off_t size = file_size(f);
  flip_byte(f, size - 3);
  e = read_error(dir, mm_path(1), img::KIND_MM);
  EXPECT_EQ(e.exit, Exit::BadInput);
  EXPECT_EQ(e.message, f + ": corrupt: payload checksum mismatch");

  // validate() finds it without being told where to look.
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  auto v = r->validate();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().exit, Exit::BadInput);
  EXPECT_EQ(v.error().message, f + ": corrupt: payload checksum mismatch");
}

TEST_F(ImageIo, RefusesTruncatedMetadata) {
  std::string dir = path("img");
  write_sample(dir);
  std::string f = dir + "/" + task_path(1);
  off_t size = file_size(f);
  truncate_by(f, 5);
  Error e = read_error(dir, task_path(1), img::KIND_TASK);
  EXPECT_EQ(e.exit, Exit::BadInput);
  EXPECT_EQ(e.message, fmt::format("{}: truncated: payload is {} bytes, the header says {}", f,
                                   size - 5 - kHeaderSize, size - kHeaderSize));
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  auto v = r->validate();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message, fmt::format("{}: truncated: {} bytes, the inventory says {}", f, size - 5, size));

  // Shorter than the header itself.
  ASSERT_EQ(truncate(f.c_str(), 10), 0);
  e = read_error(dir, task_path(1), img::KIND_TASK);
  EXPECT_EQ(e.message, f + ": truncated: 10 bytes, shorter than the header");

  // The inventory itself truncated: the image does not open.
  truncate_by(dir + "/inventory.img", 1);
  auto r2 = ImageReader::open(dir, test_key());
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().exit, Exit::BadInput);
  EXPECT_NE(r2.error().message.find("inventory.img: truncated"), std::string::npos) << r2.error().message;
}

TEST_F(ImageIo, RefusesTrailingDataAndUnparsablePayload) {
  std::string dir = path("img");
  write_sample(dir);
  std::string f = dir + "/" + task_path(1);
  auto orig = read_file(f);
  ASSERT_TRUE(orig);
  ASSERT_TRUE(write_new_file(f, *orig + "xyz"));
  Error e = read_error(dir, task_path(1), img::KIND_TASK);
  EXPECT_EQ(e.message, f + ": corrupt: 3 bytes after the payload");

  // Checksums right, payload not a Task (field 1 as a length-delimited run
  // longer than the message).
  std::string junk = "\x0a\x7f\x01\x02";
  auto h = encode_header(img::KIND_TASK, junk);
  ASSERT_TRUE(write_new_file(f, std::string(reinterpret_cast<const char*>(h.data()), h.size()) + junk));
  e = read_error(dir, task_path(1), img::KIND_TASK);
  EXPECT_EQ(e.message, f + ": not authenticated with this key (modified, or made with another key)");
  // Signed with the key (as a test tool does): the parse is what refuses it.
  ASSERT_TRUE(resign_image(dir, test_key()));
  e = read_error(dir, task_path(1), img::KIND_TASK);
  EXPECT_EQ(e.exit, Exit::BadInput);
  EXPECT_EQ(e.message, f + ": corrupt: payload does not parse as amber.img.Task");
}

// An inventory that a user edited: unknown kinds and paths out of the image.
TEST_F(ImageIo, RefusesHostileInventory) {
  std::string dir = path("img");
  write_sample(dir);
  std::string inv_path = dir + "/inventory.img";
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  // Signed with the key: the edits reach the checks behind the tag (an
  // unsigned edit: HandEditedFilesAreNotAuthenticated).
  auto rewrite = [&](img::Inventory inv) {
    const std::string& salt = inv.auth().salt();
    auto keys = ImageKeys::derive(test_key(), std::as_bytes(std::span(salt.data(), salt.size())));
    ASSERT_TRUE(keys);
    ASSERT_TRUE(sign_inventory(inv, *keys, false));
    std::string payload = inv.SerializeAsString();
    auto h = encode_header(img::KIND_INVENTORY, payload);
    ASSERT_TRUE(write_new_file(inv_path, std::string(reinterpret_cast<const char*>(h.data()), h.size()) + payload));
  };

  img::Inventory escape = r->inventory();
  escape.mutable_files(0)->set_path("../../etc/passwd");
  rewrite(escape);
  auto r1 = ImageReader::open(dir, test_key());
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().exit, Exit::BadInput);
  EXPECT_NE(r1.error().message.find("'../../etc/passwd' leaves or bends the image directory"), std::string::npos)
      << r1.error().message;

  // Found by the fuzzer: names the file system refuses with ENAMETOOLONG
  // made validate() fail with exit 1 instead of refusing the image.
  for (const std::string& long_path : {"tasks/" + std::string(256, 'a'), "tasks/" + std::string(1100, 'b')}) {
    img::Inventory too_long = r->inventory();
    too_long.mutable_files(0)->set_path(long_path);
    rewrite(too_long);
    auto rl = ImageReader::open(dir, test_key());
    ASSERT_FALSE(rl);
    EXPECT_EQ(rl.error().exit, Exit::BadInput);
    EXPECT_NE(rl.error().message.find("longer than"), std::string::npos) << rl.error().message;
  }

  // Found by the fuzzer: a directory listed with its size passed the size
  // check, then read() failed with EISDIR (exit 1, not a refusal).
  img::Inventory a_dir = r->inventory();
  a_dir.mutable_files(0)->set_path("tasks");
  a_dir.mutable_files(0)->set_size(static_cast<uint64_t>(file_size(dir + "/tasks")));
  rewrite(a_dir);
  auto rd = ImageReader::open(dir, test_key());
  ASSERT_TRUE(rd);
  auto vd = rd->validate();
  ASSERT_FALSE(vd);
  EXPECT_EQ(vd.error().exit, Exit::BadInput);
  EXPECT_EQ(vd.error().message, dir + "/tasks: not a regular file");

  img::Inventory unknown = r->inventory();
  unknown.mutable_files(0)->set_kind(static_cast<img::FileKind>(42));
  rewrite(unknown);
  auto r2 = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r2);
  auto v = r2->validate();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().exit, Exit::BadInput);
  EXPECT_EQ(v.error().message, dir + "/container.img: unknown kind 42 (written by a newer amber?)");

  img::Inventory wrong_size = r->inventory();
  wrong_size.mutable_files(1)->set_size(wrong_size.files(1).size() - 1);
  rewrite(wrong_size);
  auto r3 = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r3);
  auto v3 = r3->validate();
  ASSERT_FALSE(v3);
  EXPECT_NE(v3.error().message.find(task_path(1) + ": corrupt:"), std::string::npos) << v3.error().message;
}

TEST_F(ImageIo, WriterCommitIsAtomic) {
  std::string dir = path("img");
  {
    auto w = ImageWriter::create(dir, test_key());
    ASSERT_TRUE(w) << w.error().message;
    std::string tmp = w->tmp_dir();
    EXPECT_EQ(tmp, fmt::format("{}.tmp-{}", dir, getpid()));
    EXPECT_TRUE(path_exists(tmp));
    ASSERT_TRUE(w->write(task_path(1), img::KIND_TASK, sample_task(1, 0)));
    EXPECT_TRUE(path_exists(tmp + "/" + task_path(1)));
    EXPECT_FALSE(path_exists(dir)) << "an image must not appear before commit()";
    ASSERT_TRUE(w->commit());
    EXPECT_TRUE(path_exists(dir + "/inventory.img"));
    EXPECT_TRUE(path_exists(dir + "/" + task_path(1)));
    EXPECT_FALSE(path_exists(tmp));
    EXPECT_FALSE(w->commit()) << "commit twice";
    EXPECT_FALSE(w->write("x.img", img::KIND_TASK, sample_task(1, 0)));
  }
  EXPECT_TRUE(path_exists(dir + "/inventory.img")) << "the destructor of a committed writer removed the image";
  EXPECT_TRUE(ImageReader::open(dir, test_key()));
}

TEST_F(ImageIo, WriterWithoutCommitLeavesNothing) {
  std::string dir = path("img");
  std::string tmp;
  {
    auto w = ImageWriter::create(dir, test_key());
    ASSERT_TRUE(w);
    tmp = w->tmp_dir();
    ASSERT_TRUE(w->write(task_path(1), img::KIND_TASK, sample_task(1, 0)));
    auto pw = PageWriter::create(*w, pages_index_path(1), pages_data_path(1));
    ASSERT_TRUE(pw);
    std::vector<std::byte> page(kPageSize, std::byte{1});
    ASSERT_TRUE(pw->append(0x1000, page));
    // Moving the writer hands the temporary directory over, not removes it.
    ImageWriter moved(std::move(*w));
    EXPECT_TRUE(path_exists(tmp + "/" + task_path(1)));
  }
  EXPECT_FALSE(path_exists(tmp));
  EXPECT_FALSE(path_exists(dir));
}

TEST_F(ImageIo, WriterRefusesExistingDir) {
  std::string dir = path("img");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  auto w = ImageWriter::create(dir, test_key());
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().exit, Exit::BadInput);
  EXPECT_EQ(w.error().message, dir + ": image directory exists");
  EXPECT_FALSE(path_exists(fmt::format("{}.tmp-{}", dir, getpid())));

  // A directory that appears while the dump runs is not replaced either,
  // even an empty one (rename(2) would silently replace it).
  std::string dir2 = path("img2");
  {
    auto w2 = ImageWriter::create(dir2, test_key());
    ASSERT_TRUE(w2);
    ASSERT_TRUE(w2->write(task_path(1), img::KIND_TASK, sample_task(1, 0)));
    ASSERT_EQ(mkdir(dir2.c_str(), 0755), 0);
    auto c = w2->commit();
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().exit, Exit::BadInput);
    EXPECT_EQ(c.error().message, dir2 + ": image directory exists");
  }
  EXPECT_FALSE(path_exists(dir2 + "/inventory.img"));
  EXPECT_FALSE(path_exists(fmt::format("{}.tmp-{}", dir2, getpid())));

  auto w3 = ImageWriter::create(path("no/such/parent/img"), test_key());
  ASSERT_FALSE(w3);
  EXPECT_EQ(w3.error().exit, Exit::BadInput);
}

TEST_F(ImageIo, WriterRefusesBadPaths) {
  auto w = ImageWriter::create(path("img"), test_key());
  ASSERT_TRUE(w);
  img::Task t = sample_task(1, 0);
  EXPECT_FALSE(w->write("", img::KIND_TASK, t));
  EXPECT_FALSE(w->write("/etc/x.img", img::KIND_TASK, t));
  EXPECT_FALSE(w->write("tasks/../../x.img", img::KIND_TASK, t));
  EXPECT_FALSE(w->write("tasks//x.img", img::KIND_TASK, t));
  EXPECT_FALSE(w->write("inventory.img", img::KIND_TASK, t));
  EXPECT_TRUE(w->write("a/b/c.img", img::KIND_TASK, t));
  EXPECT_FALSE(w->write("a/b/c.img", img::KIND_TASK, t)) << "written twice";
  EXPECT_FALSE(path_exists(path("x.img")));
}

TEST(ImageFormat, KindRegistry) {
  // Every value of the proto enum has a registry line.
  const auto* e = img::FileKind_descriptor();
  for (int i = 0; i < e->value_count(); i++) {
    uint32_t k = static_cast<uint32_t>(e->value(i)->number());
    if (k == img::KIND_UNSPECIFIED) continue;
    const KindInfo* info = find_kind(k);
    ASSERT_NE(info, nullptr) << e->value(i)->name();
    EXPECT_EQ(static_cast<uint32_t>(info->kind), k);
    bool raw = k == img::KIND_PAGES_DATA || k == img::KIND_FS_DATA || k == img::KIND_LOG_DATA;
    EXPECT_EQ(new_message(k) != nullptr, !raw) << k;
  }
  EXPECT_EQ(find_kind(0), nullptr);
  EXPECT_EQ(find_kind(99), nullptr);
  EXPECT_EQ(kind_name(img::KIND_TASK), "task");
  EXPECT_EQ(kind_name(99), "unknown kind 99");
  EXPECT_EQ(new_message(img::KIND_MM)->GetTypeName(), "amber.img.Mm");
}

TEST(ImageFormat, HeaderRoundTrip) {
  std::string payload = "hello";
  auto h = encode_header(img::KIND_FILES, payload);
  auto d = decode_header(h);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->version, kFormatVersion);
  EXPECT_EQ(d->kind, static_cast<uint32_t>(img::KIND_FILES));
  EXPECT_EQ(d->payload_len, payload.size());
  EXPECT_EQ(d->payload_xxh3, xxh3(payload));
  for (size_t i = 0; i < kHeaderSize; i++) {
    auto bad = h;
    bad[i] ^= std::byte{0x01};
    EXPECT_FALSE(decode_header(bad)) << "flipped bit in header byte " << i << " went unnoticed";
  }
  h[8] = std::byte{0};  // version 0 never existed
  h[9] = std::byte{0};
  EXPECT_FALSE(decode_header(h));
}

}  // namespace
