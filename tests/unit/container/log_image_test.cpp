// The container's log in the image (container/log_image.h): copied whole
// and tagged, most of it before the hold, what was appended meanwhile while
// held, all of it again if the first part changed; appended to a new log
// only as verified chunks; an empty or missing log leaves nothing; a changed
// byte, a missing file, a wrong size or tag count is refused.
#include "container/log_image.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <string>

#include "base/files.h"
#include "image/layout.h"
#include "image/pages.h"
#include "image/reader.h"
#include "image/writer.h"
#include "../image/image_test_util.h"
#include "test_key.h"

using namespace amber;
using namespace amber::image;
using namespace amber::image::testing;

namespace {

class LogImageTest : public ScratchDir {
 protected:
  // An image of the log: `log` when the dump starts, `held` (if given)
  // once the container is held; committed. The ContainerLog the dump made.
  std::optional<img::ContainerLog> dump(const std::string& log, std::optional<std::string> held = std::nullopt,
                                        bool make_log_file = true) {
    if (make_log_file) EXPECT_TRUE(write_new_file(path("log"), log));
    auto w = ImageWriter::create(path("img"), test_key());
    EXPECT_TRUE(w) << w.error().message;
    auto copy = container::LogCopy::start(path("log"), *w);
    EXPECT_TRUE(copy) << copy.error().message;
    // Rewritten in place (same inode, as the container's fds see it).
    if (held) EXPECT_TRUE(write_file_in_place(*held));
    auto r = copy->finish();
    EXPECT_TRUE(r) << r.error().message;
    img::Container c;
    if (*r) *c.mutable_log() = **r;
    EXPECT_TRUE(w->write(container_path(), img::KIND_CONTAINER, c));
    EXPECT_TRUE(w->commit());
    return *r;
  }
  Status write_file_in_place(const std::string& data) {
    UniqueFd fd = TRY(open_fd(path("log"), O_WRONLY | O_TRUNC));
    return write_all(fd.get(), data.data(), data.size());
  }
  ImageReader reader() {
    auto r = ImageReader::open(path("img"), test_key());
    EXPECT_TRUE(r) << r.error().message;
    return std::move(*r);
  }
  // What restore_log appends to a log that already holds `already`.
  Result<std::string> restore(const img::ContainerLog& log, const std::string& already = "") {
    EXPECT_TRUE(write_new_file(path("new-log"), already));
    UniqueFd fd = TRY(open_fd(path("new-log"), O_WRONLY | O_APPEND));
    TRY(container::restore_log(reader(), log, fd.get()));
    return read_file(path("new-log"));
  }
};

std::string text(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; i++) s += "line " + std::to_string(i) + "\n";
  s.resize(n);
  return s;
}

TEST_F(LogImageTest, RoundTripOfSeveralChunksAppendsToTheNewLog) {
  const std::string log = text(2 * kChunkSize + 12345);
  auto l = dump(log);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->data_file(), log_data_path());
  EXPECT_EQ(l->size(), log.size());
  EXPECT_EQ(l->chunk_tags().size(), 3 * kTagSize);
  EXPECT_EQ(*read_file(path("img/log.bin")), log);
  ASSERT_TRUE(reader().validate());
  ASSERT_TRUE(container::check_log(reader(), *l, /*verify_data=*/true));
  auto out = restore(*l, "already there\n");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "already there\n" + log);
}

TEST_F(LogImageTest, WhatIsAppendedBeforeTheHoldIsCopiedThen) {
  const std::string first = text(kChunkSize + 300), more = text(kChunkSize + 777);
  auto l = dump(first, first + more);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->size(), first.size() + more.size());
  EXPECT_EQ(l->chunk_tags().size(), 3 * kTagSize);
  ASSERT_TRUE(container::check_log(reader(), *l, /*verify_data=*/true));
  auto out = restore(*l);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, first + more);
}

TEST_F(LogImageTest, ALogRewrittenOrTruncatedBeforeTheHoldIsCopiedAgain) {
  const std::string first = text(2 * kChunkSize + 10);
  std::string rewritten = first;
  rewritten[kChunkSize + 3] = '#';  // same size, one byte changed in the middle
  for (const std::string& held : {rewritten + "and more\n", std::string("short\n"), std::string()}) {
    ASSERT_TRUE(remove_tree(path("img")));
    auto l = dump(first, held);
    ASSERT_TRUE(l);  // log.bin was made by the first copy (emptied: an empty record)
    EXPECT_EQ(l->size(), held.size());
    ASSERT_TRUE(container::check_log(reader(), *l, /*verify_data=*/true)) << held.size();
    auto out = restore(*l);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out, held) << held.size();
  }
}

TEST_F(LogImageTest, AnEmptyOrMissingLogLeavesNothing) {
  EXPECT_FALSE(dump(""));
  EXPECT_EQ(reader().find(log_data_path()), nullptr);
  ASSERT_TRUE(remove_tree(path("img")));
  ASSERT_EQ(::unlink(path("log").c_str()), 0);
  EXPECT_FALSE(dump("", std::nullopt, /*make_log_file=*/false));
}

TEST_F(LogImageTest, AChangedByteIsRefusedAndNothingOfItsChunkIsWritten) {
  const std::string log = text(kChunkSize + 100);
  auto l = dump(log);
  ASSERT_TRUE(l);
  flip_byte(path("img/log.bin"), kChunkSize + 7);
  ASSERT_TRUE(container::check_log(reader(), *l, /*verify_data=*/false));  // sizes still hold
  auto v = container::check_log(reader(), *l, /*verify_data=*/true);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().exit, Exit::BadInput);
  EXPECT_NE(v.error().message.find("log.bin: chunk 1"), std::string::npos) << v.error().message;
  auto out = restore(*l);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find(std::string(kNotAuthentic)), std::string::npos) << out.error().message;
  EXPECT_EQ(*read_file(path("new-log")), log.substr(0, kChunkSize));  // chunk 0 only: it verified
}

TEST_F(LogImageTest, ARecordThatDisagreesWithTheImageIsRefused) {
  auto l = dump(text(5000));
  ASSERT_TRUE(l);
  auto refused = [&](img::ContainerLog bad, const std::string& what) {
    auto r = container::check_log(reader(), bad, false);
    ASSERT_FALSE(r) << what;
    EXPECT_EQ(r.error().exit, Exit::BadInput) << what;
    EXPECT_FALSE(restore(bad)) << what;
  };
  img::ContainerLog bad = *l;
  bad.set_size(l->size() + 1);
  refused(bad, "size");
  bad = *l;
  bad.set_data_file("tasks/1/task.img");
  refused(bad, "another file");
  bad = *l;
  bad.set_chunk_tags(l->chunk_tags() + l->chunk_tags());
  refused(bad, "tag count");
}

}  // namespace
