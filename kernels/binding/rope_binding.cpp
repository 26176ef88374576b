#include "binding/check.h"
#include "binding/mm_kernels.h"
#include "rope/kv_append.h"
#include "rope/rope.h"

namespace mm::cuda_ops {

namespace {

/// Rotates heads read in place from qkv (B, L, G, slots, hd): slots [first, first + n) of each of the G
/// groups, into a contiguous (B, L, G n, hd). The first position is pos0, or read from pos0_dev when set.
at::Tensor rope_over_slots(const at::Tensor& qkv, int64_t first, int64_t n, int64_t pos0, const at::Tensor& pos0_dev,
                           double theta) {
  MM_CHECK_CUDA(qkv);
  TORCH_CHECK(qkv.dim() == 5 && qkv.size(4) % 2 == 0 && first >= 0 && n >= 1 && first + n <= qkv.size(3),
              "qkv must be (B, L, H_kv, slots, hd) with hd even and slots [", first, ", ", first + n, ") in range, got ",
              qkv.sizes());
  MM_CHECK_LAST_STRIDE(qkv);
  const int64_t B = qkv.size(0), L = qkv.size(1), G = qkv.size(2), hd = qkv.size(4);
  at::Tensor out = at::empty({B, L, G * n, hd}, qkv.options());
  kern::RopeParams p;
  p.x = static_cast<const char*>(qkv.data_ptr()) + first * qkv.stride(3) * qkv.element_size();
  p.out = out.data_ptr();
  p.x_stride_b = qkv.stride(0);
  p.x_stride_l = qkv.stride(1);
  p.x_stride_group = qkv.stride(2);
  p.x_stride_h = qkv.stride(3);
  p.head_group = n;
  p.batch = B;
  p.len = L;
  p.heads = G * n;
  p.head_dim = hd;
  p.pos0 = pos0;
  if (pos0_dev.defined()) {
    TORCH_CHECK(pos0_dev.is_cuda() && pos0_dev.device() == qkv.device() && pos0_dev.scalar_type() == at::kLong &&
                    pos0_dev.numel() == 1,
                "the position must be one int64 on x's device, got ", pos0_dev.scalar_type(), " ", pos0_dev.sizes());
    p.pos0_dev = pos0_dev.data_ptr<int64_t>();
  }
  p.theta = float(theta);
  p.dtype = kernel_dtype(qkv);
  MM_CHECK_LAUNCH(kern::rope_launch(p, current_stream(qkv)));
  return out;
}

/// x (B, L, heads, hd) as one group of `heads` slots.
at::Tensor rope_over_heads(const at::Tensor& x, int64_t pos0, const at::Tensor& pos0_dev, double theta) {
  TORCH_CHECK(x.dim() == 4 && x.size(3) % 2 == 0, "x must be (B, L, heads, hd) with hd even, got ", x.sizes());
  return rope_over_slots(x.unsqueeze(2), 0, x.size(2), pos0, pos0_dev, theta);  // (B, L, 1, heads, hd)
}

}  // namespace

at::Tensor apply_rope(const at::Tensor& x, int64_t pos0, double theta) { return rope_over_heads(x, pos0, {}, theta); }

at::Tensor apply_rope_slots(const at::Tensor& qkv, int64_t first, int64_t n, int64_t pos0, double theta) {
  return rope_over_slots(qkv, first, n, pos0, {}, theta);
}

at::Tensor apply_rope_at(const at::Tensor& x, const at::Tensor& pos0, double theta) {
  TORCH_CHECK(pos0.defined(), "apply_rope_at needs the position tensor");
  return rope_over_heads(x, 0, pos0, theta);
}

at::Tensor rope_kv_append(const at::Tensor& qkv, at::Tensor& k_cache, at::Tensor& v_cache, at::Tensor& len, double theta) {
  MM_CHECK_CUDA(qkv);
  TORCH_CHECK(qkv.dim() == 5 && qkv.size(1) == 1 && qkv.size(3) >= 3 && qkv.size(4) % 2 == 0,
              "qkv must be (B, 1, H_kv, g + 2, hd) with hd even, got ", qkv.sizes());
  const int64_t B = qkv.size(0), Hkv = qkv.size(2), g = qkv.size(3) - 2, hd = qkv.size(4);
  TORCH_CHECK(k_cache.dim() == 4 && k_cache.size(0) == B && k_cache.size(1) == Hkv && k_cache.size(3) == hd,
              "k_cache must be (", B, ", ", Hkv, ", capacity, ", hd, "), got ", k_cache.sizes());
  TORCH_CHECK(v_cache.sizes() == k_cache.sizes() && v_cache.strides() == k_cache.strides(), "v_cache must be laid out as k_cache");
  MM_CHECK_DTYPE(k_cache, qkv.scalar_type());
  MM_CHECK_DTYPE(v_cache, qkv.scalar_type());
  MM_CHECK_LAST_STRIDE(qkv);
  MM_CHECK_LAST_STRIDE(k_cache);
  TORCH_CHECK(len.is_cuda() && len.device() == qkv.device() && len.scalar_type() == at::kLong && len.numel() == 1,
              "the cache length must be one int64 on qkv's device");
  at::Tensor q = at::empty({B, 1, Hkv * g, hd}, qkv.options());
  kern::KvAppendParams p;
  p.qkv = qkv.data_ptr();
  p.q_out = q.data_ptr();
  p.cache_k = k_cache.data_ptr();
  p.cache_v = v_cache.data_ptr();
  p.len = len.data_ptr<int64_t>();
  p.qkv_stride_b = qkv.stride(0);
  p.qkv_stride_h = qkv.stride(2);
  p.qkv_stride_slot = qkv.stride(3);
  p.cache_stride_b = k_cache.stride(0);
  p.cache_stride_h = k_cache.stride(1);
  p.cache_stride_t = k_cache.stride(2);
  p.batch = B;
  p.kv_heads = Hkv;
  p.group = g;
  p.head_dim = hd;
  p.theta = float(theta);
  p.dtype = kernel_dtype(qkv);
  MM_CHECK_LAUNCH(kern::kv_append_launch(p, current_stream(qkv)));
  return q;
}

}  // namespace mm::cuda_ops
