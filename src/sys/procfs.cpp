#include "sys/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <memory>
#include <optional>

#include "base/files.h"

namespace amber::sys {

uint64_t dev_of_kernel(uint32_t kdev) { return makedev(kdev >> 20, kdev & ((1u << 20) - 1)); }

namespace {

// Lines of a /proc file, without the empty piece after the final newline.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out = split(text, '\n');
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// A line quoted in an error message: long lines cut so one error stays one line.
std::string quote(std::string_view line) {
  constexpr size_t kMax = 160;
  if (line.size() <= kMax) return fmt::format("'{}'", line);
  return fmt::format("'{}...'", line.substr(0, kMax));
}

// One T per line; an error names the line.
template <class T>
Result<std::vector<T>> parse_each_line(std::string_view text, Result<T> (*parse_line)(std::string_view)) {
  std::vector<T> out;
  size_t n = 0;
  for (std::string_view line : lines_of(text)) {
    n++;
    out.push_back(TRY_CTX(parse_line(line), "line {} {}", n, quote(line)));
  }
  return out;
}

template <class T>
std::optional<T> to_signed(std::string_view s, int base = 10) {
  auto v = parse_int(s, base);
  if (!v || *v < std::numeric_limits<T>::min() || *v > std::numeric_limits<T>::max()) return std::nullopt;
  return static_cast<T>(*v);
}

template <class T>
std::optional<T> to_unsigned(std::string_view s, int base = 10) {
  // from_chars accepts no sign for unsigned types, so "-1" is junk here.
  auto v = parse_uint(s, base);
  if (!v || *v > std::numeric_limits<T>::max()) return std::nullopt;
  return static_cast<T>(*v);
}

// "fe:00" (hex major:minor, as maps and mountinfo print them).
bool parse_dev(std::string_view s, uint32_t& major, uint32_t& minor) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  auto ma = to_unsigned<uint32_t>(s.substr(0, colon), 16);
  auto mi = to_unsigned<uint32_t>(s.substr(colon + 1), 16);
  if (!ma || !mi) return false;
  major = *ma;
  minor = *mi;
  return true;
}

// "8:1" (decimal major:minor, as mountinfo prints them).
bool parse_dev_dec(std::string_view s, uint32_t& major, uint32_t& minor) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  auto ma = to_unsigned<uint32_t>(s.substr(0, colon));
  auto mi = to_unsigned<uint32_t>(s.substr(colon + 1));
  if (!ma || !mi) return false;
  major = *ma;
  minor = *mi;
  return true;
}

// Next space-separated token from `s` starting at `pos` (runs of spaces skipped);
// empty when the line is exhausted.
std::string_view next_token(std::string_view s, size_t& pos) {
  while (pos < s.size() && s[pos] == ' ') pos++;
  size_t start = pos;
  while (pos < s.size() && s[pos] != ' ') pos++;
  return s.substr(start, pos - start);
}

