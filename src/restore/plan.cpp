#include "restore/plan.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/files.h"
#include "image/layout.h"
#include "kinds/mm.h"
#include "kinds/ns/ipc.h"
#include "kinds/ns/mounts.h"
#include "kinds/rlimits.h"
#include "sys/procfs.h"

namespace amber::restore {

namespace {

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
  std::vector<const img::Task*> tasks;
  for (const img::TaskRef& ref : tree.tasks()) {
    if (p.tasks.contains(ref.pid())) return bad_input("task {} is listed twice in the process tree", ref.pid());
    TaskPlan& t = p.tasks[ref.pid()];
    TRY(read_task(image, ref, t));
    tasks.push_back(&t.task);
  }
  if (tree.init_pid() != 1) return bad_input("the image's init is task {}, not 1", tree.init_pid());
  p.tree = TRY(kinds::plan_image_tree(tasks, TRY(sys::read_pid_max())));

  p.shmem = TRY(kinds::read_shmem(image));
  for (const auto& [pid, t] : p.tasks)
    if (!t.zombie()) TRY(kinds::check_shmem_refs(p.shmem, t.mm, t.files, pid));

  std::map<pid_t, kinds::TaskFilesRef> files;
  for (const auto& [pid, t] : p.tasks)
    if (!t.zombie()) files[pid] = {&t.files, t.task.root()};
  const kinds::TreePlan& tp = p.tree;
  p.shared = TRY(kinds::plan_shared_fds(files, [&tp](const std::vector<pid_t>& pids) { return tp.common_creator(pids); }));

  TRY(kinds::validate_ipc(p.container.namespaces().ipc_ns()));
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
