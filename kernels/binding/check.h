// Argument checks at the kernel edge (STYLE.md 9): a violated condition names itself.
#pragma once

#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

#include <cstdint>

#include "common/kernel_types.h"

#define MM_CHECK_CUDA(t) TORCH_CHECK((t).is_cuda(), #t " must be a CUDA tensor")
#define MM_CHECK_SHAPE(t, ...) \
  TORCH_CHECK((t).sizes() == at::IntArrayRef({__VA_ARGS__}), #t " must have shape (" #__VA_ARGS__ "), got ", (t).sizes())
#define MM_CHECK_DTYPE(t, dt) TORCH_CHECK((t).scalar_type() == (dt), #t " must be ", (dt), ", got ", (t).scalar_type())
#define MM_CHECK_CONTIGUOUS(t) TORCH_CHECK((t).is_contiguous(), #t " must be contiguous")
#define MM_CHECK_LAST_STRIDE(t) TORCH_CHECK((t).stride(-1) == 1, #t " must have a unit last stride")
#define MM_CHECK_LAUNCH(err) TORCH_CHECK((err) == 0, "CUDA kernel launch failed with error ", (err))

namespace mm::cuda_ops {

inline kern::DType kernel_dtype(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kBFloat16: return kern::DType::bf16;
    case at::kHalf: return kern::DType::f16;
    case at::kFloat: return kern::DType::f32;
    default: break;
  }
  TORCH_CHECK(false, "kernels take bf16, f16 or f32, got ", t.scalar_type());
  return kern::DType::f32;
}

inline kern::Stream current_stream(const at::Tensor& t) {
  return kern::Stream(c10::cuda::getCurrentCUDAStream(t.device().index()).stream());
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace mm::cuda_ops
