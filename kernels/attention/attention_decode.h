// Attention of one query per sequence over a long KV cache (flash-decoding): the cache is split
// along the sequence, each block reads its slice of K and V once for all query heads of one kv head
// (GQA without copying K/V), and a second kernel combines the slices' partial softmaxes.
// Reference: attention_ref with L = 1 (core/ref/attention_ref.h).
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

struct AttnDecodeParams {
  const void* q = nullptr;  ///< (B, H, hd), strides q_stride_b, q_stride_h, unit last stride
  const void* k = nullptr;  ///< (B, H_kv, T, hd), strides kv_stride_b/h/t, unit last stride
  const void* v = nullptr;  ///< like k, same strides
  void* out = nullptr;      ///< (B, H, hd) contiguous
  float* part_acc = nullptr;  ///< workspace (B, H, n_split, hd): unnormalised partial outputs
  float* part_ml = nullptr;   ///< workspace (B, H, n_split, 2): running max (log2 units) and sum
  int64_t q_stride_b = 0, q_stride_h = 0;
  int64_t kv_stride_b = 0, kv_stride_h = 0, kv_stride_t = 0;
  int64_t batch = 0, heads = 0, kv_heads = 0, seq_len = 0, head_dim = 0;
  /// When set, the keys to attend are the first min(*seq_len_dev, seq_len) (a static cache: seq_len is
  /// its capacity, the splits are planned for it, and splits past the length contribute nothing).
  const int64_t* seq_len_dev = nullptr;
  int64_t n_split = 1, keys_per_split = 0;  ///< from attention_decode_plan
  float scale = 1.f;                        ///< softmax scale, usually 1/sqrt(hd)
  DType dtype = DType::bf16;                ///< bf16 or f16
};

/// Fills n_split and keys_per_split for a device with num_sms multiprocessors.
void attention_decode_plan(AttnDecodeParams& p, int num_sms);
/// head_dim 64 or 128, heads / kv_heads in {1, 2, 4, 8}. Returns 0 or the CUDA error of the launch.
int attention_decode_launch(const AttnDecodeParams& p, Stream stream);
/// Steps of K/V rows each half-warp keeps in flight: 1, or 2 with MMMAMBA_ATTN_DECODE_DEPTH=2 (opt-in
/// until the op harness has run it on a GPU).
int attention_decode_prefetch_depth();

}  // namespace mm::kern
