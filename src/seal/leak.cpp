#include "seal/leak.h"

#include <algorithm>
#include <array>

#include "base/files.h"

namespace amber::seal {

const char* leak_class_name(LeakClass c) {
  switch (c) {
    case LeakClass::Namespace: return "namespace";
    case LeakClass::NamespacePin: return "namespace-pin";
    case LeakClass::SharedFile: return "shared-file";
    case LeakClass::Pipe: return "pipe";
    case LeakClass::UnixSocket: return "unix-socket";
    case LeakClass::SysvShm: return "sysv-shm";
    case LeakClass::SharedMapping: return "shared-mapping";
    case LeakClass::MountPropagation: return "mount-propagation";
    case LeakClass::Tracer: return "tracer";
    case LeakClass::CgroupPidns: return "cgroup-pidns";
  }
  return "?";
}

const char* leak_class_title(LeakClass c) {
  switch (c) {
    case LeakClass::Namespace: return "a namespace of the container has outside members";
    case LeakClass::NamespacePin: return "a namespace of the container is pinned from outside";
    case LeakClass::SharedFile: return "an open file description is shared with an outside task";
    case LeakClass::Pipe: return "a pipe or FIFO has an end outside";
    case LeakClass::UnixSocket: return "a unix socket is connected to an outside task";
    case LeakClass::SysvShm: return "a SysV shm segment is attached from outside";
    case LeakClass::SharedMapping: return "a shared mapping is also mapped outside";
    case LeakClass::MountPropagation: return "a mount shares propagation with an outside mount";
    case LeakClass::Tracer: return "a container task is traced from outside";
    case LeakClass::CgroupPidns: return "the container's cgroup and pid namespace disagree";
  }
  return "?";
}

namespace {

constexpr std::array<std::string_view, 8> kNsKinds = {"pid", "uts", "ipc", "net", "mnt", "cgroup", "user", "time"};
// Kinds with a value after ':', and what the value is.
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kValueKinds = {{
    {"file", "a path"},
    {"fifo", "a path"},
    {"pipe", "an inode number"},
    {"unix", "an inode number"},
    {"shm", "a shm id"},
    {"mapping", "a path"},
    {"mount", "a path"},
}};

bool is_number(std::string_view s) { return !s.empty() && parse_uint(s).has_value(); }

}  // namespace

Result<External> parse_external(std::string_view spec) {
  auto usage = [&](std::string_view why) {
    return bad_input("--external {}: {} (see `amber check --help` or docs/seal-check.md)", spec, why);
  };
  size_t colon = spec.find(':');
  std::string_view kind = spec.substr(0, colon);
  if (colon == std::string_view::npos) {
    if (std::find(kNsKinds.begin(), kNsKinds.end(), kind) != kNsKinds.end()) return External{std::string(kind), ""};
    return usage("not a namespace type (pid uts ipc net mnt cgroup user time) and no KIND:VALUE");
  }
  std::string_view value = spec.substr(colon + 1);
  for (auto [k, what] : kValueKinds) {
    if (k != kind) continue;
    if (value.empty()) return usage(fmt::format("{} needs {} after ':'", k, what));
    if (what == "an inode number" || what == "a shm id") {
      if (!is_number(value)) return usage(fmt::format("{} needs {}", k, what));
    } else if (value.front() != '/') {
      return usage(fmt::format("{} needs an absolute path", k));
    }
    return External{std::string(kind), std::string(value)};
  }
  return usage("unknown kind (file fifo pipe unix shm mapping mount, or a namespace type)");
}

std::string restore_form(const External& e) {
  if (e.value.empty()) return fmt::format("--external {}:PATH|PID (the {} namespace to join)", e.kind, e.kind);
  return fmt::format("--external {}=fd:N (fd N of amber restore: that open file description)", e.spec());
}

Result<std::vector<External>> parse_externals(const std::vector<std::string>& specs) {
  std::vector<External> out;
  for (const auto& s : specs) out.push_back(TRY(parse_external(s)));
  return out;
}

void apply_externals(std::vector<Leak>& leaks, const std::vector<External>& externals) {
  for (Leak& l : leaks) {
    if (l.external.empty()) continue;
    for (const External& e : externals)
      if (e.spec() == l.external) l.accepted = true;
  }
}

}  // namespace amber::seal
