#include "export/export.h"

#include "compress/ir/error.h"
#include "compress/ir/onnx_io.h"
#include "export/shr_writer.h"

namespace shrink::exporter {

std::vector<std::string> formats() { return {"shr", "c", "hdf5", "onnx"}; }

void export_model(const ir::Graph& g, const std::string& format, const std::string& path) {
  if (format == "onnx") return ir::export_onnx(g, path);
  if (format == "shr") return export_shr(g, path);
  if (format == "c" || format == "hdf5")
    throw NotImplemented("export --format ", format, " is not implemented yet (issue 4: runtime and export)");
  throw BadInput("unknown export format '", format, "' (expected one of: shr, c, hdf5, onnx)");
}

}  // namespace shrink::exporter
