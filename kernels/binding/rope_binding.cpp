#include "binding/check.h"
#include "binding/mm_kernels.h"
#include "rope/rope.h"

namespace mm::cuda_ops {

namespace {

at::Tensor apply_rope_impl(const at::Tensor& x, int64_t pos0, const at::Tensor& pos0_dev, double theta) {
  MM_CHECK_CUDA(x);
  TORCH_CHECK(x.dim() == 4 && x.size(3) % 2 == 0, "x must be (B, L, heads, hd) with hd even, got ", x.sizes());
  MM_CHECK_LAST_STRIDE(x);
  at::Tensor out = at::empty(x.sizes(), x.options());
  kern::RopeParams p;
  p.x = x.data_ptr();
  p.out = out.data_ptr();
  p.x_stride_b = x.stride(0);
  p.x_stride_l = x.stride(1);
  p.x_stride_h = x.stride(2);
  p.batch = x.size(0);
  p.len = x.size(1);
  p.heads = x.size(2);
  p.head_dim = x.size(3);
  p.pos0 = pos0;
  if (pos0_dev.defined()) {
    TORCH_CHECK(pos0_dev.is_cuda() && pos0_dev.device() == x.device() && pos0_dev.scalar_type() == at::kLong &&
                    pos0_dev.numel() == 1,
                "the position must be one int64 on x's device, got ", pos0_dev.scalar_type(), " ", pos0_dev.sizes());
    p.pos0_dev = pos0_dev.data_ptr<int64_t>();
  }
  p.theta = float(theta);
  p.dtype = kernel_dtype(x);
  MM_CHECK_LAUNCH(kern::rope_launch(p, current_stream(x)));
  return out;
}

}  // namespace

at::Tensor apply_rope(const at::Tensor& x, int64_t pos0, double theta) { return apply_rope_impl(x, pos0, {}, theta); }

at::Tensor apply_rope_at(const at::Tensor& x, const at::Tensor& pos0, double theta) {
  TORCH_CHECK(pos0.defined(), "apply_rope_at needs the position tensor");
  return apply_rope_impl(x, 0, pos0, theta);
}

}  // namespace mm::cuda_ops
