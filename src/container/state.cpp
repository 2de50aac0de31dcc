#include "container/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "base/files.h"
#include "container/paths.h"
#include "sys/cgroup.h"

namespace amber::container {

using nlohmann::json;

std::optional<img::HostLink> host_link(const ContainerState& s) {
  if (!s.veth) return std::nullopt;
  img::HostLink h;
  h.set_host_name(s.veth->host_name);
  h.set_host_address(s.veth->host_address);
  h.set_address(s.veth->address);
  h.set_name(s.veth->name);
  for (const auto& p : s.veth->publish) h.add_publish(p);
  return h;
}

std::string state_to_json(const ContainerState& s) {
  json j;
  j["version"] = kStateVersion;
  j["name"] = s.name;
  j["init"] = {{"pid", s.init.pid}, {"start_time", s.init.start_time}};
  j["shim"] = {{"pid", s.shim.pid}, {"start_time", s.shim.start_time}};
  j["cgroup"] = s.cgroup;
  j["namespaces"] = s.namespaces;
  j["command"] = s.command;
  j["env"] = s.env;
  j["hostname"] = s.hostname;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  if (s.veth)
    j["veth"] = {{"host_name", s.veth->host_name},
                 {"host_address", s.veth->host_address},
                 {"address", s.veth->address},
                 {"name", s.veth->name},
                 {"publish", s.veth->publish}};
  return j.dump(2) + "\n";
}

Result<ContainerState> parse_state(std::string_view text) {
  // nlohmann::json reports type and parse errors by exception: caught here,
  // at the boundary.
  try {
    json j = json::parse(text);
    int version = j.at("version").get<int>();
    if (version > kStateVersion)
      return bad_input("state version {} is newer than this amber ({})", version, kStateVersion);
    ContainerState s;
    s.name = j.at("name").get<std::string>();
    s.init = {j.at("init").at("pid").get<pid_t>(), j.at("init").at("start_time").get<uint64_t>()};
    s.shim = {j.at("shim").at("pid").get<pid_t>(), j.at("shim").at("start_time").get<uint64_t>()};
    s.cgroup = j.at("cgroup").get<std::string>();
    s.namespaces = j.at("namespaces").get<std::map<std::string, uint64_t>>();
    s.command = j.at("command").get<std::vector<std::string>>();
    s.env = j.value("env", std::vector<std::string>{});
    s.hostname = j.value("hostname", std::string{});
    s.rootfs = j.value("rootfs", std::string{});
    s.created = j.value("created", std::string{});
    if (j.contains("veth")) {
      const json& v = j.at("veth");
      s.veth = VethState{v.at("host_name").get<std::string>(), v.at("host_address").get<std::string>(),
                         v.at("address").get<std::string>(), v.at("name").get<std::string>(),
                         v.value("publish", std::vector<std::string>{})};
    }
    return s;
  } catch (const json::exception& e) {
    return bad_input("malformed state: {}", e.what());
  }
}

Result<std::string> reserve_state_dir(const std::string& name) {
  std::string root = state_root();
  TRY(make_dirs(root, 0711));
  std::string dir = root + "/" + name;
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) return fail(Exit::BadInput, fmt::format("container {} already exists", name), EEXIST);
    return sys_fail("create state directory {}", dir);
  }
  return dir;
}

namespace {
constexpr const char* kMark = "/.reserved-by";
}  // namespace

std::string reservation_dir(const std::string& name, const std::string& owner) {
  return fmt::format("{}/.reserve-{}-{}", state_root(), name, owner);
}

Result<std::string> reserve_state_dir_marked(const std::string& name, const std::string& hidden,
                                             const std::string& owner) {
  std::string root = state_root();
  TRY(make_dirs(root, 0711));
  std::string dir = root + "/" + name;
  if (path_exists(hidden)) TRY(remove_tree(hidden));  // a dead amber's with our pid: the journal says so
  if (::mkdir(hidden.c_str(), 0700) != 0) return sys_fail("create state directory {}", hidden);
  auto made = [&]() -> Status {
    TRY(write_file_atomic(hidden + kMark, owner, 0600));
    // renameat2(RENAME_NOREPLACE): the name is taken atomically, with the
    // mark already inside.
    if (::renameat2(AT_FDCWD, hidden.c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST) return fail(Exit::BadInput, fmt::format("container {} already exists", name), EEXIST);
      return sys_fail("rename {} to {}", hidden, dir);
    }
    return {};
  };
  if (auto r = made(); !r) {
    (void)remove_tree(hidden);
    return std::unexpected(std::move(r.error()));
  }
  return dir;
}

bool reserved_by(const std::string& dir, const std::string& owner) {
  auto mark = read_file(dir + kMark);
  return mark && *mark == owner;
}

Status drop_mark(const std::string& dir) {
  if (::unlink((dir + kMark).c_str()) != 0 && errno != ENOENT) return sys_fail("remove {}{}", dir, kMark);
  return {};
}

Status write_state(const std::string& dir, const ContainerState& s) {
  return write_file_atomic(state_file(dir), state_to_json(s), 0600);
}

Result<ContainerState> load_state(const std::string& name) {
  if (!valid_name(name)) return bad_input("no container named {}", name);
  std::string dir = state_dir(name);
  if (!path_exists(dir)) return fail(Exit::BadInput, fmt::format("no container named {}", name), ENOENT);
  auto text = read_file(state_file(dir));
  if (!text) {
    if (text.error().sys_errno == ENOENT)
      return fail(Exit::Failed, fmt::format("container {}: no state file (being created, or left half-made)", name),
                  ENOENT);
    return std::unexpected(std::move(text.error()).wrap(fmt::format("container {}", name)));
  }
  return context(parse_state(*text), fmt::format("container {}: {}", name, state_file(dir)));
}

Result<std::vector<std::string>> list_containers() {
  std::string root = state_root();
  std::vector<std::string> out;
  DIR* d = ::opendir(root.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return sys_fail("open {}", root);
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    bool dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      dir = ::stat((root + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (valid_name(n) && dir) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<ExitStatus> read_exit_status(const std::string& dir) {
  auto text = read_file(exit_file(dir));
  if (!text) return std::nullopt;
  auto st = parse_exit_status(*text);
  if (!st) return std::nullopt;
  return *st;
}

std::string LiveStatus::text() const {
  switch (kind) {
    case Kind::Running: return "running";
    case Kind::Frozen: return "frozen";
    case Kind::Stopped: break;
  }
  if (!exit) return "stopped";
  return fmt::format("stopped ({})", format_exit_status(*exit));
}

LiveStatus live_status(const ContainerState& s) {
  LiveStatus st;
  st.exit = read_exit_status(state_dir(s.name));
  if (st.exit || liveness(s.init) != Liveness::Alive) return st;
  auto frozen = sys::cgroup_frozen(s.cgroup);
  st.kind = (frozen && *frozen) ? LiveStatus::Kind::Frozen : LiveStatus::Kind::Running;
  return st;
}

}  // namespace amber::container
