// amber show's renderings: the text names what matters, the JSON document is
// valid JSON holding the inventory and every metadata file.
#include <gtest/gtest.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "image/describe.h"
#include "image/layout.h"
#include "image/reader.h"
#include "image_test_util.h"
#include "test_key.h"

using namespace amber;
using namespace amber::image;
using namespace amber::image::testing;

namespace {

class Describe : public ScratchDir {};

TEST_F(Describe, TextShowsContainerTreeMemoryAndFds) {
  std::string dir = path("img");
  write_sample_image(dir);
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  auto text = describe_text(*r);
  ASSERT_TRUE(text) << text.error().message;
  const std::string& t = *text;
  for (const char* want : {
           "authenticated with this key: metadata by HMAC-SHA256, data by a GMAC tag per 1 MiB chunk",
           "container 'web'",
           "command: /bin/sh -c sleep 1000",
           "uts: hostname 'web-host', domainname 'example'",
           "net 4026532003 (external)",
           "/proc type proc from proc",
           "UNSUPPORTED sysv msg queue 3: not implemented yet",
           "process tree (2 tasks, init 1):",
           "  1 'sh': ppid 0 pgid 1 sid 1, alive",
           "    7 'sleep': ppid 1 pgid 1 sid 1, alive",  // indented under its parent
           "in syscall 35 (ret -516)",
           "rseq 0x7f0000001000",
           "cwd /srv/\\xff\\xfe-not-utf8, root /, umask 022, 1 rlimits",
           "signal handlers: SIGTERM -> 0x401234, SIGPIPE ignored",
           "memory: 5 areas, 4 pages in the store (16.0 KiB), exe /bin/sh",
           "fds: shared with task 1",
           "io_uring instance",
           "pages-data",
       })
    EXPECT_NE(t.find(want), std::string::npos) << "missing '" << want << "' in:\n" << t;
  // Stored page counts per area: [heap] 1 of 1, [stack] 2 of 2 (the third
  // appended page lies past the area), the file mapping none.
  EXPECT_NE(t.find("0x404000-0x405000 rw-p        1 pages        1 stored  anon [heap]"), std::string::npos) << t;
  EXPECT_NE(t.find("0x7ffffff0000-0x7ffffff2000 rw-p        2 pages        2 stored  anon,growsdown [stack]"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("0x400000-0x401000 r-xp        1 pages        0 stored  file /bin/sh @0x1000"), std::string::npos)
      << t;
  EXPECT_NE(t.find("  1 regular /run/amber/web/log flags 02 pos 10 ofd 2"), std::string::npos) << t;
}

TEST_F(Describe, JsonIsOneDocumentWithEveryMetadataFile) {
  std::string dir = path("img");
  write_sample_image(dir);
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  auto json = describe_json(*r);
  ASSERT_TRUE(json) << json.error().message;
  google::protobuf::Struct doc;
  auto st = google::protobuf::util::JsonStringToMessage(*json, &doc);
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << *json;
  ASSERT_TRUE(doc.fields().contains("inventory"));
  ASSERT_TRUE(doc.fields().contains("files"));
  const auto& inv = doc.fields().at("inventory").struct_value();
  EXPECT_EQ(inv.fields().at("amber_version").string_value(), kAmberVersion);
  EXPECT_EQ(inv.fields().at("files").list_value().values_size(), 8);
  const auto& files = doc.fields().at("files").struct_value().fields();
  EXPECT_EQ(files.size(), 7u);  // every file but the raw page data
  for (std::string f : {"container.img", "tasks/1/task.img", "tasks/7/task.img", "tasks/1/mm.img", "tasks/7/mm.img",
                        "tasks/1/files.img", "tasks/1/pages-1.img"})
    EXPECT_TRUE(files.contains(f)) << f;
  EXPECT_EQ(files.at("container.img").struct_value().fields().at("name").string_value(), "web");
  // Messages convert back: the JSON is the canonical protobuf mapping.
  std::string task_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(files.at("tasks/1/task.img").struct_value(), &task_json).ok());
  img::Task t;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(task_json, &t).ok());
  EXPECT_TRUE(same(t, sample_task(1, 0)));
}

TEST_F(Describe, BadFileIsNamed) {
  std::string dir = path("img");
  write_sample_image(dir);
  std::string f = dir + "/" + files_path(1);
  flip_byte(f, file_size(f) - 1);
  auto r = ImageReader::open(dir, test_key());
  ASSERT_TRUE(r);
  auto text = describe_text(*r);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().exit, Exit::BadInput);
  EXPECT_EQ(text.error().message, f + ": corrupt: payload checksum mismatch");
  auto json = describe_json(*r);
  ASSERT_FALSE(json);
  EXPECT_EQ(json.error().message, f + ": corrupt: payload checksum mismatch");
}

TEST(Printable, EscapesRawBytes) {
  EXPECT_EQ(printable("abc"), "abc");
  EXPECT_EQ(printable(std::string("a\nb\xff\\", 5)), "a\\x0ab\\xff\\x5c");
}

}  // namespace
