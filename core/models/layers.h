// The decoder layer and its parts, as functions over bound weights. Shapes in comments:
// B batch, L new positions, D hidden, H heads, H_kv kv heads, hd head dim.
#pragma once

#include <ATen/ATen.h>

#include "cache/model_cache.h"
#include "models/layer_weights.h"
#include "ops/ops.h"  // rms_norm, apply_rope and the other ops the layers are built from

namespace mm {

/// A mixer's input: the residual stream h (B, L, D) and the pre-mixer RMSNorm, applied by the input
/// projections (norm_linear fuses it into the decode GEMV). From a tensor alone: already normalised.
struct MixerInput {
  at::Tensor h;
  at::Tensor norm_w;  ///< (D), or undefined: h is the mixer's input as it stands
  double eps = 0;
  MixerInput(at::Tensor u) : h(std::move(u)) {}  // NOLINT(google-explicit-constructor): a normalised u
  MixerInput(at::Tensor h_, at::Tensor norm_w_, double eps_) : h(std::move(h_)), norm_w(std::move(norm_w_)), eps(eps_) {}
  /// norm(h) W^T: (B, L, N) for W (N, D).
  at::Tensor project(const at::Tensor& w) const;
  /// norm(h) (B, L, D).
  at::Tensor normed() const;
};

/// Causal GQA softmax attention. u (B, L, D) -> per-head output before W_O (B, L, H, hd).
/// With a cache, keys/values are appended and the queries sit at positions cache->len..; without
/// one, positions start at pos0.
at::Tensor attention_mixer(const MixerInput& u, const AttentionWeights& w, const StackConfig& s,
                           AttentionCache* cache, int64_t pos0);

/// A Mamba-2 layer's weights as its fused decode step takes them (the conv weight viewed as (C, K)).
Mamba2StepWeights step_weights(const Mamba2Weights& w, const StackConfig& s, const Mamba2Config& m);

/// The mmMamba Mamba-2 mixer. u (B, L, D) -> per-head output before W_O (B, L, H, hd).
/// With a state, the scan starts from it and leaves the final state there (L == 1 takes the step path).
at::Tensor mamba2_mixer(const MixerInput& u, const Mamba2Weights& w, const StackConfig& s, const Mamba2Config& m,
                        Mamba2State* state);

/// One pre-norm decoder layer: h + W_O mixer(norm(h)), then h + ffn(norm(h)). h (B, L, D).
/// If mixer_out is given, it receives the per-head mixer output (B, L, H, hd).
at::Tensor decoder_layer(const at::Tensor& h, const LayerWeights& lw, const StackConfig& s, const Mamba2Config& m,
                         LayerCache* cache, int64_t pos0, at::Tensor* mixer_out = nullptr);

}  // namespace mm
