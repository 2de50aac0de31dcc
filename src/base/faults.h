// Fault points: every driver step has a name; a test arms one through the
// environment (AMBER_FAULT=<name>) and the step fails there as if the kernel
// had refused it. Each driver keeps the list of its points next to its steps
// (`--list-fault-points` prints it); the fault tests arm every listed point and
// expect the run to fail there, so a listed point that is never hit is caught.
// A test-only switch: read once, by the CLI, and passed down.
#pragma once
#include <string>
#include <string_view>

#include "base/result.h"

namespace amber {

class Faults {
 public:
  Faults() = default;
  // `armed`: the one point to fail ("" = none). Typically getenv("AMBER_FAULT").
  explicit Faults(std::string armed, std::string broken = "")
      : armed_(std::move(armed)), broken_(std::move(broken)) {}

  // Fails with "fault injected at NAME" if NAME is armed.
  Status hit(std::string_view name) {
    if (!armed_.empty() && armed_ == name) {
      hits_++;
      return fail(Exit::Failed, fmt::format("fault injected at {}", name));
    }
    return {};
  }
  // The other test-only switch (AMBER_BREAK=<name>): the named step is
  // silently skipped, as a bug in it would, so that a test shows restore
  // verification catching the damage.
  bool broken(std::string_view name) const { return !broken_.empty() && broken_ == name; }
  const std::string& armed() const { return armed_; }
  int hits() const { return hits_; }

 private:
  std::string armed_;
  std::string broken_;
  int hits_ = 0;
};

}  // namespace amber
