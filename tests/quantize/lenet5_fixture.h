// The LeNet-5 the quantization tests share: 2 epochs on the 55,000 train images (the
// documented defaults), trained once and cached in the build folder between test processes
// (a file lock keeps parallel test processes from training it twice).
#pragma once
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "compress/executor.h"
#include "compress/ir/dataset.h"
#include "compress/ir/model_file.h"
#include "compress/train.h"
#include "compress/zoo.h"

namespace shrink::quant {

inline const ir::Dataset& test_set() {
  static const ir::Dataset d = ir::load_dataset("fashion-mnist", ir::Split::Test);
  return d;
}
inline const ir::Dataset& calib() {
  static const ir::Dataset d = ir::load_dataset("fashion-mnist", ir::Split::Val, 1000);
  return d;
}

/// LeNet-5, 2 epochs on the 55,000 train images (the documented defaults), made once.
inline const ir::Graph& lenet5() {
  static const ir::Graph g = [] {
    set_threads(1);
    const std::filesystem::path dir = std::filesystem::path(SHRINK_BINARY_DIR) / "tests" / "quantize_fixture";
    std::filesystem::create_directories(dir);
    const std::filesystem::path model = dir / "lenet5-2ep.h5";
    int fd = ::open((dir / "lock").c_str(), O_CREAT | O_RDWR, 0644);
    ::flock(fd, LOCK_EX);
    if (!std::filesystem::exists(model)) {
      ir::Dataset train_set = ir::load_dataset("fashion-mnist", ir::Split::Train);
      zoo::ZooOptions zo;
      ir::Graph m = zoo::make("lenet5", zo);
      fill_metadata_from_data(m, train_set);
      Executor ex(std::move(m));
      TrainOptions o;
      o.progress = false;
      train(ex, train_set, o);
      ir::save_model(ex.sync_to_graph(), model.string());
    }
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return ir::load_model(model.string());
  }();
  return g;
}

}  // namespace shrink::quant
