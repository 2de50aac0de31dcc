// /proc parsers: fixture texts captured on this machine plus hand-made edge
// cases, then live reads of this process and of forked children.
#include "sys/procfs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "base/files.h"
#include "tests_child.h"

using namespace amber;
using namespace amber::sys;
using amber::test::Child;

namespace {

std::string fixture(const std::string& name) {
  auto r = read_file(std::string(AMBER_FIXTURES) + "/proc/" + name);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : std::string();
}

const VmArea* find_area(const std::vector<VmArea>& maps, std::string_view path) {
  for (const VmArea& a : maps)
    if (a.path == path) return &a;
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------------------
// maps

TEST(ProcMaps, RealFixture) {
  auto r = parse_maps(fixture("maps.real"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 43u);
  const VmArea& first = (*r)[0];
  EXPECT_EQ(first.start, 0x55c1440a0000u);
  EXPECT_EQ(first.end, 0x55c1440cf000u);
  EXPECT_TRUE(first.read);
  EXPECT_FALSE(first.write);
  EXPECT_FALSE(first.exec);
  EXPECT_FALSE(first.shared);
  EXPECT_EQ(first.dev_major, 0xfeu);
  EXPECT_EQ(first.dev_minor, 0u);
  EXPECT_EQ(first.inode, 247101u);
  EXPECT_EQ(first.path, "/usr/bin/bash");
  EXPECT_EQ((*r)[1].offset, 0x2f000u);
  EXPECT_TRUE((*r)[1].exec);
  // "...00:00 0 " with a trailing space and no path: anonymous.
  EXPECT_EQ((*r)[5].path, "");
  EXPECT_TRUE((*r)[5].write);
  const VmArea* cache = find_area(*r, "/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache");
  ASSERT_TRUE(cache);
  EXPECT_TRUE(cache->shared);
  for (const char* special : {"[heap]", "[stack]", "[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]"})
    EXPECT_TRUE(find_area(*r, special)) << special;
  const VmArea* vclock = find_area(*r, "[vvar_vclock]");
  EXPECT_EQ(vclock->size(), 0x2000u);
  const VmArea* vsys = find_area(*r, "[vsyscall]");
  EXPECT_EQ(vsys->start, 0xffffffffff600000u);
  EXPECT_TRUE(vsys->exec);
  EXPECT_FALSE(vsys->read);
}

TEST(ProcMaps, EdgeCases) {
  auto r = parse_maps(fixture("maps.edge"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 11u);
  const auto& m = *r;
  EXPECT_EQ(m[0].path, "/opt/my app/bin/server");
  EXPECT_FALSE(m[0].deleted);
  EXPECT_EQ(m[1].path, "/opt/my app/bin/server");
  EXPECT_TRUE(m[1].deleted);
  EXPECT_EQ(m[1].offset, 0x1000u);
  EXPECT_EQ(m[2].path, "/dev/zero");
  EXPECT_TRUE(m[2].deleted);
  EXPECT_TRUE(m[2].shared);
  EXPECT_EQ(m[3].path, "/memfd:buffer with space");
  EXPECT_TRUE(m[3].deleted);
  // A deleted file whose own name ends in " (deleted)": only one suffix is the kernel's.
  EXPECT_EQ(m[4].path, "/tmp/x (deleted)");
  EXPECT_TRUE(m[4].deleted);
  // 5-field lines, with and without the trailing space.
  EXPECT_EQ(m[5].path, "");
  EXPECT_FALSE(m[5].read || m[5].write || m[5].exec);
  EXPECT_EQ(m[6].path, "");
  EXPECT_EQ(m[7].path, "[anon:my name]");
  EXPECT_EQ(m[8].path, "[vvar_vclock]");
  EXPECT_EQ(m[8].size(), 0x2000u);
  EXPECT_EQ(m[9].dev_major, 0x103u);
  EXPECT_EQ(m[9].dev_minor, 2u);
  EXPECT_EQ(m[9].path, "/tmp/a  b");  // inner double space kept
  EXPECT_EQ(m[10].path, "/tmp/(deleted)");
  EXPECT_FALSE(m[10].deleted);
}

TEST(ProcMaps, MalformedLinesAreBadInput) {
  const char* bad[] = {
      "00400000-00401000 r-xp 00000000 08:01\n",                 // 4 fields
      "00400000 r-xp 00000000 08:01 1 /x\n",                     // no range
      "00401000-00400000 r-xp 00000000 08:01 1 /x\n",            // end < start
      "0040zz00-00401000 r-xp 00000000 08:01 1 /x\n",            // junk address
      "00400000-00401000 rwxq 00000000 08:01 1 /x\n",            // bad perms
      "00400000-00401000 r-x 00000000 08:01 1 /x\n",             // short perms
      "00400000-00401000 r-xp 0000000g 08:01 1 /x\n",            // bad offset
      "00400000-00401000 r-xp 00000000 0801 1 /x\n",             // bad dev
      "00400000-00401000 r-xp 00000000 08:01 -1 /x\n",           // negative inode
      "\n",                                                      // empty line
  };
  for (const char* text : bad) {
    std::string t = std::string("00001000-00002000 r--p 00000000 00:00 0\n") + text;
    auto r = parse_maps(t);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().exit, Exit::BadInput) << text;
    EXPECT_NE(r.error().message.find("line 2"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(parse_maps(""));
  EXPECT_TRUE(parse_maps("")->empty());
}

// ---------------------------------------------------------------------------
// stat

TEST(ProcStat, RealFixture) {
  auto r = parse_stat(fixture("stat.real"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->pid, 4650);
  EXPECT_EQ(r->comm, "bash");
  EXPECT_EQ(r->state, 'S');
  EXPECT_EQ(r->ppid, 4648);
  EXPECT_EQ(r->pgrp, 4648);
  EXPECT_EQ(r->session, 2904);
  EXPECT_EQ(r->tty_nr, 0);
  EXPECT_EQ(r->flags, 4194368u);
  EXPECT_EQ(r->num_threads, 1);
  EXPECT_EQ(r->start_time, 33825u);
  EXPECT_EQ(r->start_code, 94288558747648u);
  EXPECT_EQ(r->end_code, 94288559537053u);
  EXPECT_EQ(r->start_stack, 140722448623888u);
  EXPECT_EQ(r->start_data, 94288559770352u);
  EXPECT_EQ(r->end_data, 94288559818596u);
  EXPECT_EQ(r->start_brk, 94288600645632u);
  EXPECT_EQ(r->arg_start, 140722448632634u);
  EXPECT_EQ(r->arg_end, 140722448632649u);
  EXPECT_EQ(r->env_start, 140722448632649u);
  EXPECT_EQ(r->env_end, 140722448633834u);
  EXPECT_EQ(r->exit_code, 0);
}

TEST(ProcStat, CommWithParenAndSpace) {
  auto r = parse_stat(fixture("stat.edge"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->pid, 4242);
  EXPECT_EQ(r->comm, "a) b");
  EXPECT_EQ(r->state, 'S');
  EXPECT_EQ(r->ppid, 1);
  EXPECT_EQ(r->tty_nr, 34816);
  EXPECT_EQ(r->num_threads, 3);
  EXPECT_EQ(r->start_time, 123456u);
  EXPECT_EQ(r->start_code, 4194304u);
  EXPECT_EQ(r->end_code, 4198400u);
  EXPECT_EQ(r->start_data, 6295552u);
  EXPECT_EQ(r->env_end, 140737488348000u);

  auto z = parse_stat(fixture("stat.zombie"));
  ASSERT_TRUE(z) << z.error().message;
  EXPECT_EQ(z->comm, "my prog (v2)");
  EXPECT_EQ(z->state, 'Z');
  EXPECT_EQ(z->ppid, 7);
  EXPECT_EQ(z->exit_code, 256);
}

TEST(ProcStat, MalformedIsBadInput) {
  std::string good = fixture("stat.real");
  std::string no_paren = good;
  no_paren.erase(no_paren.find(')'), 1);
  std::string short_line = good.substr(0, good.find(" 18446744073709551615"));
  std::string junk = good;
  junk.replace(junk.find(" 4648 "), 6, " 46x8 ");
  for (const std::string& t : {std::string(""), std::string("garbage"), no_paren, short_line, junk,
                               std::string("x (a) S 1 2 3")}) {
    auto r = parse_stat(t);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(r.error().exit, Exit::BadInput);
  }
}

// ---------------------------------------------------------------------------
// status

TEST(ProcStatus, RealFixture) {
  auto r = parse_status(fixture("status.real"));
  ASSERT_TRUE(r) << r.error().message;
  const ProcStatus& s = *r;
  EXPECT_EQ(s.name, "bash");
  EXPECT_EQ(s.umask, 022u);
  EXPECT_EQ(s.state, 'S');
  EXPECT_EQ(s.tgid, 4650);
  EXPECT_EQ(s.pid, 4650);
  EXPECT_EQ(s.ppid, 4648);
  EXPECT_EQ(s.tracer_pid, 0);
  EXPECT_EQ(s.uid, (std::array<uint32_t, 4>{0, 0, 0, 0}));
  EXPECT_TRUE(s.groups.empty());  // "Groups:\t \n"
  EXPECT_EQ(s.ns_tgid, std::vector<pid_t>{4650});
  EXPECT_EQ(s.ns_pid, std::vector<pid_t>{4650});
  EXPECT_EQ(s.ns_pgid, std::vector<pid_t>{4648});
  EXPECT_EQ(s.ns_sid, std::vector<pid_t>{2904});
  EXPECT_EQ(s.threads, 1);
  EXPECT_EQ(s.sig_blk, 0x10000u);
  EXPECT_EQ(s.sig_ign, 0x6u);
  EXPECT_EQ(s.sig_cgt, 0x14000u);
  EXPECT_EQ(s.cap_prm, 0x1fffeffffffu);
  EXPECT_EQ(s.cap_eff, 0x1fffeffffffu);
  EXPECT_EQ(s.cap_bnd, 0x1fffeffffffu);
  EXPECT_EQ(s.cap_amb, 0u);
  EXPECT_EQ(s.no_new_privs, 0);
  EXPECT_EQ(s.seccomp, 0);
  EXPECT_EQ(s.seccomp_filters, 0);
}

TEST(ProcStatus, OlderKernelAndNestedPidNs) {
  auto r = parse_status(fixture("status.old"));
  ASSERT_TRUE(r) << r.error().message;
  const ProcStatus& s = *r;
  EXPECT_EQ(s.name, "weird\\name\n x");  // the kernel escapes '\\' and '\n' in Name
  EXPECT_EQ(s.umask, 027u);
  EXPECT_EQ(s.state, 'R');
  EXPECT_EQ(s.tgid, 500);
  EXPECT_EQ(s.pid, 501);
  EXPECT_EQ(s.tracer_pid, 42);
  EXPECT_EQ(s.uid, (std::array<uint32_t, 4>{1000, 1001, 1002, 1003}));
  EXPECT_EQ(s.gid, (std::array<uint32_t, 4>{100, 101, 102, 103}));
  EXPECT_EQ(s.groups, (std::vector<uint32_t>{4, 24, 27, 1000}));
  EXPECT_EQ(s.ns_tgid, (std::vector<pid_t>{500, 1}));
  EXPECT_EQ(s.ns_pid, (std::vector<pid_t>{501, 2}));
  EXPECT_EQ(s.ns_pgid, (std::vector<pid_t>{499, 0}));
  EXPECT_EQ(s.threads, 3);
  EXPECT_EQ(s.sig_pnd, 0x100u);
  EXPECT_EQ(s.shd_pnd, 0x4000u);
  EXPECT_EQ(s.sig_blk, 0xfffffffe7ffbfeffu);
  EXPECT_EQ(s.cap_prm, 0x3000u);
  EXPECT_EQ(s.cap_eff, 0x2000u);
  EXPECT_EQ(s.cap_amb, 1u);
  EXPECT_EQ(s.no_new_privs, 1);
  EXPECT_EQ(s.seccomp, 2);
  EXPECT_EQ(s.seccomp_filters, 0);  // absent: stays 0
}

TEST(ProcStatus, MalformedIsBadInput) {
  std::string good = fixture("status.real");
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  for (const std::string& t : {replace("Uid:\t0\t0\t0\t0", "Uid:\t0\t0\t0"),    // 3 uids
                               replace("Pid:\t4650", "Pid:\tabc"),             // junk
                               replace("SigBlk:\t0000000000010000", "SigBlk:\txyz"),
                               replace("Umask:\t0022", "Umask:\t0029"),       // not octal
                               replace("NSpid:\t4650", "NSpid:\t4650 -"),
                               replace("Threads:\t1", "Threads 1"),           // no colon
                               std::string("Name:\tx\n")}) {                  // no Pid
    auto r = parse_status(t);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(r.error().exit, Exit::BadInput);
  }
  auto r = parse_status(replace("Pid:\t4650", "Pid:\tabc"));
  EXPECT_NE(r.error().message.find("'Pid:\tabc'"), std::string::npos) << r.error().message;
}

// ---------------------------------------------------------------------------
// fdinfo

TEST(ProcFdInfo, CommonFieldsAndRawLines) {
  auto r = parse_fdinfo(fixture("fdinfo.real"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->pos, 0u);
  EXPECT_EQ(r->flags, 0100000u);  // octal: O_LARGEFILE
  EXPECT_EQ(r->mnt_id, 23);
  EXPECT_EQ(r->ino, 3u);
  EXPECT_EQ(r->lines.size(), 4u);
  EXPECT_EQ(r->fields.size(), 4u);

  auto ev = parse_fdinfo(fixture("fdinfo.eventfd"));
  ASSERT_TRUE(ev) << ev.error().message;
  EXPECT_EQ(ev->flags, 02004002u);
  EXPECT_EQ(ev->flags & O_NONBLOCK, static_cast<uint32_t>(O_NONBLOCK));
  EXPECT_EQ(ev->lines.size(), 7u);
  EXPECT_EQ(ev->lines[4], "eventfd-count:                5");
  EXPECT_EQ(ev->fields[4], (std::pair<std::string, std::string>{"eventfd-count", "5"}));
  EXPECT_EQ(ev->fields[6], (std::pair<std::string, std::string>{"eventfd-semaphore", "0"}));
}

TEST(ProcFdInfo, KindSpecificLines) {
  auto ep = parse_fdinfo(fixture("fdinfo.epoll"));
  ASSERT_TRUE(ep) << ep.error().message;
  ASSERT_EQ(ep->fields.size(), 5u);
  EXPECT_EQ(ep->fields[4].first, "tfd");
  EXPECT_EQ(ep->fields[4].second, "3 events:       19 data:                3  pos:0 ino:40e sdev:10");

  auto in = parse_fdinfo(fixture("fdinfo.inotify"));
  ASSERT_TRUE(in) << in.error().message;
  EXPECT_EQ(in->flags, 0u);
  ASSERT_EQ(in->fields.size(), 5u);
  EXPECT_EQ(in->fields[4].first, "inotify");
  EXPECT_TRUE(in->fields[4].second.starts_with("wd:1 ino:3c51a sdev:fe00000 mask:300")) << in->fields[4].second;

  auto tf = parse_fdinfo(fixture("fdinfo.timerfd"));
  ASSERT_TRUE(tf) << tf.error().message;
  std::map<std::string, std::string> f(tf->fields.begin(), tf->fields.end());
  EXPECT_EQ(f["clockid"], "1");
  EXPECT_EQ(f["settime flags"], "00");
  EXPECT_EQ(f["it_value"], "(99, 999361132)");
  EXPECT_EQ(f["it_interval"], "(2, 0)");

  auto fa = parse_fdinfo("pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t7\nfanotify flags:10 event-flags:0\n");
  ASSERT_TRUE(fa);
  EXPECT_EQ(fa->fields[4].first, "fanotify");
  EXPECT_EQ(fa->fields[4].second, "flags:10 event-flags:0");
}

TEST(ProcFdInfo, MalformedIsBadInput) {
  for (const char* t : {"pos:\tx\n", "flags:\t0800\n", "mnt_id:\t\n", "pos:\t0\nino:\t-3\n"}) {
    auto r = parse_fdinfo(t);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(r.error().exit, Exit::BadInput);
  }
}

// ---------------------------------------------------------------------------
// mountinfo

TEST(ProcMountInfo, RealFixture) {
  auto r = parse_mountinfo(fixture("mountinfo.real"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 19u);
  const MountInfo& proc = (*r)[0];
  EXPECT_EQ(proc.mnt_id, 21);
  EXPECT_EQ(proc.parent_id, 26);
  EXPECT_EQ(proc.dev_major, 0u);
  EXPECT_EQ(proc.dev_minor, 20u);
  EXPECT_EQ(proc.root, "/");
  EXPECT_EQ(proc.mount_point, "/proc");
  EXPECT_EQ(proc.mount_options, "rw,relatime");
  EXPECT_TRUE(proc.optional_fields.empty());
  EXPECT_EQ(proc.fstype, "proc");
  EXPECT_EQ(proc.source, "proc");
  EXPECT_EQ(proc.super_options, "rw");
  auto root = std::find_if(r->begin(), r->end(), [](const MountInfo& m) { return m.mount_point == "/"; });
  ASSERT_NE(root, r->end());
  EXPECT_EQ(root->dev_major, 254u);
  EXPECT_EQ(root->fstype, "ext4");
  EXPECT_EQ(root->source, "/dev/vda");
  EXPECT_EQ(r->back().fstype, "cgroup2");
  EXPECT_EQ(r->back().mount_point, "/sys/fs/cgroup/unified");
}

TEST(ProcMountInfo, PropagationAndEscapes) {
  auto r = parse_mountinfo(fixture("mountinfo.propagation"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 6u);
  const auto& m = *r;
  EXPECT_EQ(m[0].mount_point, "/tmp/procfs-fixture/a dir");
  EXPECT_EQ(m[0].source, "src with\ttab");
  EXPECT_EQ(m[0].shared, 1);
  EXPECT_EQ(m[0].master, 0);
  EXPECT_EQ(m[0].optional_fields, std::vector<std::string>{"shared:1"});
  EXPECT_EQ(m[1].shared, 2);
  EXPECT_EQ(m[1].master, 1);
  EXPECT_EQ(m[1].optional_fields, (std::vector<std::string>{"shared:2", "master:1"}));
  EXPECT_EQ(m[2].root, "/sub");
  EXPECT_TRUE(m[3].unbindable);
  EXPECT_EQ(m[3].shared, 0);
  EXPECT_EQ(m[4].root, "/back\\slash");
  EXPECT_EQ(m[4].mount_point, "/mnt/new\nline");
  EXPECT_EQ(m[4].source, "/dev/sda 1");
  EXPECT_EQ(m[4].master, 7);
  EXPECT_EQ(m[4].propagate_from, 3);
  EXPECT_EQ(m[4].mount_options, "ro,nosuid");
  EXPECT_EQ(m[4].super_options, "ro,errors=remount-ro");
  EXPECT_TRUE(m[5].optional_fields.empty());
  EXPECT_FALSE(m[5].unbindable);
}

TEST(ProcMountInfo, EmptySourceAndMalformed) {
  // mount -t tmpfs '' /x: the source field is empty, so two spaces in a row.
  auto ok = parse_mountinfo("80 26 0:50 / /x rw - tmpfs  rw\n");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ((*ok)[0].source, "");
  EXPECT_EQ((*ok)[0].super_options, "rw");

  for (const char* t : {"21 26 0:20 / /proc rw,relatime proc proc rw\n",          // no " - "
                        "21 26 0:20 / /proc - proc proc rw\n",                    // 5 fields before
                        "21 26 0:20 / /proc rw - proc proc\n",                    // 2 after
                        "2x 26 0:20 / /proc rw - proc proc rw\n",                 // bad id
                        "21 26 0-20 / /proc rw - proc proc rw\n",                 // bad dev
                        "21 26 0:20 / /proc rw shared:x - proc proc rw\n",        // bad peer group
                        "21 26 0:20 / /proc rw master: - proc proc rw\n"}) {
    auto r = parse_mountinfo(std::string("1 0 0:1 / / rw - rootfs rootfs rw\n") + t);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(r.error().exit, Exit::BadInput);
    EXPECT_NE(r.error().message.find("line 2"), std::string::npos) << r.error().message;
  }
}

// ---------------------------------------------------------------------------
// ns, cgroup

TEST(ProcNs, ParseLink) {
  EXPECT_EQ(*parse_ns_link("net:[4026531840]", "net"), 4026531840u);
  EXPECT_EQ(*parse_ns_link("time:[4026531834]", "time"), 4026531834u);
  for (auto [link, type] : std::initializer_list<std::pair<const char*, const char*>>{
           {"net:[4026531840]", "mnt"}, {"net:[]", "net"}, {"net:[12a]", "net"}, {"net:4026531840", "net"},
           {"net:[4026531840", "net"}, {"", "net"}, {"netx:[1]", "net"}, {"net:[-1]", "net"}}) {
    auto r = parse_ns_link(link, type);
    EXPECT_FALSE(r) << link << " as " << type;
    if (!r) {
      EXPECT_EQ(r.error().exit, Exit::BadInput);
    }
  }
}

TEST(ProcCgroup, RealAndEdge) {
  auto r = parse_cgroup(fixture("cgroup.real"));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 10u);
  EXPECT_EQ((*r)[0].hierarchy, 9);
  EXPECT_EQ((*r)[0].name, "name=systemd");
  EXPECT_TRUE((*r)[0].controllers.empty());
  EXPECT_EQ((*r)[5].controllers, std::vector<std::string>{"memory"});
  EXPECT_EQ((*r)[5].path, "/process_api/0123456789abcdef");
  EXPECT_EQ(*cgroup_v2_path(*r), "/");

  auto e = parse_cgroup(fixture("cgroup.edge"));
  ASSERT_TRUE(e) << e.error().message;
  ASSERT_EQ(e->size(), 6u);
  EXPECT_EQ((*e)[0].path, "/user.slice/user-0.slice");
  EXPECT_EQ((*e)[1].controllers, std::vector<std::string>{"freezer"});
  EXPECT_EQ((*e)[1].path, "/x");
  EXPECT_EQ((*e)[2].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ((*e)[2].path, "/z");
  EXPECT_EQ((*e)[3].name, "name=mine");
  EXPECT_EQ((*e)[3].controllers, std::vector<std::string>{"cpuset"});
  EXPECT_EQ((*e)[3].path, "/a:b");
  EXPECT_EQ((*e)[5].hierarchy, 0);
  EXPECT_TRUE((*e)[5].controllers.empty());
  EXPECT_EQ((*e)[5].path, "/amber/c1");
  EXPECT_TRUE((*e)[5].deleted);
  EXPECT_EQ(*cgroup_v2_path(*e), "/amber/c1");

  auto v1only = parse_cgroup("4:freezer:/x\n");
  ASSERT_TRUE(v1only);
  EXPECT_FALSE(cgroup_v2_path(*v1only));

  for (const char* t : {"0:/\n", "x::/\n", "-1::/\n", "4:freezer:\n", "4:freezer:rel\n", "4:a,,b:/\n", "\n"}) {
    auto b = parse_cgroup(t);
    ASSERT_FALSE(b) << t;
    EXPECT_EQ(b.error().exit, Exit::BadInput);
  }
}

// ---------------------------------------------------------------------------
// Live: this process and forked children.

TEST(ProcLive, Self) {
  pid_t self = getpid();
  auto st = read_stat(self);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->pid, self);
  EXPECT_EQ(st->ppid, getppid());
  EXPECT_EQ(st->state, 'R');
  EXPECT_GT(st->start_time, 0u);
  EXPECT_NE(st->start_brk, 0u);
  EXPECT_LT(st->arg_start, st->arg_end);

  auto s = read_status(self);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->pid, self);
  EXPECT_EQ(s->tgid, self);
  EXPECT_EQ(s->uid[0], getuid());
  EXPECT_EQ(s->ns_pid.back(), self);
  EXPECT_EQ(s->name, st->comm);
  mode_t old = umask(0037);
  auto s2 = read_status(self);
  umask(old);
  ASSERT_TRUE(s2);
  EXPECT_EQ(s2->umask, 0037u);

  auto maps = read_maps(self);
  ASSERT_TRUE(maps) << maps.error().message;
  auto addr = reinterpret_cast<uint64_t>(&read_maps);
  auto code = std::find_if(maps->begin(), maps->end(), [&](const VmArea& a) { return a.start <= addr && addr < a.end; });
  ASSERT_NE(code, maps->end());
  EXPECT_TRUE(code->exec);
  EXPECT_FALSE(code->path.empty());
  EXPECT_TRUE(find_area(*maps, "[stack]"));

  auto pids = read_mountinfo(self);
  ASSERT_TRUE(pids) << pids.error().message;
  EXPECT_TRUE(std::any_of(pids->begin(), pids->end(), [](const MountInfo& m) { return m.mount_point == "/proc"; }));

  auto cg = read_cgroup(self);
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_TRUE(cgroup_v2_path(*cg));

  auto ns = read_ns_inodes(self);
  ASSERT_TRUE(ns) << ns.error().message;
  struct stat sb {};
  ASSERT_EQ(::stat("/proc/self/ns/net", &sb), 0);
  EXPECT_EQ(ns->at("net"), sb.st_ino);
  EXPECT_EQ(ns->size(), kNsTypes.size());  // all 8 exist on 6.18
  EXPECT_EQ(*read_ns_inode(self, "mnt"), ns->at("mnt"));
  EXPECT_FALSE(read_ns_inode(self, "nosuchns"));
}

TEST(ProcLive, ListingsAndFdInfo) {
  int efd = eventfd(7, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  UniqueFd guard(efd);
  auto fds = list_fds(getpid());
  ASSERT_TRUE(fds) << fds.error().message;
  EXPECT_TRUE(std::is_sorted(fds->begin(), fds->end()));
  EXPECT_TRUE(std::binary_search(fds->begin(), fds->end(), efd));
  EXPECT_TRUE(std::binary_search(fds->begin(), fds->end(), 0));

  auto fi = read_fdinfo(getpid(), efd);
  ASSERT_TRUE(fi) << fi.error().message;
  EXPECT_EQ(fi->flags & O_NONBLOCK, static_cast<uint32_t>(O_NONBLOCK));
  EXPECT_EQ(fi->flags & O_CLOEXEC, static_cast<uint32_t>(O_CLOEXEC));
  auto count = std::find_if(fi->fields.begin(), fi->fields.end(), [](auto& kv) { return kv.first == "eventfd-count"; });
  ASSERT_NE(count, fi->fields.end());
  EXPECT_EQ(count->second, "7");

  auto pids = list_pids();
  ASSERT_TRUE(pids) << pids.error().message;
  EXPECT_TRUE(std::is_sorted(pids->begin(), pids->end()));
  EXPECT_TRUE(std::binary_search(pids->begin(), pids->end(), getpid()));
  EXPECT_TRUE(std::binary_search(pids->begin(), pids->end(), 1));
}

TEST(ProcLive, ForkedChildWithOddName) {
  Child child([] {
    prctl(PR_SET_NAME, "a) b");
    return 0;
  });
  ASSERT_TRUE(child.ok());
  auto st = read_stat(child.pid());
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->pid, child.pid());
  EXPECT_EQ(st->ppid, getpid());
  EXPECT_EQ(st->comm, "a) b");
  auto s = read_status(child.pid());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->name, "a) b");
  EXPECT_EQ(s->ppid, getpid());
  // A different process: same start-time field semantics, later start.
  EXPECT_GE(st->start_time, read_stat(getpid())->start_time);
}

TEST(ProcLive, ThreeThreads) {
  Child child([] {
    std::thread t1([] { pause(); });
    std::thread t2([] { pause(); });
    t1.detach();
    t2.detach();
    return 0;
  });
  ASSERT_TRUE(child.ok());
  // The child reports ready after spawning; the threads exist by then.
  auto tids = list_tids(child.pid());
  ASSERT_TRUE(tids) << tids.error().message;
  ASSERT_EQ(tids->size(), 3u);
  EXPECT_EQ(tids->front(), child.pid());  // the leader's tid is the pid and the smallest here
  EXPECT_TRUE(std::is_sorted(tids->begin(), tids->end()));
  auto st = read_stat(child.pid());
  ASSERT_TRUE(st);
  EXPECT_EQ(st->num_threads, 3);
  pid_t other = (*tids)[2];
  auto ts = read_thread_status(child.pid(), other);
  ASSERT_TRUE(ts) << ts.error().message;
  EXPECT_EQ(ts->pid, other);
  EXPECT_EQ(ts->tgid, child.pid());
  EXPECT_EQ(ts->threads, 3);
  auto tst = read_thread_stat(child.pid(), other);
  ASSERT_TRUE(tst) << tst.error().message;
  EXPECT_EQ(tst->pid, other);
}

TEST(ProcLive, VanishedPidKeepsErrno) {
  pid_t pid = -1;
  {
    Child child([] { return 0; });
    ASSERT_TRUE(child.ok());
    pid = child.pid();
  }  // killed and reaped
  auto is_gone = [](const Error& e) { return e.sys_errno == ENOENT || e.sys_errno == ESRCH; };
  auto st = read_stat(pid);
  ASSERT_FALSE(st);
  EXPECT_TRUE(is_gone(st.error())) << st.error().message;
  EXPECT_NE(st.error().message.find(fmt::format("/proc/{}/stat", pid)), std::string::npos) << st.error().message;
  auto tids = list_tids(pid);
  ASSERT_FALSE(tids);
  EXPECT_TRUE(is_gone(tids.error())) << tids.error().message;
  auto fds = list_fds(pid);
  ASSERT_FALSE(fds);
  EXPECT_TRUE(is_gone(fds.error())) << fds.error().message;
  auto ns = read_ns_inodes(pid);
  ASSERT_FALSE(ns);
  EXPECT_TRUE(is_gone(ns.error())) << ns.error().message;
  auto maps = read_maps(pid);
  ASSERT_FALSE(maps);
  EXPECT_TRUE(is_gone(maps.error()));
}

TEST(ProcLive, DeletedFileWithSpaceMapped) {
  char dir[] = "/tmp/amber-procfs-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  std::string path = std::string(dir) + "/file with space";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd);
  ASSERT_EQ(ftruncate(fd.get(), 4096), 0);
  void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  auto maps = read_maps(getpid());
  ASSERT_TRUE(maps) << maps.error().message;
  const VmArea* a = find_area(*maps, path);
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->deleted);
  EXPECT_TRUE(a->shared);
  unlink(path.c_str());
  rmdir(dir);
  maps = read_maps(getpid());
  ASSERT_TRUE(maps) << maps.error().message;
  a = find_area(*maps, path);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->deleted);
  EXPECT_EQ(a->start, reinterpret_cast<uint64_t>(p));
  munmap(p, 4096);
}
