#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>

#include "common/device_math.cuh"
#include "common/dot8.cuh"
#include "common/pdl.cuh"
#include "common/static_switch.h"
#include "common/vec_io.cuh"
#include "gemv/gemv.h"

namespace mm::kern {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;

enum class Mode { norm_linear, norm_swiglu, residual };

// One row per warp at a time (two weight streams for the SwiGLU pair). 16-byte loads in flight per lane
// and stream, twice over (the next chunk loads while this one is used): a whole 2048-wide row in one
// chunk for a single stream, so a GEMV after another streams its first rows before its PDL wait.
template <Mode M> constexpr int kRowsPerWarp = 1;
template <Mode M> constexpr int kStreams = M == Mode::norm_swiglu ? 2 : 1;
template <Mode M> constexpr int kUnrollOf = M == Mode::norm_swiglu ? 4 : 8;

template <typename T, int kB, Mode M>
__global__ void __launch_bounds__(kThreads) gemv_kernel(GemvParams p) {
  extern __shared__ uint4 smem[];  // x for the kB rows, normalised: (kB, k) of T
  __shared__ float scratch[32];
  constexpr int kR = kRowsPerWarp<M>, kS = kStreams<M>, kUnroll = kUnrollOf<M>;
  T* xs = reinterpret_cast<T*>(smem);
  const int K = int(p.k), nvec = K / 8, chunks = (nvec + 32 * kUnroll - 1) / (32 * kUnroll);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  // Warps walk row groups (kR rows) grid-strided; each group is `chunks` chunks of 32 x kUnroll 16-byte loads.
  const int64_t groups = (p.n + kR - 1) / kR, stride = int64_t(gridDim.x) * kWarps;
  const auto load = [&](uint4 (&dst)[kS][kUnroll], int64_t group, int chunk) {
#pragma unroll
    for (int s = 0; s < kS; ++s) {
      const int64_t row = M == Mode::norm_swiglu ? group : group * kR + s;
      const void* base = (M == Mode::norm_swiglu && s == 1) ? p.w_up : p.w;
      const uint4* w = reinterpret_cast<const uint4*>(static_cast<const T*>(base) + (row < p.n ? row : p.n - 1) * K);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int i = chunk * 32 * kUnroll + u * 32 + lane;
        dst[s][u] = i < nvec ? load_weights(w + i) : make_uint4(0, 0, 0, 0);
      }
    }
  };
  int64_t group = int64_t(blockIdx.x) * kWarps + warp;
  int chunk = 0;
  uint4 wv[kS][kUnroll];
  if (group < groups) load(wv, group, 0);  // the weights do not depend on x: stream before the prologue
  wait_for_previous_kernel();
  allow_next_kernel();  // a GEMV after this one may start streaming its weights too

  // Prologue: x rows into shared memory, through the RMSNorm when the mode has one (rounded as rms_norm_ref).
  for (int b = 0; b < kB; ++b) {
    const T* xr = static_cast<const T*>(p.x) + b * p.x_stride;
    float inv = 1.f;
    if constexpr (M != Mode::residual) {
      float ss = 0.f;
      for (int i = threadIdx.x; i < K; i += kThreads) {
        const float v = to_float(xr[i]);
        ss += v * v;
      }
      inv = rsqrtf(block_sum(ss, scratch) / float(K) + p.eps);
    }
    const T* nw = static_cast<const T*>(p.norm_w);
    for (int i = threadIdx.x; i < K; i += kThreads) {
      float v = to_float(xr[i]);
      if constexpr (M != Mode::residual) v = to_float(nw[i]) * round_to<T>(v * inv);
      xs[b * K + i] = from_float<T>(v);
    }
  }
  __syncthreads();

