// libFuzzer target of the toolkit's .h5 model reader (compress/ir/model_file.cc, ir::load_model),
// structure-aware: each input is a list of records (fuzz/h5_input.h) that is written through the
// HDF5 library as a valid HDF5 file, in a private folder (under /dev/shm when it exists), then
// loaded. HDF5's own parser is trusted and not fuzzed (docs/security.md); what is fuzzed is what
// the reader does with the file's contents: the graph JSON, the attributes' types, tensor names,
// dtypes, shapes, layouts, missing or unwritten data, links.
//
// The reader must throw shrink::BadInput with a message, or return a graph whose every tensor
// holds exactly its shape's values and which writes back (ir::save_model) and loads again to the
// same graph and the same tensor bits. Anything else (another exception, a crash, a sanitizer
// report, a leak, an allocation past -malloc_limit_mb) is a finding.
//
//   build-fuzz/h5_model_fuzzer CORPUS_DIR H5_SEEDS   # fuzz (scripts/fuzz.sh)
//   build-fuzz/h5_model_fuzzer FILE...               # replay files
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "compress/ir/error.h"
#include "compress/ir/model_file.h"
#include "h5_input.h"
#include "private_dir.h"

namespace {

namespace ir = shrink::ir;

const std::string& work_dir() { return fuzz::private_dir("shrink_h5_fuzz", {"model.h5", "again.h5"}); }

[[noreturn]] void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "h5_model_fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

bool is_mask(const std::string& key) { return key.size() > 5 && key.compare(key.size() - 5, 5, "_mask") == 0; }

// The loaded graph's contract, and the write-back round trip.
void check_loaded(const ir::Graph& g) {
  for (const ir::Node& n : g.nodes)
    for (const auto& [key, t] : n.tensors)
      if (static_cast<int64_t>(t.data.size()) != ir::numel(t.shape))
        finding("tensor size differs from its shape", n.name + "/" + key);
  const std::string again = work_dir() + "/again.h5";
  ir::Graph h;
  try {
    ir::save_model(g, again);
    h = ir::load_model(again);
  } catch (const std::exception& e) {
    finding("a loaded model does not write back and load again", e.what());
  }
  if (ir::graph_to_json(g) != ir::graph_to_json(h)) finding("round trip", "the graph JSON changed");
  for (const ir::Node& n : g.nodes) {
    const ir::Node& m = h.at(n.name);
    if (m.tensors.size() != n.tensors.size()) finding("round trip", "tensor count of " + n.name);
    for (const auto& [key, t] : n.tensors) {
      const ir::Tensor* u = m.tensor(key);
      if (!u || u->shape != t.shape) finding("round trip", "tensor " + n.name + "/" + key);
      for (size_t i = 0; i < t.data.size(); ++i) {
        // Masks are written as uint8 0 / 1 (any nonzero value is 1); the rest bit for bit.
        const bool same = is_mask(key) ? (t.data[i] != 0.0f) == (u->data[i] != 0.0f)
                                        : std::memcmp(&t.data[i], &u->data[i], sizeof(float)) == 0;
        if (!same) finding("round trip", "a value of " + n.name + "/" + key);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = work_dir() + "/model.h5";
  if (!h5_input::write_file(data, size, path)) finding("HDF5 cannot create", path);
  ir::Graph g;
  try {
    g = ir::load_model(path);
  } catch (const shrink::Error& e) {
    if (e.kind() != shrink::ErrorKind::BadInput) finding("not a BadInput", e.what());
    if (std::strlen(e.what()) == 0) finding("BadInput without a message", "");
    return 0;
  } catch (const std::exception& e) {
    finding("an exception other than shrink::Error", e.what());
  }
  check_loaded(g);
  return 0;
}
