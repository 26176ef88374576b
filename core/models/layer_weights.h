// Tensor handles of one decoder layer, bound by name from the model's tensor map (models are data:
// the names come from io/name_table). Handles share storage with the map.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

#include "config/model_config.h"

namespace mm {

using TensorMap = std::map<std::string, at::Tensor>;

/// Teacher attention: fused wqkv in the grouped row layout (METHOD §1.7) and wo.
struct AttentionWeights {
  at::Tensor wqkv;  ///< ((H + 2 H_kv) * hd, D)
  at::Tensor wo;    ///< (D, H * hd)
};

/// The mmMamba Mamba-2 mixer (METHOD §2), in the training names of the public code.
struct Mamba2Weights {
  at::Tensor q_proj, k_proj, v_proj;  ///< (H hd, D), (H_kv hd, D), (H_kv hd, D): inherited W_Q, W_K, W_V
  at::Tensor g_proj;                  ///< (H hd, D): gate W_G
  at::Tensor in_proj;                 ///< (H, D): W_gamma, the input-dependent part of dt
  at::Tensor o_proj;                  ///< (D, H hd): W_O
  at::Tensor conv_weight;             ///< (C, 1, K) depthwise over [v | k | q]
  at::Tensor conv_bias;               ///< (C)
  at::Tensor norm_weight;             ///< (hd) gated RMSNorm scale shared by heads
  at::Tensor dt_bias;                 ///< (H)
  at::Tensor A_log;                   ///< (H): "a", A = -exp(a)
  at::Tensor fused_in;                ///< optional (2 H_kv hd + 2 H hd + H, D) = [v | k | q | g | gamma] for inference
};

struct LayerWeights {
  LayerKind kind = LayerKind::attention;
  at::Tensor attention_norm, ffn_norm;  ///< (D)
  at::Tensor w1, w3;                    ///< (I, D)
  at::Tensor w2;                        ///< (D, I)
  AttentionWeights attn;
  Mamba2Weights ssm;
};

/// "embedding_model.encoder.{i}." for HE layers, "language_model.model.layers.{i - n_he}." for LLM layers.
std::string layer_prefix(const ModelConfig& cfg, int64_t layer);

/// Binds layer `layer` from the map (throws CheckpointError naming a missing tensor).
LayerWeights bind_layer(const ModelConfig& cfg, const TensorMap& w, int64_t layer);

}  // namespace mm
