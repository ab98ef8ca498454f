#include "compress/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/torch.h>

namespace shrink {

void for_each_point(size_t count, int workers, const std::function<std::function<void(size_t)>()>& make_body) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr error;
  auto failed = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return error != nullptr;
  };
  auto worker = [&](bool own_threads) {
    try {
      if (own_threads) torch::set_num_threads(1);
      torch::NoGradGuard no_grad;
      const std::function<void(size_t)> body = make_body();
      for (size_t i = next++; i < count && !failed(); i = next++) body(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
    }
  };
  const size_t n = std::min<size_t>(static_cast<size_t>(std::max(workers, 1)), std::max<size_t>(count, 1));
  if (n <= 1) {
    worker(false);
  } else {
    const int saved = torch::get_num_threads();
    std::vector<std::thread> pool;
    for (size_t i = 0; i < n; ++i) pool.emplace_back(worker, true);
    for (auto& t : pool) t.join();
    torch::set_num_threads(saved);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace shrink
