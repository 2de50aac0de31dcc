#include "restore/plan.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/files.h"
#include "image/layout.h"
#include "kinds/mm.h"
#include "kinds/ns/mounts.h"
#include "kinds/rlimits.h"
#include "sys/procfs.h"

namespace amber::restore {

namespace {

Result<pid_t> read_pid_max() {
  std::string text = TRY(read_file("/proc/sys/kernel/pid_max"));
  auto v = parse_int(trim(text));
  if (!v || *v <= 1) return failf("/proc/sys/kernel/pid_max: '{}'", trim(text));
  return static_cast<pid_t>(*v);
}

Status read_task(const image::ImageReader& image, const img::TaskRef& ref, TaskPlan& t) {
  const pid_t pid = ref.pid();
  t.task = TRY(image.read<img::Task>(image::task_path(pid), img::KIND_TASK));
  if (t.task.pid() != pid) return bad_input("{}: holds task {}", image.path(image::task_path(pid)), t.task.pid());
  if (t.task.ppid() != ref.ppid() || t.zombie() != ref.zombie())
    return bad_input("task {}: the process tree and its task file disagree", pid);
  for (const auto& u : t.task.unsupported())
    return unsupported("task {}: {} ({}) cannot be restored", pid, u.what(), u.reason());
  if (t.task.mm_shared_with() || t.task.files_shared_with())
    return unsupported("task {} shares its memory or fd table with task {}: not supported yet", pid,
                       t.task.mm_shared_with() ? t.task.mm_shared_with() : t.task.files_shared_with());
  if (t.zombie()) {
    if (t.task.threads_size() != 0) return bad_input("zombie {} has threads in the image", pid);
    return {};
  }
  if (t.task.threads_size() == 0) return bad_input("task {} has no threads in the image", pid);
  if (t.task.threads(0).tid() != pid) return bad_input("task {}: its first thread is {}", pid, t.task.threads(0).tid());
  t.mm = TRY(image.read<img::Mm>(image::mm_path(pid), img::KIND_MM));
  t.files = TRY(image.read<img::Files>(image::files_path(pid), img::KIND_FILES));
  t.pages.emplace(TRY(image::PageReader::open(image, t.mm.pages_index())));
  TRY(t.pages->validate_size());
  TRY_CTX(kinds::validate_mm(t.mm, *t.pages), "task {}", pid);
  TRY_CTX(kinds::check_rlimits(t.task), "task {}", pid);
  return {};
}

}  // namespace

Result<Plan> read_plan(const image::ImageReader& image) {
  Plan p;
  p.container = TRY(image.read<img::Container>(image::container_path(), img::KIND_CONTAINER));
  for (const auto& u : p.container.unsupported())
    return unsupported("the image holds {} ({}), which this amber cannot restore", u.what(), u.reason());
  const auto& tree = p.container.tree();
  if (tree.tasks_size() == 0) return bad_input("the image has no tasks");
  std::vector<kinds::TreeSpec> specs;
  std::map<pid_t, pid_t> tids;  // every thread id -> its process
  for (const img::TaskRef& ref : tree.tasks()) {
    if (p.tasks.contains(ref.pid())) return bad_input("task {} is listed twice in the process tree", ref.pid());
    TaskPlan& t = p.tasks[ref.pid()];
    TRY(read_task(image, ref, t));
    specs.push_back(kinds::tree_spec(t.task));
    for (const img::Thread& th : t.task.threads())
      if (!tids.emplace(th.tid(), ref.pid()).second) return bad_input("thread id {} is in the image twice", th.tid());
  }
  if (tree.init_pid() != 1) return bad_input("the image's init is task {}, not 1", tree.init_pid());
  for (const auto& [tid, pid] : tids)
    if (tid != pid && p.tasks.contains(tid)) return bad_input("thread id {} of task {} is also a task", tid, pid);
  pid_t pid_max = TRY(read_pid_max());
  p.tree = TRY(kinds::plan_tree(specs, pid_max, tids.empty() ? 0 : tids.rbegin()->first));
  for (const auto& [tid, pid] : tids)
    if (p.tree.nodes.contains(tid) && tid != pid)
      return bad_input("thread id {} of task {} is taken by a helper task", tid, pid);

  p.shmem = TRY(kinds::read_shmem(image));
  for (const auto& [pid, t] : p.tasks)
    if (!t.zombie()) TRY(kinds::check_shmem_refs(p.shmem, t.mm, t.files, pid));

  std::map<pid_t, kinds::TaskFilesRef> files;
  for (const auto& [pid, t] : p.tasks)
    if (!t.zombie()) files[pid] = {&t.files, t.task.root()};
  const kinds::TreePlan& tp = p.tree;
  p.shared = TRY(kinds::plan_shared_fds(files, [&tp](const std::vector<pid_t>& pids) { return tp.common_creator(pids); }));

  TRY(kinds::check_inherited_mounts(p.container.namespaces(), TRY(sys::read_mountinfo(::getpid()))));
  for (const auto& m : p.container.namespaces().mounts()) {
    if (m.content().empty()) continue;
    FsContent fc;
    fc.tree = TRY(image.read<img::FsTree>(m.content(), img::KIND_FS_TREE));
    if (!fc.tree.data_file().empty()) fc.data = TRY(open_fd(image.path(fc.tree.data_file()), O_RDONLY));
    p.fs.push_back(std::move(fc));
  }
  return p;
}

}  // namespace amber::restore
