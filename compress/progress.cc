#include "compress/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace shrink {

namespace {
std::string format_seconds(double s) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  if (s < 60) {
    os.precision(s < 10 ? 1 : 0);
    os << s << "s";
  } else {
    int64_t t = static_cast<int64_t>(s + 0.5);
    os << t / 60 << "m" << (t % 60 < 10 ? "0" : "") << t % 60 << "s";
  }
  return os.str();
}
}  // namespace

ProgressBar::ProgressBar(int64_t total, std::string label, bool enabled)
    : total_(std::max<int64_t>(total, 0)),
      label_(std::move(label)),
      enabled_(enabled),
      tty_(enabled && isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {}

ProgressBar::~ProgressBar() {
  if (enabled_ && !finished_) finish(status_);
}

double ProgressBar::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::render(const std::string& label, int64_t done, int64_t total,
                                const std::string& status, double eta_seconds, int width) {
  double frac = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 1.0;
  int filled = static_cast<int>(frac * width);
  std::ostringstream os;
  os << label << " [" << std::string(static_cast<size_t>(filled), '#')
     << std::string(static_cast<size_t>(width - filled), '.') << "] " << done << "/" << total;
  if (!status.empty()) os << " " << status;
  if (eta_seconds >= 0) os << " ETA " << format_seconds(eta_seconds);
  return os.str();
}

void ProgressBar::update(int64_t done, const std::string& status) {
  if (!enabled_ || finished_) return;
  done_ = done;
  status_ = status;
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
  last_draw_ = now;
  double t = elapsed();
  double eta = done > 0 ? t * static_cast<double>(total_ - done) / static_cast<double>(done) : -1;
  std::string line = render(label_, done, total_, status, eta);
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
}

void ProgressBar::finish(const std::string& status) {
  if (!enabled_ || finished_) return;
  finished_ = true;
  if (!status.empty()) status_ = status;
  std::string time = format_seconds(elapsed());
  if (tty_) {
    std::string line = render(label_, done_, total_, status_, -1);
    std::fprintf(stderr, "\r%s (%s)\033[K\n", line.c_str(), time.c_str());
  } else {
    std::fprintf(stderr, "%s: %lld/%lld %s (%s)\n", label_.c_str(), static_cast<long long>(done_),
                 static_cast<long long>(total_), status_.c_str(), time.c_str());
  }
  std::fflush(stderr);
}

}  // namespace shrink
