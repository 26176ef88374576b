// Batch-1 decode of a run of consecutive Mamba-2 decoder layers in one persistent launch (sm_90):
// per layer the pre-norm fused input projection, the conv + SSM step (head dim = state dim = 128),
// the gated RMSNorm, W_O + residual, the SwiGLU MLP and w2 + residual. One block per multiprocessor;
// a producer warp streams the block's share of every weight matrix of every layer into a ring of
// shared-memory slots (bulk copies) while eight consumer warps compute, so the weights keep streaming
// through the grid-wide barriers between the phases. Reference: the composition of norm_linear,
// mamba2_decode_step, linear_residual and norm_swiglu per layer (core/ops, mamba2_layers_decode).
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

constexpr int kMamba2LayersMax = 32;  ///< layers per launch (the params travel by value)

struct Mamba2LayerPtrs {
  const void* attn_norm = nullptr;    ///< (D)
  const void* fused_in = nullptr;     ///< (C + H P + H, D): [v | k | q | gate | gamma]
  const void* conv_weight = nullptr;  ///< (C, K)
  const void* conv_bias = nullptr;    ///< (C)
  const void* dt_bias = nullptr;      ///< (H)
  const void* A_log = nullptr;        ///< (H)
  const void* gnorm = nullptr;        ///< (P) gated RMSNorm scale
  const void* o_proj = nullptr;       ///< (D, H P)
  const void* ffn_norm = nullptr;     ///< (D)
  const void* w1 = nullptr;           ///< (F, D)
  const void* w3 = nullptr;           ///< (F, D)
  const void* w2 = nullptr;           ///< (D, F)
  void* conv_state = nullptr;         ///< (1, C, K - 1), shifted in place
  float* ssm_state = nullptr;         ///< (1, H, P, P) fp32, updated in place
};

struct Mamba2LayersParams {
  Mamba2LayerPtrs layers[kMamba2LayersMax];
  int n_layers = 0;
  const void* h_in = nullptr;  ///< (D)
  void* h_out = nullptr;       ///< (D)
  void* work = nullptr;        ///< mamba2_layers_work_elems(...) elements of T
  unsigned* barrier = nullptr;  ///< 2 words of device scratch for the grid barrier (the launcher zeroes them)
  int64_t dim = 0, heads = 0, kv_heads = 0, ffn = 0;
  int width = 2;
  float rms_eps = 1e-5f, norm_eps = 1e-5f;
  DType dtype = DType::bf16;
};

/// Elements of T the workspace needs: z, y, out, a and two hidden states.
int64_t mamba2_layers_work_elems(int64_t dim, int64_t heads, int64_t kv_heads, int64_t ffn);

/// Why the kernel cannot run these shapes on the current device (nullptr when it can).
const char* mamba2_layers_unsupported(int64_t dim, int64_t heads, int64_t kv_heads, int64_t ffn, int width, DType dtype);

/// Returns 0 or the CUDA error of the launch.
int mamba2_layers_launch(const Mamba2LayersParams& p, Stream stream);

}  // namespace mm::kern
