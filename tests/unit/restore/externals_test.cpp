// amber restore --external: the bindings parse, every external of the image
// needs one, and each target is checked before anything is made.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include "restore/externals.h"

namespace amber::restore {
namespace {

TEST(ExternalBinding, ParsesNamespacesAndFds) {
  auto net = parse_binding("net:/var/run/netns/foo");
  ASSERT_TRUE(net) << net.error().message;
  EXPECT_EQ(net->what.spec(), "net");
  EXPECT_EQ(net->to, "/var/run/netns/foo");
  auto pid = parse_binding("uts=1234");
  ASSERT_TRUE(pid);
  EXPECT_EQ(pid->what.spec(), "uts");
  EXPECT_EQ(pid->to, "1234");
  auto pipe = parse_binding("pipe:5678=fd:7");
  ASSERT_TRUE(pipe) << pipe.error().message;
  EXPECT_EQ(pipe->what.spec(), "pipe:5678");
  EXPECT_EQ(pipe->to, "fd:7");
  auto file = parse_binding("file:/var/log/a=b.log=fd:3");  // the last '=' separates
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->what.spec(), "file:/var/log/a=b.log");
}

TEST(ExternalBinding, RefusesMalformedSpecs) {
  for (const char* bad : {"net", "net:", "mnt:/proc/1/ns/mnt", "unix:12=fd:3", "pipe:12", "pipe:12=7", "pipe:x=fd:3",
                          "file:rel=fd:3", "fifo:/f=fd:-1", "pipe:12=fd:99999999999"}) {
    auto b = parse_binding(bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().exit, Exit::BadInput) << bad;
    EXPECT_NE(b.error().message.find("--external"), std::string::npos) << b.error().message;
  }
}

Plan plan_with(std::initializer_list<std::pair<const char*, const char*>> externals) {
  Plan p;
  for (auto [kind, value] : externals) {
    img::External* e = p.container.add_externals();
    e->set_kind(kind);
    e->set_value(value);
  }
  return p;
}

void add_external_fd(Plan& p, pid_t pid, int fd, const std::string& spec, uint32_t flags) {
  img::Fd* f = p.tasks[pid].files.add_fds();
  f->set_fd(fd);
  f->set_kind(img::FD_EXTERNAL);
  f->set_external(spec);
  f->set_flags(flags);
  f->set_ofd_id((static_cast<uint64_t>(pid) << 32) | static_cast<uint64_t>(fd + 1));
}

TEST(BindExternals, EveryExternalNeedsOneAndOnlyThose) {
  Plan p = plan_with({{"net", ""}});
  auto none = bind_externals(p, {});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().exit, Exit::BadInput);
  EXPECT_EQ(none.error().message,
            "the image needs external net: give it with --external net:PATH|PID (the net namespace to join)");
  auto extra = bind_externals(p, {*parse_binding("net:/proc/self/ns/net"), *parse_binding("uts:/proc/self/ns/uts")});
  ASSERT_FALSE(extra);
  EXPECT_NE(extra.error().message.find("the image declares no external uts (it declares net)"), std::string::npos)
      << extra.error().message;
  auto twice = bind_externals(p, {*parse_binding("net:/proc/self/ns/net"), *parse_binding("net=/proc/self/ns/net")});
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("given twice"), std::string::npos);
  auto ok = bind_externals(p, {*parse_binding(fmt::format("net:{}", ::getpid()))});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(ok->joins("net"));
  EXPECT_EQ(ok->clone_flags(CLONE_NEWNET | CLONE_NEWPID), static_cast<uint64_t>(CLONE_NEWPID));
  EXPECT_TRUE(declares_namespace(p.container, "net"));
  EXPECT_FALSE(declares_namespace(p.container, "uts"));
}

TEST(BindExternals, ANamespaceTargetMustBeThatType) {
  Plan p = plan_with({{"net", ""}});
  auto wrong = bind_externals(p, {*parse_binding("net:/proc/self/ns/uts")});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().exit, Exit::BadInput);
  EXPECT_NE(wrong.error().message.find("is not a net namespace"), std::string::npos) << wrong.error().message;
  auto file = bind_externals(p, {*parse_binding("net:/proc/self/status")});
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("is not a namespace file"), std::string::npos) << file.error().message;
  auto gone = bind_externals(p, {*parse_binding("net:/nonexistent/ns")});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().exit, Exit::BadInput);
}

TEST(BindExternals, AnFdMustBeOpenPassedAndLikeTheImagesDescription) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);  // not close-on-exec: as a caller passes it
  Plan p = plan_with({{"pipe", "42"}});
  add_external_fd(p, 1, 0, "pipe:42", O_RDONLY);
  add_external_fd(p, 3, 5, "pipe:42", O_RDONLY);
  p.tasks[3].files.mutable_fds(0)->set_ofd_id(p.tasks[1].files.fds(0).ofd_id());
  auto ok = bind_externals(p, {*parse_binding(fmt::format("pipe:42=fd:{}", fds[0]))});
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->fds.size(), 1u);
  EXPECT_TRUE(ok->fds.contains(p.tasks[1].files.fds(0).ofd_id()));
  EXPECT_EQ(::fcntl(ok->fds.begin()->second.get(), F_GETFD), FD_CLOEXEC);  // a copy of amber's own

  auto flags = bind_externals(p, {*parse_binding(fmt::format("pipe:42=fd:{}", fds[1]))});  // the write end
  ASSERT_FALSE(flags);
  EXPECT_NE(flags.error().message.find("is open with flags 01, the image's description with 00"), std::string::npos)
      << flags.error().message;
  int own = ::fcntl(fds[0], F_DUPFD_CLOEXEC, 0);
  auto cloexec = bind_externals(p, {*parse_binding(fmt::format("pipe:42=fd:{}", own))});
  ASSERT_FALSE(cloexec);
  EXPECT_NE(cloexec.error().message.find("is amber's own"), std::string::npos);
  auto closed = bind_externals(p, {*parse_binding("pipe:42=fd:1000")});
  ASSERT_FALSE(closed);
  EXPECT_NE(closed.error().message.find("fd 1000 is not open"), std::string::npos);
  int null = ::open("/dev/null", O_RDONLY);
  auto kind = bind_externals(p, {*parse_binding(fmt::format("pipe:42=fd:{}", null))});
  ASSERT_FALSE(kind);
  EXPECT_NE(kind.error().message.find("is not a pipe or FIFO"), std::string::npos);
  for (int fd : {fds[0], fds[1], own, null}) ::close(fd);
}

TEST(BindExternals, RefusesAnImageItCannotGiveBack) {
  Plan mnt = plan_with({{"mnt", ""}});
  auto r = bind_externals(mnt, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "the image declares external mnt, which amber restore cannot give back");
  Plan stray = plan_with({});
  add_external_fd(stray, 1, 3, "pipe:9", O_RDONLY);
  auto s = bind_externals(stray, {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "task 1: fd 3: external pipe:9 is not one the image declares");
  Plan two = plan_with({{"pipe", "9"}});
  add_external_fd(two, 1, 3, "pipe:9", O_RDONLY);
  add_external_fd(two, 1, 4, "pipe:9", O_RDONLY);
  auto t = bind_externals(two, {});
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("a second description of external pipe:9"), std::string::npos);
}

}  // namespace
}  // namespace amber::restore
