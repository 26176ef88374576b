// Internal to ops/: the shared checks of every dispatch point.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cstddef>
#include <initializer_list>
#include <type_traits>

#include <torch/version.h>

#include "ops/op_registry.h"
#include "ops/op_timing.h"

#if MM_HAVE_CUDA_KERNELS
#include "binding/mm_kernels.h"
#endif

namespace mm::ops_detail {

constexpr const char* kNeedsGrad = "the call needs gradients";
constexpr const char* kNotBuilt = "this build has no CUDA kernels";
constexpr const char* kForced = "forced to the reference";

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

/// The one dispatch rule. On a CUDA tensor `lead`: the fast path when why() finds no reason against
/// it (a call needing gradients is one) and the op is not forced to the reference, else the reference
/// with the reason recorded; elsewhere the reference. `fast` is nullptr in builds without the fast path (see MM_KERNEL_CALL, MM_SDPA_CALL).
template <typename Why, typename Fast, typename Ref>
auto dispatch(Op op, const char* fast_name, const at::Tensor& lead, Why why, Fast fast, Ref ref) -> decltype(ref()) {
  if constexpr (!std::is_same_v<Fast, std::nullptr_t>) {
    if (lead.is_cuda()) {
      if (const char* reason = reference_forced(op) ? kForced : why()) {
        record_op_path(op, "reference", reason);
        const OpTimer timer(op, "reference", true);
        return ref();
      }
      record_op_path(op, fast_name);
      const OpTimer timer(op, fast_name, true);
      return fast();
    }
  }
  record_op_path(op, "reference");
  const OpTimer timer(op, "reference", lead.is_cuda());
  return ref();
}

}  // namespace mm::ops_detail

/// The fast call as a lambda where this build has it, else nullptr (the reference always runs).
#if MM_HAVE_CUDA_KERNELS
#define MM_KERNEL_CALL(...) [&] { return __VA_ARGS__; }
#else
#define MM_KERNEL_CALL(...) nullptr
#endif
#if MM_TORCH_CUDA && TORCH_VERSION_MAJOR >= 2
#define MM_SDPA_CALL(...) [&] { return __VA_ARGS__; }
#else
#define MM_SDPA_CALL(...) nullptr
#endif
