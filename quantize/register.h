// Registers what shrink_quantize adds to the toolkit: the executor setup "quant" (a model with
// state "quant" runs as an Exact simulation for eval / infer, a Train simulation for finetune)
// and the recipe stages `quantize` and `sweep`. Called explicitly from the CLI's main (static initialisers in
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
/// The `sweep` stage's options (recipe keys of SweepOptions / ExploreOptions, plus `apply`).
std::vector<recipe::OptionSpec> sweep_stage_options();
/// Registers only the `sweep` stage (register_all calls it).
void register_sweep_stage();

}  // namespace shrink::quant
