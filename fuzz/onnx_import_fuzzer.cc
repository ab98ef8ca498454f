// libFuzzer target of the ONNX importer (compress/ir/onnx_io.cc, ir::import_onnx): every input is
// written as model.onnx into a private folder that also holds w.bin (4 KiB of float data the
// seeds' external-data tensors point into) and imported. Any crash, ASan or UBSan report is a
// bug: a bad model must only ever throw shrink::BadInput (or NotImplemented for a feature), with
// a one-line message; a model that imports must have shapes and a non-empty graph.
//
//   build-fuzz/onnx_import_fuzzer CORPUS_DIR ONNX_SEEDS   # fuzz (scripts/fuzz.sh)
//   build-fuzz/onnx_import_fuzzer FILE...                  # replay files
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "compress/ir/error.h"
#include "compress/ir/fileio.h"
#include "compress/ir/onnx_io.h"
#include "private_dir.h"

namespace {

// The private folder, with w.bin written once.
const std::string& work_dir() {
  const std::string& dir = fuzz::private_dir("shrink_onnx_fuzz", {"model.onnx", "w.bin"});
  static const bool w_bin = [&] {
    std::string w;
    for (int k = 0; k < 1024; ++k) {
      const float v = 0.01f * static_cast<float>(k % 97) - 0.3f;
      w.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    shrink::ir::write_file_atomic(dir + "/w.bin", w);
    return true;
  }();
  (void)w_bin;
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = work_dir() + "/model.onnx";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  try {
    shrink::ir::Graph g = shrink::ir::import_onnx(path);
    if (g.nodes.empty() || g.outputs.empty()) std::abort();  // contract: a usable graph
  } catch (const shrink::Error& e) {
    if (e.kind() == shrink::ErrorKind::Internal) {
      std::fprintf(stderr, "InternalError on a model: %s\n", e.what());
      std::abort();  // a hostile model is bad input, never an internal error
    }
    const std::string msg = e.what();
    if (msg.empty() || msg.find('\n') != std::string::npos) std::abort();  // one-line message
  }
  return 0;
}
