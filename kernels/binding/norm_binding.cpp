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
