// Fault points: every driver step has a name; a test arms one through the
// environment (AMBER_FAULT=<name>) and the step fails there as if the kernel
// had refused it. Each driver keeps the list of its points next to its steps
// (`--list-fault-points` prints it); the fault tests arm every listed point and
// expect the run to fail there, so a listed point that is never hit is caught.
// A test-only switch: read once, by the CLI, and passed down.
//
// AMBER_FAULT_MODE=kill: the armed point SIGKILLs amber instead (no
// destructor, no cleanup runs), to prove that a killed amber harms nothing
// and that the next amber command undoes what it left (src/recover). A
// point hit in a process amber forked (the restore's fork phase) fails it as
// usual, and amber kills itself when that failure reaches it
// (child_failed()).
#pragma once
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "base/result.h"

namespace amber {

class Faults {
 public:
  Faults() = default;
  // `armed`: the one point to fail ("" = none). Typically getenv("AMBER_FAULT").
  explicit Faults(std::string armed, std::string broken = "", bool kill = false)
      : armed_(std::move(armed)), broken_(std::move(broken)), kill_(kill) {}
  // AMBER_FAULT, AMBER_BREAK and AMBER_FAULT_MODE.
  static Faults from_env() {
    auto env = [](const char* k) { const char* v = std::getenv(k); return std::string(v ? v : ""); };
    return Faults(env("AMBER_FAULT"), env("AMBER_BREAK"), env("AMBER_FAULT_MODE") == "kill");
  }

  // Fails with "fault injected at NAME" if NAME is armed.
  Status hit(std::string_view name) {
    if (!armed_.empty() && armed_ == name) {
      hits_++;
      if (kill_ && ::getpid() == owner_) die();
      return fail(Exit::Failed, fmt::format("fault injected at {}", name));
    }
    return {};
  }
  // The other test-only switch (AMBER_BREAK=<name>): the named step is
  // silently skipped, as a bug in it would, so that a test shows restore
  // verification catching the damage.
  // A process amber forked failed with `e`: in kill mode, an injected
  // fault there kills amber now.
  void child_failed(const Error& e) const {
    if (kill_ && !armed_.empty() && e.message.find("fault injected at " + armed_) != std::string::npos) die();
  }
  bool broken(std::string_view name) const { return !broken_.empty() && broken_ == name; }
  const std::string& armed() const { return armed_; }
  int hits() const { return hits_; }

 private:
  std::string armed_;
  std::string broken_;
  bool kill_ = false;
  pid_t owner_ = ::getpid();  // amber itself, not a process it forked
  int hits_ = 0;

  [[noreturn]] static void die() {
    for (;;) ::kill(::getpid(), SIGKILL);
  }
};

}  // namespace amber
