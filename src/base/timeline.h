// Timeline: how long each step of a driver took, for `-v` ("timing: hold
// 1.2, seal-check 4.0, ... ms") and for the numbers a command reports
// (e.g. how long a dump kept the container frozen). Steady clock; no
// logging here (base/ never logs): the driver formats and logs it.
#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace amber {

class Timeline {
 public:
  using Clock = std::chrono::steady_clock;

  Timeline() : start_(Clock::now()), last_(start_) {}

  // Ends the step `name` now: it lasted since the previous mark (or the
  // start). A step marked again (one per task in a loop) adds up.
  void mark(std::string_view name) {
    auto now = Clock::now();
    const double t = ms(last_, now);
    last_ = now;
    for (auto& [n, total] : steps_)
      if (n == name) {
        total += t;
        return;
      }
    steps_.emplace_back(std::string(name), t);
  }
  double since_start_ms() const { return ms(start_, Clock::now()); }
  // How long the step `name` took in all (0 if it never ended).
  double step_ms(std::string_view name) const {
    for (const auto& [n, total] : steps_)
      if (n == name) return total;
    return 0;
  }
  static double ms(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  }
  // "hold 1.2, seal-check 4.0, ... (total 9.9 ms)"
  std::string format() const {
    std::string out;
    for (const auto& [name, t] : steps_) out += fmt::format("{}{} {:.1f}", out.empty() ? "" : ", ", name, t);
    return fmt::format("{} (total {:.1f} ms)", out, ms(start_, last_));
  }

 private:
  Clock::time_point start_, last_;
  std::vector<std::pair<std::string, double>> steps_;
};

}  // namespace amber
