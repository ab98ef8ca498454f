// Registers the recipe stage `prune` (docs/recipes.md). Called from the CLI's main. Idempotent.
//
//   int main(...) { shrink::prune::register_all(); ... }
#pragma once

namespace shrink::prune {

void register_all();

}  // namespace shrink::prune
