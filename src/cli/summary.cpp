#include "cli/summary.h"

#include <fmt/format.h>

namespace amber::cli {

int print_summary(bool json, const std::string& text, const nlohmann::json& fields) {
  fmt::print("{}\n", json ? fields.dump() : text);
  return 0;
}

}  // namespace amber::cli
