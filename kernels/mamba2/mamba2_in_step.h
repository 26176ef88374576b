// A Mamba-2 layer's decode from its input to its gated readout in one launch (batch 1): the RMSNorm'd
// fused input projection (norm_linear over fused_in) for the rows the step reads, and the fused step
// (mamba2_step.h) on them. A thread-block cluster of 8 blocks per kv head computes that head's rows
// ([x | B] of the kv head; C, gate and gamma of its G query heads) into distributed shared memory and
// then runs the step as the cluster step kernel does: the projection's output never leaves the cluster
// and no kernel boundary sits between the two. sm_90 only.
// Reference: norm_linear, then mamba2_decode_step_ref (core/ref/mamba2_step_ref.h).
#pragma once

#include "common/kernel_types.h"
#include "mamba2/mamba2_step.h"

namespace mm::kern {

constexpr int64_t kInStepMaxD = 8192;  ///< hidden sizes the kernel keeps in shared memory

struct Mamba2InStepParams {
  const void* x = nullptr;       ///< (D) the layer's input, unit stride
  const void* norm_w = nullptr;  ///< (D) the pre-norm's weight
  const void* w = nullptr;       ///< (C + H 128 + H, D) the fused input projection [v | k | q | gate | gamma], contiguous
  int64_t d = 0;                 ///< D, a multiple of 8 up to kInStepMaxD
  float norm_eps = 1e-5f;
  Mamba2StepParams step;  ///< batch 1; c, gate and gamma unused (the kernel makes them)
};

/// Whether this device runs the kernel (sm_90, the build's sm_90a code).
bool mamba2_in_step_available();
/// Returns 0 or the CUDA error of the launch.
int mamba2_in_step_launch(const Mamba2InStepParams& p, Stream stream);

}  // namespace mm::kern
