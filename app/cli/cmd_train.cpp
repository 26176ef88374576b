// mmmamba train-teacher / distill: run a recipe in a run directory, resumable after a stop or a crash.
#include <cstdio>

#include "cli/common.h"
#include "cli/launch.h"
#include "dist/dist_group.h"
#include "train/jobs.h"

namespace mm::cli {
namespace {

Args train_args(const char* name, const char* summary) {
  return Args(name, "--recipe FILE --run DIR | --run DIR --resume", summary,
              {{"recipe", "FILE", "the recipe (examples/recipes/*.json)"},
               {"run", "DIR", "the run directory: recipe, metrics.jsonl, run.log, checkpoints"},
               {"resume", "", "continue the run in DIR from its latest checkpoints"},
               {"set", "KEY=VALUE", "override a recipe field (teacher=DIR, stage1.steps=50, ...)", "", true},
               {"nproc", "N", "data parallel: start N local worker processes, each on its share of every batch (CPU:\n"
                              "Gloo, CUDA: NCCL, one GPU each). Launchers such as torchrun set RANK, WORLD_SIZE,\n"
                              "LOCAL_RANK, MASTER_ADDR, MASTER_PORT instead; MMMAMBA_DIST_TIMEOUT=S (default 300)"}});
}

TrainRunOptions options_from(const Args& args, const char* command) {
  if (!args.has("run")) throw InputError(std::string(command) + " needs --run DIR", std::string("see mmmamba ") + command + " --help");
  TrainRunOptions o;
  o.run_dir = args.get("run");
  o.resume = args.flag("resume");
  if (args.has("recipe")) o.recipe = load_recipe(args.get("recipe"), args.all("set"));
  else if (args.has("set")) throw InputError("--set needs --recipe", "a resumed run keeps its stored recipe");
  if (!o.recipe && !o.resume) throw InputError(std::string(command) + " needs --recipe FILE (or --resume for an existing run)");
  return o;
}

int report(const TrainRunResult& r, const std::string& run_dir) {
  for (const auto& [stage, path] : r.checkpoints) {
    const auto t = r.stage_seconds.find(stage);
    if (t != r.stage_seconds.end())
      std::printf("%-8s %7.1f s  %s\n", stage.c_str(), t->second, path.c_str());
    else
      std::printf("%-8s (done before)  %s\n", stage.c_str(), path.c_str());
  }
  for (const std::string& w : r.warnings) std::printf("warning: %s\n", w.c_str());
  std::printf("run: %s (metrics.jsonl, run.log)\n", run_dir.c_str());
  return r.warnings.empty() ? 0 : 3;
}

/// argv without --nproc and its value (the workers' command line).
std::vector<std::string> without_nproc(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--nproc") ++i;
    else if (argv[i].rfind("--nproc=", 0) != 0) out.push_back(argv[i]);
  }
  return out;
}

int run_training(const std::vector<std::string>& argv, const char* command, const char* summary,
                 TrainRunResult (*job)(const TrainRunOptions&, const JobContext&)) {
  Args args = train_args(command, summary);
  if (parse_or_help(args, argv)) return 0;
  TrainRunOptions o = options_from(args, command);
  const std::optional<DistEnv> env = read_dist_env();
  if (args.has("nproc")) {
    if (env)
      throw InputError("--nproc starts workers itself, but WORLD_SIZE is set: this process already is a worker",
                       "leave out --nproc under torchrun or srun, or unset WORLD_SIZE");
    return launch_local_workers(int(args.get_int_in("nproc", 1, 256)), command, without_nproc(argv));
  }
  const bool quiet = env && env->rank != 0;  // rank 0 speaks for the run
  try {
    const TrainRunResult r = run_on_engine<TrainRunResult>(
        [&](JobContext& ctx) {
          if (env) {
            ctx.progress("run", -1, "rendezvous: " + env->describe());
            o.group = DistGroup::rendezvous(*env);
          }
          TrainRunResult out = job(o, ctx);
          o.group.reset();
          return out;
        },
        {}, [&](const Event& e) { return quiet && !std::holds_alternative<LogEvent>(e); });
    return quiet ? 0 : report(r, o.run_dir);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::cancelled && !quiet)
      std::fprintf(stderr, "stopped; continue with: mmmamba %s --run %s --resume%s\n", command, o.run_dir.c_str(),
                   env ? (" (with as many workers as you like)") : "");
    if (env && e.kind() != ErrorKind::cancelled) std::fprintf(stderr, "rank %d: ", env->rank);
    throw;
  }
}

}  // namespace

int cmd_train_teacher(const std::vector<std::string>& argv) {
  return run_training(argv, "train-teacher",
                      "Trains a HoVLE-architecture teacher on conversation data, from scratch or on from a teacher's\n"
                      "weights (stage 0 \"from\": DIR): next-token cross-entropy on the answers, AdamW,\n"
                      "warmup-stable-decay, clipping. Ctrl-C stops with a checkpoint.",
                      &train_teacher);
}

int cmd_distill(const std::vector<std::string>& argv) {
  return run_training(argv, "distill",
                      "Distils a teacher into a linear or hybrid Mamba-2 student in the recipe's stages (METHOD.md §4):\n"
                      "1 layer-wise MSE on the new parameters, 2 on the whole mixer, 3 end-to-end KL. Ctrl-C stops\n"
                      "with a checkpoint; --resume continues, also after a crash.",
                      &distill);
}

}  // namespace mm::cli
