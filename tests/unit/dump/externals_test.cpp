// What a dump records of the leaks --external accepted, and what it refuses.
#include <gtest/gtest.h>

#include "dump/externals.h"

namespace amber::dump {
namespace {

seal::Leak leak(seal::LeakClass cls, std::string kind, std::string id, std::string external, bool accepted = true) {
  seal::Leak l;
  l.cls = cls;
  l.kind = std::move(kind);
  l.id = std::move(id);
  l.external = std::move(external);
  l.accepted = accepted;
  return l;
}

seal::Holder fd_of(pid_t pid, int fd) { return seal::Holder{seal::TaskRef{pid, pid, "t"}, fmt::format("fd {}", fd), fd}; }

TEST(DeclaredExternals, NamespacesAndDescriptionsAreRecorded) {
  std::vector<seal::Leak> leaks = {
      leak(seal::LeakClass::Namespace, "net namespace", "net:[1]", "net"),
      leak(seal::LeakClass::NamespacePin, "net namespace", "net:[1]", "net"),  // the same external, once
      leak(seal::LeakClass::Namespace, "uts namespace", "uts:[2]", "uts"),
      leak(seal::LeakClass::Pipe, "pipe", "pipe:[77]", "pipe:77"),
      leak(seal::LeakClass::SharedFile, "file", "/var/log/x", "file:/var/log/x"),
      leak(seal::LeakClass::Namespace, "ipc namespace", "ipc:[3]", "ipc", /*accepted=*/false),
  };
  leaks[3].inside = {fd_of(100, 0), fd_of(101, 4)};
  leaks[4].inside = {fd_of(100, 1)};
  kinds::Blockers refused;
  Declared d = declared_externals(leaks, refused);
  EXPECT_TRUE(refused.empty()) << refused.lines().front();
  std::vector<std::string> specs;
  for (const auto& e : d.image) specs.push_back(e.spec());
  EXPECT_EQ(specs, (std::vector<std::string>{"net", "uts", "pipe:77", "file:/var/log/x"}));
  EXPECT_TRUE(d.has_ns("net"));
  EXPECT_FALSE(d.has_ns("ipc"));  // not accepted: the check refused it
  EXPECT_EQ(d.fds_of(100), (std::map<int, std::string>{{0, "pipe:77"}, {1, "file:/var/log/x"}}));
  EXPECT_EQ(d.fds_of(101), (std::map<int, std::string>{{4, "pipe:77"}}));

  img::Container c;
  record_externals(d, c);
  ASSERT_EQ(c.externals_size(), 4);
  EXPECT_EQ(c.externals(2).kind(), "pipe");
  EXPECT_EQ(c.externals(2).value(), "77");
  EXPECT_TRUE(c.namespaces().net().external());
  EXPECT_TRUE(c.namespaces().uts_ref().external());
  EXPECT_FALSE(c.namespaces().ipc().external());
}

TEST(DeclaredExternals, WhatARestoreCannotGiveBackIsRefusedByName) {
  std::vector<seal::Leak> leaks = {
      leak(seal::LeakClass::Namespace, "mnt namespace", "mnt:[5]", "mnt"),
      leak(seal::LeakClass::Namespace, "pid namespace", "pid:[6]", "pid"),
      leak(seal::LeakClass::UnixSocket, "unix socket", "socket:[9]", "unix:9"),
      leak(seal::LeakClass::SysvShm, "SysV shm segment", "shmid 3", "shm:3"),
      leak(seal::LeakClass::SharedFile, "file", "/a", "file:/a"),
      leak(seal::LeakClass::SharedFile, "file", "/a", "file:/a"),  // a second description of it
  };
  kinds::Blockers refused;
  Declared d = declared_externals(leaks, refused);
  ASSERT_EQ(refused.lines().size(), 5u);
  EXPECT_EQ(refused.lines()[0],
            "--external mnt: the container's mnt namespace mnt:[5] is declared external, but amber restore can only "
            "join a net, uts, ipc or cgroup namespace: not supported");
  EXPECT_EQ(refused.lines()[2],
            "--external unix:9: unix socket socket:[9] is declared external, but amber restore cannot give it back: "
            "not supported");
  EXPECT_NE(refused.lines()[4].find("more than one open file description"), std::string::npos);
  ASSERT_EQ(d.image.size(), 1u);  // file:/a, its first description
  EXPECT_EQ(refused.status().error().exit, Exit::Unsupported);
}

}  // namespace
}  // namespace amber::dump
