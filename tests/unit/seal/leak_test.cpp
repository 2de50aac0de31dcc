#include <gtest/gtest.h>

#include "seal/check.h"
#include "seal/leak.h"
#include "seal/report.h"
#include "seal/scan.h"

namespace amber::seal {
namespace {

TEST(External, ParsesNamespaceTypes) {
  for (const char* t : {"pid", "uts", "ipc", "net", "mnt", "cgroup", "user", "time"}) {
    auto e = parse_external(t);
    ASSERT_TRUE(e) << t;
    EXPECT_EQ(e->kind, t);
    EXPECT_EQ(e->spec(), t);
  }
}

TEST(External, ParsesKindValue) {
  auto e = parse_external("pipe:1234");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, "pipe");
  EXPECT_EQ(e->value, "1234");
  EXPECT_EQ(e->spec(), "pipe:1234");
  EXPECT_TRUE(parse_external("file:/var/log/x:y"));  // ':' inside a path
  EXPECT_TRUE(parse_external("mount:/data"));
  EXPECT_TRUE(parse_external("shm:0"));
}

TEST(External, RefusesMalformedSpecs) {
  for (const char* bad : {"", "netz", "pipe:", "pipe:abc", "file:relative", "bogus:1", "unix:-1", "shm:x"}) {
    auto e = parse_external(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().exit, Exit::BadInput) << bad;
    EXPECT_NE(e.error().message.find("--external"), std::string::npos) << e.error().message;
  }
}

TEST(External, AcceptsOnlyTheLeaksItNames) {
  std::vector<Leak> leaks(3);
  leaks[0].external = "net";
  leaks[1].external = "pipe:7";
  leaks[2].external = "";  // no declaration can accept it (a tracer)
  apply_externals(leaks, {External{"net", ""}, External{"pipe", "8"}});
  EXPECT_TRUE(leaks[0].accepted);
  EXPECT_FALSE(leaks[1].accepted);
  EXPECT_FALSE(leaks[2].accepted);
}

TEST(NsLinks, InitialNamespacesAndLinkTypes) {
  EXPECT_TRUE(is_initial_ns("user", 0xEFFFFFFDU));
  EXPECT_TRUE(is_initial_ns("time", 0xEFFFFFFAU));
  EXPECT_FALSE(is_initial_ns("user", 4026532001U));
  EXPECT_FALSE(is_initial_ns("net", 0xEFFFFFFDU));
  EXPECT_EQ(ns_type_of_link("pid_for_children"), "pid");
  EXPECT_EQ(ns_type_of_link("time_for_children"), "time");
  EXPECT_EQ(ns_type_of_link("net"), "net");
}

Report sample_report() {
  Report r;
  r.target.name = "web";
  r.target.init = 4242;
  r.target.cgroup = "/sys/fs/cgroup/unified/amber/web";
  r.processes = 2;
  r.threads = 3;
  Leak l;
  l.cls = LeakClass::Pipe;
  l.kind = "pipe";
  l.id = "pipe:[99]";
  l.inside.push_back(Holder{TaskRef{4243, 2, "cat"}, "fd 0"});
  for (int i = 0; i < 12; ++i) l.outside.push_back(Holder{TaskRef{500 + i, 0, "sh"}, "fd 3"});
  l.outside_omitted = 5;
  l.external = "pipe:99";
  l.remedy = "close the outside end, or declare it with --external pipe:99";
  r.leaks.push_back(l);
  Leak ns;
  ns.cls = LeakClass::Namespace;
  ns.kind = "net namespace";
  ns.id = "net:[4026531833]";
  ns.external = "net";
  ns.accepted = true;
  ns.outside.push_back(Holder{TaskRef{1, 0, "init"}, "member (net)"});
  r.leaks.push_back(ns);
  return r;
}

TEST(Report, TextNamesEveryPartOfALeak) {
  Report r = sample_report();
  ASSERT_EQ(r.refused(), 1u);
  ASSERT_FALSE(r.sealed());
  std::string t = format_text(r);
  EXPECT_NE(t.find("NOT SEALED: 1 leak found"), std::string::npos) << t;
  EXPECT_NE(t.find("class 4 (pipe)"), std::string::npos) << t;
  EXPECT_NE(t.find("object:  pipe pipe:[99]"), std::string::npos) << t;
  EXPECT_NE(t.find("inside:  pid 2 (cat, host pid 4243): fd 0"), std::string::npos) << t;
  EXPECT_NE(t.find("outside: pid 500 (sh): fd 3"), std::string::npos) << t;
  EXPECT_NE(t.find("and 9 more"), std::string::npos) << t;  // 12 + 5 omitted, 8 shown
  EXPECT_NE(t.find("remedy:  close the outside end"), std::string::npos) << t;
  EXPECT_NE(t.find("external (declared) 1: class 1 (namespace)"), std::string::npos) << t;
  EXPECT_NE(t.find("accepted by --external net"), std::string::npos) << t;
}

TEST(Report, JsonHasEveryHolder) {
  std::string j = format_json(sample_report());
  EXPECT_NE(j.find("\"sealed\": false"), std::string::npos) << j;
  EXPECT_NE(j.find("\"class\": 4"), std::string::npos) << j;
  EXPECT_NE(j.find("\"pid\": 511"), std::string::npos) << j;  // the 12th holder, not in the text
  EXPECT_NE(j.find("\"outside_omitted\": 5"), std::string::npos) << j;
  EXPECT_NE(j.find("\"accepted\": true"), std::string::npos) << j;
}

TEST(Report, SealedWhenEveryLeakIsDeclared) {
  Report r = sample_report();
  r.leaks.erase(r.leaks.begin());
  EXPECT_TRUE(r.sealed());
  EXPECT_NE(format_text(r).find("sealed:"), std::string::npos);
}

}  // namespace
}  // namespace amber::seal