// mountinfo's mangle(): the kernel writes ' ', '\t', '\n' and '\\' as \ooo.
// A backslash not followed by three octal digits is kept as is.
std::string decode_octal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto oct = [](char c) { return c >= '0' && c <= '7'; };
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      if (v <= 0xff) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// status "Name:" goes through string_escape_str(..., "\n\\"): a newline is
// written as "\n" and a backslash as "\\".
std::string unescape_status_name(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[i + 1];
      if (c == 'n' || c == '\\') {
        out.push_back(c == 'n' ? '\n' : '\\');
        i++;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string proc_path(pid_t pid, std::string_view rest) { return fmt::format("/proc/{}/{}", pid, rest); }

// Reads a /proc file and parses it; errors name the file.
template <class Parse>
auto read_and_parse(const std::string& path, Parse parse) -> decltype(parse(std::string_view{})) {
  std::string text = TRY(read_file(path));
  return context(parse(std::string_view(text)), path);
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// Numeric entries of a directory, sorted. The errno of a failed open/read is kept
// (ENOENT/ESRCH for a task that exited: callers race with exiting tasks).
template <class T>
Result<std::vector<T>> list_numeric(const std::string& path) {
  UniqueFd fd = TRY(open_fd(path, O_RDONLY | O_DIRECTORY));
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd.get()));
  if (!dir) return sys_fail("opendir {}", path);
  (void)fd.release();  // the DIR owns it now
  std::vector<T> out;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(dir.get());
    if (!e) {
      if (errno != 0) return sys_fail("readdir {}", path);
      break;
    }
    if (auto v = to_signed<T>(e->d_name)) out.push_back(*v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// maps

static Result<VmArea> parse_maps_line(std::string_view line) {
  // "start-end perms offset major:minor inode [padding path]"
  VmArea a;
  size_t pos = 0;
  std::string_view range = next_token(line, pos);
  std::string_view perms = next_token(line, pos);
  std::string_view offset = next_token(line, pos);
  std::string_view dev = next_token(line, pos);
  std::string_view inode = next_token(line, pos);
  if (inode.empty()) return bad_input("fewer than 5 fields");

  size_t dash = range.find('-');
  if (dash == std::string_view::npos) return bad_input("bad address range");
  auto start = to_unsigned<uint64_t>(range.substr(0, dash), 16);
  auto end = to_unsigned<uint64_t>(range.substr(dash + 1), 16);
  if (!start || !end || *start > *end) return bad_input("bad address range");
  a.start = *start;
  a.end = *end;

  if (perms.size() != 4 || (perms[0] != 'r' && perms[0] != '-') || (perms[1] != 'w' && perms[1] != '-') ||
      (perms[2] != 'x' && perms[2] != '-') || (perms[3] != 's' && perms[3] != 'p'))
    return bad_input("bad permissions");
  a.read = perms[0] == 'r';
  a.write = perms[1] == 'w';
  a.exec = perms[2] == 'x';
  a.shared = perms[3] == 's';

  auto off = to_unsigned<uint64_t>(offset, 16);
  if (!off) return bad_input("bad offset");
  a.offset = *off;
  if (!parse_dev(dev, a.dev_major, a.dev_minor)) return bad_input("bad device");
  auto ino = to_unsigned<uint64_t>(inode);
  if (!ino) return bad_input("bad inode");
  a.inode = *ino;

  // The path is the rest of the line after the padding: it may contain spaces.
  // File paths are absolute, so a leading space is always padding. The kernel
  // writes a newline in a path as \012 (seq_file_path); that is left as is.
  while (pos < line.size() && line[pos] == ' ') pos++;
  std::string_view path = line.substr(pos);
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.size() > kDeleted.size() && path.ends_with(kDeleted)) {
    path.remove_suffix(kDeleted.size());
    a.deleted = true;
  }
  a.path = std::string(path);
  return a;
}

Result<std::vector<VmArea>> parse_maps(std::string_view text) { return parse_each_line(text, parse_maps_line); }

Result<std::vector<VmArea>> read_maps(pid_t pid) { return read_and_parse(proc_path(pid, "maps"), parse_maps); }

// ---------------------------------------------------------------------------
// status

namespace {

template <class T, size_t N>
bool parse_fixed_list(std::string_view v, std::array<T, N>& out) {
  auto f = split_ws(v);
  if (f.size() != N) return false;
  for (size_t i = 0; i < N; i++) {
    auto x = to_unsigned<T>(f[i]);
    if (!x) return false;
    out[i] = *x;
  }
  return true;
}

template <class T>
bool parse_list(std::string_view v, std::vector<T>& out) {
  out.clear();
  for (std::string_view f : split_ws(v)) {
    std::optional<T> x;
    if constexpr (std::is_signed_v<T>)
      x = to_signed<T>(f);
    else
      x = to_unsigned<T>(f);
    if (!x) return false;
    out.push_back(*x);
  }
  return true;
}

template <class T>
bool parse_num(std::string_view v, T& out, int base = 10) {
  std::optional<T> x;
  if constexpr (std::is_signed_v<T>)
    x = to_signed<T>(v, base);
  else
    x = to_unsigned<T>(v, base);
  if (!x) return false;
  out = *x;
  return true;
}

// Applies one "Key:\tvalue" line; false if the value of a known key is junk.
// Unknown keys (Vm*, Cpus_allowed, ...) are ignored.
bool apply_status_field(ProcStatus& s, std::string_view key, std::string_view raw, bool& saw_pid) {
  std::string_view v = trim(raw);
  if (key == "Name") {
    // Keep spaces that are part of the name: drop only the separating tab.
    if (!raw.empty() && raw.front() == '\t') raw.remove_prefix(1);
    s.name = unescape_status_name(raw);
    return true;
  }
  if (key == "State") {
    if (v.empty()) return false;
    s.state = v[0];
    return true;
  }
  if (key == "Umask") return parse_num(v, s.umask, 8);
  if (key == "Tgid") return parse_num(v, s.tgid);
  if (key == "Pid") return saw_pid = true, parse_num(v, s.pid);
  if (key == "PPid") return parse_num(v, s.ppid);
  if (key == "TracerPid") return parse_num(v, s.tracer_pid);
  if (key == "Uid") return parse_fixed_list(v, s.uid);
  if (key == "Gid") return parse_fixed_list(v, s.gid);
  if (key == "Groups") return parse_list(v, s.groups);
  if (key == "NStgid") return parse_list(v, s.ns_tgid);
  if (key == "NSpid") return parse_list(v, s.ns_pid);
  if (key == "NSpgid") return parse_list(v, s.ns_pgid);
  if (key == "NSsid") return parse_list(v, s.ns_sid);
  if (key == "Threads") return parse_num(v, s.threads);
  if (key == "SigPnd") return parse_num(v, s.sig_pnd, 16);
  if (key == "ShdPnd") return parse_num(v, s.shd_pnd, 16);
  if (key == "SigBlk") return parse_num(v, s.sig_blk, 16);
  if (key == "SigIgn") return parse_num(v, s.sig_ign, 16);
  if (key == "SigCgt") return parse_num(v, s.sig_cgt, 16);
  if (key == "CapInh") return parse_num(v, s.cap_inh, 16);
  if (key == "CapPrm") return parse_num(v, s.cap_prm, 16);
  if (key == "CapEff") return parse_num(v, s.cap_eff, 16);
  if (key == "CapBnd") return parse_num(v, s.cap_bnd, 16);
  if (key == "CapAmb") return parse_num(v, s.cap_amb, 16);
  if (key == "NoNewPrivs") return parse_num(v, s.no_new_privs);
  if (key == "Seccomp") return parse_num(v, s.seccomp);
  if (key == "Seccomp_filters") return parse_num(v, s.seccomp_filters);
  return true;
}

}  // namespace

Result<ProcStatus> parse_status(std::string_view text) {
  ProcStatus s;
  bool saw_pid = false;
  size_t n = 0;
  for (std::string_view line : lines_of(text)) {
    n++;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad_input("line {} {}: no 'Key:'", n, quote(line));
    if (!apply_status_field(s, line.substr(0, colon), line.substr(colon + 1), saw_pid))
      return bad_input("line {} {}: bad value", n, quote(line));
  }
  if (!saw_pid) return bad_input("no Pid line");
  return s;
}

Result<ProcStatus> read_status(pid_t pid) { return read_and_parse(proc_path(pid, "status"), parse_status); }

Result<ProcStatus> read_thread_status(pid_t pid, pid_t tid) {
  return read_and_parse(proc_path(pid, fmt::format("task/{}/status", tid)), parse_status);
}

// ---------------------------------------------------------------------------
// stat

Result<ProcStat> parse_stat(std::string_view text) {
  text = trim(text);
  // "PID (COMM) STATE ...": comm may hold spaces and ')' (it is not escaped),
  // so it ends at the LAST ')'.
  size_t lp = text.find(" (");
  size_t rp = text.rfind(')');
  if (lp == std::string_view::npos || rp == std::string_view::npos || rp < lp + 2)
    return bad_input("stat {}: no '(comm)'", quote(text));
  ProcStat st;
  if (!parse_num(text.substr(0, lp), st.pid)) return bad_input("stat {}: bad pid", quote(text));
  st.comm = std::string(text.substr(lp + 2, rp - lp - 2));

  // f[0] is field 3 (state) of proc(5); field N is f[N - 3].
  std::vector<std::string_view> f = split_ws(text.substr(rp + 1));
  constexpr size_t kRequired = 28 - 2;  // up to startstack (28); later fields are parsed when present
  if (f.size() < kRequired) return bad_input("stat {}: {} fields after comm, want >= {}", quote(text), f.size(), kRequired);
  auto field = [&](int n) -> std::string_view { return static_cast<size_t>(n - 3) < f.size() ? f[n - 3] : "0"; };
  if (field(3).size() != 1) return bad_input("stat {}: bad state", quote(text));
  st.state = field(3)[0];
  bool ok = parse_num(field(4), st.ppid) && parse_num(field(5), st.pgrp) && parse_num(field(6), st.session) &&
            parse_num(field(7), st.tty_nr) && parse_num(field(8), st.tpgid) && parse_num(field(9), st.flags) && parse_num(field(20), st.num_threads) &&
            parse_num(field(22), st.start_time) && parse_num(field(26), st.start_code) &&
            parse_num(field(27), st.end_code) && parse_num(field(28), st.start_stack) &&
            parse_num(field(45), st.start_data) && parse_num(field(46), st.end_data) &&
            parse_num(field(47), st.start_brk) && parse_num(field(48), st.arg_start) &&
            parse_num(field(49), st.arg_end) && parse_num(field(50), st.env_start) &&
            parse_num(field(51), st.env_end) && parse_num(field(52), st.exit_code) &&
            parse_num(field(38), st.exit_signal);
  if (!ok) return bad_input("stat {}: bad number", quote(text));
  return st;
}

Result<ProcStat> read_stat(pid_t pid) { return read_and_parse(proc_path(pid, "stat"), parse_stat); }

Result<ProcStat> read_thread_stat(pid_t pid, pid_t tid) {
  return read_and_parse(proc_path(pid, fmt::format("task/{}/stat", tid)), parse_stat);
}

// ---------------------------------------------------------------------------
// fdinfo

// Splits a fdinfo line into key and value. "key:<space>value" lines (pos, flags,
// tfd, eventfd-count, "settime flags", ...) split at that colon; lines whose
// colons all sit inside words ("inotify wd:1 ino:..", "fanotify flags:0 ..")
// split at the first space.
static std::pair<std::string_view, std::string_view> fdinfo_key_value(std::string_view line) {
  for (size_t i = 0; i < line.size(); i++) {
    if (line[i] != ':') continue;
    if (i + 1 == line.size() || line[i + 1] == ' ' || line[i + 1] == '\t')
      return {trim(line.substr(0, i)), trim(line.substr(i + 1))};
  }
  std::string_view t = trim(line);
  size_t sp = t.find_first_of(" \t");
  if (sp == std::string_view::npos) return {t, {}};
  return {t.substr(0, sp), trim(t.substr(sp + 1))};
}

Result<FdInfo> parse_fdinfo(std::string_view text) {
  FdInfo fi;
  size_t n = 0;
  for (std::string_view line : lines_of(text)) {
    n++;
    fi.lines.emplace_back(line);
    if (trim(line).empty()) continue;
    auto [key, value] = fdinfo_key_value(line);
    bool ok = true;
    if (key == "pos")
      ok = parse_num(value, fi.pos);
    else if (key == "flags")
      ok = parse_num(value, fi.flags, 8);
    else if (key == "mnt_id")
      ok = parse_num(value, fi.mnt_id);
    else if (key == "ino")
      ok = parse_num(value, fi.ino);
    if (!ok) return bad_input("line {} {}: bad value", n, quote(line));
    fi.fields.emplace_back(std::string(key), std::string(value));
  }
  return fi;
}

Result<FdInfo> read_fdinfo(pid_t pid, int fd) {
  return read_and_parse(proc_path(pid, fmt::format("fdinfo/{}", fd)), parse_fdinfo);
}

// ---------------------------------------------------------------------------
// mountinfo

static Result<MountInfo> parse_mountinfo_line(std::string_view line) {
  // "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS"
  // Split on single spaces: every space inside a field is escaped as \040, and
  // an empty source ("mount -t tmpfs '' /x") shows up as an empty field.
  std::vector<std::string_view> f = split(line, ' ');
  auto sep = std::find(f.begin(), f.end(), "-");
  if (sep == f.end()) return bad_input("no ' - ' separator");
  size_t head = static_cast<size_t>(sep - f.begin());
  size_t tail = f.size() - head - 1;
  if (head < 6) return bad_input("{} fields before ' - ', want >= 6", head);
  if (tail < 3) return bad_input("{} fields after ' - ', want 3", tail);

  MountInfo m;
  if (!parse_num(f[0], m.mnt_id) || !parse_num(f[1], m.parent_id)) return bad_input("bad mount id");
  if (!parse_dev_dec(f[2], m.dev_major, m.dev_minor)) return bad_input("bad device");
  m.root = decode_octal(f[3]);
  m.mount_point = decode_octal(f[4]);
  m.mount_options = std::string(f[5]);
  for (size_t i = 6; i < head; i++) {
    std::string_view o = f[i];
    m.optional_fields.emplace_back(o);
    auto tag_value = [&](std::string_view tag, int& out) -> std::optional<bool> {
      if (!o.starts_with(tag)) return std::nullopt;
      return parse_num(o.substr(tag.size()), out) && out > 0;
    };
    std::optional<bool> ok;
    if (!(ok = tag_value("shared:", m.shared)) && !(ok = tag_value("master:", m.master)) &&
        !(ok = tag_value("propagate_from:", m.propagate_from))) {
      if (o == "unbindable") m.unbindable = true;
      continue;  // unknown tags are kept in optional_fields only
    }
    if (!*ok) return bad_input("bad optional field '{}'", o);
  }
  m.fstype = std::string(f[head + 1]);
  m.source = decode_octal(f[head + 2]);
  m.super_options = std::string(f[head + 3]);
  if (tail > 3) return bad_input("{} fields after ' - ', want 3", tail);
  return m;
}

Result<std::vector<MountInfo>> parse_mountinfo(std::string_view text) { return parse_each_line(text, parse_mountinfo_line); }

Result<std::vector<MountInfo>> read_mountinfo(pid_t pid) {
  return read_and_parse(proc_path(pid, "mountinfo"), parse_mountinfo);
}

// ---------------------------------------------------------------------------
// namespaces

Result<uint64_t> parse_ns_link(std::string_view link, std::string_view type) {
  std::string_view rest = link;
  if (!rest.starts_with(type) || !rest.substr(type.size()).starts_with(":[") || !rest.ends_with(']'))
    return bad_input("namespace link '{}' is not '{}:[INODE]'", link, type);
  rest = rest.substr(type.size() + 2);
  rest.remove_suffix(1);
  auto ino = to_unsigned<uint64_t>(rest);
  if (!ino) return bad_input("namespace link '{}': bad inode", link);
  return *ino;
}

Result<uint64_t> read_ns_inode(pid_t pid, std::string_view type) {
  std::string path = proc_path(pid, fmt::format("ns/{}", type));
  std::string link = TRY(read_link(path));
  return context(parse_ns_link(link, type), path);
}

Result<std::vector<std::string>> list_ns_entries(pid_t pid, pid_t tid) {
  std::string dir_path = tid ? proc_path(pid, fmt::format("task/{}/ns", tid)) : proc_path(pid, "ns");
  UniqueFd fd = TRY(open_fd(dir_path, O_RDONLY | O_DIRECTORY));
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd.get()));
  if (!dir) return sys_fail("opendir {}", dir_path);
  (void)fd.release();
  std::vector<std::string> present;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(dir.get());
    if (!e) {
      if (errno != 0) return sys_fail("readdir {}", dir_path);
      break;
    }
    if (e->d_name[0] != '.') present.emplace_back(e->d_name);
  }
  return present;
}

