// Dispatch of the teacher-side ops: RMSNorm, RoPE, attention prefill and decode.
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

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
  if (x.dim() != 4 || x.size(3) % 2 != 0 || x.size(3) > 4096) return "shape (B, L, heads, even hd <= 4096)";  // angles in shared memory
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

at::Tensor apply_rope_slots(const at::Tensor& qkv, int64_t first, int64_t n, int64_t pos0, double theta) {
  const auto why = [&]() -> const char* {
    if (needs_grad({qkv})) return kNeedsGrad;
    if (qkv.dim() != 5) return "shape (qkv (B, L, H_kv, slots, hd))";
    return rope_unsupported(qkv.select(3, first));
  };
  return dispatch(Op::rope, "cuda", qkv, why, MM_KERNEL_CALL(cuda_ops::apply_rope_slots(qkv, first, n, pos0, theta)), [&] {
    const int64_t B = qkv.size(0), L = qkv.size(1), Hkv = qkv.size(2), hd = qkv.size(4);
    return apply_rope_ref(qkv.narrow(3, first, n).reshape({B, L, Hkv * n, hd}), pos0, theta);
  });
}

const char* rope_kv_append_unsupported(const at::Tensor& qkv, const at::Tensor& k_cache, const at::Tensor& v_cache,
                                       const at::Tensor& len) {
  if (!cuda_kernels_built()) return kNotBuilt;
  if (!qkv.is_cuda()) return "not a CUDA tensor";
  if (!kernel_dtype(qkv) || k_cache.scalar_type() != qkv.scalar_type() || v_cache.scalar_type() != qkv.scalar_type())
    return "dtype (bf16/f16/f32, caches of qkv's dtype)";
  if (qkv.dim() != 5 || qkv.size(1) != 1 || qkv.size(3) < 3 || qkv.size(4) % 2 != 0 || k_cache.dim() != 4 ||
      k_cache.size(0) != qkv.size(0) || k_cache.size(1) != qkv.size(2) || k_cache.size(3) != qkv.size(4) ||
      v_cache.sizes() != k_cache.sizes())
    return "shape (qkv (B, 1, H_kv, g + 2, even hd), caches (B, H_kv, capacity, hd))";
  if (qkv.size(0) > 8) return "shape (batch <= 8: the kernel is one block)";
  if (qkv.stride(4) != 1 || k_cache.stride(3) != 1 || v_cache.strides() != k_cache.strides()) return "layout (unit last strides)";
  if (len.scalar_type() != at::kLong || len.numel() != 1 || len.device() != qkv.device()) return "length (one int64 on qkv's device)";
  return nullptr;
}

