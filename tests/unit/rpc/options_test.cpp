// criu_opts as runc sends them, mapped or refused by name (rpc/options.h).
#include "rpc/options.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

using namespace amber;
using namespace amber::rpc;

namespace {

// What runc 1.1 sends with a checkpoint, at its defaults.
criurpc::criu_opts runc_checkpoint() {
  criurpc::criu_opts o;
  o.set_images_dir_fd(5);
  o.set_log_level(4);
  o.set_log_file("dump.log");
  o.set_root("/run/bundle/rootfs");
  o.set_manage_cgroups(true);
  o.set_manage_cgroups_mode(criurpc::DEFAULT);
  o.set_notify_scripts(true);
  o.set_pid(1234);
  o.set_shell_job(false);
  o.set_leave_running(false);
  o.set_tcp_established(false);
  o.set_tcp_skip_in_flight(false);
  o.set_link_remap(false);
  o.set_ext_unix_sk(false);
  o.set_file_locks(false);
  o.set_empty_ns(CLONE_NEWNET);
  o.set_orphan_pts_master(true);
  o.set_auto_dedup(false);
  o.set_lazy_pages(false);
  o.set_config_file("/etc/criu/runc.conf");
  o.set_freeze_cgroup("/sys/fs/cgroup/freezer/ID");
  auto* m = o.add_ext_mnt();
  m->set_key("/dev/null");
  m->set_val("/dev/null");
  return o;
}

std::string refusal(const criurpc::criu_opts& o, criurpc::criu_req_type t = criurpc::DUMP) {
  Status s = check_options(o, t);
  return s ? "" : s.error().message;
}

}  // namespace

TEST(RpcOptionsTest, RuncCheckpointDefaultsAreAccepted) { EXPECT_EQ("", refusal(runc_checkpoint())); }

TEST(RpcOptionsTest, UnsupportedOptionsAreRefusedByName) {
  criurpc::criu_opts o = runc_checkpoint();
  o.set_lazy_pages(true);
  EXPECT_EQ("criu option lazy_pages (true): not supported by amber: no lazy restore", refusal(o));
  o = runc_checkpoint();
  o.add_skip_mnt("/x");
  EXPECT_NE(refusal(o).find("criu option skip_mnt (1 entries): not supported"), std::string::npos);
  o = runc_checkpoint();
  o.set_ghost_limit(5);
  EXPECT_NE(refusal(o).find("criu option ghost_limit (5)"), std::string::npos);
}

TEST(RpcOptionsTest, PermissionsAreAcceptedWhateverTheirValue) {
  criurpc::criu_opts o = runc_checkpoint();
  o.set_evasive_devices(true);
  o.set_file_locks(true);
  o.set_link_remap(true);
  EXPECT_EQ("", refusal(o));
}

TEST(RpcOptionsTest, AnUnknownFieldIsRefusedByNumber) {
  criurpc::criu_opts o = runc_checkpoint();
  o.mutable_unknown_fields()->AddVarint(99, 1);
  EXPECT_EQ("criu option field number 99: unknown to amber", refusal(o));
}

TEST(RpcOptionsTest, RestoreOptionsInADumpAndBack) {
  criurpc::criu_opts o = runc_checkpoint();
  o.set_rst_sibling(true);
  EXPECT_EQ("criu option rst_sibling (true) is for a RESTORE, not for a DUMP", refusal(o));
  criurpc::criu_opts r;
  r.set_images_dir_fd(5);
  r.set_rst_sibling(true);
  r.set_leave_running(true);
  EXPECT_EQ("criu option leave_running (true) is for a DUMP, not for a RESTORE", refusal(r, criurpc::RESTORE));
}

TEST(RpcOptionsTest, AWireMessageFromARuntimeParses) {
  // Encoded as a runtime does (proto2 on the wire): the same options back.
  std::string wire;
  ASSERT_TRUE(runc_checkpoint().SerializeToString(&wire));
  criurpc::criu_opts back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(1234, back.pid());
  EXPECT_TRUE(back.has_shell_job());  // set to its default, still present
  EXPECT_EQ("", refusal(back));
}

TEST(RpcOptionsTest, APipeKeyInheritedTwiceIsBoundOnce) {
  // runc with the init's stdout and stderr on one pipe: descriptors.json
  // names it for both, and runc hands both in. CRIU takes the first.
  int fds[2];
  ASSERT_EQ(0, ::pipe(fds));
  criurpc::criu_opts o;
  o.set_images_dir_fd(5);
  o.set_rst_sibling(true);
  for (int i = 0; i < 2; ++i) {
    auto* f = o.add_inherit_fd();
    f->set_key("pipe:[4242]");
    f->set_fd(fds[i]);
  }
  Dirs dirs;
  dirs.images.path = "/nonexistent";
  auto r = map_restore(o, dirs);
  ASSERT_TRUE(r) << r.error().message;
  int pipes = 0;
  for (const restore::ExternalBinding& b : r->opts.externals)
    if (b.what.kind == "pipe") {
      ++pipes;
      EXPECT_EQ("4242", b.what.value);
      EXPECT_EQ(fmt::format("fd:{}", fds[0]), b.to);
      EXPECT_TRUE(b.offered);
    }
  EXPECT_EQ(1, pipes);
  ::close(fds[0]);
  ::close(fds[1]);
}