Result<std::map<std::string, uint64_t>> read_ns_inodes(pid_t pid) {
  // Which types exist is a kernel build property, seen in the listing of
  // /proc/PID/ns. Going by the listing (not by ENOENT on each link) keeps a
  // vanished pid an error instead of an empty map.
  std::vector<std::string> present = TRY(list_ns_entries(pid));
  std::map<std::string, uint64_t> out;
  for (const char* type : kNsTypes) {
    if (std::find(present.begin(), present.end(), type) == present.end()) continue;
    out[type] = TRY(read_ns_inode(pid, type));
  }
  return out;
}

Result<pid_t> read_pid_max() {
  std::string text = TRY(read_file("/proc/sys/kernel/pid_max"));
  auto v = parse_int(trim(text));
  if (!v || *v <= 1) return failf("/proc/sys/kernel/pid_max: '{}'", trim(text));
  return static_cast<pid_t>(*v);
}

Result<bool> pidns_within(pid_t tid, uint64_t pidns) {
  constexpr int kMaxPidnsDepth = 33;  // MAX_PID_NS_LEVEL + 1
  const std::string path = proc_path(tid, "ns/pid");
  UniqueFd fd = TRY(open_fd(path, O_RDONLY));
  for (int depth = 0; depth < kMaxPidnsDepth; ++depth) {
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) return sys_fail("fstat {}", path);
    if (st.st_ino == pidns) return true;
    // EPERM: the walk reached the caller's own pid namespace.
    int parent = ::ioctl(fd.get(), NS_GET_PARENT);
    if (parent < 0 && errno == EPERM) return false;
    if (parent < 0) return sys_fail("NS_GET_PARENT {}", path);
    fd = UniqueFd(parent);
  }
  return false;
}

