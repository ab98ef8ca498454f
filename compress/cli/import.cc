// shrink import: an ONNX model (untrusted input) to the toolkit's .h5 model file.
#include <cstdio>

#include "compress/cli/common.h"
#include "compress/ir/analyzer.h"
#include "compress/ir/model_file.h"
#include "compress/ir/onnx_io.h"

namespace shrink::cli {

int cmd_import(int argc, char** argv) {
  auto opts = make_options("import", "model.onnx -o m.h5",
                           "Convert an ONNX model (opsets 11..17, see docs/onnx.md) to a shrink model file.");
  opts.add_options()("o,output", "output model (.h5)", cxxopts::value<std::string>());
  auto r = parse(opts, argc, argv, {"onnx-file"});
  if (!r) return 0;
  std::string in = input_file(*r, "onnx-file", "import", "the ONNX model, model.onnx");
  std::string out = required(*r, "output", "import", "-o m.h5 (the output model)");
  require_output_folder(out);
  ir::Graph g = ir::import_onnx(in);
  g.infer_shapes();
  ir::save_model(g, out);
  ir::Analysis a = ir::analyze(g, {});
  std::printf("imported %s: %zu nodes, input %s, %lld params, %lld MACs; wrote %s\n", in.c_str(), g.nodes.size(),
              ir::shape_str(g.meta.input_shape).c_str(), static_cast<long long>(a.params),
              static_cast<long long>(a.macs), out.c_str());
  return 0;
}

}  // namespace shrink::cli
