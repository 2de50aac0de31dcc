#include "container/paths.h"

#include <sys/random.h>
#include <unistd.h>

#include <cstdlib>

#include "sys/cgroup.h"

namespace amber::container {

static std::string env_or(const char* var, const char* fallback) {
  const char* v = std::getenv(var);
  return (v && *v) ? std::string(v) : std::string(fallback);
}

std::string state_root() { return env_or("AMBER_STATE_DIR", kDefaultStateRoot); }

Result<std::string> cgroup_root() {
  if (const char* v = std::getenv("AMBER_CGROUP_ROOT"); v && *v) return std::string(v);
  std::string v2 = TRY(sys::cgroup2_mount());
  return v2 + "/amber";
}

std::string state_dir(const std::string& name) { return state_root() + "/" + name; }

bool valid_name(std::string_view name) {
  // A leading dot is amber's own (<state root>/.journal).
  if (name.empty() || name.size() > 64 || name.front() == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status check_name(std::string_view name) {
  if (!valid_name(name))
    return bad_input("invalid container name '{}' (use 1 to 64 of A-Z a-z 0-9 _ . -, not starting with .)", name);
  return {};
}

std::string generate_name() {
  unsigned char b[3] = {};
  if (::getrandom(b, sizeof b, 0) != sizeof b) {
    // getrandom only fails before the entropy pool is ready; any value will do.
    unsigned v = static_cast<unsigned>(::getpid()) * 2654435761u;
    b[0] = static_cast<unsigned char>(v), b[1] = static_cast<unsigned char>(v >> 8);
    b[2] = static_cast<unsigned char>(v >> 16);
  }
  return fmt::format("amber-{:02x}{:02x}{:02x}", b[0], b[1], b[2]);
}

}  // namespace amber::container
