#include <ATen/cuda/CUDAContext.h>

#include <cmath>

#include "attention/attention_decode.h"
#include "attention/merge_blocks.h"
#include "binding/check.h"
#include "binding/mm_kernels.h"

namespace mm::cuda_ops {
namespace {

// len: undefined (every key of k) or an int64 (1) device tensor (the first len keys of a static cache).
at::Tensor attention_decode_impl(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& len) {
  MM_CHECK_CUDA(q);
  MM_CHECK_CUDA(k);
  MM_CHECK_CUDA(v);
  TORCH_CHECK(q.dim() == 4 && q.size(1) == 1, "q must be (B, 1, H, hd), got ", q.sizes());
  const int64_t B = q.size(0), H = q.size(2), hd = q.size(3), Hkv = k.size(1), T = k.size(2);
  TORCH_CHECK(k.dim() == 4 && k.size(0) == B && k.size(3) == hd && T >= 1, "k must be (B, H_kv, T, hd), got ", k.sizes());
  MM_CHECK_SHAPE(v, B, Hkv, T, hd);
  TORCH_CHECK(hd == 64 || hd == 128, "head dim must be 64 or 128, got ", hd);
  TORCH_CHECK(H % Hkv == 0 && (H / Hkv == 1 || H / Hkv == 2 || H / Hkv == 4 || H / Hkv == 8),
              "H / H_kv must be 1, 2, 4 or 8, got ", H, " / ", Hkv);
  TORCH_CHECK(q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kHalf, "q must be bf16 or f16");
  MM_CHECK_DTYPE(k, q.scalar_type());
  MM_CHECK_DTYPE(v, q.scalar_type());
  MM_CHECK_LAST_STRIDE(q);
  MM_CHECK_LAST_STRIDE(k);
  TORCH_CHECK(k.strides() == v.strides(), "k and v must be strided alike");
  // Rows are read as 16-byte (hd 128) or 8-byte (hd 64) vectors.
  const int64_t vec = hd / 16;
  TORCH_CHECK(k.stride(2) % vec == 0 && k.stride(1) % vec == 0 && k.stride(0) % vec == 0 &&
                  reinterpret_cast<uintptr_t>(k.data_ptr()) % (2 * vec) == 0 &&
                  reinterpret_cast<uintptr_t>(v.data_ptr()) % (2 * vec) == 0,
              "k and v rows must be aligned to ", 2 * vec, " bytes");
  kern::AttnDecodeParams p;
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  p.q_stride_b = q.stride(0);
  p.q_stride_h = q.stride(2);
  p.kv_stride_b = k.stride(0);
  p.kv_stride_h = k.stride(1);
  p.kv_stride_t = k.stride(2);
  p.batch = B;
  p.heads = H;
  p.kv_heads = Hkv;
  p.seq_len = T;
  if (len.defined()) {
    TORCH_CHECK(len.is_cuda() && len.device() == q.device() && len.scalar_type() == at::kLong && len.numel() == 1,
                "the cache length must be one int64 on q's device, got ", len.scalar_type(), " ", len.sizes(), " on ", len.device());
    p.seq_len_dev = len.data_ptr<int64_t>();
  }
  p.head_dim = hd;
  p.scale = float(1.0 / std::sqrt(double(hd)));
  p.dtype = kernel_dtype(q);
  kern::attention_decode_plan(p, at::cuda::getCurrentDeviceProperties()->multiProcessorCount);
  at::Tensor out = at::empty({B, 1, H, hd}, q.options());
  const auto f32 = q.options().dtype(at::kFloat);
  at::Tensor acc = at::empty({B, H, p.n_split, hd}, f32), ml = at::empty({B, H, p.n_split, 2}, f32);
  p.out = out.data_ptr();
  p.part_acc = acc.data_ptr<float>();
  p.part_ml = ml.data_ptr<float>();
  MM_CHECK_LAUNCH(kern::attention_decode_launch(p, current_stream(q)));
  return out;
}

}  // namespace

const char* attention_decode_variant() {
  return kern::attention_decode_prefetch_depth() == 2 ? "cuda-splitk-d2" : "cuda-splitk";
}

at::Tensor attention_decode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return attention_decode_impl(q, k, v, {});
}

at::Tensor attention_decode_at(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& len) {
  TORCH_CHECK(len.defined(), "attention_decode_at needs the cache length");
  return attention_decode_impl(q, k, v, len);
}

at::Tensor merge_attention_blocks(const at::Tensor& out_a, const at::Tensor& lse_a, const at::Tensor& out_b,
                                  const at::Tensor& lse_b) {
  MM_CHECK_CUDA(out_a);
  TORCH_CHECK(out_a.dim() == 4 && out_b.sizes() == out_a.sizes(), "the blocks must be (B, H, L, hd) alike, got ", out_a.sizes(),
              " and ", out_b.sizes());
  const int64_t B = out_a.size(0), H = out_a.size(1), L = out_a.size(2), hd = out_a.size(3);
  for (const at::Tensor* lse : {&lse_a, &lse_b}) {
    TORCH_CHECK(lse->is_cuda() && lse->scalar_type() == at::kFloat && lse->dim() == 4 && lse->size(0) == B && lse->size(1) == H &&
                    lse->size(2) == L && lse->size(3) == 1,
                "the log-sum-exps must be fp32 (B, H, L, 1) on the blocks' device, got ", lse->scalar_type(), " ", lse->sizes());
  }
  MM_CHECK_DTYPE(out_b, out_a.scalar_type());
  MM_CHECK_LAST_STRIDE(out_a);
  MM_CHECK_LAST_STRIDE(out_b);
  at::Tensor out = at::empty({B, L, H, hd}, out_a.options());
  kern::MergeBlocksParams p;
  p.out_a = out_a.data_ptr();
  p.out_b = out_b.data_ptr();
  p.lse_a = lse_a.data_ptr<float>();
  p.lse_b = lse_b.data_ptr<float>();
  p.out = out.data_ptr();
  p.a_stride_b = out_a.stride(0), p.a_stride_h = out_a.stride(1), p.a_stride_l = out_a.stride(2);
  p.b_stride_b = out_b.stride(0), p.b_stride_h = out_b.stride(1), p.b_stride_l = out_b.stride(2);
  p.lse_a_stride_b = lse_a.stride(0), p.lse_a_stride_h = lse_a.stride(1), p.lse_a_stride_l = lse_a.stride(2);
  p.lse_b_stride_b = lse_b.stride(0), p.lse_b_stride_h = lse_b.stride(1), p.lse_b_stride_l = lse_b.stride(2);
  p.batch = B, p.heads = H, p.len = L, p.head_dim = hd;
  p.dtype = kernel_dtype(out_a);
  MM_CHECK_LAUNCH(kern::merge_blocks_launch(p, current_stream(out_a)));
  return out;
}

}  // namespace mm::cuda_ops
