// A one-line progress bar for long loops (training epochs, evaluation).
//
//   ProgressBar bar(steps, "epoch 1/2");
//   for (int64_t i = 0; i < steps; ++i) { ...; bar.update(i + 1, "loss 0.41 acc 0.87"); }
//   bar.finish("loss 0.39 acc 0.88");
//
// On a terminal (stderr is a tty) it redraws "label [#####.....] done/total status ETA 12s" in
// place, at most every 100 ms. Otherwise (logs, CI, pipes) it prints nothing until finish(),
// which writes one plain line: "label: done/total status (3.2s)". Output goes to stderr.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace shrink {

class ProgressBar {
 public:
  /// enabled = false makes every call a no-op.
  ProgressBar(int64_t total, std::string label, bool enabled = true);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// done of total steps finished; status is free text shown after the counts.
  void update(int64_t done, const std::string& status = "");
  /// Ends the bar (one plain line when not a terminal). Called by the destructor if needed.
  void finish(const std::string& status = "");

  /// Seconds since construction.
  double elapsed() const;
  /// The bar's text for `done` steps, `status` and `eta_seconds` (< 0: unknown); for tests.
  static std::string render(const std::string& label, int64_t done, int64_t total,
                            const std::string& status, double eta_seconds, int width = 30);

 private:
  int64_t total_;
  std::string label_;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  int64_t done_ = 0;
  std::string status_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace shrink
