// The seal check's report: readable text, or JSON (`--json`), both listing
// per leak the class, the object, the container task holding it, every
// outside holder and how, and the remedy. docs/seal-check.md shows both.
#pragma once
#include <string>

#include "seal/check.h"

namespace amber::seal {

std::string format_text(const Report& r);
std::string format_json(const Report& r);

}  // namespace amber::seal
