// The quantization state as the toolkit reads it from a model file (compress/ir/quant_state.h):
// malformed state is a BadInput naming the model, never a JSON library exception; the formats
// as people read them in reports ("8-bit [2.5]").
#include <gtest/gtest.h>

#include "compress/ir/error.h"
#include "compress/ir/quant_state.h"
#include "tests/ir/test_graphs.h"

namespace shrink::quant {
namespace {

ir::Node& fc2(ir::Graph& g) { return g.nodes.back(); }

/// The test LeNet-5 with fc2 alone in fixed point (input [1.6], weights [1.6], output [3.4]).
ir::Graph quantized_lenet5() {
  ir::Graph g = test::make_test_lenet5();
  g.state["quant"] = {{"input", {{"bits", 8}, {"fl", 6}}}, {"scheme", "fixed"}};
  fc2(g).state["quant"] = {{"scheme", "fixed"}, {"output", {{"bits", 8}, {"fl", 4}}}, {"weight", {{"bits", 8}, {"fl", {6}}}}};
  return g;
}

TEST(QuantState, ReadsAWellFormedStateAndDescribesIt) {
  ir::Graph g = quantized_lenet5();
  const ModelQuant m = read_model_quant(g);
  ASSERT_EQ(fc2(g).name, "fc2");
  const NodeQuant& n = m.nodes.at("fc2");
  EXPECT_EQ(weight_format_text(n), "8-bit [1.6]");
  EXPECT_EQ(format_text(n.output), "8-bit [3.4]");
  EXPECT_EQ(format_text({4, 5}), "4-bit [-2.5]");  // IL = bits - 1 - FL may be negative
  NodeQuant pc = n;
  pc.weight_fl = {5, 7, 6};
  EXPECT_EQ(weight_format_text(pc), "8-bit, FL per channel 5..7");
  NodeQuant km = n;
  km.codebook = Codebook{};
  km.codebook->index_bits = 4;
  km.codebook->zero_reserved = true;
  km.codebook->centroid_format = {8, 9};
  EXPECT_EQ(weight_format_text(km), "k-means 4-bit, centroids 8-bit [-2.9], 0 reserved");
}

TEST(QuantState, WrongTypesAreBadInputNamingTheModel) {
  const auto expect_bad = [](ir::Graph g, const char* what) {
    try {
      read_model_quant(g);
      ADD_FAILURE() << what << ": accepted";
    } catch (const BadInput& e) {
      EXPECT_NE(std::string(e.what()).find("model '"), std::string::npos) << what << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": " << e.what() << " is not a BadInput";
    }
  };
  {
    ir::Graph g = quantized_lenet5();
    fc2(g).state["quant"] = 5;  // a number instead of an object
    expect_bad(g, "quant is a number");
  }
  {
    ir::Graph g = quantized_lenet5();
    fc2(g).state["quant"]["weight"]["fl"] = {"x"};
    expect_bad(g, "fl holds a string");
  }
  {
    ir::Graph g = quantized_lenet5();
    fc2(g).state["quant"]["scheme"] = 3;
    expect_bad(g, "scheme is a number");
  }
}

}  // namespace
}  // namespace shrink::quant
