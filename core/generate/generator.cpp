#include "generate/generator.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "runtime/device.h"
#include "runtime/errors.h"

namespace mm {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int64_t max_sequence_length(const ModelConfig& cfg) {
  int64_t limit = std::numeric_limits<int64_t>::max();
  for (int64_t l = 0; l < cfg.n_layers(); ++l)
    if (cfg.layer_kinds.at(size_t(l)) == LayerKind::attention)
      limit = std::min(limit, cfg.stack_of(l).max_position_embeddings);
  return limit;
}

void check_sequence_length(const ModelConfig& cfg, int64_t tokens) {
  const int64_t limit = max_sequence_length(cfg);
  if (tokens > limit)
    throw InputError("the conversation would be " + std::to_string(tokens) + " tokens, longer than the model's " +
                         std::to_string(limit) + " positions (max_position_embeddings)",
                     "shorten the prompt, use fewer image tiles (--max-tiles), or start a new conversation");
}

at::Tensor prefill(const VlmModel& model, ModelCache& cache, const at::Tensor& ids, const at::Tensor& pixels,
                   int64_t chunk, const CancelToken* cancel, bool check_positions) {
  TORCH_CHECK(ids.dim() == 2, "prefill: ids must be (B, L), got ", ids.sizes());
  if (ids.size(1) == 0) throw InputError("the prompt is empty", "type a message");
  if (check_positions) check_sequence_length(model.config(), cache.seq_len + ids.size(1));
  const at::Tensor dev_ids = ids.to(model.options().device());
  const PromptImageFeatures images = model.prepare_images(dev_ids, pixels);
  const int64_t L = dev_ids.size(1);
  at::Tensor h;
  for (int64_t start = 0; start < L; start += chunk) {  // embedded chunk by chunk: memory flat in L
    if (cancel) cancel->throw_if_cancelled();
    const int64_t n = std::min(chunk, L - start);
    h = model.run_all(model.embed_span(dev_ids, images, start, n), &cache);  // (B, n, D)
  }
  return model.head(h.narrow(1, h.size(1) - 1, 1)).reshape({-1});  // (V)
}

at::Tensor decode_step(const VlmModel& model, ModelCache& cache, const at::Tensor& tokens) {
  TORCH_CHECK(tokens.dim() == 2 && tokens.size(1) == 1 && tokens.size(0) == cache.batch,
              "decode_step: tokens must be (B, 1) for the cache's batch of ", cache.batch, ", got ", tokens.sizes());
  const auto dev = model.options().device();
  const int64_t weight_bytes = model.param_count() * int64_t(model.options().dtype().itemsize());
  const ScopedCpuThreads threads(dev.is_cpu() ? decode_step_threads(weight_bytes + cache.bytes()) : 0);
  return model.head(model.run_all(model.embed_tokens(tokens), &cache)).squeeze(1);  // (B, 1, V) -> (B, V)
}

at::Tensor decode_step(const VlmModel& model, ModelCache& cache, int64_t token) {
  const at::Tensor in = at::full({1, 1}, token, at::TensorOptions().dtype(at::kLong).device(model.options().device()));
  return decode_step(model, cache, in).reshape({-1});  // (V)
}

Generation generate(const VlmModel& model, ModelCache& cache, const at::Tensor& prompt_ids, const at::Tensor& pixels,
                    const SamplingOptions& opts, const std::function<void(int64_t)>& on_token,
                    const CancelToken* cancel) {
  validate(opts);
  const auto t0 = std::chrono::steady_clock::now();
  Generation g;
  g.stats.prompt_tokens = prompt_ids.size(1);
  at::Generator gen = at::detail::createCPUGenerator(opts.seed);
  const at::Tensor host_ids = prompt_ids.to(at::kCPU, at::kLong).contiguous();  // the ids may live on the GPU
  std::vector<int64_t> context(host_ids.data_ptr<int64_t>(), host_ids.data_ptr<int64_t>() + host_ids.numel());
  at::Tensor logits = prefill(model, cache, prompt_ids, pixels, opts.prefill_chunk, cancel);
  g.stats.prefill_seconds = seconds_since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  g.stats.stop_reason = "max_tokens";
  const int64_t positions = max_sequence_length(model.config());
  for (int64_t step = 0; step < opts.max_new_tokens; ++step) {
    if (step > 0) {
      if (cancel && cancel->cancelled()) {
        g.stats.stop_reason = "cancelled";
        break;
      }
      if (cache.seq_len >= positions) {  // the next token would sit past the positions the config declares
        g.stats.stop_reason = "max_positions";
        break;
      }
      logits = decode_step(model, cache, g.last_token);
      ++g.stats.decode_steps;
    }
    g.last_token = sample_token(logits, context, opts, gen);
    if (step == 0) g.stats.time_to_first_token = seconds_since(t0);
    context.push_back(g.last_token);
    if (std::find(opts.stop_ids.begin(), opts.stop_ids.end(), g.last_token) != opts.stop_ids.end()) {
      g.stats.stop_reason = "stop_token";
      break;
    }
    g.ids.push_back(g.last_token);
    if (on_token) on_token(g.last_token);
  }
  g.stats.new_tokens = int64_t(g.ids.size());
  g.stats.decode_seconds = seconds_since(t1);
  g.stats.cache_bytes = cache.bytes();
  return g;
}

}  // namespace mm
