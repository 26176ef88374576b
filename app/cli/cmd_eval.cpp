// mmmamba eval: accuracy per question family on held-out conversations for any set of checkpoints;
// mmmamba ablate: runs several recipes (the paper-style ablations) and evaluates their students.
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/common.h"
#include "eval/evaluate.h"
#include "runtime/files.h"
#include "train/jobs.h"
#include "train/run_dir.h"

namespace mm::cli {
namespace fs = std::filesystem;

namespace {

void write_outputs(const std::vector<EvalResult>& results, const Args& args) {
  std::printf("%s", format_eval_table(results).c_str());
  std::printf("\n%s", format_images_table(results).c_str());
  if (args.has("json")) write_text_atomic(args.get("json"), eval_json(results).dump(2) + "\n");
  if (args.has("csv")) write_text_atomic(args.get("csv"), eval_csv(results));
  for (const char* k : {"json", "csv"})
    if (args.has(k)) std::printf("wrote %s\n", args.get(k).c_str());
}

/// The final checkpoints of a run directory in stage order, labelled by stage.
void add_run_checkpoints(const std::string& run_dir, const std::string& prefix, EvalOptions& o) {
  RunDir run(run_dir);
  for (const char* stage : {"teacher", "stage1", "stage2", "stage3"})
    if (auto fin = run.final_checkpoint(stage)) {
      o.checkpoints.push_back(*fin);
      o.labels.push_back(prefix + stage);
    }
}

}  // namespace

int cmd_eval(const std::vector<std::string>& argv) {
  Args args("eval", "--data FILE [CHECKPOINT...] [--run DIR]...",
            "Scores checkpoints on held-out conversations (greedy answers, normalised exact match) per question\n"
            "family and overall. Prints a table; --json/--csv write it.",
            {{"data", "FILE", "held-out JSONL (mmmamba make-data --split test)"},
             {"run", "DIR", "add the final checkpoints of a run directory", "", true},
             {"label", "NAME", "a label per positional checkpoint, in order", "", true},
             {"limit", "N", "evaluate the first N records only (0 = all)", "0"},
             {"max-new-tokens", "N", "longest answer generated", "8"},
             {"device", "DEV", "cpu or cuda[:i]", "cpu"},
             {"json", "FILE", "write the results as JSON"},
             {"csv", "FILE", "write the results as CSV"}});
  if (parse_or_help(args, argv)) return 0;
  if (!args.has("data")) throw InputError("eval needs --data FILE", "make one with: mmmamba make-data --split test");
  EvalOptions o;
  o.data = args.get("data");
  o.checkpoints = args.positionals();
  o.labels = args.all("label");
  if (!o.labels.empty() && o.labels.size() != o.checkpoints.size())
    throw InputError("give one --label per checkpoint");
  for (const std::string& r : args.all("run")) {
    if (o.labels.empty())
      for (const auto& c : o.checkpoints) o.labels.push_back(fs::path(c).lexically_normal().filename().string());
    add_run_checkpoints(r, args.all("run").size() > 1 ? fs::path(r).filename().string() + ":" : "", o);
  }
  o.limit = args.get_int_in("limit", 0, 100000000);
  o.max_new_tokens = args.get_int_in("max-new-tokens", 1, 4096);
  o.device = args.get("device");
  std::vector<std::string> sources = o.checkpoints;
  sources.push_back(o.data);
  for (const std::string& r : args.all("run")) sources.push_back(r);
  check_result_files(args, sources);  // now, not after the evaluation
  const auto results = run_on_engine<std::vector<EvalResult>>([&](JobContext& ctx) { return evaluate(o, ctx); });
  write_outputs(results, args);
  return 0;
}

int cmd_ablate(const std::vector<std::string>& argv) {
  Args args("ablate", "--out DIR --data FILE RECIPE...",
            "Runs each recipe's distillation into DIR/<recipe name> (resuming what is already there), then\n"
            "evaluates every run's final student on held-out data in one table: the paper's stage, init and\n"
            "attention-placement ablations are recipes in examples/recipes/ablations/. A recipe that fails is\n"
            "reported and the others go on (exit status 1); two recipes with one name are refused.",
            {{"out", "DIR", "parent directory of the runs"},
             {"data", "FILE", "held-out JSONL"},
             {"limit", "N", "evaluate the first N records only (0 = all)", "0"},
             {"teacher", "", "also evaluate the recipes' teacher"},
             {"set", "KEY=VALUE", "override a field of every recipe (teacher=DIR, train_data=FILE, ...)", "", true},
             {"json", "FILE", "write the results as JSON"},
             {"csv", "FILE", "write the results as CSV"}});
  if (parse_or_help(args, argv)) return 0;
  if (!args.has("out") || !args.has("data") || args.positionals().empty())
    throw InputError("ablate needs --out DIR, --data FILE and at least one recipe", "see mmmamba ablate --help");
  EvalOptions o;
  o.data = args.get("data");
  o.limit = args.get_int_in("limit", 0, 100000000);
  std::vector<std::string> sources = args.positionals();
  sources.push_back(o.data);
  check_result_files(args, sources);
  // Every recipe first: two with one name would share a run directory.
  std::vector<std::pair<std::string, Recipe>> recipes;
  std::vector<std::string> failed;
  std::map<std::string, std::string> by_name;
  for (const std::string& path : args.positionals()) {
    try {
      recipes.emplace_back(path, load_recipe(path, args.all("set")));
    } catch (const Error& e) {
      std::fprintf(stderr, "error: %s\n", e.full_message().c_str());
      failed.push_back(e.what());  // load_recipe's message starts with the path
      continue;
    }
    const std::string& name = recipes.back().second.name;
    if (!by_name.emplace(name, path).second)
      throw InputError("recipes " + by_name[name] + " and " + path + " are both named \"" + name +
                           "\", so their runs would share " + (fs::path(args.get("out")) / name).string(),
                       "give each recipe its own \"name\"");
  }
  // A failing recipe is reported and the others go on.
  for (const auto& [path, r] : recipes) {
    TrainRunOptions t;
    t.run_dir = (fs::path(args.get("out")) / r.name).string();
    t.recipe = r;
    t.resume = RunDir(t.run_dir).has_recipe();
    std::fprintf(stderr, "== %s -> %s\n", r.name.c_str(), t.run_dir.c_str());
    TrainRunResult res;
    try {
      res = run_on_engine<TrainRunResult>([&](JobContext& ctx) { return distill(t, ctx); });
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::cancelled) throw;
      std::fprintf(stderr, "error: %s: %s\n", r.name.c_str(), e.full_message().c_str());
      failed.push_back(r.name + ": " + e.what());
      continue;
    }
    if (args.flag("teacher") && o.checkpoints.empty()) {
      o.checkpoints.push_back(r.teacher);
      o.labels.push_back("teacher");
    }
    o.checkpoints.push_back(res.checkpoints.rbegin()->second);
    o.labels.push_back(r.name);
  }
  if (o.labels.empty() || o.labels.back() == "teacher")
    throw InputError("no recipe finished (" + std::to_string(failed.size()) + " failed)", "fix the errors above and run again");
  const auto results = run_on_engine<std::vector<EvalResult>>([&](JobContext& ctx) { return evaluate(o, ctx); });
  write_outputs(results, args);
  for (const std::string& f : failed) std::printf("failed: %s\n", f.c_str());
  return failed.empty() ? 0 : 1;
}

}  // namespace mm::cli
