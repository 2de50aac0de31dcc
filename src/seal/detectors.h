// One detector per leak class (or pair of related classes). Each says what
// it needs from the outside scan (prepare), then reports what it finds
// (detect). Adding a class: a file here, one line in check.cpp's list.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "seal/leak.h"
#include "seal/scan.h"

namespace amber::seal {

// At most this many outside holders are kept per leak (the rest counted).
inline constexpr size_t kMaxHolders = 50;
// Appends `h` to `leak`, or counts it once the list is full.
void add_outside(Leak& leak, Holder h);

class Detector {
 public:
  virtual ~Detector() = default;
  virtual Status prepare(const ContainerView&, ScanWants&) { return {}; }
  virtual Status detect(const ContainerView& view, HostIndex& host, std::vector<Leak>& leaks,
                        std::vector<std::string>& notes) = 0;
};

std::unique_ptr<Detector> namespace_detector();     // classes 1, 2 (and 10: pid namespace members outside the cgroup)
std::unique_ptr<Detector> file_detector();          // classes 3, 4
std::unique_ptr<Detector> unix_socket_detector();   // class 5
std::unique_ptr<Detector> sysv_shm_detector();      // class 6
std::unique_ptr<Detector> mqueue_detector();        // class 3 for POSIX message queues (any description)
std::unique_ptr<Detector> mapping_detector();       // class 7
std::unique_ptr<Detector> mount_detector();         // class 8
std::unique_ptr<Detector> task_detector();          // classes 9, 10

}  // namespace amber::seal
