// Independent measurement points run on worker threads (the quantization and pruning sweeps).
//
//   std::mutex mu;   // guards what the points share
//   for_each_point(points.size(), workers, [&] {
//     auto ex = std::make_shared<Executor>(g);          // one per worker
//     return [&, ex](size_t i) { Record r = measure(*ex, points[i]); std::lock_guard l(mu); out[i] = r; };
//   });
#pragma once
#include <cstddef>
#include <functional>

namespace shrink {

/// Runs body(i) once for every i in [0, count). `make_body` is called once per worker, on that
/// worker's thread, and returns the worker's body (so a worker can own an executor). With
/// workers <= 1 (or one point) everything runs on the calling thread; otherwise `workers`
/// threads (at most `count`) each run LibTorch with one intra-op thread, and the caller's
/// thread count is restored afterwards. Gradients are off inside. The first exception stops
/// the points not yet started and is rethrown. Bodies lock whatever they share.
void for_each_point(size_t count, int workers, const std::function<std::function<void(size_t)>()>& make_body);

}  // namespace shrink
