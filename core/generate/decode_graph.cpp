#include "generate/decode_graph.h"

#include <torch/version.h>

#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

#if MM_TORCH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace mm {

const char* decode_graph_unsupported(const VlmModel& model, const ModelCache& cache) {
#if !MM_TORCH_CUDA
  (void)model;
  (void)cache;
  return "this build has no CUDA graphs (a CUDA LibTorch)";
#else
  if (!model.options().device().is_cuda()) return "not on a CUDA device";
  if (cache.layers.size() != size_t(model.config().n_layers()) || cache.batch < 1) return "the cache is not this model's";
  for (const LayerCache& lc : cache.layers) {
    if (lc.kind != LayerKind::attention) continue;
    if (!lc.attn.is_static()) return "attention layers need a static KV cache (ModelCache::make_static)";
    if (lc.attn.len >= lc.attn.k.size(2)) return "the static KV cache is full";
  }
  if (cache.seq_len == 0) return "prefill first: the graph binds the prefilled state";
  if (at::GradMode::is_enabled()) return "gradients are on";
  return nullptr;
#endif
}

#if MM_TORCH_CUDA
struct DecodeGraph::Impl {
  at::cuda::CUDAGraph graph;
  at::Tensor ids, next;  // (B, 1) long: the fed tokens and the greedy picks
  at::Tensor logits;     // keeps the captured output alive
};

namespace {

/// The captured step: no host reads, no shape depends on the position.
void run_step(const VlmModel& m, ModelCache& cache, at::Tensor& ids, at::Tensor& next, at::Tensor& logits) {
  const at::Tensor h = at::embedding(m.weights().at("embedding_model.llm_text_embeddings.weight"), ids);  // (B, 1, D)
  logits = m.head(m.run_all(h, &cache));                                                                // (B, 1, V)
  next.copy_(logits.argmax(-1));                                                                         // (B, 1)
}

}  // namespace

DecodeGraph::DecodeGraph(const VlmModel& model, ModelCache& cache) : impl_(std::make_unique<Impl>()), cache_(cache) {
  const char* why = decode_graph_unsupported(model, cache);
  TORCH_CHECK(!why, "decode graph: ", why);
  const auto longs = at::TensorOptions().dtype(at::kLong).device(model.options().device());
  impl_->ids = at::zeros({cache.batch, 1}, longs);
  impl_->next = at::zeros({cache.batch, 1}, longs);
  const CacheSnapshot before = cache.snapshot();
  c10::cuda::getCurrentCUDAStream().synchronize();  // the side stream below must see the prefilled state
  {
    // Capture on a side stream after one eager warm-up step there (lazy handles and workspaces).
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    c10::cuda::CUDAStreamGuard guard(side);
    bool capturing = false;
    try {
      run_step(model, cache, impl_->ids, impl_->next, impl_->logits);
      cache.restore(before);  // in place: the tensors the graph binds stay the cache's
      impl_->graph.capture_begin();
      capturing = true;
      run_step(model, cache, impl_->ids, impl_->next, impl_->logits);
      capturing = false;
      impl_->graph.capture_end();
    } catch (...) {
      // Leave the cache as it was, so the caller can decode eagerly: end the capture (which releases
      // its memory pool), then put back the lengths (host and device) and the states.
      if (capturing) {
        try {
          impl_->graph.capture_end();
        } catch (...) {
        }
      }
      cache.restore(before);
      side.synchronize();
      throw;
    }
    // The capture ran no kernels; only the host counters moved.
    cache.seq_len = before.seq_len;
    for (size_t i = 0; i < cache.layers.size(); ++i) cache.layers[i].attn.len = before.attn_len[i];
    side.synchronize();
  }
}

DecodeGraph::~DecodeGraph() = default;

int64_t DecodeGraph::step(int64_t token) {
  impl_->ids.fill_(token);
  return replay();
}

int64_t DecodeGraph::step(const at::Tensor& tokens) {
  TORCH_CHECK(tokens.sizes() == impl_->ids.sizes(), "decode graph: tokens must be ", impl_->ids.sizes(), ", got ",
              tokens.sizes());
  impl_->ids.copy_(tokens);
  return replay();
}

int64_t DecodeGraph::replay() {
  for (const LayerCache& lc : cache_.layers)
    TORCH_CHECK(lc.kind != LayerKind::attention || lc.attn.len < lc.attn.k.size(2), "decode graph: the static KV cache is full at ",
                lc.attn.len, " positions (HINT: make the cache static for the whole prompt and reply)");
  impl_->graph.replay();
  cache_.seq_len += 1;
  for (LayerCache& lc : cache_.layers)
    if (lc.kind == LayerKind::attention) lc.attn.len += 1;  // the device copy moved inside the graph
  return impl_->next[0][0].item<int64_t>();
}

const at::Tensor& DecodeGraph::next_tokens() const { return impl_->next; }
const at::Tensor& DecodeGraph::logits() const { return impl_->logits; }

#else
struct DecodeGraph::Impl {};

DecodeGraph::DecodeGraph(const VlmModel& model, ModelCache& cache) : cache_(cache) {
  TORCH_CHECK(false, "decode graph: ", decode_graph_unsupported(model, cache));
}
DecodeGraph::~DecodeGraph() = default;
int64_t DecodeGraph::step(int64_t) { TORCH_CHECK(false, "decode graph: not built"); }
int64_t DecodeGraph::step(const at::Tensor&) { TORCH_CHECK(false, "decode graph: not built"); }
int64_t DecodeGraph::replay() { TORCH_CHECK(false, "decode graph: not built"); }
const at::Tensor& DecodeGraph::next_tokens() const { TORCH_CHECK(false, "decode graph: not built"); }
const at::Tensor& DecodeGraph::logits() const { TORCH_CHECK(false, "decode graph: not built"); }
#endif

}  // namespace mm
