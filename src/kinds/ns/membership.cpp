#include "kinds/ns/membership.h"

#include <map>
#include <string>

#include "base/files.h"
#include "base/unique_fd.h"
#include "kinds/completeness.h"
#include "sys/procfs.h"

namespace amber::kinds {

namespace {

// The namespace a thread's entry must equal: the init's of the same kind (a
// *_for_children link names the namespace the task's next children get).
// Which kinds this amber knows is the completeness table's (ProcSource::Ns).
std::string_view base_kind(std::string_view name) {
  constexpr std::string_view kChildren = "_for_children";
  return name.ends_with(kChildren) ? name.substr(0, name.size() - kChildren.size()) : name;
}
bool known(std::string_view name) { return find_rule(ProcSource::Ns, name) != nullptr; }

// entry -> link text ("mnt:[4026531841]") of one thread's ns directory.
Result<std::map<std::string, std::string>> read_links(pid_t pid, pid_t tid) {
  const std::string dir_path = fmt::format("/proc/{}/task/{}/ns", pid, tid);
  std::map<std::string, std::string> out;
  for (const std::string& name : TRY(sys::list_ns_entries(pid, tid))) {
    auto link = read_link(dir_path + "/" + name);
    // pid_for_children after unshare(CLONE_NEWPID) and before the first
    // fork: the new namespace has no init yet, and the link says ENOENT.
    if (!link && link.error().sys_errno == ENOENT && name.ends_with("_for_children")) {
      out[name] = "a new namespace no task is in yet";
      continue;
    }
    out[name] = TRY(std::move(link));
  }
  return out;
}

}  // namespace

Status check_same_namespaces(const std::vector<TreeTask>& tree) {
  if (tree.empty()) return {};
  const TreeTask& init = tree.front();
  std::map<std::string, std::string> base = TRY_CTX(read_links(init.pid, init.pid), "task {}", init.vpid);
  for (const auto& [name, link] : base)
    if (!known(name))
      return unsupported("task {} ({}): namespace kind '{}' ({}) is unknown to this amber: not supported", init.vpid,
                         init.comm, name, link);
  for (const TreeTask& t : tree) {
    if (t.zombie) continue;
    for (pid_t tid : t.threads) {
      auto links = TRY_CTX(read_links(t.pid, tid), "task {}", t.vpid);
      for (const auto& [name, link] : links) {
        if (!known(name))
          return unsupported("task {} ({}): namespace kind '{}' ({}) is unknown to this amber: not supported", t.vpid,
                             t.comm, name, link);
        auto b = base.find(std::string(base_kind(name)));
        const std::string want = b == base.end() ? "none" : b->second;
        if (link == want) continue;
        const std::string who = tid == t.pid ? fmt::format("task {} ({})", t.vpid, t.comm)
                                             : fmt::format("task {} ({}) thread (host tid {})", t.vpid, t.comm, tid);
        return unsupported("{}: its {} namespace {} is not the container's ({}): nested namespaces are not supported "
                           "yet",
                           who, name, link, want);
      }
    }
  }
  return {};
}

}  // namespace amber::kinds
