#include "seal/report.h"

#include <nlohmann/json.hpp>

namespace amber::seal {
namespace {

// Text lists this many outside holders per leak; JSON has all that were kept.
constexpr size_t kTextHolders = 8;

std::string task_text(const TaskRef& t) {
  if (t.pid == 0) return "unknown task";
  if (t.vpid) return fmt::format("pid {} ({}, host pid {})", t.vpid, t.comm, t.pid);
  return fmt::format("pid {} ({})", t.pid, t.comm);
}

std::string header(const Report& r) {
  std::string how = r.target.cgroup.empty() ? "held with ptrace" : fmt::format("held by cgroup {}", r.target.cgroup);
  return fmt::format("container {} (init pid {}; {} process{}, {} thread{}; {})", r.target.name, r.target.init,
                     r.processes, r.processes == 1 ? "" : "es", r.threads, r.threads == 1 ? "" : "s", how);
}

void leak_text(std::string& out, size_t n, const Leak& l) {
  out += fmt::format("{} {}: class {} ({}): {}\n", l.accepted ? "external (declared)" : "leak", n,
                     static_cast<int>(l.cls), leak_class_name(l.cls), leak_class_title(l.cls));
  out += fmt::format("  object:  {} {}{}\n", l.kind, l.id, l.name.empty() ? "" : fmt::format(" \"{}\"", l.name));
  for (const auto& h : l.inside) out += fmt::format("  inside:  {}: {}\n", task_text(h.task), h.how);
  size_t shown = 0;
  for (const auto& h : l.outside) {
    if (shown++ == kTextHolders) break;
    out += fmt::format("  outside: {}: {}\n", task_text(h.task), h.how);
  }
  size_t more = l.outside.size() + l.outside_omitted - std::min(l.outside.size(), kTextHolders);
  if (more) out += fmt::format("  outside: ... and {} more\n", more);
  if (l.accepted)
    out += fmt::format("  accepted by --external {}\n", l.external);
  else
    out += fmt::format("  remedy:  {}\n", l.remedy);
}

nlohmann::json task_json(const TaskRef& t, const std::string& how) {
  nlohmann::json j{{"pid", t.pid}, {"comm", t.comm}, {"how", how}};
  if (t.vpid) j["vpid"] = t.vpid;
  return j;
}

}  // namespace

std::string format_text(const Report& r) {
  std::string out = header(r) + "\n";
  const size_t refused = r.refused();
  if (refused == 0)
    out += fmt::format("sealed: nothing the container uses is used outside it ({} outside processes checked)\n",
                       r.host_processes);
  else
    out += fmt::format("NOT SEALED: {} leak{} found\n", refused, refused == 1 ? "" : "s");
  size_t n = 0;
  for (const auto& l : r.leaks)
    if (!l.accepted) leak_text(out, ++n, l);
  n = 0;
  for (const auto& l : r.leaks)
    if (l.accepted) leak_text(out, ++n, l);
  if (!r.unsupported.empty()) {
    out += fmt::format("NOT DUMPABLE YET: {} object{} amber cannot dump yet\n", r.unsupported.size(),
                       r.unsupported.size() == 1 ? "" : "s");
    for (const auto& u : r.unsupported) out += "  unsupported: " + u + "\n";
  }
  for (const auto& note : r.notes) out += "note: " + note + "\n";
  // The message of an error is one line per leak block; no trailing newline.
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string format_json(const Report& r) {
  nlohmann::json j;
  j["container"] = {{"name", r.target.name}, {"init", r.target.init}, {"cgroup", r.target.cgroup},
                    {"processes", r.processes}, {"threads", r.threads}};
  j["sealed"] = r.sealed();
  j["outside_processes_checked"] = r.host_processes;
  j["elapsed_ms"] = r.elapsed_ms;
  j["leaks"] = nlohmann::json::array();
  for (const auto& l : r.leaks) {
    nlohmann::json lj;
    lj["class"] = static_cast<int>(l.cls);
    lj["class_name"] = leak_class_name(l.cls);
    lj["object"] = {{"kind", l.kind}, {"id", l.id}, {"name", l.name}};
    lj["inside"] = nlohmann::json::array();
    for (const auto& h : l.inside) lj["inside"].push_back(task_json(h.task, h.how));
    lj["outside"] = nlohmann::json::array();
    for (const auto& h : l.outside) lj["outside"].push_back(task_json(h.task, h.how));
    lj["outside_omitted"] = l.outside_omitted;
    lj["external"] = l.external.empty() ? nlohmann::json(nullptr) : nlohmann::json(l.external);
    lj["accepted"] = l.accepted;
    lj["remedy"] = l.remedy;
    j["leaks"].push_back(std::move(lj));
  }
  j["notes"] = r.notes;
  j["unsupported"] = r.unsupported;
  return j.dump(2);
}

}  // namespace amber::seal
