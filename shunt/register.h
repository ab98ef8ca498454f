// Registers the recipe stage `shunt` (docs/recipes.md) and the distillation losses (distill/).
// Called from the CLI's main. Idempotent.
//
//   int main(...) { shrink::shunt::register_all(); ... }
#pragma once

namespace shrink::shunt {

void register_all();

}  // namespace shrink::shunt
