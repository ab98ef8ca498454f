// Data sets: Fashion-MNIST (Debian's dataset-fashion-mnist, gzip IDX read directly),
// any MNIST-format folder (idx:DIR), and HDF5 files (hdf5:FILE with datasets x float32 NCHW
// and y int64).
//
//   ir::Dataset d = ir::load_dataset("fashion-mnist", ir::Split::Val, /*limit=*/1000);
//
// Splits: train = first 55,000 training images, val = last 5,000, test = the test file.
// For hdf5:FILE the file is one pool: train = first 11/12, val = the rest, test = all.
// Pixels are float in [0, 1] (IDX bytes / 255); normalization is the model's (Metadata).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compress/ir/tensor.h"

namespace shrink::ir {

enum class Split { Train, Val, Test };
Split split_from_name(const std::string& s);  ///< "train" | "val" | "test", else BadInput
const char* split_name(Split s);

struct Dataset {
  Shape sample_shape;             ///< {1, 28, 28}
  int64_t size = 0;               ///< number of samples
  std::vector<float> x;           ///< size * numel(sample_shape), sample-major
  std::vector<int64_t> y;         ///< size labels
  int64_t num_classes = 0;
  std::vector<std::string> labels;  ///< class names when known
  std::string name;               ///< e.g. "fashion-mnist:val"
};

/// spec: "fashion-mnist" | "mnist-like idx:DIR" | "hdf5:FILE". data_dir overrides the default
/// folder of fashion-mnist (/usr/share/datasets/fashion-mnist). limit < 0: the whole split;
/// otherwise the first `limit` samples. Throws BadInput naming the file and what was wrong.
Dataset load_dataset(const std::string& spec, Split split, int64_t limit = -1,
                     const std::string& data_dir = "");

/// A permutation of [0, n) that depends only on seed (mt19937_64 + Fisher-Yates).
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed);

}  // namespace shrink::ir
