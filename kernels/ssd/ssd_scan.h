// Chunked SSD scan forward for the mmMamba layer (head dim = state dim = chunk = 128), in three
// launches as in METHOD.md §2.3: chunk_state (each chunk's local state s_c), state_passing (the
// inter-chunk recurrence, which writes the state entering every chunk, rounded to x's dtype as the readout
// takes it, and the final state), chunk_scan (the masked intra-chunk "attention" plus the readout of the
// entering state).
// x, B and C are bf16/f16 and feed tensor cores; dt, A, the states and all accumulation are fp32.
// Reference: ssd_scan_chunked_ref (core/ref/ssd_ref.h), whose steps 1-4 these kernels follow.
#pragma once

#include "common/kernel_types.h"

namespace mm::kern {

constexpr int kSsdChunk = 128;  ///< T, also the head dim P and the state dim N the kernels take

struct SsdScanParams {
  const void* x = nullptr;   ///< (B, L, H / x_group, P), strides x_stride_b/l/h, unit last stride
  const void* Bm = nullptr;  ///< (B, L, H / b_group, N), strides b_stride_*
  const void* Cm = nullptr;  ///< (B, L, H, N), strides c_stride_*
  const float* dt = nullptr;          ///< (B, L, H), strides dt_stride_*
  const float* A = nullptr;           ///< (H)
  const float* init_state = nullptr;  ///< (B, H, P, N) contiguous, or nullptr (zeros)
  void* y = nullptr;                  ///< (B, L, H, P) contiguous, dtype of x
  float* final_state = nullptr;       ///< (B, H, P, N) contiguous
  float* chunk_states = nullptr;      ///< workspace (B, n_chunks, H, P, N): s_c
  void* entering_states = nullptr;    ///< workspace (B, n_chunks, H, P, N), dtype of x: the state entering chunk c
  float* chunk_decay = nullptr;       ///< workspace (B, H, n_chunks): exp(sum of dt A over the chunk)
  int64_t x_stride_b = 0, x_stride_l = 0, x_stride_h = 0;
  int64_t b_stride_b = 0, b_stride_l = 0, b_stride_h = 0;
  int64_t c_stride_b = 0, c_stride_l = 0, c_stride_h = 0;
  int64_t dt_stride_b = 0, dt_stride_l = 0, dt_stride_h = 0;
  int64_t batch = 0, len = 0, heads = 0, n_chunks = 0;
  int x_group = 1, b_group = 1;  ///< output heads per x head and per B head: head h reads h / group (GQA)
  DType dtype = DType::bf16;  ///< bf16 or f16 (x, B, C and y)
};

/// Runs the three kernels on stream. Strides of x/B/C must be multiples of 8 elements and their data
/// 16-byte aligned (the binding checks). Returns 0 or the CUDA error of the launches.
int ssd_scan_launch(const SsdScanParams& p, Stream stream);

}  // namespace mm::kern
