#include "restore/plan.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/files.h"
#include "image/layout.h"
#include "kinds/creds.h"
#include "kinds/mm.h"
#include "kinds/mm_cow.h"
#include "kinds/ns/fs_tree.h"
#include "kinds/ns/ipc.h"
#include "kinds/ns/mounts.h"
#include "kinds/rlimits.h"
#include "kinds/posix_timers.h"
#include "kinds/signals.h"
#include "kinds/thread.h"
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
  for (const img::Thread& th : t.task.threads()) {
    TRY_CTX(kinds::check_thread_image(th), "task {}", pid);
    TRY_CTX(kinds::check_creds_image(th), "task {}", pid);
  }
  TRY(kinds::check_dumpable_image(t.task));
  TRY(kinds::check_signals_image(t.task));
  TRY(kinds::check_posix_timers_image(t.task));
  t.mm = TRY(image.read<img::Mm>(image::mm_path(pid), img::KIND_MM));
  t.files = TRY(image.read<img::Files>(image::files_path(pid), img::KIND_FILES));
  t.pages.emplace(TRY(image::PageReader::open(image, t.mm.pages_index())));
  TRY(t.pages->validate_size());
  TRY_CTX(kinds::validate_mm(t.mm, *t.pages), "task {}", pid);
  TRY_CTX(kinds::check_rlimits(t.task), "task {}", pid);
  return {};
}

// A tmpfs the container owns, with its data file: the init recreates it
// under the mount point, so both must be the image's own and whole.
Result<FsContent> read_fs_content(const image::ImageReader& image, const img::Mount& m) {
  FsContent fc;
  fc.tree = TRY(image.read<img::FsTree>(m.content(), img::KIND_FS_TREE));
  const std::string what = fmt::format("content of {} ({})", m.mountpoint(), m.content());
  fc.mount_id = m.mount_id();
  // Only a tmpfs the restore makes new has content: a tree elsewhere (or at
  // another path than its mount) would write into the rootfs or, without
  // one, the host ("/var/tmp" did). validate_mounts checked the recipe.
  if (m.how() != img::MOUNT_NEW || m.fstype() != "tmpfs")
    return bad_input("{}: content for {}, which is not a tmpfs the restore makes", what, m.mountpoint());
  if (fc.tree.mountpoint() != m.mountpoint())
    return bad_input("{}: corrupt: a tree for {} on a {} mount", what, fc.tree.mountpoint(), m.fstype());
  uint64_t data_size = 0;
  if (!fc.tree.data_file().empty()) {
    const img::FileEntry* f = image.find(fc.tree.data_file());
    if (!f || f->kind() != img::KIND_FS_DATA)
      return bad_input("{}: data file {} is not in the image", what, fc.tree.data_file());
    data_size = f->size();  // validate() checked the file has it
    fc.auth = TRY(image.chunk_auth(f->path()));
    const uint64_t chunks = (data_size + image::kChunkSize - 1) / image::kChunkSize;
    if (fc.auth && (fc.tree.data_size() != data_size || fc.tree.chunk_tags().size() != chunks * image::kTagSize))
      return bad_input("{}: corrupt: {} bytes of chunk tags for {} bytes of data", what, fc.tree.chunk_tags().size(),
                       data_size);
    fc.data = TRY(open_fd(image.path(f->path()), O_RDONLY));
  }
  TRY_CTX(kinds::validate_fs_tree(fc.tree, data_size), "{}", what);
  return fc;
}

// Each task's pages that are its parent's (copy-on-write) lie in the store
// of a live ancestor.
Status link_ancestors(Plan& p) {
  for (auto& [pid, t] : p.tasks) {
    if (t.zombie()) continue;
    for (pid_t up = t.task.ppid(); up != 0;) {
      auto it = p.tasks.find(up);
      if (it == p.tasks.end() || it->second.zombie() || !it->second.pages) break;
      t.ancestors.push_back(&*it->second.pages);
      up = it->second.task.ppid();
      if (t.ancestors.size() > p.tasks.size()) return bad_input("task {}: its ancestors form a cycle", pid);
    }
    TRY_CTX(kinds::for_each_parent_piece(t.pages->index(), t.ancestors,
                                         [](const image::PageReader&, uint64_t, uint64_t, uint64_t) -> Status {
                                           return {};
                                         }),
            "task {}", pid);
  }
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
  TRY(link_ancestors(p));
  plan_cow(p);

  p.shmem = TRY(kinds::read_shmem(image));
  for (const auto& [pid, t] : p.tasks)
    if (!t.zombie()) TRY(kinds::check_shmem_refs(p.shmem, t.mm, t.files, pid));
  const img::IpcNs& ipc = p.container.namespaces().ipc_ns();
  TRY(kinds::validate_ipc(ipc));
  p.sysv_shm = TRY(kinds::read_sysv_pages(image, ipc));
  p.shmem.sysv_sizes = kinds::sysv_shm_sizes(ipc);
  for (const auto& [pid, t] : p.tasks)
    if (!t.zombie()) TRY(kinds::check_sysv_refs(p.shmem.sysv_sizes, t.mm, pid));
  std::vector<pid_t> live;
  for (const auto& [pid, t] : p.tasks)
    if (!t.zombie()) live.push_back(pid);
  for (auto& [pid, undo] : TRY(kinds::plan_sem_undo(ipc, live))) p.tasks.at(pid).sem_undo = std::move(undo);

  std::map<pid_t, kinds::TaskFilesRef> files;
  for (const auto& [pid, t] : p.tasks)
    if (!t.zombie()) files[pid] = {&t.files, t.task.root()};
  const kinds::TreePlan& tp = p.tree;
  p.shared = TRY(kinds::plan_shared_fds(files, [&tp](const std::vector<pid_t>& pids) { return tp.common_creator(pids); }));

  TRY(kinds::validate_mounts(p.container.namespaces()));
  TRY(kinds::check_inherited_mounts(p.container.namespaces(), TRY(sys::read_mountinfo(::getpid()))));
  for (const auto& m : p.container.namespaces().mounts()) {
    if (m.content().empty()) continue;
    p.fs.push_back(TRY(read_fs_content(image, m)));
  }
  return p;
}

}  // namespace amber::restore
