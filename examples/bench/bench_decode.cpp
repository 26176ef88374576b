// Decode tokens/s of a teacher, its linear student and its hybrid student on one device, side by
// side, after a prompt of a given length. Random weights (speed does not depend on trained values).
// usage: mm_bench_decode [arch=tiny] [prompt=256] [tokens=128] [device=cpu]
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/layer_plan.h"
#include "generate/generator.h"
#include "models/random_init.h"
#include "runtime/device.h"
#include "seeding/seed_student.h"

int main(int argc, char** argv) {
  mm::configure_cpu_threads();
  const std::string arch = argc > 1 ? argv[1] : "tiny";
  const int64_t prompt = argc > 2 ? std::atoll(argv[2]) : 256, tokens = argc > 3 ? std::atoll(argv[3]) : 128;
  const c10::Device dev = mm::parse_device(argc > 4 ? argv[4] : "cpu");
  const mm::ModelConfig cfg = mm::architecture_preset(arch);
  const mm::TensorMap teacher = mm::random_weights(cfg, 0);
  std::printf("decode %s, prompt %lld tokens, %lld new tokens, %s\n", arch.c_str(), (long long)prompt,
              (long long)tokens, mm::describe_device(dev).c_str());
  std::printf("  %-10s %12s %14s %12s\n", "model", "prefill s", "decode tok/s", "cache");
  for (const char* plan : {"teacher", "linear", "hybrid"}) {
    mm::ModelConfig c = cfg;
    mm::TensorMap w = teacher;
    if (std::string(plan) != "teacher") {
      mm::SeedResult r = mm::seed_student(cfg, teacher, mm::LayerPlan::parse(plan), 0);
      c = r.config;
      w = r.weights;
    }
    mm::VlmModel model(c, w);
    model.to(dev, mm::default_dtype(dev));
    model.fuse_for_inference();
    c10::AutoGradMode no_grad(false);
    mm::ModelCache cache = model.new_cache(1);
    const at::Tensor ids = (at::arange(prompt, at::kLong) % 200 + 10).view({1, -1});
    mm::SamplingOptions o;
    o.max_new_tokens = tokens;
    const mm::Generation g = mm::generate(model, cache, ids, {}, o, {});
    std::printf("  %-10s %12.3f %14.1f %9.1f KiB\n", plan, g.stats.prefill_seconds, g.stats.decode_tokens_per_second(),
                g.stats.cache_bytes / 1024.0);
  }
  return 0;
}
