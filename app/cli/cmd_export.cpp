// mmmamba export: write the mmMamba HF layout and prove the round trip on logits.
#include <cstdio>

#include "cli/common.h"
#include "io/checkpoint.h"
#include "io/output_target.h"
#include "runtime/device.h"

namespace mm::cli {

int cmd_export(const std::vector<std::string>& argv) {
  Args args("export", "DIR --out DIR [--dtype f32|bf16|f16] [--shard-mb N]",
            "Writes a checkpoint in the mmMamba HF layout (fused wvkqgdt, g_norm_swish_gate, layers_block_type\n"
            "in config.json; a teacher keeps the HoVLE layout), then loads it back and compares logits on a\n"
            "probe prompt.",
            {{"out", "DIR", "output directory: new, empty or a checkpoint (replaced atomically); never the source"},
             {"dtype", "DTYPE", "storage dtype", "f32"},
             {"shard-mb", "N", "largest shard in MiB", "4096"}});
  if (parse_or_help(args, argv)) return 0;
  const std::string src = args.positional(0, "checkpoint directory");
  if (!args.has("out")) throw InputError("export needs --out DIR");
  const std::string out = check_output_dir(args.get("out"), {src});
  const c10::ScalarType dtype = parse_dtype_name(args.get("dtype"));
  const long long shard_mb = args.get_int("shard-mb");
  if (shard_mb < 1) throw InputError("--shard-mb must be at least 1");
  const double diff = run_on_engine<double>([&](JobContext& ctx) {
    ctx.progress("export", -1, "loading " + src);
    Checkpoint ck = load_checkpoint(src, at::kFloat);
    TensorMap stored;
    for (const auto& kv : ck.weights) stored[kv.first] = kv.second.to(dtype);
    auto meta = ck.metadata;
    for (const auto& kv : base_metadata()) meta[kv.first] = kv.second;
    meta["mmmamba.exported_from"] = src;
    ctx.progress("export", 0.4, "writing " + out);
    save_checkpoint(out, ck.config, stored, meta, src, uint64_t(shard_mb) << 20);
    ctx.progress("export", 0.7, "round-trip check");
    Checkpoint back = load_checkpoint(out, at::kFloat);
    // Probe: a few text tokens (no image) through both models.
    const int64_t n = std::min<int64_t>(16, ck.config.text_vocab_size);
    at::Tensor ids = (at::arange(n, at::kLong) * 7919 % ck.config.text_vocab_size).view({1, -1});
    ids.masked_fill_(ids.eq(ck.config.img_context_token_id), 1);
    TensorMap expect;
    for (const auto& kv : stored) expect[kv.first] = kv.second.to(at::kFloat);
    const at::Tensor a = VlmModel(ck.config, expect).forward(ids);
    const at::Tensor b = VlmModel(back.config, back.weights).forward(ids);
    return (a - b).abs().max().item<double>();
  });
  std::printf("wrote %s\nround trip: max |logit difference| = %g%s\n", out.c_str(), diff,
              diff == 0 ? " (identical)" : "");
  return diff == 0 ? 0 : 1;
}

}  // namespace mm::cli
