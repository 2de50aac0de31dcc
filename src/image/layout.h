// Where each file lives inside an image directory (docs/image-format.md).
// Dump and restore name files only through these helpers.
#pragma once
#include <sys/types.h>

#include <string>

#include <fmt/format.h>

namespace amber::image {

inline std::string container_path() { return "container.img"; }
// Everything of one task sits in tasks/PID/, PID in the container's pid ns.
inline std::string task_dir(pid_t pid) { return fmt::format("tasks/{}", pid); }
inline std::string task_path(pid_t pid) { return fmt::format("tasks/{}/task.img", pid); }
inline std::string mm_path(pid_t pid) { return fmt::format("tasks/{}/mm.img", pid); }
inline std::string files_path(pid_t pid) { return fmt::format("tasks/{}/files.img", pid); }
inline std::string pages_index_path(pid_t pid) { return fmt::format("tasks/{}/pages-{}.img", pid, pid); }
inline std::string pages_data_path(pid_t pid) { return fmt::format("tasks/{}/pages-{}.bin", pid, pid); }
// Memory shared between tasks (shmem.proto): the list, and each object's content.
inline std::string shmem_path() { return "shmem.img"; }
inline std::string shmem_index_path(size_t i) { return fmt::format("shmem/pages-{}.img", i); }
inline std::string shmem_data_path(size_t i) { return fmt::format("shmem/pages-{}.bin", i); }
// The container's log as it was at the dump (log.proto), raw bytes.
inline std::string log_data_path() { return "log.bin"; }
// Content of the ipc namespace's SysV shm segments (ipc.proto), by shm id.
inline std::string sysv_shm_index_path(int id) { return fmt::format("ipc/shm-{}.img", id); }
inline std::string sysv_shm_data_path(int id) { return fmt::format("ipc/shm-{}.bin", id); }

}  // namespace amber::image
