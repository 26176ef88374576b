#include "generate/generator.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>

#include "generate/decode_graph.h"
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

int64_t default_prefill_chunk(const ModelConfig& cfg, bool cuda) {
  return cuda || cfg.count(LayerKind::attention) == 0 ? 4096 : 2048;
}

at::Tensor prefill(const VlmModel& model, ModelCache& cache, const at::Tensor& ids, const at::Tensor& pixels,
                   int64_t chunk, const CancelToken* cancel, bool check_positions) {
  TORCH_CHECK(ids.dim() == 2, "prefill: ids must be (B, L), got ", ids.sizes());
  TORCH_CHECK(chunk >= 0, "prefill: the chunk must be >= 0 (0: the model's default), got ", chunk);
  if (chunk == 0) chunk = default_prefill_chunk(model.config(), model.options().device().is_cuda());
  if (ids.size(1) == 0) throw InputError("the prompt is empty", "type a message");
  if (check_positions) check_sequence_length(model.config(), cache.seq_len + ids.size(1));
  const at::Tensor dev_ids = ids.to(model.options().device());
  // A static cache (a GPU conversation after a reply) cannot grow on append: make room first.
  if (cache.static_capacity() < cache.seq_len + dev_ids.size(1))
    cache.reserve(model.config(), cache.seq_len + dev_ids.size(1), model.options());
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

namespace {

/// Replies shorter than this decode eagerly: capturing the graph costs about two steps.
constexpr int64_t kGraphMinTokens = 16;
/// KV capacity is reserved in steps of this many positions, so a chat's turns rarely copy the cache.
constexpr int64_t kReserveStep = 1024;
/// Reply positions reserved at a time: a long reply reserves more as it goes.
constexpr int64_t kReplyReserve = 4096;

/// Room for `tokens` more positions (rounded up, never past the config's), so neither the prefill nor the
/// decode copies the KV cache to grow it; on a CUDA device the cache becomes static, which a captured
/// decode step needs. The caller has checked that the prompt fits.
void reserve_positions(const VlmModel& model, ModelCache& cache, int64_t tokens) {
  const int64_t positions = max_sequence_length(model.config());
  if (positions == std::numeric_limits<int64_t>::max()) return;  // no attention layer: nothing grows
  const int64_t need = cache.seq_len + tokens;
  cache.make_static(model.config(), std::min(positions, (need + kReserveStep - 1) / kReserveStep * kReserveStep),
                    model.options());
}

/// A graph for this reply's decode steps, or nullptr with the reason in why.
std::unique_ptr<DecodeGraph> reply_graph(const VlmModel& model, ModelCache& cache, const SamplingOptions& opts,
                                         std::string& why) {
  if (!model.options().device().is_cuda()) return nullptr;
  if (!opts.decode_graph) {
    why = "turned off (decode_graph = false)";
    return nullptr;
  }
  if (opts.max_new_tokens < kGraphMinTokens) {
    why = "a reply of at most " + std::to_string(opts.max_new_tokens) + " tokens";
    return nullptr;
  }
  if (const char* no = decode_graph_unsupported(model, cache)) {
    why = no;
    return nullptr;
  }
  try {
    return std::make_unique<DecodeGraph>(model, cache);
  } catch (const c10::Error& e) {  // the capture leaves the cache as it was: decode eagerly instead
    why = std::string("the capture failed: ") + e.what_without_backtrace();
    return nullptr;
  }
}

}  // namespace

Generation generate(const VlmModel& model, ModelCache& cache, const at::Tensor& prompt_ids, const at::Tensor& pixels,
                    const SamplingOptions& opts, const std::function<void(int64_t)>& on_token,
                    const CancelToken* cancel) {
  validate(opts);
  c10::AutoGradMode no_grad(false);  // never needed here, and a captured decode step requires it off
  const auto t0 = std::chrono::steady_clock::now();
  Generation g;
  g.stats.prompt_tokens = prompt_ids.size(1);
  at::Generator gen = at::detail::createCPUGenerator(opts.seed);
  const at::Tensor host_ids = prompt_ids.to(at::kCPU, at::kLong).contiguous();  // the ids may live on the GPU
  std::vector<int64_t> context(host_ids.data_ptr<int64_t>(), host_ids.data_ptr<int64_t>() + host_ids.numel());
  check_sequence_length(model.config(), cache.seq_len + prompt_ids.size(1));
  reserve_positions(model, cache, prompt_ids.size(1) + std::min(opts.max_new_tokens, kReplyReserve));
  at::Tensor logits = prefill(model, cache, prompt_ids, pixels, opts.prefill_chunk, cancel);
  g.stats.prefill_seconds = seconds_since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  g.stats.stop_reason = "max_tokens";
  const int64_t positions = max_sequence_length(model.config());
  // Greedy without a penalty takes the graph's own on-device argmax: only the token id comes back.
  const bool greedy = (opts.temperature == 0.0 || opts.top_k == 1) && opts.repetition_penalty == 1.0;
  std::unique_ptr<DecodeGraph> graph;
  int64_t graph_pick = -1;
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
      bool capture = step == 1;  // over the prefilled cache, once per reply (the cache may have moved)
      const bool had_graph = graph != nullptr;
      if (cache.seq_len >= cache.static_capacity()) {  // a long reply outgrew its reservation (static caches)
        graph.reset();
        reserve_positions(model, cache, std::min(opts.max_new_tokens - step, kReplyReserve));
        capture = true;
      }
      if (capture) {
        graph = reply_graph(model, cache, opts, g.stats.graph_fallback);
        g.stats.decode_path = graph ? "cuda graph" : had_graph ? "cuda graph, then eager" : "eager";
      }
      if (graph) {
        graph_pick = graph->step(g.last_token);
        if (!greedy) logits = graph->logits().reshape({-1});  // (1, 1, V) -> (V)
      } else {
        logits = decode_step(model, cache, g.last_token);
      }
      ++g.stats.decode_steps;
    }
    g.last_token = graph && greedy ? graph_pick : sample_token(logits, context, opts, gen);
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
