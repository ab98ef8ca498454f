// shrink export: write a model in a deployment or interchange format (export/export.h).
#include <cstdio>
#include <filesystem>
#include <optional>

#include "compress/cli/common.h"
#include "compress/ir/error.h"
#include "export/export.h"

namespace shrink::cli {

namespace fs = std::filesystem;

int cmd_export(int argc, char** argv) {
  std::string formats;
  for (const auto& f : exporter::formats()) formats += (formats.empty() ? "" : " | ") + f;
  auto opts = make_options("export", "m.h5 --format " + formats + " -o out",
                           "Write a model as ONNX (fp32), the runtime's .shr, C source or HDF5 weights.");
  opts.add_options()("format", formats, cxxopts::value<std::string>())(
      "o,output", "output file (--format c: a .c file, its .h beside it, or a folder for model.c / model.h)",
      cxxopts::value<std::string>())("name", "--format c: prefix of the C names (default: the model's name)",
                                     cxxopts::value<std::string>()->default_value(""))(
      "entropy", "on | off: Huffman-code k-means indices where smaller (default: on for shr, off for c)",
      cxxopts::value<std::string>()->default_value(""));
  auto r = parse(opts, argc, argv, {"model-file"});
  if (!r) return 0;
  std::string in = input_file(*r, "model-file", "export", "the model, m.h5");
  std::string format = required(*r, "format", "export", "--format " + formats);
  std::string out = required(*r, "output", "export", "-o OUT (the output file)");
  const std::string name = (*r)["name"].as<std::string>();
  if (!name.empty() && format != "c") throw BadInput("--name applies to --format c only");
  if (!(format == "c" && fs::is_directory(out))) require_output_folder(out);
  bool known = false;
  for (const auto& f : exporter::formats()) known = known || f == format;
  if (!known) throw BadInput("--format: unknown format '", format, "' (known: ", formats, ")");
  const std::string entropy = (*r)["entropy"].as<std::string>();
  std::optional<bool> ent;
  if (entropy == "on" || entropy == "off") ent = entropy == "on";
  else if (!entropy.empty()) throw BadInput("--entropy: expected on or off, got '", entropy, "'");
  ir::Graph g = load_model_file(in);
  for (const auto& w : exporter::export_model(g, format, out, {.name = name, .entropy = ent}))
    std::fprintf(stderr, "shrink: warning: %s\n", w.c_str());
  std::printf("wrote %s (%s)\n", out.c_str(), format.c_str());
  return 0;
}

}  // namespace shrink::cli