// ---------------------------------------------------------------------------
// cgroup

static Result<CgroupEntry> parse_cgroup_line(std::string_view line) {
  // "HIER:CONTROLLERS:PATH"; the path may itself contain ':'.
  size_t c1 = line.find(':');
  size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return bad_input("not 'HIER:CONTROLLERS:PATH'");
  CgroupEntry e;
  if (!parse_num(line.substr(0, c1), e.hierarchy) || e.hierarchy < 0) return bad_input("bad hierarchy id");
  std::string_view ctl = line.substr(c1 + 1, c2 - c1 - 1);
  if (!ctl.empty()) {
    for (std::string_view c : split(ctl, ',')) {
      if (c.empty()) return bad_input("empty controller name");
      if (c.starts_with("name="))
        e.name = std::string(c);
      else
        e.controllers.emplace_back(c);
    }
  }
  std::string_view path = line.substr(c2 + 1);
  // A removed v2 cgroup that still has this (zombie) task is shown with " (deleted)".
  constexpr std::string_view kDeleted = " (deleted)";
  if (e.hierarchy == 0 && path.ends_with(kDeleted)) {
    path.remove_suffix(kDeleted.size());
    e.deleted = true;
  }
  if (path.empty() || path[0] != '/') return bad_input("path is not absolute");
  e.path = std::string(path);
  return e;
}

Result<std::vector<CgroupEntry>> parse_cgroup(std::string_view text) { return parse_each_line(text, parse_cgroup_line); }

Result<std::vector<CgroupEntry>> read_cgroup(pid_t pid) { return read_and_parse(proc_path(pid, "cgroup"), parse_cgroup); }

Result<std::string> cgroup_v2_path(const std::vector<CgroupEntry>& entries) {
  for (const CgroupEntry& e : entries)
    if (e.hierarchy == 0) return e.path;
  return failf("no cgroup v2 entry (hierarchy 0)");
}

// ---------------------------------------------------------------------------
// listings

Result<std::vector<pid_t>> list_pids() { return list_numeric<pid_t>("/proc"); }

Result<std::vector<pid_t>> list_tids(pid_t pid) { return list_numeric<pid_t>(proc_path(pid, "task")); }

Result<std::vector<int>> list_fds(pid_t pid) { return list_numeric<int>(proc_path(pid, "fd")); }

}  // namespace amber::sys
