// shrink run: a YAML recipe (docs/recipes.md) run stage after stage into an output folder.
#include <iostream>

#include "compress/cli/common.h"
#include "compress/ir/error.h"
#include "compress/recipe.h"

namespace shrink::cli {

int cmd_run(int argc, char** argv) {
  auto opts = make_options("run", "recipe.yaml [-o out_dir] [--set stage.key=value]... [--dry-run] [--resume]",
                           "Run a recipe: writes out_dir/stages/NN-name/model.h5 after every stage, "
                           "report.json and a self-contained report.html.");
  opts.add_options()("o,output", "output folder (default runs/<recipe name>)", cxxopts::value<std::string>())(
      "set", "override a recipe value: train.epochs=1, 2.lr=1e-4, seed=3, data.val_limit=500 (repeatable)",
      cxxopts::value<std::string>())("dry-run", "validate and print the resolved plan; write nothing")(
      "resume", "continue the run in the output folder after an interruption (same recipe and --set): "
                "finished stages are reloaded, the interrupted one continues from its last epoch")(
      "list-stages", "list every stage a recipe can use, with its options and defaults")(
      "json", "with --list-stages: print the list as JSON");
  add_dist_options(opts);
  // --set values are taken out before cxxopts sees them: it would split them at commas.
  std::vector<std::string> sets;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--set") {
      if (i + 1 >= argc) throw BadInput("run: --set needs a value: --set stage.key=value");
      sets.push_back(argv[++i]);
    } else if (a.rfind("--set=", 0) == 0) {
      sets.push_back(a.substr(6));
    } else {
      rest.push_back(argv[i]);
    }
  }
  auto r = parse(opts, static_cast<int>(rest.size()), rest.data(), {"recipe-file"});
  if (!r) return 0;
  if (r->count("list-stages")) {
    if (r->count("json"))
      std::cout << recipe::registry_to_json().dump(2) << "\n";
    else
      std::cout << recipe::registry_to_text();
    return 0;
  }
  std::string path = input_file(*r, "recipe-file", "run", "the recipe, recipe.yaml");
  recipe::Recipe rec = recipe::load_recipe(path);
  for (const auto& s : sets) recipe::apply_override(rec, s);
  if (r->count("seed")) rec.seed = seed(*r);
  recipe::RunOptions o;
  if (r->count("output")) o.out_dir = (*r)["output"].as<std::string>();
  o.dry_run = r->count("dry-run") > 0;
  o.resume = r->count("resume") > 0;
  if (r->count("threads")) o.threads = (*r)["threads"].as<int>();
  if (o.dry_run) {
    recipe::run_recipe(rec, o);
    return 0;
  }
  // A distributed run (docs/scaling.md): every rank runs the recipe, training data-parallel and
  // sweeping its share of the points; rank 0 writes the output folder.
  dist::Group group(read_dist_options(*r));
  if (group.distributed()) o.group = &group;
  recipe::run_recipe(rec, o);
  return 0;
}

}  // namespace shrink::cli
