// mmmamba create: a randomly initialised teacher of a named architecture, as an HF directory.
#include <cstdio>

#include "cli/common.h"
#include "config/plan_stats.h"
#include "io/checkpoint.h"
#include "io/output_target.h"
#include "models/random_init.h"
#include "text/tokenizer_files.h"

namespace mm::cli {

int cmd_create(const std::vector<std::string>& argv) {
  Args args("create", "--arch NAME --out DIR [--seed N] [--no-tokenizer]",
            "Writes a HoVLE-architecture teacher with random weights (N(0, 0.02) matrices, unit norms) and,\n"
            "unless --no-tokenizer, a small placeholder sentencepiece tokenizer. Random weights answer with\n"
            "noise; they are for trying the pipeline and for measuring speed and memory.",
            {{"arch", "NAME", "micro, tiny, demo or hovle-2.6b", "micro"},
             {"out", "DIR", "output directory"},
             {"seed", "N", "weight seed", "0"},
             {"no-tokenizer", "", "skip the tokenizer files"}});
  if (parse_or_help(args, argv)) return 0;
  if (!args.has("out")) throw InputError("create needs --out DIR");
  const std::string out = check_output_dir(args.get("out")), arch = args.get("arch");
  const ModelConfig cfg = architecture_preset(arch);
  const uint64_t seed = uint64_t(args.get_int("seed"));
  run_on_engine<int>([&](JobContext& ctx) {
    ctx.progress("create", -1, "initialising " + arch);
    const TensorMap w = random_weights(cfg, seed);
    auto meta = base_metadata();
    meta["mmmamba.stage"] = "random";
    meta["mmmamba.architecture"] = arch;
    meta["mmmamba.seed"] = std::to_string(seed);
    ctx.progress("create", 0.5, "writing " + out);
    save_checkpoint(out, cfg, w, meta);
    if (!args.flag("no-tokenizer")) write_tokenizer_dir(out, int(cfg.vocab_size), sample_scene_sentences(4000, unsigned(seed)));
    return 0;
  });
  std::printf("wrote %s: %s teacher, %s parameters (random weights)\n", out.c_str(), arch.c_str(),
              format_count(double(compute_plan_stats(cfg).total_params)).c_str());
  return 0;
}

}  // namespace mm::cli
