#include "binding/check.h"
#include "binding/mm_kernels.h"
#include "gemv/gemv.h"
#include "mlp/silu_mul.h"

namespace mm::cuda_ops {
namespace {

/// Checks x (..., K) against w (N, K) and fills the shared params; returns x as (rows, K) and the output.
std::pair<at::Tensor, at::Tensor> prepare(kern::GemvParams& p, const at::Tensor& x_in, const at::Tensor& w) {
  MM_CHECK_CUDA(x_in);
  MM_CHECK_LAST_STRIDE(x_in);
  MM_CHECK_DTYPE(w, x_in.scalar_type());
  MM_CHECK_CONTIGUOUS(w);
  TORCH_CHECK(x_in.dim() >= 1 && w.dim() == 2 && w.size(1) == x_in.size(-1), "w must be (N, ", x_in.size(-1), "), got ",
              w.sizes());
  TORCH_CHECK(aligned16(w.data_ptr()), "w must be 16-byte aligned");
  const int64_t K = w.size(1), N = w.size(0);
  const at::Tensor x = x_in.reshape({-1, K});  // (rows, K), a view when the leading dims are dense
  MM_CHECK_LAST_STRIDE(x);
  TORCH_CHECK(x.size(0) >= 1 && x.size(0) <= kern::kGemvMaxBatch, "the GEMV takes 1 to ", kern::kGemvMaxBatch,
              " rows, got ", x.size(0));
  TORCH_CHECK(K % 8 == 0 && K <= kern::kGemvMaxK, "K must be a multiple of 8 up to ", kern::kGemvMaxK, ", got ", K);
  std::vector<int64_t> shape = x_in.sizes().vec();
  shape.back() = N;
  at::Tensor out = at::empty(shape, x_in.options());
  p.x = x.data_ptr();
  p.x_stride = x.stride(0);
  p.w = w.data_ptr();
  p.out = out.data_ptr();
  p.batch = x.size(0);
  p.n = N;
  p.k = K;
  p.dtype = kernel_dtype(x);
  TORCH_CHECK(p.dtype != kern::DType::f32, "the GEMV takes bf16 or f16");
  return {x, out};
}

void set_norm(kern::GemvParams& p, const at::Tensor& x, const at::Tensor& norm_w, double eps) {
  MM_CHECK_DTYPE(norm_w, x.scalar_type());
  MM_CHECK_CONTIGUOUS(norm_w);
  MM_CHECK_SHAPE(norm_w, x.size(-1));
  p.norm_w = norm_w.data_ptr();
  p.eps = float(eps);
}

}  // namespace

at::Tensor norm_linear(const at::Tensor& x, const at::Tensor& norm_w, double eps, const at::Tensor& w) {
  kern::GemvParams p;
  auto [x2, out] = prepare(p, x, w);
  set_norm(p, x, norm_w, eps);
  MM_CHECK_LAUNCH(kern::gemv_launch(p, current_stream(x)));
  return out;
}

at::Tensor norm_swiglu(const at::Tensor& x, const at::Tensor& norm_w, double eps, const at::Tensor& w1,
                       const at::Tensor& w3) {
  kern::GemvParams p;
  auto [x2, out] = prepare(p, x, w1);
  set_norm(p, x, norm_w, eps);
  TORCH_CHECK(w3.sizes() == w1.sizes(), "w3 must be shaped as w1 ", w1.sizes(), ", got ", w3.sizes());
  MM_CHECK_DTYPE(w3, x.scalar_type());
  MM_CHECK_CONTIGUOUS(w3);
  TORCH_CHECK(aligned16(w3.data_ptr()), "w3 must be 16-byte aligned");
  p.w_up = w3.data_ptr();
  MM_CHECK_LAUNCH(kern::gemv_launch(p, current_stream(x)));
  return out;
}

at::Tensor linear_residual(const at::Tensor& x, const at::Tensor& w, const at::Tensor& residual) {
  kern::GemvParams p;
  auto [x2, out] = prepare(p, x, w);
  TORCH_CHECK(residual.sizes() == out.sizes(), "residual must be shaped as the output ", out.sizes(), ", got ",
              residual.sizes());
  MM_CHECK_DTYPE(residual, x.scalar_type());
  const at::Tensor r = residual.reshape({-1, w.size(0)});  // (rows, N)
  MM_CHECK_LAST_STRIDE(r);
  p.residual = r.data_ptr();
  p.res_stride = r.stride(0);
  MM_CHECK_LAUNCH(kern::gemv_launch(p, current_stream(x)));
  return out;
}

at::Tensor& silu_mul_(at::Tensor& a, const at::Tensor& b) {
  MM_CHECK_CUDA(a);
  MM_CHECK_DTYPE(b, a.scalar_type());
  TORCH_CHECK(a.sizes() == b.sizes(), "a and b must be shaped alike, got ", a.sizes(), ", ", b.sizes());
  MM_CHECK_CONTIGUOUS(a);
  MM_CHECK_CONTIGUOUS(b);
  TORCH_CHECK(aligned16(a.data_ptr()) && aligned16(b.data_ptr()), "a and b must be 16-byte aligned");
  kern::SiluMulParams p;
  p.a = a.data_ptr();
  p.b = b.data_ptr();
  p.n = a.numel();
  p.dtype = kernel_dtype(a);
  MM_CHECK_LAUNCH(kern::silu_mul_launch(p, current_stream(a)));
  return a;
}

}  // namespace mm::cuda_ops