at::Tensor rope_kv_append(const at::Tensor& qkv, at::Tensor& k_cache, at::Tensor& v_cache, at::Tensor& len, double theta) {
  const auto why = [&]() -> const char* {
    if (needs_grad({qkv, k_cache, v_cache})) return kNeedsGrad;
    return rope_kv_append_unsupported(qkv, k_cache, v_cache, len);
  };
  return dispatch(Op::rope_kv_append, "cuda", qkv, why, MM_KERNEL_CALL(cuda_ops::rope_kv_append(qkv, k_cache, v_cache, len, theta)),
                  [&] {
                    const int64_t B = qkv.size(0), Hkv = qkv.size(2), g = qkv.size(3) - 2, hd = qkv.size(4);
                    const at::Tensor q = apply_rope_at(qkv.narrow(3, 0, g).reshape({B, 1, Hkv * g, hd}), len, theta);
                    k_cache.index_copy_(2, len, apply_rope_at(qkv.select(3, g), len, theta).transpose(1, 2));  // (B, H_kv, 1, hd)
                    v_cache.index_copy_(2, len, qkv.select(3, g + 1).transpose(1, 2));
                    len.add_(1);
                    return q;
                  });
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

namespace {

/// How cuDNN's attention runs this kind of call: not at all, reading the GQA kv heads in place, or over
/// kv heads repeated to the query heads (when its kernel refuses H_kv < H).
enum class CudnnMode { none, gqa, repeated };

[[maybe_unused]] at::Tensor attention_prefill_flash(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);
CudnnMode cudnn_prefill_mode(const at::Tensor& q, const at::Tensor& k);
void cudnn_prefill_refused(const at::Tensor& q, const at::Tensor& k);
[[maybe_unused]] at::Tensor attention_prefill_cudnn(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, CudnnMode mode);

}  // namespace

at::Tensor merge_attention_blocks(const at::Tensor& out_a, const at::Tensor& lse_a, const at::Tensor& out_b,
                                  const at::Tensor& lse_b) {
  const at::Tensor m = at::maximum(lse_a, lse_b);
  const at::Tensor w_a = (lse_a - m).exp(), w_b = (lse_b - m).exp();  // (B, H, L, 1), the larger one is 1
  return (out_a.to(at::kFloat) * w_a + out_b.to(at::kFloat) * w_b) / (w_a + w_b);
}

at::Tensor attention_prefill(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  // Both fast paths align the causal mask bottom-right: query i of L sees keys t <= T - L + i, as in
  // attention_ref (the op harness holds them to that). cuDNN's kernel runs Hopper's tensor cores at 1.7x
  // the flash backend's rate (H200, one layer at 103K tokens: 585 against 336 TFLOP/s); it is taken where
  // its start-up check against the flash backend passed for this head dim, group and dtype.
  const auto why = [&] { return needs_grad({q, k, v}) ? kNeedsGrad : attention_prefill_unsupported(q, k, v); };
  const auto ref = [&] { return attention_ref(q, k, v); };
  // cuDNN builds (and caches) an execution plan per sequence length, tens of milliseconds: worth it only
  // where one call's attention takes longer than that, so short prompts stay on flash.
  const bool long_call = q.size(1) * k.size(2) >= (int64_t(1) << 24);  // e.g. a 2048-token chunk over 8K keys
  const CudnnMode mode = long_call && q.is_cuda() && !why() ? cudnn_prefill_mode(q, k) : CudnnMode::none;
  if (mode != CudnnMode::none) {
    try {
      return dispatch(Op::attention_prefill, mode == CudnnMode::gqa ? "sdpa-cudnn" : "sdpa-cudnn (kv repeated)", q, why,
                      MM_SDPA_CALL(attention_prefill_cudnn(q, k, v, mode)), ref);
    } catch (const c10::OutOfMemoryError&) {
      throw;  // the caller's to handle, as on any path
    } catch (const c10::Error&) {
      cudnn_prefill_refused(q, k);  // a shape the first-use check did not cover: flash from now on
    }
  }
  return dispatch(Op::attention_prefill, "sdpa-flash", q, why, MM_SDPA_CALL(attention_prefill_flash(q, k, v)), ref);
}

namespace {

#if MM_TORCH_CUDA && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5))
#define MM_HAVE_CUDNN_SDPA 1
#else
#define MM_HAVE_CUDNN_SDPA 0
#endif

at::Tensor attention_prefill_flash(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
#if MM_TORCH_CUDA && TORCH_VERSION_MAJOR >= 2
  return std::get<0>(at::_scaled_dot_product_flash_attention(q.transpose(1, 2), k, v, 0.0, /*is_causal=*/q.size(1) > 1))
      .transpose(1, 2);  // (B, H, L, hd) -> (B, L, H, hd)
#else
  return attention_ref(q, k, v);
#endif
}

#if MM_HAVE_CUDNN_SDPA
/// cuDNN attention of (B, H, L, hd) queries over (B, H_kv, S, hd) keys: the output (B, H, L, hd) and the
/// natural log-sum-exp of each query row's scaled scores, (B, H, L, 1) fp32.
std::pair<at::Tensor, at::Tensor> cudnn_block(const at::Tensor& qh, at::Tensor k, at::Tensor v, bool causal, CudnnMode mode) {
  if (mode == CudnnMode::repeated && k.size(1) != qh.size(1)) {
    const int64_t g = qh.size(1) / k.size(1);
    k = k.repeat_interleave(g, 1), v = v.repeat_interleave(g, 1);  // (B, H_kv, S, hd) -> (B, H, S, hd)
  }
  auto r = at::_scaled_dot_product_cudnn_attention(qh, k, v, std::nullopt, /*compute_log_sumexp=*/true, 0.0, causal,
                                                   /*return_debug_mask=*/false);
  const at::Tensor& lse = std::get<1>(r);
  TORCH_CHECK(lse.numel() == qh.size(0) * qh.size(1) * qh.size(2), "cuDNN attention: unexpected log-sum-exp shape");
  return {std::get<0>(r), lse.to(at::kFloat).reshape({qh.size(0), qh.size(1), qh.size(2), 1})};
}
#endif

at::Tensor attention_prefill_cudnn(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, CudnnMode mode) {
#if MM_HAVE_CUDNN_SDPA
  // cuDNN's causal flag aligns top-left, so a chunk at offset o = T - L is two blocks: the cached prefix
  // (keys < o, all visible) and the chunk's own square (causal), merged by their log-sum-exps.
  const int64_t L = q.size(1), T = k.size(2), o = T - L;
  const at::Tensor qh = q.transpose(1, 2);  // (B, L, H, hd) -> (B, H, L, hd)
  if (o == 0) return cudnn_block(qh, k, v, L > 1, mode).first.transpose(1, 2);
  auto [out_p, lse_p] = cudnn_block(qh, k.narrow(2, 0, o), v.narrow(2, 0, o), false, mode);
  auto [out_d, lse_d] = cudnn_block(qh, k.narrow(2, o, L), v.narrow(2, o, L), L > 1, mode);
#if MM_HAVE_CUDA_KERNELS
  return cuda_ops::merge_attention_blocks(out_p, lse_p, out_d, lse_d);  // (B, L, H, hd), one pass
#else
  return merge_attention_blocks(out_p, lse_p, out_d, lse_d).to(q.scalar_type()).transpose(1, 2);
#endif
#else
  (void)mode;
  return attention_prefill_flash(q, k, v);
#endif
}

/// What the first-use checks found, per kind of call; a later cuDNN error sets its kind to none.
using CudnnKey = std::tuple<int64_t, int64_t, int, int>;  // (hd, group, dtype, device)
std::mutex cudnn_mu;
std::map<CudnnKey, CudnnMode> cudnn_known;
CudnnKey cudnn_key(const at::Tensor& q, const at::Tensor& k) {
  return {q.size(3), q.size(2) / k.size(1), int(q.scalar_type()), int(q.get_device())};
}

void cudnn_prefill_refused(const at::Tensor& q, const at::Tensor& k) {
  std::lock_guard<std::mutex> lock(cudnn_mu);
  cudnn_known[cudnn_key(q, k)] = CudnnMode::none;
}

/// Whether (and how) cuDNN's attention gives the flash backend's answer for this head dim, GQA group and
/// dtype on this device: checked once per kind at first use, on a small chunk over a prefix (both blocks
/// and the merge) and on a chunk alone. A build without it, an error or a mismatch leaves flash in charge;
/// MMMAMBA_NO_CUDNN_ATTENTION=1 does too.
CudnnMode cudnn_prefill_mode(const at::Tensor& q, const at::Tensor& k) {
#if MM_HAVE_CUDNN_SDPA
  if (std::getenv("MMMAMBA_NO_CUDNN_ATTENTION")) return CudnnMode::none;
  const CudnnKey key = cudnn_key(q, k);
  const int64_t hd = q.size(3), group = q.size(2) / k.size(1);
  std::lock_guard<std::mutex> lock(cudnn_mu);
  auto& known = cudnn_known;
  if (auto it = known.find(key); it != known.end()) return it->second;
  at::NoGradGuard no_grad;
  const int64_t L = 67, past = 61, Hkv = 2;
  const auto pattern = [&](std::initializer_list<int64_t> shape, double f) {  // deterministic, no RNG draws
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return (at::arange(n, at::TensorOptions().dtype(at::kFloat)) * f).sin().reshape(shape).to(q.options());
  };
  const at::Tensor qs = pattern({1, L, Hkv * group, hd}, 0.37), ks = pattern({1, Hkv, past + L, hd}, 0.61),
                   vs = pattern({1, Hkv, past + L, hd}, 0.23);
  const auto agrees = [&](CudnnMode mode) {
    try {
      const auto diff = [&](const at::Tensor& kk, const at::Tensor& vv) {
        return (attention_prefill_cudnn(qs, kk, vv, mode).to(at::kFloat) - attention_prefill_flash(qs, kk, vv).to(at::kFloat))
            .abs().max().item<double>();
      };
      return diff(ks, vs) < 2e-2 && diff(ks.narrow(2, past, L), vs.narrow(2, past, L)) < 2e-2;  // outputs of order 0.1-1
    } catch (const std::exception&) {
      return false;
    }
  };
  CudnnMode mode = agrees(CudnnMode::gqa) ? CudnnMode::gqa : agrees(CudnnMode::repeated) ? CudnnMode::repeated : CudnnMode::none;
  known[key] = mode;
  return mode;
#else
  (void)q, (void)k;
  return CudnnMode::none;
#endif
}

}  // namespace

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

namespace {

/// The split-K kernel's path name, with its variant.
const char* splitk_path() {
#if MM_HAVE_CUDA_KERNELS
  return cuda_ops::attention_decode_variant();
#else
  return "cuda-splitk";
#endif
}

}  // namespace

at::Tensor attention_decode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return dispatch(
      Op::attention_decode, splitk_path(), q,
      [&] { return needs_grad({q, k, v}) ? kNeedsGrad : attention_decode_unsupported(q, k, v); },
      MM_KERNEL_CALL(cuda_ops::attention_decode(q, k, v)), [&] { return attention_ref(q, k, v); });
}

at::Tensor attention_decode_at(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& len) {
  return dispatch(
      Op::attention_decode, splitk_path(), q,
      [&] { return needs_grad({q, k, v}) ? kNeedsGrad : attention_decode_unsupported(q, k, v); },
      MM_KERNEL_CALL(cuda_ops::attention_decode_at(q, k, v, len)), [&] { return attention_decode_at_ref(q, k, v, len); });
}

}  // namespace mm
