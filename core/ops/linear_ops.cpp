// Dispatch of the decoder layer's projections: the decode GEMV (kernels/gemv) for 1 to 4 rows; for more
// rows (prefill) on CUDA, cuBLAS with the elementwise work fused (the SwiGLU product in one kernel, the
// residual as the GEMM's accumulator); elsewhere the composition.
#include "ops/dispatch_util.h"
#include "ops/ops.h"

namespace mm {
using namespace ops_detail;

namespace {

bool same_dtype(const at::Tensor& a, const at::Tensor& b) { return a.scalar_type() == b.scalar_type(); }

const char* norm_unsupported(const at::Tensor& x, const at::Tensor& norm_w) {
  if (!same_dtype(norm_w, x) || !norm_w.is_contiguous() || norm_w.dim() != 1 || norm_w.size(0) != x.size(-1))
    return "norm weight (contiguous (K) of x's dtype)";
  return nullptr;
}

constexpr int64_t kDecodeRows = 4;  // the GEMV's limit (kern::kGemvMaxBatch)

/// The shape of x W^T: x's with the last dim N.
std::vector<int64_t> ref_shape(const at::Tensor& x, const at::Tensor& w) {
  std::vector<int64_t> s = x.sizes().vec();
  s.back() = w.size(0);
  return s;
}

int64_t rows_of(const at::Tensor& x) { return x.dim() >= 1 && x.size(-1) > 0 ? x.numel() / x.size(-1) : 0; }

/// The prefill paths' checks: more than 4 rows of bf16/f16 on CUDA.
const char* prefill_unsupported(const at::Tensor& x, const at::Tensor& w) {
  if (!cuda_kernels_built()) return kNotBuilt;
  if (!x.is_cuda()) return "not a CUDA tensor";
  if (!half_or_bf16(x) || !same_dtype(w, x)) return "dtype (bf16/f16, W of x's dtype)";
  if (x.dim() < 2 || w.dim() != 2 || w.size(1) != x.size(-1)) return "shape (x (..., K), W (N, K))";
  return nullptr;
}

at::Tensor swiglu_composed(const at::Tensor& x, const at::Tensor& norm_w, double eps, const at::Tensor& w1,
                           const at::Tensor& w3) {
  const at::Tensor n = rms_norm(x, norm_w, eps);
  return at::silu(at::matmul(n, w1.t())) * at::matmul(n, w3.t());
}

}  // namespace

const char* gemv_unsupported(const at::Tensor& x, const at::Tensor& w) {
  if (!cuda_kernels_built()) return kNotBuilt;
  if (!x.is_cuda()) return "not a CUDA tensor";
  if (!half_or_bf16(x) || !same_dtype(w, x)) return "dtype (bf16/f16, W of x's dtype)";
  if (x.dim() < 1 || w.dim() != 2 || w.size(1) != x.size(-1)) return "shape (x (..., K), W (N, K))";
  const int64_t K = w.size(1);
  if (K % 8 != 0 || K > 8192) return "shape (K % 8 == 0, K <= 8192)";
  const int64_t rows = K > 0 ? x.numel() / K : 0;
  if (rows < 1 || rows > 4) return "shape (1 to 4 rows: decode)";
  if (x.stride(-1) != 1 || !w.is_contiguous() || reinterpret_cast<uintptr_t>(w.data_ptr()) % 16 != 0)
    return "layout (unit last stride of x, W contiguous and 16-byte aligned)";
  if (rows > 1 && x.dim() > 1) {
    // rows must be one stride apart: (B, 1, K) and (B, K) views qualify.
    int64_t lead = -1;
    for (int64_t d = 0; d + 1 < x.dim(); ++d)
      if (x.size(d) > 1) {
        if (lead != -1) return "layout (x rows one stride apart)";
        lead = d;
      }
  }
  return nullptr;
}

at::Tensor norm_linear(const at::Tensor& x, const at::Tensor& norm_w, double eps, const at::Tensor& w) {
  const auto why = [&]() -> const char* {
    if (needs_grad({x, norm_w, w})) return kNeedsGrad;
    if (const char* r = gemv_unsupported(x, w)) return r;
    return norm_unsupported(x, norm_w);
  };
  return dispatch(Op::norm_linear, "cuda-gemv", x, why, MM_KERNEL_CALL(cuda_ops::norm_linear(x, norm_w, eps, w)),
                  [&] { return at::matmul(rms_norm(x, norm_w, eps), w.t()); });
}

at::Tensor norm_swiglu(const at::Tensor& x, const at::Tensor& norm_w, double eps, const at::Tensor& w1,
                       const at::Tensor& w3) {
  const auto why = [&]() -> const char* {
    if (needs_grad({x, norm_w, w1, w3})) return kNeedsGrad;
    if (const char* r = gemv_unsupported(x, w1)) return r;
    if (!same_dtype(w3, x) || w3.sizes() != w1.sizes() || !w3.is_contiguous() ||
        reinterpret_cast<uintptr_t>(w3.data_ptr()) % 16 != 0)
      return "layout (w3 shaped as w1, contiguous, 16-byte aligned)";
    return norm_unsupported(x, norm_w);
  };
  const auto ref = [&] { return swiglu_composed(x, norm_w, eps, w1, w3); };
  if (rows_of(x) > kDecodeRows) {
    const auto why_prefill = [&]() -> const char* {
      if (needs_grad({x, norm_w, w1, w3})) return kNeedsGrad;
      if (const char* r = prefill_unsupported(x, w1)) return r;
      if (!same_dtype(w3, x) || w3.sizes() != w1.sizes()) return "w3 (shaped as w1, x's dtype)";
      return norm_unsupported(x, norm_w);
    };
    // silu(n W1^T) * (n W3^T): two cuBLAS GEMMs, then the product in place in one pass.
    return dispatch(Op::norm_swiglu, "cublas+silu-mul", x, why_prefill, MM_KERNEL_CALL([&] {
                      const at::Tensor n = rms_norm(x, norm_w, eps);
                      at::Tensor a = at::matmul(n, w1.t());  // (..., F) contiguous
                      return cuda_ops::silu_mul_(a, at::matmul(n, w3.t()));
                    }()),
                    ref);
  }
  return dispatch(Op::norm_swiglu, "cuda-gemv", x, why, MM_KERNEL_CALL(cuda_ops::norm_swiglu(x, norm_w, eps, w1, w3)), ref);
}

at::Tensor linear_residual(const at::Tensor& x, const at::Tensor& w, const at::Tensor& residual) {
  const auto why = [&]() -> const char* {
    if (needs_grad({x, w, residual})) return kNeedsGrad;
    if (const char* r = gemv_unsupported(x, w)) return r;
    if (!same_dtype(residual, x) || residual.dim() != x.dim() || residual.size(-1) != w.size(0) ||
        residual.numel() != x.numel() / x.size(-1) * w.size(0) || residual.stride(-1) != 1)
      return "residual (shaped as the product, x's dtype, unit last stride)";
    for (int64_t d = 0; d + 1 < x.dim(); ++d)
      if (residual.size(d) != x.size(d)) return "residual (shaped as the product)";
    return nullptr;
  };
  const auto ref = [&] { return residual + at::matmul(x, w.t()); };
  if (rows_of(x) > kDecodeRows) {
    const auto why_prefill = [&]() -> const char* {
      if (needs_grad({x, w, residual})) return kNeedsGrad;
      if (const char* r = prefill_unsupported(x, w)) return r;
      if (!same_dtype(residual, x) || residual.sizes() != ref_shape(x, w)) return "residual (shaped as the product, x's dtype)";
      return nullptr;
    };
    // The residual as cuBLAS's accumulator (beta = 1): no separate add over the output.
    return dispatch(Op::linear_residual, "cublas-addmm", x, why_prefill, MM_KERNEL_CALL([&] {
                      const int64_t K = x.size(-1), N = w.size(0);
                      return at::addmm(residual.reshape({-1, N}), x.reshape({-1, K}), w.t()).view(residual.sizes());
                    }()),
                    ref);
  }
  return dispatch(Op::linear_residual, "cuda-gemv", x, why, MM_KERNEL_CALL(cuda_ops::linear_residual(x, w, residual)), ref);
}

}  // namespace mm
