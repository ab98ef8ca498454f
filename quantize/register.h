// Registers what shrink_quantize adds to the toolkit: the executor setup "quant" (a model with
// state "quant" runs as an Exact simulation for eval / infer, a Train simulation for finetune)
// and the recipe stage `quantize`. Called explicitly from the CLI's main (static initialisers in
// static libraries are dropped by the linker). Idempotent.
//
//   int main(...) { shrink::quant::register_all(); ... }
#pragma once
#include "compress/recipe.h"
#include "quantize/quantize_model.h"

namespace shrink::quant {

void register_all();

/// The `quantize` stage's options (recipe keys = QuantizeOptions fields; `config` = a layer YAML).
std::vector<recipe::OptionSpec> quantize_stage_options();

}  // namespace shrink::quant
