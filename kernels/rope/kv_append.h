// A static-cache decode step's attention bookkeeping in one launch: rotate the new token's queries and
// key at the cache's device length pos, write its key and value at row pos of the cache, advance the
// length. Reference: rope_kv_append in core/ops/attention_ops.cpp (apply_rope_at_ref, index_copy_, add_).
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

struct KvAppendParams {
  const void* qkv = nullptr;  ///< (B, H_kv, G + 2, hd): [q x G | k | v] per kv head, strides qkv_stride_b/h/slot, unit last
  void* q_out = nullptr;      ///< (B, H_kv G, hd) contiguous: rotated queries
  void* cache_k = nullptr;    ///< (B, H_kv, capacity, hd), strides cache_stride_b/h/t, unit last
  void* cache_v = nullptr;    ///< same strides as cache_k
  int64_t* len = nullptr;     ///< (1) on the device: the position written, then advanced by one
  int64_t qkv_stride_b = 0, qkv_stride_h = 0, qkv_stride_slot = 0;
  int64_t cache_stride_b = 0, cache_stride_h = 0, cache_stride_t = 0;
  int64_t batch = 0, kv_heads = 0, group = 1, head_dim = 0;
  float theta = 10000.f;
  DType dtype = DType::bf16;
};

/// Returns 0 or the CUDA error of the launch (one block: the length moves after every read of it).
int kv_append_launch(const KvAppendParams& p, Stream stream);

}  // namespace mm::kern
