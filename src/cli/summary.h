// What `amber dump` and `amber restore` print when they are done: their
// summary line, or with --json the same as one JSON object (for scripts).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace amber::cli {

// Prints `text` or `fields` (one line) on stdout; returns the exit status 0.
int print_summary(bool json, const std::string& text, const nlohmann::json& fields);

}  // namespace amber::cli
