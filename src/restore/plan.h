// Everything a restore reads from the image and checks before it creates
// anything: the container, every task's state, the process tree plan and
// the shared descriptions plan.
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "container.pb.h"
#include "files.pb.h"
#include "fs.pb.h"
#include "image/pages.h"
#include "restore/cow.h"
#include "image/reader.h"
#include "kinds/files/shared.h"
#include "kinds/ns/ipc_semundo.h"
#include "kinds/ns/mounts.h"
#include "kinds/shmem.h"
#include "kinds/tree.h"
#include "mm.pb.h"
#include "task.pb.h"

namespace amber::restore {

// A tmpfs's content with its data file open (the init reads it).
struct FsContent {
  uint32_t mount_id = 0;  // of the image's mount it fills
  img::FsTree tree;
  UniqueFd data;
  std::optional<image::ChunkAuth> auth;  // the data's chunk tags (nullopt: untagged image)
};

// One process of the image. Zombies have their task only.
struct TaskPlan {
  img::Task task;
  img::Mm mm;
  img::Files files;
  std::optional<image::PageReader> pages;
  std::vector<kinds::SemUndoPlan> sem_undo;  // its SEM_UNDO adjustments (kinds/ns/ipc_semundo.h)
  // The page stores of its live ancestors, the parent's first: where the
  // pages it shares with them copy-on-write are (kinds/mm_cow.h).
  std::vector<const image::PageReader*> ancestors;
  // Its areas built in the fork phase, shared copy-on-write (restore/cow.h).
  std::vector<CowArea> cow_areas;
  bool zombie() const { return task.state() == img::TASK_ZOMBIE; }
};

struct Plan {
  img::Container container;
  std::map<pid_t, TaskPlan> tasks;  // by pid in the container
  kinds::TreePlan tree;
  kinds::SharedFdsPlan shared;
  std::vector<FsContent> fs;
  kinds::ShmemPlan shmem;  // memory objects shared between tasks
  std::vector<image::PageReader> sysv_shm;  // content of the ipc namespace's shm segments, in its order
  CowPlan cow;
  // Where the init takes the mounts the image does not hold: the rootfs,
  // the host paths of external binds (RestoreOptions).
  kinds::MountSources mount_sources;
};

// Reads and checks everything (exit 2 for a bad image, 4 for state this
// amber cannot restore), before anything is created.
Result<Plan> read_plan(const image::ImageReader& image);

}  // namespace amber::restore
