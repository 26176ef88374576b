#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>

#include "attention/attention_decode.h"
#include "common/device_math.cuh"
#include "common/static_switch.h"

namespace mm::kern {
namespace {

constexpr int kThreads = 128;           // 8 half-warps; each half-warp owns every 8th key of the split
constexpr int kHalfWarps = kThreads / 16;
constexpr float kLog2e = 1.4426950408889634f;

template <int E> struct Vec;  // E 16-bit elements in one load
template <> struct Vec<8> { using type = uint4; };
template <> struct Vec<4> { using type = uint2; };

template <typename T, int E>
__device__ __forceinline__ typename Vec<E>::type load_raw(const T* p) {
  return *reinterpret_cast<const typename Vec<E>::type*>(p);
}

template <typename T, int E>
__device__ __forceinline__ void unpack(const typename Vec<E>::type& raw, float (&out)[E]) {
  const T* h = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int e = 0; e < E; ++e) out[e] = to_float(h[e]);
}

__device__ __forceinline__ float half_warp_sum(float v) {
#pragma unroll
  for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// grid (n_split, H_kv, B). Lane li of a half-warp holds elements [li E, li E + E) of every row. D: how
// many steps of K/V rows are in flight ahead of the one in use (1 by default; MMMAMBA_ATTN_DECODE_DEPTH=2
// doubles the bytes in flight per SM at the same occupancy, opt-in until the op harness has run it on a GPU).
template <typename T, int HD, int G, int D>
__global__ void __launch_bounds__(kThreads) attention_decode_split_kernel(AttnDecodeParams p) {
  constexpr int E = HD / 16;
  constexpr int kStep = 2 * kHalfWarps;  // keys per step: rows t and t + 8 of each half-warp
  __shared__ float s_acc[kHalfWarps][G][HD];
  __shared__ float s_m[kHalfWarps][G], s_l[kHalfWarps][G];
  const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
  const int hw = threadIdx.x / 16, li = threadIdx.x % 16;
  const int64_t n_keys = p.seq_len_dev ? min(*p.seq_len_dev, p.seq_len) : p.seq_len;
  const int64_t t0 = int64_t(split) * p.keys_per_split;
  const int64_t t1 = min(t0 + p.keys_per_split, n_keys);  // t1 <= t0: an empty split (m = -inf, l = 0)

  float q[G][E];  // scaled into log2 units: exp2(q.k) = exp(scale q.k)
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const T* qp = static_cast<const T*>(p.q) + b * p.q_stride_b + (int64_t(kvh) * G + g) * p.q_stride_h + li * E;
#pragma unroll
    for (int e = 0; e < E; ++e) q[g][e] = to_float(qp[e]) * p.scale * kLog2e;
  }
  float m[G], l[G], acc[G][E];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < E; ++e) acc[g][e] = 0.f;
  }
  const T* kbase = static_cast<const T*>(p.k) + b * p.kv_stride_b + kvh * p.kv_stride_h + li * E;
  const T* vbase = static_cast<const T*>(p.v) + b * p.kv_stride_b + kvh * p.kv_stride_h + li * E;
  // Two keys per step (t and t + 8); the next D steps' rows load while this step's are used. The trip
  // count is the same for every lane (the shuffles need whole warps); rows past the split are clamped to
  // its last row for the load and masked out of the softmax.
  using Raw = typename Vec<E>::type;
  const auto row = [&](int64_t t) { return (t < t1 ? t : t1 - 1) * p.kv_stride_t; };
  Raw rk[D][2], rv[D][2];  // [step ahead][row a, row b]; [0] is the step about to be used
  const auto fetch = [&](Raw (&k)[2], Raw (&v)[2], int64_t step) {
    k[0] = load_raw<T, E>(kbase + row(step + hw));
    v[0] = load_raw<T, E>(vbase + row(step + hw));
    k[1] = load_raw<T, E>(kbase + row(step + hw + kHalfWarps));
    v[1] = load_raw<T, E>(vbase + row(step + hw + kHalfWarps));
  };
#pragma unroll
  for (int d = 0; d < D; ++d)
    if (t0 + d * kStep < t1) fetch(rk[d], rv[d], t0 + d * kStep);
  for (int64_t base = t0; base < t1; base += kStep) {
    const int64_t ta = base + hw, tb = base + hw + kHalfWarps;
    const bool va_ok = ta < t1, vb_ok = tb < t1;
    float ka[E], kb[E], va[E], vb[E];
    unpack<T, E>(rk[0][0], ka);
    unpack<T, E>(rv[0][0], va);
    unpack<T, E>(rk[0][1], kb);
    unpack<T, E>(rv[0][1], vb);
#pragma unroll
    for (int d = 0; d + 1 < D; ++d)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        rk[d][r] = rk[d + 1][r];
        rv[d][r] = rv[d + 1][r];
      }
    const int64_t ahead = base + D * kStep;
    if (ahead < t1) fetch(rk[D - 1], rv[D - 1], ahead);
