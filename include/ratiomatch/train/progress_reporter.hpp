#pragma once
/// @file
/// @brief `ProgressReporter`: a progress bar on a terminal, plain lines otherwise.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Reports training progress: iterations/s, the latest loss and the time left.
///
/// On a terminal it redraws one line (`\r`) at most ten times a second:
/// `[#########-----------]  45%  4500/10000  312.4 it/s  loss 1.2345  ETA 0:17`.
/// Otherwise (a file or pipe) it prints a plain line every `plain_every` iterations.
class ProgressReporter {
 public:
  /// @param total the last iteration of the run
  /// @param start the iteration the run starts after (non-zero when resuming)
  /// @param out where to write (usually std::cerr)
  /// @param interactive redraw one line (a terminal) or print plain lines
  /// @param plain_every iterations between plain lines
  ProgressReporter(Index total, Index start, std::ostream& out, bool interactive, Index plain_every)
      : total_(total), start_(start), out_(out), interactive_(interactive), plain_every_(std::max<Index>(1, plain_every)),
        begin_(Clock::now()), last_draw_(begin_) {}

  /// @brief True if standard error is a terminal.
  static bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

  /// @brief Records that `iteration` finished with `loss`.
  void update(Index iteration, double loss) {
    const auto now = Clock::now();
    if (interactive_) {
      if (now - last_draw_ < std::chrono::milliseconds(100) && iteration != total_) return;
      last_draw_ = now;
      out_ << '\r' << line(iteration, loss, now) << std::flush;
    } else if (iteration % plain_every_ == 0 || iteration == total_) {
      out_ << line(iteration, loss, now) << '\n' << std::flush;
    }
  }

  /// @brief Ends the bar's line (on a terminal).
  void finish() {
    if (interactive_) out_ << '\n' << std::flush;
  }

  /// @brief Formats seconds as `h:mm:ss` or `m:ss`.
  static std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const auto s = static_cast<long long>(std::llround(seconds));
    std::ostringstream text;
    if (s >= 3600) text << s / 3600 << ':' << std::setw(2) << std::setfill('0') << (s / 60) % 60;
    else text << s / 60;
    text << ':' << std::setw(2) << std::setfill('0') << s % 60;
    return text.str();
  }

 private:
  using Clock = std::chrono::steady_clock;

  std::string line(Index iteration, double loss, Clock::time_point now) const {
    const double elapsed = std::chrono::duration<double>(now - begin_).count();
    const double rate = elapsed > 0 ? static_cast<double>(iteration - start_) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total_ - iteration) / rate : -1.0;
    const double fraction = total_ > 0 ? static_cast<double>(iteration) / static_cast<double>(total_) : 1.0;
    std::ostringstream text;
    if (interactive_) {
      constexpr int width = 24;
      const int filled = static_cast<int>(fraction * width);
      text << '[' << std::string(filled, '#') << std::string(width - filled, '-') << "] ";
    }
    text << std::setw(3) << static_cast<int>(100 * fraction) << "%  " << iteration << '/' << total_ << "  "
         << std::fixed << std::setprecision(1) << rate << " it/s  loss " << std::setprecision(5) << loss << "  ETA "
         << format_duration(eta);
    return text.str();
  }

  Index total_, start_;
  std::ostream& out_;
  bool interactive_;
  Index plain_every_;
  Clock::time_point begin_, last_draw_;
};

}  // namespace ratiomatch