  float acc[kS][kB];
#pragma unroll
  for (int s = 0; s < kS; ++s)
#pragma unroll
    for (int b = 0; b < kB; ++b) acc[s][b] = 0.f;
  const uint4* xv = reinterpret_cast<const uint4*>(xs);
  T* out = static_cast<T*>(p.out);
  while (group < groups) {
    // Prefetch the next chunk (of this group or the warp's next one) before using this one.
    int64_t next_group = group;
    int next_chunk = chunk + 1;
    if (next_chunk == chunks) {
      next_chunk = 0;
      next_group += stride;
    }
    uint4 nx[kS][kUnroll];
    if (next_group < groups) load(nx, next_group, next_chunk);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = chunk * 32 * kUnroll + u * 32 + lane;
      if (i < nvec) {
#pragma unroll
        for (int b = 0; b < kB; ++b) {
          const uint4 x8 = xv[b * nvec + i];
#pragma unroll
          for (int s = 0; s < kS; ++s) acc[s][b] = dot8<T>(wv[s][u], x8, acc[s][b]);
        }
      }
    }
    if (chunk == chunks - 1) {
      // Epilogue of the group, rounding where the reference's separate ops round.
#pragma unroll
      for (int b = 0; b < kB; ++b) {
        if constexpr (M == Mode::norm_swiglu) {
          const float a = round_to<T>(warp_sum(acc[0][b])), up = round_to<T>(warp_sum(acc[1][b]));
          if (lane == 0) out[b * p.n + group] = from_float<T>(round_to<T>(silu(a)) * up);
        } else {
#pragma unroll
          for (int s = 0; s < kS; ++s) {
            const int64_t row = group * kR + s;
            float v = round_to<T>(warp_sum(acc[s][b]));
            if (lane == 0 && row < p.n) {
              if constexpr (M == Mode::residual) v += to_float(static_cast<const T*>(p.residual)[b * p.res_stride + row]);
              out[b * p.n + row] = from_float<T>(v);
            }
          }
        }
#pragma unroll
        for (int s = 0; s < kS; ++s) acc[s][b] = 0.f;
      }
    }
#pragma unroll
    for (int s = 0; s < kS; ++s)
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) wv[s][u] = nx[s][u];
    group = next_group;
    chunk = next_chunk;
  }
}

/// Blocks of `kernel` resident on the whole device at once (MMMAMBA_GEMV_BLOCKS_PER_SM caps the
/// per-SM count, for tuning); 0 when unknown.
template <typename Kernel>
int64_t resident_blocks(Kernel kernel, size_t smem) {
  static int sms = -1, cap = -1;
  if (sms < 0) {
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
      sms = 0;
    const char* e = std::getenv("MMMAMBA_GEMV_BLOCKS_PER_SM");
    cap = e ? std::atoi(e) : 0;
  }
  int per_sm = 0;
  if (sms == 0 || cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem) != cudaSuccess) return 0;
  if (cap > 0 && cap < per_sm) per_sm = cap;
  return int64_t(per_sm) * sms;
}

template <typename T, int kB, Mode M>
int launch(const GemvParams& p, cudaStream_t stream) {
  const size_t smem = size_t(kB) * size_t(p.k) * sizeof(T);
  const auto kernel = gemv_kernel<T, kB, M>;
  if (smem > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
    if (e != cudaSuccess) return int(e);
  }
  // One resident wave at most (the warps loop over the rows), so each block's prologue is paid once.
  const int64_t rows_per_block = int64_t(kWarps) * kRowsPerWarp<M>;
  const int64_t blocks = (p.n + rows_per_block - 1) / rows_per_block;
  const int64_t wave = resident_blocks(kernel, smem);
  return int(launch_pdl(kernel, dim3(unsigned(wave > 0 && wave < blocks ? wave : blocks)), dim3(kThreads), smem, stream, p));
}

template <typename T, Mode M>
int launch_batch(const GemvParams& p, cudaStream_t stream) {
  switch (p.batch) {
    case 1: return launch<T, 1, M>(p, stream);
    case 2: return launch<T, 2, M>(p, stream);
    case 3: return launch<T, 3, M>(p, stream);
    default: return launch<T, 4, M>(p, stream);
  }
}

}  // namespace

int gemv_launch(const GemvParams& p, Stream stream) {
  if (p.batch < 1 || p.batch > kGemvMaxBatch || p.n == 0 || p.k % 8 != 0 || p.k > kGemvMaxK ||
      p.dtype == DType::f32 || (p.residual && (p.norm_w || p.w_up)) || (!p.residual && !p.norm_w))
    return int(cudaErrorInvalidValue);
  const auto s = cudaStream_t(stream);
  const Mode m = p.residual ? Mode::residual : p.w_up ? Mode::norm_swiglu : Mode::norm_linear;
  if (p.dtype == DType::bf16) {
    using T = __nv_bfloat16;
    return m == Mode::residual      ? launch_batch<T, Mode::residual>(p, s)
           : m == Mode::norm_swiglu ? launch_batch<T, Mode::norm_swiglu>(p, s)
                                    : launch_batch<T, Mode::norm_linear>(p, s);
  }
  using T = __half;
  return m == Mode::residual      ? launch_batch<T, Mode::residual>(p, s)
         : m == Mode::norm_swiglu ? launch_batch<T, Mode::norm_swiglu>(p, s)
                                  : launch_batch<T, Mode::norm_linear>(p, s);
}

}  // namespace mm::kern