#pragma unroll
    for (int g = 0; g < G; ++g) {
      float sa = 0.f, sb = 0.f;
#pragma unroll
      for (int e = 0; e < E; ++e) {
        sa += q[g][e] * ka[e];
        sb += q[g][e] * kb[e];
      }
      sa = half_warp_sum(sa);
      sb = half_warp_sum(sb);
      if (!va_ok) sa = -INFINITY;
      if (!vb_ok) sb = -INFINITY;
      const float mn = fmaxf(m[g], fmaxf(sa, sb));
      const bool any = mn != -INFINITY;  // else no valid key yet for this half-warp: leave it as is
      const float c = any ? exp2f(m[g] - mn) : 1.f, pa = any ? exp2f(sa - mn) : 0.f, pb = any ? exp2f(sb - mn) : 0.f;
      l[g] = l[g] * c + pa + pb;
#pragma unroll
      for (int e = 0; e < E; ++e) acc[g][e] = acc[g][e] * c + pa * va[e] + pb * vb[e];
      m[g] = mn;
    }
  }
  // Merge the half-warps' partial softmaxes, then write this split's (acc, m, l).
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int e = 0; e < E; ++e) s_acc[hw][g][li * E + e] = acc[g][e];
    if (li == 0) {
      s_m[hw][g] = m[g];
      s_l[hw][g] = l[g];
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < G * HD; idx += kThreads) {
    const int g = idx / HD, d = idx % HD;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < kHalfWarps; ++w) M = fmaxf(M, s_m[w][g]);
    float a = 0.f, sum = 0.f;
#pragma unroll
    for (int w = 0; w < kHalfWarps; ++w) {
      const float f = s_m[w][g] == -INFINITY ? 0.f : exp2f(s_m[w][g] - M);
      a += f * s_acc[w][g][d];
      sum += f * s_l[w][g];
    }
    const int64_t row = (int64_t(b) * p.heads + int64_t(kvh) * G + g) * p.n_split + split;  // (B, H, n_split)
    p.part_acc[row * HD + d] = a;
    if (d == 0) {
      p.part_ml[row * 2] = M;
      p.part_ml[row * 2 + 1] = sum;
    }
  }
}

// grid (B H), block HD: out = sum_s 2^(m_s - M) acc_s / sum_s 2^(m_s - M) l_s.
template <typename T, int HD>
__global__ void attention_decode_combine_kernel(AttnDecodeParams p) {
  const int64_t bh = blockIdx.x;
  const float* ml = p.part_ml + bh * p.n_split * 2;
  const float* acc = p.part_acc + bh * p.n_split * HD;
  float M = -INFINITY;
  for (int64_t s = 0; s < p.n_split; ++s) M = fmaxf(M, ml[2 * s]);
  float a = 0.f, sum = 0.f;
  for (int64_t s = 0; s < p.n_split; ++s) {
    const float f = ml[2 * s] == -INFINITY ? 0.f : exp2f(ml[2 * s] - M);  // an empty split adds nothing
    a += f * acc[s * HD + threadIdx.x];
    sum += f * ml[2 * s + 1];
  }
  static_cast<T*>(p.out)[bh * HD + threadIdx.x] = from_float<T>(a / sum);
}

template <typename T, int HD>
int launch_typed(const AttnDecodeParams& p, cudaStream_t stream) {
  const dim3 grid(unsigned(p.n_split), unsigned(p.kv_heads), unsigned(p.batch));
  MM_GROUP_SWITCH(p.heads / p.kv_heads, [&] {
    if (attention_decode_prefetch_depth() == 2) attention_decode_split_kernel<T, HD, kG, 2><<<grid, kThreads, 0, stream>>>(p);
    else attention_decode_split_kernel<T, HD, kG, 1><<<grid, kThreads, 0, stream>>>(p);
  });
  attention_decode_combine_kernel<T, HD><<<unsigned(p.batch * p.heads), HD, 0, stream>>>(p);
  return int(cudaGetLastError());
}

}  // namespace

int attention_decode_prefetch_depth() {
  static const int depth = [] {
    const char* e = std::getenv("MMMAMBA_ATTN_DECODE_DEPTH");
    return e && std::atoi(e) == 2 ? 2 : 1;
  }();
  return depth;
}

void attention_decode_plan(AttnDecodeParams& p, int num_sms) {
  // Enough blocks to keep every SM streaming (about 4 per SM, one resident wave), each split at least 64 keys.
  const int64_t rows = p.batch * p.kv_heads;
  const int64_t want = (4 * int64_t(num_sms) + rows - 1) / rows;
  int64_t per = (p.seq_len + want - 1) / want;
  per = per < 64 ? 64 : (per + 15) / 16 * 16;
  p.keys_per_split = per;
  p.n_split = (p.seq_len + per - 1) / per;
}

int attention_decode_launch(const AttnDecodeParams& p, Stream stream) {
  if (p.batch == 0 || p.heads == 0) return 0;
  const cudaStream_t s = cudaStream_t(stream);
  if (p.dtype == DType::bf16)
    return p.head_dim == 128 ? launch_typed<__nv_bfloat16, 128>(p, s) : launch_typed<__nv_bfloat16, 64>(p, s);
  return p.head_dim == 128 ? launch_typed<__half, 128>(p, s) : launch_typed<__half, 64>(p, s);
}

}  // namespace mm::kern
