#include "restore/externals.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "base/files.h"
#include "sys/procfs.h"

namespace amber::restore {
namespace {

struct NsKind {
  std::string_view name;
  int flag;
};
// The namespaces the restored init can join instead of making its own.
constexpr std::array<NsKind, 4> kNamespaces = {
    {{"net", CLONE_NEWNET}, {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC}, {"cgroup", CLONE_NEWCGROUP}}};
// The descriptions an fd handed in gives back.
constexpr std::array<std::string_view, 3> kDescriptions = {"pipe", "fifo", "file"};

const NsKind* ns_kind(std::string_view kind) {
  for (const NsKind& k : kNamespaces)
    if (k.name == kind) return &k;
  return nullptr;
}

const char* ns_name(int flag) {
  for (const NsKind& k : kNamespaces)
    if (k.flag == flag) return k.name.data();
  return "?";
}

bool is_description(std::string_view kind) {
  return std::find(kDescriptions.begin(), kDescriptions.end(), kind) != kDescriptions.end();
}


Result<UniqueFd> open_namespace(const ExternalBinding& b, const NsKind& k) {
  const std::string spec = b.what.kind + ":" + b.to;
  const bool pid = parse_uint(b.to).has_value();
  const std::string path = pid ? fmt::format("/proc/{}/ns/{}", b.to, k.name) : b.to;
  auto fd = open_fd(path, O_RDONLY | O_CLOEXEC);
  if (!fd) {
    const int e = fd.error().sys_errno;
    if (e == ENOENT || e == ENOTDIR || e == ESRCH)
      return bad_input("--external {}: {}: {}", spec, pid ? fmt::format("no process {}", b.to) : path,
                       std::strerror(e));
    return std::unexpected(std::move(fd.error()).wrap(fmt::format("--external {}", spec)));
  }
  // NS_GET_NSTYPE: the file is a namespace (nsfs), and of which type.
  const int type = ::ioctl(fd->get(), NS_GET_NSTYPE);
  if (type < 0) return bad_input("--external {}: {} is not a namespace file", spec, path);
  if (type != k.flag) return bad_input("--external {}: {} is not a {} namespace", spec, path, k.name);
  return std::move(*fd);
}

// fd N of amber restore, checked against the image's description of it.
Result<UniqueFd> take_fd(const ExternalBinding& b, const img::Fd& image_fd) {
  const std::string spec = b.what.spec() + "=" + b.to;
  const int n = static_cast<int>(*parse_uint(b.to.substr(3)));
  const int fl = ::fcntl(n, F_GETFD);
  if (fl < 0) return bad_input("--external {}: fd {} is not open", spec, n);
  if (fl & FD_CLOEXEC) return bad_input("--external {}: fd {} is amber's own, not one passed to it", spec, n);
  struct stat st {};
  if (::fstat(n, &st) != 0) return sys_fail("--external {}: stat fd {}", spec, n);
  const bool fifo = b.what.kind != "file";
  if ((st.st_mode & S_IFMT) != (fifo ? S_IFIFO : S_IFREG))
    return bad_input("--external {}: fd {} is not a {}", spec, n, fifo ? "pipe or FIFO" : "regular file");
  // The restore verifies the flags of every fd (fdtable.h): the same
  // access mode and status flags as the dumped description, or refused now.
  sys::FdInfo info = TRY_CTX(sys::read_fdinfo(::getpid(), n), "--external {}", spec);
  const uint32_t flags = info.flags & ~static_cast<uint32_t>(O_CLOEXEC);
  if (flags != image_fd.flags())
    return bad_input("--external {}: fd {} is open with flags 0{:o}, the image's description with 0{:o}", spec, n,
                     flags, image_fd.flags());
  const int d = ::fcntl(n, F_DUPFD_CLOEXEC, 3);
  if (d < 0) return sys_fail("--external {}: dup fd {}", spec, n);
  return UniqueFd(d);
}

}  // namespace

Result<ExternalBinding> parse_binding(std::string_view spec) {
  auto usage = [&](std::string_view why) {
    return bad_input("--external {}: {} (restore takes TYPE:PATH|PID for a net, uts, ipc or cgroup namespace, "
                     "KIND:VALUE=fd:N for a pipe, fifo or file, mount:PATH=HOSTPATH for a host bind mount)",
                     spec, why);
  };
  const size_t sep = spec.find_first_of(":=");
  if (sep == std::string_view::npos) return usage("no target");
  const std::string_view kind = spec.substr(0, sep);
  if (ns_kind(kind)) {
    std::string_view to = spec.substr(sep + 1);
    if (to.empty()) return usage("an empty target");
    return ExternalBinding{{std::string(kind), ""}, std::string(to)};
  }
  if (kind == "mount") {
    // mount:PATH=HOSTPATH: the host path bound at PATH in the container.
    const size_t eq = spec.find('=');
    if (eq == std::string_view::npos) return usage("no =HOSTPATH");
    seal::External what = TRY(seal::parse_external(spec.substr(0, eq)));
    const std::string_view to = spec.substr(eq + 1);
    if (!to.starts_with('/')) return usage(fmt::format("'{}' is not an absolute host path", to));
    return ExternalBinding{std::move(what), std::string(to)};
  }
  if (!is_description(kind)) return usage(fmt::format("{} cannot be given back", kind));
  const size_t eq = spec.rfind('=');
  if (eq == std::string_view::npos || eq < sep) return usage("no =fd:N");
  seal::External what = TRY(seal::parse_external(spec.substr(0, eq)));
  const std::string_view to = spec.substr(eq + 1);
  if (!to.starts_with("fd:") || !parse_uint(to.substr(3)) || *parse_uint(to.substr(3)) > INT32_MAX)
    return usage(fmt::format("'{}' is not fd:N", to));
  return ExternalBinding{std::move(what), std::string(to)};
}

Result<std::vector<ExternalBinding>> parse_bindings(const std::vector<std::string>& specs) {
  std::vector<ExternalBinding> out;
  for (const std::string& s : specs) out.push_back(TRY(parse_binding(s)));
  return out;
}

bool declares_namespace(const img::Container& c, std::string_view type) {
  return std::any_of(c.externals().begin(), c.externals().end(),
                     [&](const img::External& e) { return e.kind() == type && e.value().empty(); });
}

uint64_t BoundExternals::clone_flags(uint64_t flags) const {
  for (const NsKind& k : kNamespaces)
    if (joins(std::string(k.name))) flags &= ~static_cast<uint64_t>(k.flag);
  return flags;
}

namespace {

// The image's externals by SPEC, and the description (ofd_id, an fd of it)
// of each one the fds are on.
struct Declared {
  std::map<std::string, seal::External> list;
  std::map<std::string, std::pair<uint64_t, const img::Fd*>> fds;
};

Result<Declared> read_declared(const Plan& plan) {
  Declared d;
  auto& declared = d.list;
  auto& fds = d.fds;
  // The image's list, checked: kinds this amber gives back, each once.
  for (const img::External& e : plan.container.externals()) {
    seal::External x{e.kind(), e.value()};
    const bool ok = x.value.empty() ? ns_kind(x.kind) != nullptr : is_description(x.kind);
    if (!ok) return bad_input("the image declares external {}, which amber restore cannot give back", x.spec());
    if (!declared.emplace(x.spec(), x).second) return bad_input("the image declares external {} twice", x.spec());
  }
  // Its fds: each on a declared external, one description per external.
  for (const auto& [pid, t] : plan.tasks)
    for (const img::Fd& fd : t.files.fds()) {
      if (fd.kind() != img::FD_EXTERNAL) continue;
      if (!declared.contains(fd.external()))
        return bad_input("task {}: fd {}: external {} is not one the image declares", pid, fd.fd(), fd.external());
      auto [it, fresh] = fds.try_emplace(fd.external(), fd.ofd_id(), &fd);
      if (!fresh && it->second.first != fd.ofd_id())
        return bad_input("task {}: fd {}: a second description of external {}", pid, fd.fd(), fd.external());
    }
  return d;
}

}  // namespace

Status check_externals(const Plan& plan) {
  TRY(read_declared(plan));
  return {};
}

Result<BoundExternals> bind_externals(const Plan& plan, const std::vector<ExternalBinding>& given) {
  const Declared d = TRY(read_declared(plan));
  const auto& declared = d.list;
  const auto& fds = d.fds;

  std::map<std::string, const ExternalBinding*> bound;
  for (const ExternalBinding& b : given) {
    if (b.what.kind == "mount") continue;  // mount_bindings
    const std::string spec = b.what.spec();
    if (!declared.contains(spec)) {
      if (b.offered) continue;
      std::string list;
      for (const auto& [s, x] : declared) list += (list.empty() ? "" : ", ") + s;
      return bad_input("--external {}: the image declares no external {} ({})", spec, spec,
                       list.empty() ? "it declares none" : "it declares " + list);
    }
    if (!bound.emplace(spec, &b).second) return bad_input("--external {} is given twice", spec);
  }
  for (const auto& [spec, x] : declared)
    if (!bound.contains(spec))
      return bad_input("the image needs external {}: give it with {}", spec, seal::restore_form(x));

  BoundExternals out;
  for (const auto& [spec, b] : bound) {
    if (const NsKind* k = ns_kind(b->what.kind)) {
      out.ns[b->what.kind] = TRY(open_namespace(*b, *k));
      continue;
    }
    auto it = fds.find(spec);
    if (it == fds.end()) continue;  // no fd of the image is on it: nothing to hand in
    out.fds[it->second.first] = TRY(take_fd(*b, *it->second.second));
  }
  return out;
}

Result<std::map<std::string, std::string>> mount_bindings(const Plan& plan, const std::vector<ExternalBinding>& given) {
  std::map<std::string, std::string> out;
  for (const ExternalBinding& b : given) {
    if (b.what.kind != "mount") continue;
    const std::string spec = b.what.spec();
    const auto& mounts = plan.container.namespaces().mounts();
    const bool known = std::any_of(mounts.begin(), mounts.end(), [&](const img::Mount& m) {
      return m.how() == img::MOUNT_HOST && m.external() == spec;
    });
    if (!known) return bad_input("--external {}: the image has no host bind mount declared {}", spec, spec);
    if (!out.emplace(spec, b.to).second) return bad_input("--external {} is given twice", spec);
  }
  return out;
}

std::vector<int> ExternalFds::all() const {
  std::vector<int> v;
  for (const auto& [type, fd] : ns) v.push_back(fd);
  for (const auto& [ofd, fd] : fds) v.push_back(fd);
  return v;
}

ExternalFds raw_fds(const BoundExternals& b) {
  ExternalFds r;
  for (const auto& [name, fd] : b.ns) r.ns.emplace_back(ns_kind(name)->flag, fd.get());
  for (const auto& [ofd, fd] : b.fds) r.fds.emplace(ofd, fd.get());
  return r;
}

Status join_namespaces(const ExternalFds& ext) {
  for (const auto& [type, fd] : ext.ns) {
    if (::setns(fd, type) != 0) return sys_fail("join the external {} namespace", ns_name(type));
    ::close(fd);
  }
  return {};
}

}  // namespace amber::restore
