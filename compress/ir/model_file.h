// The toolkit's own model file (.h5): trusted input (HDF5's parser is not hardened).
//
//   ir::save_model(g, "m.h5");          // atomic: temp file in the same folder, then rename
//   ir::Graph g2 = ir::load_model("m.h5");
//
// Layout: root attributes "format" = "shrink-model", "format_version" (int), "producer"
// (string), "graph" (JSON string: metadata, nodes with attributes and state, outputs; no
// tensor data); every tensor a float32 dataset at /tensors/<node>/<key>. Round-trips exactly.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "compress/ir/graph.h"

namespace shrink::ir {

constexpr int kModelFormatVersion = 1;

/// Graph (without tensor data) to JSON and back. from_json throws BadInput on missing or
/// ill-typed fields, naming the node and the field.
nlohmann::json graph_to_json(const Graph& g);
Graph graph_from_json(const nlohmann::json& j);

void save_model(const Graph& g, const std::string& path);
/// Throws BadInput naming the file for a missing, truncated or non-shrink file, or a newer
/// format_version (both numbers in the message). The returned graph has shapes inferred.
Graph load_model(const std::string& path);

}  // namespace shrink::ir
