#include "rpc/options.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include "base/files.h"
#include "sys/procfs.h"

namespace amber::rpc {
namespace {

using google::protobuf::FieldDescriptor;

// How amber treats one field of criu_opts.
enum class Use {
  Dump,        // read by the dump (refused in a restore unless at its default)
  Restore,     // read by the restore (refused in a dump unless at its default)
  Both,        // read by both
  Permission,  // lets CRIU do something amber never needs to: accepted, whatever its value
  Refuse,      // refused unless at its default
};

struct Rule {
  std::string_view name;
  Use use;
  std::string_view why;  // for Permission and Refuse: what the option is, said in the refusal or the log
};

// Every field of proto/criu_rpc.proto's criu_opts.
constexpr Rule kRules[] = {
    {"images_dir_fd", Use::Both, ""},
    {"pid", Use::Dump, ""},
    {"leave_running", Use::Dump, ""},
    {"ext_unix_sk", Use::Refuse, "a unix socket connected outside is a leak, and amber cannot give it back at restore"},
    {"tcp_established", Use::Both, ""},
    {"evasive_devices", Use::Permission, "amber opens no device by another path"},
    {"shell_job", Use::Refuse, "a session or process group led from outside the container is not supported"},
    {"file_locks", Use::Permission, "amber dumps and restores file locks always"},
    {"log_level", Use::Both, ""},
    {"log_file", Use::Both, ""},
    {"ps", Use::Refuse, "no page server"},
    {"notify_scripts", Use::Both, ""},
    {"root", Use::Both, ""},
    {"parent_img", Use::Refuse, "no incremental dumps (pre-dump images)"},
    {"track_mem", Use::Refuse, "no memory tracking for pre-dumps"},
    {"auto_dedup", Use::Refuse, "no incremental dumps"},
    {"work_dir_fd", Use::Both, ""},
    {"link_remap", Use::Permission, "amber keeps the content of unlinked open files in the image, it links nothing"},
    {"veths", Use::Refuse, "veth pairs given by name are not supported"},
    {"cpu_cap", Use::Refuse, "CPU capability checks are not selectable"},
    {"force_irmap", Use::Refuse, "no inotify path map"},
    {"exec_cmd", Use::Refuse, "no command run after a restore"},
    {"ext_mnt", Use::Both, ""},
    {"manage_cgroups", Use::Both, ""},
    {"cg_root", Use::Restore, ""},
    {"rst_sibling", Use::Restore, ""},
    {"inherit_fd", Use::Restore, ""},
    {"auto_ext_mnt", Use::Refuse, "external mounts are not detected automatically"},
    {"ext_sharing", Use::Refuse, "sharing with external mounts is not supported"},
    {"ext_masters", Use::Refuse, "masters among external mounts are not supported"},
    {"skip_mnt", Use::Refuse, "no mount is left out of a dump"},
    {"enable_fs", Use::Refuse, "no file system is dumped as external"},
    {"unix_sk_ino", Use::Dump, ""},
    {"manage_cgroups_mode", Use::Both, ""},
    {"ghost_limit", Use::Refuse, "no size limit on unlinked files"},
    {"irmap_scan_paths", Use::Refuse, "no inotify path map"},
    {"external", Use::Both, ""},
    {"empty_ns", Use::Both, ""},
    {"join_ns", Use::Restore, ""},
    {"cgroup_props", Use::Refuse, "cgroup properties are not dumped"},
    {"cgroup_props_file", Use::Refuse, "cgroup properties are not dumped"},
    {"cgroup_dump_controller", Use::Refuse, "cgroup properties are not dumped"},
    {"freeze_cgroup", Use::Dump, ""},
    {"timeout", Use::Refuse, "the hold's timeout is not selectable"},
    {"tcp_skip_in_flight", Use::Refuse, "connections in the SYN stages are not skipped"},
    {"weak_sysctls", Use::Permission, "amber sets every sysctl of the image or fails"},
    {"lazy_pages", Use::Refuse, "no lazy restore"},
    {"status_fd", Use::Refuse, "no lazy restore"},
    {"orphan_pts_master", Use::Permission, "a pty whose master is outside is a leak at dump: none is ever orphaned"},
    {"config_file", Use::Both, ""},
    {"tcp_close", Use::Refuse, "established connections are restored, not closed"},
    {"lsm_profile", Use::Refuse, "no LSM profiles"},
    {"tls_cacert", Use::Refuse, "no page server"},
    {"tls_cacrl", Use::Refuse, "no page server"},
    {"tls_cert", Use::Refuse, "no page server"},
    {"tls_key", Use::Refuse, "no page server"},
    {"tls", Use::Refuse, "no page server"},
    {"tls_no_cn_verify", Use::Refuse, "no page server"},
    {"cgroup_yard", Use::Refuse, "cgroups are not restored by amber"},
    {"pre_dump_mode", Use::Refuse, "no pre-dumps"},
    {"pidfd_store_sk", Use::Refuse, "no pre-dumps"},
    {"lsm_mount_context", Use::Refuse, "no LSM mount contexts"},
    {"network_lock", Use::Refuse, "no choice of method: amber locks the links but lo with its own nftables table"},
    {"mntns_compat_mode", Use::Refuse, "one mount namespace restore mode"},
    {"skip_file_rwx_check", Use::Refuse, "file modes are always checked"},
    {"unprivileged", Use::Refuse, "amber runs as root"},
    {"images_dir", Use::Refuse, "the image directory is given as images_dir_fd"},
    {"leave_stopped", Use::Refuse, "the tasks are released running"},
    {"display_stats", Use::Refuse, "no statistics output"},
    {"log_to_stderr", Use::Refuse, "amber logs to log_file only (its stderr may be the container's)"},
    {"allow_uprobes", Use::Refuse, "uprobes are not supported"},
    {"ghost_fiemap", Use::Refuse, "no sparse unlinked-file dumping mode"},
    {"file_validation_method", Use::Refuse, "files are validated amber's way"},
};

const Rule* rule_of(std::string_view name) {
  for (const Rule& r : kRules)
    if (r.name == name) return &r;
  return nullptr;
}

// Whether a set field differs from its declared default, and its value as text.
bool non_default(const criurpc::criu_opts& o, const FieldDescriptor* f, std::string& text) {
  const auto* refl = o.GetReflection();
  if (f->is_repeated()) {
    text = fmt::format("{} entries", refl->FieldSize(o, f));
    return refl->FieldSize(o, f) > 0;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      text = refl->GetBool(o, f) ? "true" : "false";
      return refl->GetBool(o, f) != f->default_value_bool();
    case FieldDescriptor::CPPTYPE_INT32:
      text = std::to_string(refl->GetInt32(o, f));
      return refl->GetInt32(o, f) != f->default_value_int32();
    case FieldDescriptor::CPPTYPE_UINT32:
      text = std::to_string(refl->GetUInt32(o, f));
      return refl->GetUInt32(o, f) != f->default_value_uint32();
    case FieldDescriptor::CPPTYPE_STRING:
      text = "'" + refl->GetString(o, f) + "'";
      return refl->GetString(o, f) != f->default_value_string();
    case FieldDescriptor::CPPTYPE_ENUM:
      text = refl->GetEnum(o, f)->name();
      return refl->GetEnumValue(o, f) != f->default_value_enum()->number();
    default:
      text = "set";
      return true;
  }
}

// amber's own cgroup in the hierarchy a runtime names by its controllers
// as /proc/PID/cgroup lists them ("cpu,cpuacct", "name=systemd", "" : v2).
Result<std::optional<std::string>> own_cgroup(std::string_view ctrl) {
  for (const sys::CgroupEntry& e : TRY(sys::read_cgroup(::getpid()))) {
    std::string joined;
    for (const std::string& c : e.controllers) joined += (joined.empty() ? "" : ",") + c;
    const bool v2 = e.hierarchy == 0 && e.controllers.empty() && e.name.empty();
    if (ctrl.empty() ? v2 : (e.name == ctrl || joined == ctrl)) return e.path;
  }
  return std::nullopt;
}

// CRIU's --external keys: TYPE[ID]:KEY (or TYPE[ID]). The namespace ones
// name the namespace's inode; amber's externals take a namespace by type.
Result<seal::External> map_external(std::string_view spec) {
  const size_t open = spec.find('['), close = spec.find(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return bad_input("criu option external '{}': not TYPE[ID] or TYPE[ID]:KEY", spec);
  const std::string_view type = spec.substr(0, open), id = spec.substr(open + 1, close - open - 1);
  for (std::string_view ns : {"net", "pid", "ipc", "uts", "mnt", "cgroup", "user", "time"})
    if (type == ns && parse_uint(id)) return seal::External{std::string(type), ""};
  if (type == "unix" && parse_uint(id)) return seal::External{"unix", std::string(id)};
  if (type == "mnt" && !id.empty() && id.front() == '/') return seal::External{"mount", std::string(id)};
  return unsupported("criu option external '{}': amber takes external namespaces (TYPE[INODE]), unix[INODE] and "
                     "mnt[PATH], not {}[...]",
                     spec, type);
}

// CRIU's key of a pipe, "pipe:[INODE]" (runc's descriptors.json).
std::optional<uint64_t> pipe_inode(std::string_view key) {
  if (!key.starts_with("pipe:[") || !key.ends_with(']')) return std::nullopt;
  return parse_uint(key.substr(6, key.size() - 7));
}

Status map_common(const criurpc::criu_opts& o, Externals& ext) {
  // runc always sets CLONE_NEWNET here ("runc does not manage network
  // devices"): CRIU then leaves the namespace's devices to the runtime.
  // amber dumps and restores the net namespace with its content (lo, its
  // addresses, routes, sysctls) and refuses by name a device it cannot
  // recreate, so that nothing is left for the runtime to redo. Any other
  // namespace asked to be restored empty is refused.
  if (o.empty_ns() & ~static_cast<uint32_t>(CLONE_NEWNET))
    return unsupported("criu option empty_ns ({:#x}): amber restores every namespace but net with its content, "
                       "never empty",
                       o.empty_ns());
  for (const std::string& e : o.external()) ext.accepted.push_back(TRY(map_external(e)));
  if (o.has_config_file() && path_exists(o.config_file()))
    return unsupported("criu option config_file '{}': amber does not read CRIU configuration files",
                       o.config_file());
  if (o.has_manage_cgroups_mode()) {
    const auto mode = o.manage_cgroups_mode();
    // SOFT (DEFAULT): properties are restored only into cgroups the engine
    // made, and amber makes none; IGNORE, CG_NONE: nothing done.
    if (mode != criurpc::IGNORE && mode != criurpc::CG_NONE && mode != criurpc::SOFT && mode != criurpc::DEFAULT)
      return unsupported("criu option manage_cgroups_mode {}: amber does not dump or restore cgroup properties",
                         criurpc::criu_cg_mode_Name(mode));
  }
  return {};
}

}  // namespace

Status check_options(const criurpc::criu_opts& o, criurpc::criu_req_type type) {
  const auto* refl = o.GetReflection();
  const auto& unknown = refl->GetUnknownFields(o);
  if (unknown.field_count() > 0)
    return unsupported("criu option field number {}: unknown to amber", unknown.field(0).number());
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(o, &fields);
  const bool dump = type == criurpc::DUMP;
  for (const FieldDescriptor* f : fields) {
    const Rule* r = rule_of(f->name());
    std::string value;
    const bool changed = non_default(o, f, value);
    if (!r) return unsupported("criu option {} ({}): not supported by amber", f->name(), value);
    if (!changed || r->use == Use::Permission || r->use == Use::Both) continue;
    if (r->use == Use::Refuse)
      return unsupported("criu option {} ({}): not supported by amber: {}", f->name(), value, r->why);
    if ((r->use == Use::Dump) != dump)
      return bad_input("criu option {} ({}) is for a {}, not for a {}", f->name(), value,
                       r->use == Use::Dump ? "DUMP" : "RESTORE", criurpc::criu_req_type_Name(type));
  }
  return {};
}

Result<Dirs> map_dirs(const criurpc::criu_opts& o, pid_t peer) {
  Dirs d;
  d.images = TRY(open_peer_dir(peer, o.images_dir_fd(), "images_dir_fd"));
  if (o.has_work_dir_fd()) d.work = TRY(open_peer_dir(peer, o.work_dir_fd(), "work_dir_fd"));
  d.log_name = o.has_log_file() ? o.log_file() : "amber.log";
  if (d.log_name.empty() || d.log_name.find('/') != std::string::npos || d.log_name == "." || d.log_name == "..")
    return bad_input("criu option log_file '{}': a file name in the work directory", d.log_name);
  return d;
}

std::string image_dir(const Dirs& d) { return d.images.path + "/amber"; }

Result<DumpRequest> map_dump(const criurpc::criu_opts& o, const Dirs& dirs) {
  DumpRequest r;
  TRY(map_common(o, r.externals));
  if (!o.has_pid() || o.pid() <= 0)
    return bad_input("criu option pid: not given: amber dumps a container by its init's pid, not the runtime itself");
  r.opts.pid = o.pid();
  r.opts.name = fmt::format("pid {}", o.pid());
  r.opts.dir = image_dir(dirs);
  r.opts.leave_running = o.leave_running();
  r.opts.tcp_established = o.tcp_established();
  r.opts.freeze_cgroup = o.freeze_cgroup();
  if (o.has_root()) {
    // The root the runtime names must be the init's (the same directory;
    // /proc/PID/root reads "/" from outside its mount namespace).
    struct stat given {}, its {};
    if (::stat(o.root().c_str(), &given) != 0) return sys_fail("criu option root '{}'", o.root());
    if (::stat(fmt::format("/proc/{}/root/", o.pid()).c_str(), &its) != 0) return sys_fail("root of pid {}", o.pid());
    if (given.st_dev != its.st_dev || given.st_ino != its.st_ino)
      return bad_input("criu option root '{}': not the root directory of pid {}", o.root(), o.pid());
    r.opts.root = o.root() == "/" ? "" : o.root();
  }
  for (const auto& m : o.ext_mnt()) r.externals.accepted.push_back(seal::External{"mount", m.key()});
  for (const auto& u : o.unix_sk_ino()) r.externals.accepted.push_back(seal::External{"unix", std::to_string(u.inode())});
  // The init's stdio on a pipe of the runtime (podman's conmon, runc run
  // from a pipeline): CRIU leaves it to the runtime, which hands in a new
  // one at the restore (inherit_fd pipe:[INODE], from descriptors.json).
  // (stdout and stderr on one pipe: declared once.)
  for (int fd = 0; fd <= 2; ++fd) {
    auto link = read_link(fmt::format("/proc/{}/fd/{}", o.pid(), fd));
    if (!link) continue;
    auto ino = pipe_inode(*link);
    if (!ino) continue;
    seal::External pipe{"pipe", std::to_string(*ino)};
    if (std::none_of(r.externals.accepted.begin(), r.externals.accepted.end(),
                     [&](const seal::External& e) { return e.spec() == pipe.spec(); }))
      r.externals.accepted.push_back(std::move(pipe));
  }
  // A namespace the container shares with the runtime (with amber, its
  // child) is the runtime's: CRIU does not dump it, the restored tree gets
  // the engine's. amber's seal check accepts it as declared (user and time
  // of the host are accepted anyway).
  const auto own = TRY(sys::read_ns_inodes(::getpid()));
  const auto its = TRY_CTX(sys::read_ns_inodes(o.pid()), "pid {}", o.pid());
  for (std::string_view type : {"pid", "uts", "ipc", "net", "mnt", "cgroup"}) {
    auto a = own.find(std::string(type)), b = its.find(std::string(type));
    if (a != own.end() && b != its.end() && a->second == b->second)
      r.externals.accepted.push_back(seal::External{std::string(type), ""});
  }
  r.opts.externals = r.externals.accepted;
  return r;
}

Result<RestoreRequest> map_restore(const criurpc::criu_opts& o, const Dirs& dirs) {
  RestoreRequest r;
  TRY(map_common(o, r.externals));
  if (!o.rst_sibling())
    return unsupported("criu option rst_sibling is not set: amber restores a runtime's container only as the "
                       "runtime's child");
  r.opts.sibling = true;
  r.opts.dir = image_dir(dirs);
  r.opts.rootfs = o.root();
  // The cgroups the runtime made: amber is in them (the runtime put it
  // there), and the tasks it forks land there too.
  for (const auto& c : o.cg_root()) {
    const auto own = TRY(own_cgroup(c.ctrl()));
    if (!own || *own != c.path())
      return unsupported("criu option cg_root {}:{}: amber restores into the cgroups it is in ({})", c.ctrl(),
                         c.path(), own ? *own : "none");
  }
  for (const auto& f : o.inherit_fd()) {
    if (::fcntl(f.fd(), F_GETFD) < 0) return bad_input("criu option inherit_fd {}: fd {} is not open", f.key(), f.fd());
    r.externals.inherit_fds.emplace_back(f.key(), f.fd());
  }
  for (const auto& j : o.join_ns()) r.externals.join_ns.emplace_back(j.ns(), j.ns_file());
  for (const auto& m : o.ext_mnt()) r.externals.mounts.emplace_back(m.key(), m.val());
  // Handed to the restore as amber's own --external bindings. A key given
  // twice (runc's stdout and stderr on one pipe: descriptors.json names it
  // for both) is the first fd's, as CRIU takes the first inherit_fd that
  // matches.
  std::vector<std::string> bound;
  for (const auto& [key, fd] : r.externals.inherit_fds) {
    auto ino = pipe_inode(key);
    if (!ino) continue;  // a path: reopened from the image like any file
    if (std::find(bound.begin(), bound.end(), key) != bound.end()) continue;
    bound.push_back(key);
    restore::ExternalBinding b{{"pipe", std::to_string(*ino)}, fmt::format("fd:{}", fd)};
    b.offered = true;
    r.opts.externals.push_back(std::move(b));
  }
  for (const auto& [ns, file] : r.externals.join_ns) r.opts.externals.push_back({{ns, ""}, file});
  // A namespace the dump found shared with the runtime (map_dump) is the
  // runtime's: the restored tree gets amber's, which the runtime gave it
  // (runc's default spec shares the host's cgroup namespace).
  for (std::string_view type : {"net", "uts", "ipc", "cgroup"}) {
    const bool given = std::any_of(r.externals.join_ns.begin(), r.externals.join_ns.end(),
                                   [&](const auto& j) { return j.first == type; });
    if (given) continue;
    restore::ExternalBinding b{{std::string(type), ""}, fmt::format("/proc/{}/ns/{}", ::getpid(), type)};
    b.offered = true;
    r.opts.externals.push_back(std::move(b));
  }
  for (const auto& [at, source] : r.externals.mounts) r.opts.mount_externals["mount:" + at] = source;
  return r;
}

}  // namespace amber::rpc
