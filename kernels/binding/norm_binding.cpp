#include "binding/check.h"
#include "binding/mm_kernels.h"
#include "norm/rms_norm.h"

namespace mm::cuda_ops {

at::Tensor rms_norm(const at::Tensor& x_in, const at::Tensor& w, double eps) {
  MM_CHECK_CUDA(x_in);
  MM_CHECK_DTYPE(w, x_in.scalar_type());
  MM_CHECK_LAST_STRIDE(x_in);
  MM_CHECK_CONTIGUOUS(w);
  const int64_t D = x_in.size(-1);
  MM_CHECK_SHAPE(w, D);
  // Rows with one stride: a (..., D) view flattens without a copy when its leading dims are dense.
  const at::Tensor x = x_in.dim() == 1 ? x_in.unsqueeze(0) : x_in.reshape({-1, D});  // (rows, D)
  at::Tensor out = at::empty(x_in.sizes(), x_in.options());
  kern::RmsNormParams p;
  p.x = x.data_ptr();
  p.w = w.data_ptr();
  p.out = out.data_ptr();
  p.rows = x.size(0);
  p.dim = D;
  p.x_row_stride = x.stride(0);
  p.eps = float(eps);
  p.dtype = kernel_dtype(x);
  MM_CHECK_LAUNCH(kern::rms_norm_launch(p, current_stream(x)));
  return out;
}

}  // namespace mm::cuda_ops

#include "norm/gated_rmsnorm.h"

namespace mm::cuda_ops {

at::Tensor gated_rmsnorm(const at::Tensor& y, const at::Tensor& g, const at::Tensor& w, double eps) {
  MM_CHECK_CUDA(y);
  TORCH_CHECK(y.dim() >= 2 && g.sizes() == y.sizes(), "y and g must be (..., H, P) alike, got ", y.sizes(), ", ", g.sizes());
  const int64_t H = y.size(-2), P = y.size(-1);
  TORCH_CHECK(P % 32 == 0 && P <= 1024, "P must be a multiple of 32 up to 1024, got ", P);
  MM_CHECK_SHAPE(w, P);
  MM_CHECK_DTYPE(g, y.scalar_type());
  MM_CHECK_DTYPE(w, y.scalar_type());
  MM_CHECK_CONTIGUOUS(w);
  const at::Tensor y3 = y.reshape({-1, H, P}), g3 = g.reshape({-1, H, P});  // (rows, H, P), views when possible
  MM_CHECK_LAST_STRIDE(y3);
  MM_CHECK_LAST_STRIDE(g3);
  at::Tensor out = at::empty(y.sizes(), y.options());
  kern::GatedRmsNormParams p;
  p.y = y3.data_ptr();
  p.g = g3.data_ptr();
  p.w = w.data_ptr();
  p.out = out.data_ptr();
  p.y_stride_row = y3.stride(0);
  p.y_stride_h = y3.stride(1);
  p.g_stride_row = g3.stride(0);
  p.g_stride_h = g3.stride(1);
  p.rows = y3.size(0);
  p.heads = H;
  p.dim = P;
  p.eps = float(eps);
  p.dtype = kernel_dtype(y);
  MM_CHECK_LAUNCH(kern::gated_rmsnorm_launch(p, current_stream(y)));
  return out;
}

}  // namespace mm::cuda_ops
