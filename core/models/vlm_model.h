// The whole decoder-only VLM (METHOD.md §1.1): text + image embedding, the holistic-embedding layers,
// the LLM layers, final norm and head. The same class runs the teacher, the linear student and any
// hybrid: each layer's kind comes from the config.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "cache/model_cache.h"
#include "config/model_config.h"
#include "models/layer_weights.h"
#include "ops/decode_layers.h"

namespace mm {

/// A prompt's image features, computed once and scattered into the embeddings of any span of the
/// prompt, so that prefill embeds chunk by chunk (the whole prompt's (B, L, D) embeddings would make a
/// linear model's peak memory grow with the context: 4 GiB at 1M tokens for HoVLE-2.6B).
struct PromptImageFeatures {
  at::Tensor feats;       ///< (n_feats, D); undefined without images
  at::Tensor feat_index;  ///< (B, L) long: each IMG_CONTEXT slot's row of feats (row-major), -1 elsewhere
};

class VlmModel {
 public:
  /// Takes the tensors in the internal layout (io/name_table.h); binds every layer.
  VlmModel(ModelConfig cfg, TensorMap weights);

  const ModelConfig& config() const { return cfg_; }
  const TensorMap& weights() const { return weights_; }
  TensorMap& mutable_weights() { return weights_; }
  /// Re-binds layer handles after the map was edited (tensors replaced, not just updated in place).
  void rebind();
  /// Moves and casts every tensor; floating tensors take dtype.
  void to(const at::Device& device, at::ScalarType dtype);
  at::TensorOptions options() const;
  int64_t param_count() const;
  /// Builds the fused [v|k|q|g|gamma] projection of every Mamba-2 layer (inference only; drop before training).
  void fuse_for_inference();
  /// Drops the tensors no forward pass reads (HoVLE's LLM tok_embeddings: the HE text embedding is the
  /// one used; 362 MiB in bf16 at HoVLE-2.6B). Inference only: a checkpoint saved after it lacks them.
  /// Returns the elements dropped.
  int64_t release_unused_weights();

  /// ids (B, L) -> (B, L, D) from the HE text embedding.
  at::Tensor embed_tokens(const at::Tensor& ids) const;
  /// tiles (n, 3, S', S') -> (n * tokens_per_tile, D): patch conv + position table + pixel shuffle + MLP.
  at::Tensor embed_images(const at::Tensor& pixels) const;
  /// Text embeddings with image features scattered into the IMG_CONTEXT positions (tile order, row-major).
  at::Tensor embed(const at::Tensor& ids, const at::Tensor& pixels) const;
  /// Runs the vision embedding once for a prompt; checks that ids has one IMG_CONTEXT slot per feature.
  PromptImageFeatures prepare_images(const at::Tensor& ids, const at::Tensor& pixels) const;
  /// Embeddings of ids[:, start : start + n] with their image features: (B, n, D).
  at::Tensor embed_span(const at::Tensor& ids, const PromptImageFeatures& images, int64_t start, int64_t n) const;

  /// Runs layers [first, last) over h (B, L, D). With a cache, positions continue from cache->seq_len
  /// (the caller advances seq_len); without one, they start at pos0.
  at::Tensor run_layers(at::Tensor h, ModelCache* cache, int64_t first, int64_t last, int64_t pos0 = 0,
                        std::vector<at::Tensor>* mixer_outputs = nullptr) const;
  /// Layer i (a Mamba-2 layer with fused projections) for mamba2_layers_decode, over state.
  Mamba2DecodeLayer decode_layer(int64_t i, Mamba2State& state) const;
  /// All layers, the optional HE output normalisation included; advances cache->seq_len.
  at::Tensor run_all(const at::Tensor& h, ModelCache* cache) const;
  /// Final norm + output head -> fp32 logits (B, L, V).
  at::Tensor head(const at::Tensor& h) const;
  /// Full parallel forward without a cache: logits (B, L, V).
  at::Tensor forward(const at::Tensor& ids, const at::Tensor& pixels = {}) const;

  ModelCache new_cache(int64_t batch) const;
  /// The bound handles of layer i (they share storage with weights()).
  const LayerWeights& layer(int64_t i) const { return layers_.at(size_t(i)); }

 private:
  const at::Tensor& get(const std::string& name) const;

  ModelConfig cfg_;
  TensorMap weights_;
  std::vector<LayerWeights> layers_;
};

}  // namespace mm
