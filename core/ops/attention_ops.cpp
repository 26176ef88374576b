// Dispatch of the teacher-side ops: RMSNorm, RoPE, attention prefill and decode.
#include "ops/dispatch_util.h"
#include "ops/ops.h"
#include "ref/attention_ref.h"

namespace mm {
using namespace ops_detail;

const char* rms_norm_unsupported(const at::Tensor& x, const at::Tensor& w) {
  if (!cuda_kernels_built()) return kNotBuilt;
  if (!x.is_cuda()) return "not a CUDA tensor";
  if (!kernel_dtype(x) || w.scalar_type() != x.scalar_type()) return "dtype (needs bf16/f16/f32, weight of x's dtype)";
  if (x.dim() < 1 || x.size(-1) > 8192 || x.size(-1) % 2 != 0 || w.dim() != 1 || w.size(0) != x.size(-1))
    return "shape (last dim even and <= 8192)";
  if (x.stride(-1) != 1 || !w.is_contiguous()) return "layout (last stride 1)";
  return nullptr;
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
  return dispatch(
      Op::rms_norm, "cuda", x, [&] { return needs_grad({x, w}) ? kNeedsGrad : rms_norm_unsupported(x, w); },
      MM_KERNEL_CALL(cuda_ops::rms_norm(x, w, eps)), [&] { return rms_norm_ref(x, w, eps); });
}

const char* rope_unsupported(const at::Tensor& x) {
  if (!cuda_kernels_built()) return kNotBuilt;
  if (!x.is_cuda()) return "not a CUDA tensor";
  if (!kernel_dtype(x)) return "dtype (needs bf16/f16/f32)";
  if (x.dim() != 4 || x.size(3) % 2 != 0) return "shape (B, L, heads, even hd)";
  if (x.stride(3) != 1) return "layout (last stride 1)";
  return nullptr;
}

at::Tensor apply_rope(const at::Tensor& x, int64_t pos0, double theta) {
  return dispatch(
      Op::rope, "cuda", x, [&] { return needs_grad({x}) ? kNeedsGrad : rope_unsupported(x); },
      MM_KERNEL_CALL(cuda_ops::apply_rope(x, pos0, theta)), [&] { return apply_rope_ref(x, pos0, theta); });
}

at::Tensor apply_rope_at(const at::Tensor& x, const at::Tensor& pos0, double theta) {
  return dispatch(
      Op::rope, "cuda", x, [&] { return needs_grad({x}) ? kNeedsGrad : rope_unsupported(x); },
      MM_KERNEL_CALL(cuda_ops::apply_rope_at(x, pos0, theta)), [&] { return apply_rope_at_ref(x, pos0, theta); });
}

const char* attention_prefill_unsupported(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  if (!sdpa_flash_built()) return "this build has no SDPA flash backend (LibTorch >= 2 with CUDA)";
  if (!q.is_cuda()) return "not a CUDA tensor";
  if (!half_or_bf16(q) || k.scalar_type() != q.scalar_type() || v.scalar_type() != q.scalar_type())
    return "dtype (needs bf16/f16)";
  const int64_t hd = q.size(3);
  if (hd % 8 != 0 || hd > 256 || k.size(1) == 0 || q.size(2) % k.size(1) != 0) return "shape (hd % 8, H % H_kv)";
  if (q.stride(3) != 1 || k.stride(3) != 1 || v.stride(3) != 1) return "layout (last stride 1)";
  return nullptr;
}

at::Tensor attention_prefill(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  // The flash kernel reads GQA kv heads in place and aligns the causal mask bottom-right: query i of L
  // sees keys t <= T - L + i, as in attention_ref (the op harness holds it to that).
  return dispatch(
      Op::attention_prefill, "sdpa-flash", q,
      [&] { return needs_grad({q, k, v}) ? kNeedsGrad : attention_prefill_unsupported(q, k, v); },
      MM_SDPA_CALL(std::get<0>(at::_scaled_dot_product_flash_attention(q.transpose(1, 2), k, v, 0.0,
                                                                       /*is_causal=*/q.size(1) > 1))
                       .transpose(1, 2)),  // (B, H, L, hd) -> (B, L, H, hd)
      [&] { return attention_ref(q, k, v); });
}

const char* attention_decode_unsupported(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  if (!cuda_kernels_built()) return kNotBuilt;
  if (!q.is_cuda()) return "not a CUDA tensor";
  if (!half_or_bf16(q) || k.scalar_type() != q.scalar_type() || v.scalar_type() != q.scalar_type())
    return "dtype (needs bf16/f16)";
  if (q.dim() != 4 || q.size(1) != 1) return "not a single query";
  const int64_t hd = q.size(3), Hkv = k.size(1);
  if ((hd != 64 && hd != 128) || Hkv == 0 || q.size(2) % Hkv != 0) return "shape (hd 64/128, H % H_kv)";
  const int64_t g = q.size(2) / Hkv;
  if (g != 1 && g != 2 && g != 4 && g != 8) return "shape (H / H_kv in 1, 2, 4, 8)";
  if (q.stride(3) != 1 || k.stride(3) != 1 || v.stride(3) != 1 || k.strides() != v.strides())
    return "layout (last stride 1, K and V strided alike)";
  const int64_t vec = hd / 16;  // elements per vector load of a K/V row
  for (int d = 0; d < 3; ++d)
    if (k.stride(d) % vec != 0) return "layout (K/V strides not a multiple of the vector width)";
  if (reinterpret_cast<uintptr_t>(k.data_ptr()) % (2 * vec) != 0 || reinterpret_cast<uintptr_t>(v.data_ptr()) % (2 * vec) != 0)
    return "layout (K/V not aligned for vector loads)";
  return nullptr;
}

at::Tensor attention_decode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return dispatch(
      Op::attention_decode, "cuda-splitk", q,
      [&] { return needs_grad({q, k, v}) ? kNeedsGrad : attention_decode_unsupported(q, k, v); },
      MM_KERNEL_CALL(cuda_ops::attention_decode(q, k, v)), [&] { return attention_ref(q, k, v); });
}

at::Tensor attention_decode_at(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& len) {
  return dispatch(
      Op::attention_decode, "cuda-splitk", q,
      [&] { return needs_grad({q, k, v}) ? kNeedsGrad : attention_decode_unsupported(q, k, v); },
      MM_KERNEL_CALL(cuda_ops::attention_decode_at(q, k, v, len)), [&] { return attention_decode_at_ref(q, k, v, len); });
}

}  // namespace mm
