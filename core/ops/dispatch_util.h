// Internal to ops/: the shared checks of every dispatch point.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <initializer_list>

#include "ops/op_registry.h"

#if MM_HAVE_CUDA_KERNELS
#include "binding/mm_kernels.h"
#endif

namespace mm::ops_detail {

constexpr const char* kNeedsGrad = "the call needs gradients";
constexpr const char* kNotBuilt = "this build has no CUDA kernels";

/// A call that records autograd history goes to the reference (no backward kernels yet).
inline bool needs_grad(std::initializer_list<at::Tensor> ts) {
  if (!at::GradMode::is_enabled()) return false;
  for (const at::Tensor& t : ts)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

inline bool half_or_bf16(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf;
}
inline bool kernel_dtype(const at::Tensor& t) { return half_or_bf16(t) || t.scalar_type() == at::kFloat; }

}  // namespace mm::ops_detail
