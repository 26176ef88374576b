// Inference caches: a growing KV cache for attention layers (or a static one: preallocated, its
// length on the device), constant conv + SSM state for Mamba-2 layers, and snapshots that let a chat
// reply be regenerated without re-reading the prompt.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "config/model_config.h"

namespace mm {

/// Keys and values of one attention layer, (B, H_kv, capacity, head_dim); the first `len` positions are valid.
struct AttentionCache {
  at::Tensor k, v;
  int64_t len = 0;
  /// Static cache (ModelCache::make_static): len mirrored on the device as an int64 (1). A decode step
  /// then reads the position, writes K/V and attends through it alone, so it can be captured in a
  /// CUDA graph; k and v are never reallocated. Undefined: the growing cache.
  at::Tensor len_dev;
  bool is_static() const { return len_dev.defined(); }
  /// Sets len (a restore or a prefill) and, for a static cache, its device copy.
  void set_len(int64_t n);
  /// Appends k_new, v_new (B, H_kv, L, head_dim), growing capacity geometrically past a reservation.
  void append(const at::Tensor& k_new, const at::Tensor& v_new);
  /// Makes room for `tokens` positions of shape (B, H_kv, ., head_dim) without a later growth copy.
  void reserve(int64_t B, int64_t kv_heads, int64_t tokens, int64_t head_dim, const at::TensorOptions& opts);
  at::Tensor keys() const { return k.narrow(2, 0, len); }
  at::Tensor values() const { return v.narrow(2, 0, len); }
};

/// Recurrent state of one Mamba-2 layer.
struct Mamba2State {
  at::Tensor conv;  ///< (B, conv_channels, d_conv-1): last pre-activation conv inputs, model dtype
  at::Tensor ssm;   ///< (B, H, P, N) fp32 (kept in fp32 on every device; METHOD §2.5 notes the deviation)
};

struct LayerCache {
  LayerKind kind = LayerKind::attention;
  AttentionCache attn;
  Mamba2State ssm;
};

/// What restore() needs: the attention lengths (KV prefixes are immutable) and copies of the states.
struct CacheSnapshot {
  int64_t seq_len = 0;
  std::vector<int64_t> attn_len;
  std::vector<Mamba2State> states;
};

class ModelCache {
 public:
  ModelCache() = default;
  ModelCache(const ModelConfig& cfg, int64_t batch, const at::TensorOptions& opts);

  std::vector<LayerCache> layers;
  int64_t seq_len = 0;  ///< positions already consumed
  int64_t batch = 0;

  /// Preallocates every attention layer's K/V for `tokens` positions in opts' dtype and device, so a
  /// prefill and decode up to there never copy the cache to grow it (growth doubles KV memory).
  void reserve(const ModelConfig& cfg, int64_t tokens, const at::TensorOptions& opts);
  /// reserve(), and on a CUDA device every attention layer's cache becomes static (its length on the
  /// device, AttentionCache::len_dev): what a captured decode step (generate/decode_graph.h) needs.
  /// Positions past `tokens` cannot be written: the step that would is refused (c10::Error).
  void make_static(const ModelConfig& cfg, int64_t tokens, const at::TensorOptions& opts);
  /// The fewest positions any static attention cache can hold (INT64_MAX when none is static).
  int64_t static_capacity() const;

  /// Bytes of live cache content (KV up to seq_len, plus all states).
  int64_t bytes() const;
  CacheSnapshot snapshot() const;
  void restore(const CacheSnapshot& s);
};

/// KV bytes added per token (all attention layers), and the constant bytes of the Mamba-2 states.
int64_t cache_bytes_per_token(const ModelConfig& cfg, int64_t elem_size);
/// One layer's share of the two figures (0 when the layer is of the other kind).
int64_t layer_kv_bytes_per_token(const ModelConfig& cfg, int64_t layer, int64_t elem_size);
int64_t layer_state_bytes(const ModelConfig& cfg, int64_t layer, int64_t elem_size);
int64_t cache_state_bytes(const ModelConfig& cfg, int64_t elem_size);

}  // namespace mm
