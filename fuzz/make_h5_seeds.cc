// Writes the seed corpus of the .h5 model fuzzer (fuzz/h5_model_fuzzer.cc): small real models
// written by the toolkit's own writer (ir::save_model), each loaded back, then turned into the
// fuzzer's input format (fuzz/h5_input.h) by reading the real file through HDF5.
//
//   make_h5_seeds DIR
#include <cstdio>
#include <string>

#include "compress/ir/fileio.h"
#include "compress/ir/model_file.h"
#include "h5_input.h"
#include "tests/ir/test_graphs.h"

namespace {

namespace ir = shrink::ir;
namespace t = shrink::test;

// conv 1->2 3x3, ReLU, max pool, flatten, linear 8->3, softmax on {1, 6, 6}; mean, std, labels.
ir::Graph small_cnn() {
  t::TestRng rng(7);
  ir::Graph g;
  g.meta.name = "small_cnn";
  g.meta.input_shape = {1, 6, 6};
  g.meta.mean = {0.25f};
  g.meta.std = {0.5f};
  g.meta.labels = {"a", "b", "c"};
  g.meta.producer = "make_h5_seeds";
  g.add(t::test_conv("conv1", ir::Graph::kInput, 1, 2, 3, rng, 1, 0));
  g.add(t::test_node("relu", ir::Op::ReLU, {"conv1"}));
  g.add(t::test_pool("pool", ir::Op::MaxPool, "relu", 2, 2));
  g.add(t::test_node("flatten", ir::Op::Flatten, {"pool"}));
  g.add(t::test_linear("fc", "flatten", 8, 3, rng));
  g.add(t::test_node("softmax", ir::Op::Softmax, {"fc"}));
  g.outputs = {"softmax"};
  return g;
}

// Every other op and field: LeakyReLU, ReLU6, Sigmoid, Tanh, AvgPool (ceil mode, counting pads),
// GlobalAvgPool, Reshape with -1, Concat, Identity, a dilated conv; a pruning mask (stored as
// uint8), node and graph state, names with '/', '%' and a leading '.', two outputs.
ir::Graph every_op() {
  t::TestRng rng(11);
  ir::Graph g;
  g.meta.name = "every_op";
  g.meta.input_shape = {2, 5, 5};
  g.meta.producer = "make_h5_seeds";
  ir::Node c = t::test_conv("block/conv%1", ir::Graph::kInput, 2, 4, 3, rng, 1, 2);
  c.dilation = {2, 2};
  ir::Tensor mask(c.tensors.at("weight").shape);
  for (size_t i = 0; i < mask.data.size(); ++i) mask.data[i] = i % 3 ? 1.0f : 0.0f;
  c.tensors["weight_mask"] = mask;
  c.state = {{"prune", {{"sparsity", 0.33}}}};
  g.add(std::move(c));
  ir::Node leaky = t::test_node(".leaky", ir::Op::LeakyReLU, {"block/conv%1"});
  leaky.alpha = 0.125f;
  g.add(std::move(leaky));
  g.add(t::test_node("relu6", ir::Op::ReLU6, {".leaky"}));
  ir::Node avg = t::test_pool("avg", ir::Op::AvgPool, "relu6", 2, 2, 1, true);
  avg.count_include_pad = true;
  g.add(std::move(avg));
  g.add(t::test_node("sig", ir::Op::Sigmoid, {"avg"}));
  g.add(t::test_node("tanh", ir::Op::Tanh, {"avg"}));
  ir::Node cat = t::test_node("cat", ir::Op::Concat, {"sig", "tanh"});
  cat.axis = 1;
  g.add(std::move(cat));
  g.add(t::test_node("gap", ir::Op::GlobalAvgPool, {"cat"}));
  ir::Node reshape = t::test_node("reshape", ir::Op::Reshape, {"gap"});
  reshape.target_shape = {-1};
  g.add(std::move(reshape));
  g.add(t::test_linear("fc", "reshape", 8, 4, rng, false));
  g.add(t::test_node("id", ir::Op::Identity, {"fc"}));
  g.outputs = {"id", "gap"};
  g.state = {{"note", "seed"}};
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_h5_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string tmp = dir + "/.model.h5";
  struct Seed {
    const char* name;
    ir::Graph g;
  };
  Seed seeds[] = {{"small_cnn", small_cnn()}, {"every_op", every_op()}, {"resblock", t::make_test_resblock()}};
  try {
    for (Seed& s : seeds) {
      s.g.infer_shapes();
      ir::save_model(s.g, tmp);
      const ir::Graph real = ir::load_model(tmp);  // a seed must load
      const std::string bytes = h5_input::encode_file(tmp);
      // ... and the file the fuzzer writes from it must load as the same graph.
      h5_input::write_file(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), tmp);
      if (ir::graph_to_json(ir::load_model(tmp)) != ir::graph_to_json(real)) {
        std::fprintf(stderr, "make_h5_seeds: %s does not survive h5_input's encoding\n", s.name);
        return 1;
      }
      ir::write_file_atomic(dir + "/" + s.name + ".h5in", bytes);
      std::printf("%s.h5in: %zu bytes\n", s.name, bytes.size());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_h5_seeds: %s\n", e.what());
    return 1;
  }
  std::remove(tmp.c_str());
  return 0;
}
