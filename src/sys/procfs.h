// /proc parsers. Each parse_* takes the file's text (unit-tested on fixture
// text); each read_* reads it for a pid and parses it. No logging, no policy.
#pragma once
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace amber::sys {

// A device number as the kernel keeps it (MAJOR << 20 | MINOR: fdinfo's
// inotify "sdev" and UNIX_DIAG_VFS give the superblock's s_dev raw) as
// stat's st_dev gives it (new_encode_dev): the same only while the minor is
// below 256, and a tmpfs gets minor 256 and up on a machine with many mounts.
uint64_t dev_of_kernel(uint32_t kdev);

// One line of /proc/PID/maps.
struct VmArea {
  uint64_t start = 0, end = 0;
  bool read = false, write = false, exec = false, shared = false;  // "rwxs" / "rwxp"
  uint64_t offset = 0;
  uint32_t dev_major = 0, dev_minor = 0;
  uint64_t inode = 0;
  std::string path;      // "" for anonymous; "[heap]", "[stack]", "[vdso]", "[vvar]", "[vvar_vclock]", ...
  bool deleted = false;  // path ended in " (deleted)" (suffix removed from path)
  uint64_t size() const { return end - start; }
};
Result<std::vector<VmArea>> parse_maps(std::string_view text);
Result<std::vector<VmArea>> read_maps(pid_t pid);

// /proc/PID/status (or /proc/PID/task/TID/status).
struct ProcStatus {
  std::string name;
  char state = '?';
  pid_t tgid = 0, pid = 0, ppid = 0, tracer_pid = 0;
  std::array<uint32_t, 4> uid{}, gid{};  // real, effective, saved, fs
  std::vector<uint32_t> groups;
  std::vector<pid_t> ns_tgid, ns_pid, ns_pgid, ns_sid;  // outermost first
  int threads = 0;
  uint64_t sig_pnd = 0, shd_pnd = 0, sig_blk = 0, sig_ign = 0, sig_cgt = 0;
  uint64_t cap_inh = 0, cap_prm = 0, cap_eff = 0, cap_bnd = 0, cap_amb = 0;
  int no_new_privs = 0, seccomp = 0, seccomp_filters = 0;
  uint32_t umask = 0;
};
Result<ProcStatus> parse_status(std::string_view text);
Result<ProcStatus> read_status(pid_t pid);
Result<ProcStatus> read_thread_status(pid_t pid, pid_t tid);

// /proc/PID/stat. comm may contain spaces and ')': parsed up to the last ')'.
struct ProcStat {
  pid_t pid = 0;
  std::string comm;
  char state = '?';
  pid_t ppid = 0, pgrp = 0, session = 0;
  int tty_nr = 0;
  pid_t tpgid = -1;  // foreground process group of the controlling terminal (-1: none)
  uint64_t flags = 0;
  int64_t num_threads = 0;
  uint64_t start_time = 0;  // clock ticks since boot (field 22): with pid, identifies a process
  uint64_t start_code = 0, end_code = 0, start_stack = 0;
  uint64_t start_data = 0, end_data = 0, start_brk = 0;
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  int exit_signal = 0;  // field 38: signal sent to the parent at exit (SIGCHLD after fork())
  int exit_code = 0;    // field 52: wait status of a zombie
};
Result<ProcStat> parse_stat(std::string_view text);
Result<ProcStat> read_stat(pid_t pid);
Result<ProcStat> read_thread_stat(pid_t pid, pid_t tid);

// /proc/PID/fdinfo/FD: the common fields, plus every line kept raw for the
// kinds (eventfd-count, tfd, inotify, ...) that need more.
struct FdInfo {
  uint64_t pos = 0;
  uint32_t flags = 0;  // octal in the file
  int mnt_id = -1;
  uint64_t ino = 0;
  std::vector<std::pair<std::string, std::string>> fields;  // "key" -> "value" (trimmed), in order
  std::vector<std::string> lines;                            // every line, raw
};
Result<FdInfo> parse_fdinfo(std::string_view text);
Result<FdInfo> read_fdinfo(pid_t pid, int fd);

// One line of /proc/PID/mountinfo.
struct MountInfo {
  int mnt_id = 0, parent_id = 0;
  uint32_t dev_major = 0, dev_minor = 0;
  std::string root, mount_point, mount_options;
  std::vector<std::string> optional_fields;  // "shared:N", "master:N", "propagate_from:N", "unbindable"
  int shared = 0, master = 0, propagate_from = 0;  // peer group ids, 0 if none
  bool unbindable = false;
  std::string fstype, source, super_options;
};
// Octal escapes (\040 etc.) in paths are decoded.
Result<std::vector<MountInfo>> parse_mountinfo(std::string_view text);
Result<std::vector<MountInfo>> read_mountinfo(pid_t pid);

// Namespaces: the link text of /proc/PID/ns/TYPE is "TYPE:[INODE]".
inline constexpr std::array<const char*, 8> kNsTypes = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
Result<uint64_t> parse_ns_link(std::string_view link, std::string_view type);
Result<uint64_t> read_ns_inode(pid_t pid, std::string_view type);
// Every type in kNsTypes that this kernel has (listed in /proc/PID/ns) -> inode.
// A vanished pid is an error (ENOENT kept), never an empty map.
Result<std::map<std::string, uint64_t>> read_ns_inodes(pid_t pid);
// Every entry of /proc/PID/ns (also pid_for_children, time_for_children and
// kinds this amber does not know), unsorted; of thread `tid` if not 0.
Result<std::vector<std::string>> list_ns_entries(pid_t pid, pid_t tid = 0);
// Whether the pid namespace of task `tid` is the one with inode `pidns` or
// nested in it (walks NS_GET_PARENT up to the caller's own level).
Result<bool> pidns_within(pid_t tid, uint64_t pidns);

// /proc/sys/kernel/pid_max of the caller's pid namespace.
Result<pid_t> read_pid_max();

// /proc/PID/cgroup: "HIER:CONTROLLERS:PATH" lines (hierarchy 0 = cgroup v2).
struct CgroupEntry {
  int hierarchy = 0;
  std::vector<std::string> controllers;  // empty for v2 and named hierarchies without controllers
  std::string name;                      // "name=systemd" style named hierarchy, else ""
  std::string path;
  bool deleted = false;  // v2 only: the cgroup was removed (" (deleted)" suffix removed from path)
};
Result<std::vector<CgroupEntry>> parse_cgroup(std::string_view text);
Result<std::vector<CgroupEntry>> read_cgroup(pid_t pid);
// The v2 path from parsed entries (hierarchy 0), or error if there is none.
Result<std::string> cgroup_v2_path(const std::vector<CgroupEntry>& entries);

// Pids in /proc (processes), tids in /proc/PID/task, fds in /proc/PID/fd; sorted.
// A vanished pid gives an error whose sys_errno is ENOENT or ESRCH.
Result<std::vector<pid_t>> list_pids();
Result<std::vector<pid_t>> list_tids(pid_t pid);
Result<std::vector<int>> list_fds(pid_t pid);

}  // namespace amber::sys
