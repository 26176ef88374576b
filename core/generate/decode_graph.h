// One greedy decode step captured in a CUDA graph and replayed: embedding, every layer, the head and
// the argmax run as one graph launch, with the next token written on the device. The step has a fixed
// shape: Mamba-2 state is updated in place, and attention layers need a static KV cache
// (ModelCache::make_static), whose position, K/V write and length live on the device.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "cache/model_cache.h"
#include "models/vlm_model.h"

namespace mm {

/// Why a graph cannot take this model and cache here (nullptr = it can).
const char* decode_graph_unsupported(const VlmModel& model, const ModelCache& cache);

class DecodeGraph {
 public:
  /// Captures the step over cache (whose state tensors the graph binds: restore() them in place, do not
  /// replace them). The cache's contents are unchanged by the capture. Throws c10::Error when
  /// decode_graph_unsupported() says no.
  DecodeGraph(const VlmModel& model, ModelCache& cache);
  ~DecodeGraph();
  DecodeGraph(const DecodeGraph&) = delete;
  DecodeGraph& operator=(const DecodeGraph&) = delete;

  /// Feeds token (one per sequence of the batch), replays, advances cache.seq_len; returns the greedy
  /// next token of sequence 0 (reading it waits for the device).
  int64_t step(int64_t token);
  /// Feeds tokens (B, 1) long on the device (e.g. next_tokens(): each sequence its own greedy pick),
  /// replays and advances like step(int64_t); returns sequence 0's next token.
  int64_t step(const at::Tensor& tokens);
  /// The greedy next tokens (B, 1) on the device, valid after step().
  const at::Tensor& next_tokens() const;
  /// The step's logits (B, 1, V) on the device, valid after step() until the next one.
  const at::Tensor& logits() const;

 private:
  int64_t replay();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  ModelCache& cache_;
};

}  // namespace mm
