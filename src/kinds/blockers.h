// Objects a dump cannot take yet, gathered so that `amber dump` and `amber
// check` name every one of them at once instead of the first one met.
#pragma once
#include <string>
#include <vector>

#include "base/result.h"

namespace amber::kinds {

class Blockers {
 public:
  // True if `s` is an Unsupported error: kept, and the caller goes on
  // without the object. Any other outcome is the caller's to handle.
  bool keep(const Status& s) {
    if (s || s.error().exit != Exit::Unsupported) return false;
    lines_.push_back(s.error().message);
    return true;
  }
  void add(std::string line) { lines_.push_back(std::move(line)); }
  bool empty() const { return lines_.empty(); }
  const std::vector<std::string>& lines() const { return lines_; }
  // Ok if none; else one Unsupported error naming each (one line for one).
  Status status() const {
    if (lines_.empty()) return {};
    if (lines_.size() == 1) return unsupported("{}", lines_.front());
    std::string text = fmt::format("{} objects amber cannot dump yet:", lines_.size());
    for (const std::string& l : lines_) text += "\n  " + l;
    return unsupported("{}", text);
  }

 private:
  std::vector<std::string> lines_;
};

}  // namespace amber::kinds
