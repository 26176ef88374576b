#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <type_traits>

#include "common/device_math.cuh"
#include "common/dot8.cuh"
#include "mamba2/mamba2_layers.h"
#include "mamba2/ssm_row.cuh"

namespace mm::kern {
namespace {

constexpr int kP = 128;  // head dim = state dim
constexpr int kConsumerWarps = 8;
constexpr int kConsumers = kConsumerWarps * 32;
constexpr int kThreads = kConsumers + 32;  // + one producer warp
constexpr int kSlots = 6;
constexpr int kSlotBytes = 32 * 1024;
constexpr int kMaxK = 8192;
constexpr int kPartFloats = 2048;
constexpr int kSliceRows = 16;  // state rows per unit of the step phase

struct __align__(128) Smem {
  uint4 slots[kSlots][kSlotBytes / 16];  // the weight ring
  uint4 xs[kMaxK / 8];                   // the phase's input vector (T)
  float part[kPartFloats];               // per-row, per-warp partial dot products of the phase
  float sB[kP], sC[kP], sx[kSliceRows];
  float red[kConsumerWarps];
  float s_dt, s_decay;
  unsigned long long full[kSlots], empty[kSlots];
};
static_assert(sizeof(Mamba2LayersParams) <= 4096, "kernel parameters");
static_assert(sizeof(Smem) <= 227 * 1024, "shared memory per block");

/// Rows per full chunk: as many as a slot holds, a power of two, at most one (virtual) row per warp.
__host__ __device__ __forceinline__ int chunk_rows(int64_t K, bool paired, int64_t elem) {
  const int64_t r = kSlotBytes / (K * elem * (paired ? 2 : 1)), cap = paired ? 4 : 8;
  return int(r >= 8 && cap >= 8 ? 8 : r >= 4 ? 4 : r >= 2 ? 2 : 1);
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
constexpr int kSlicesPerHead = kP / kSliceRows;

// ---- sm_90 primitives: mbarriers, bulk copies, the consumers' named barrier, a grid barrier ----

__device__ __forceinline__ uint32_t smem_addr(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

__device__ __forceinline__ void mbar_init(unsigned long long* bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(bar)), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(unsigned long long* bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned long long* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_addr(bar)) : "memory");
}
__device__ __forceinline__ void mbar_wait(unsigned long long* bar, unsigned parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n"
      "}\n" ::"r"(smem_addr(bar)),
      "r"(parity)
      : "memory");
}
/// bytes from global src into shared dst, completing on bar (16-byte aligned, a multiple of 16).
__device__ __forceinline__ void bulk_copy(void* dst, const void* src, unsigned bytes, unsigned long long* bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                   smem_addr(dst)),
               "l"(src), "r"(bytes), "r"(smem_addr(bar))
               : "memory");
}
__device__ __forceinline__ void consumers_sync() { asm volatile("bar.sync 1, %0;" ::"n"(kConsumers) : "memory"); }

__device__ __forceinline__ unsigned load_acquire(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

/// Every block's consumers arrive; bar = {count, generation}. The last block resets the count and
/// bumps the generation, so the words stay consistent from launch to launch.
__device__ void grid_barrier(unsigned* bar) {
  consumers_sync();
  if (threadIdx.x == 0) {
    const unsigned gen = load_acquire(bar + 1);  // cannot move before every block has arrived
    __threadfence();
    if (atomicAdd(bar, 1u) == gridDim.x - 1) {
      atomicExch(bar, 0u);
      __threadfence();
      atomicAdd(bar + 1, 1u);
    } else {
      // A block that never arrives (it was not resident, or a bug) fails the launch after ~10 s instead
      // of hanging the device.
      uint64_t t0, t;
      asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
      while (load_acquire(bar + 1) == gen) {
        __nanosleep(32);
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
        if (t - t0 > 10000000000ull) __trap();
      }
    }
    __threadfence();
  }
  consumers_sync();
}

// ---- the weight stream: the same sequence of chunks for the producer and the consumers ----

struct Segment {
  const char* w = nullptr;   // rows of W (N, K)
  const char* w3 = nullptr;  // the SwiGLU pair's second matrix (or nullptr)
  int64_t r0 = 0, r1 = 0;    // this block's rows
  int K = 0, R0 = 0;         // columns; rows per full chunk
};


/// Segment s of layer l for this block: 0 fused_in, 1 o_proj, 2 w1|w3, 3 w2.
template <typename T>
__device__ Segment segment(const Mamba2LayersParams& p, int l, int s) {
  const Mamba2LayerPtrs& L = p.layers[l];
  const int64_t D = p.dim, HP = p.heads * kP, C = 2 * p.kv_heads * kP + HP, nb = gridDim.x, b = blockIdx.x;
  Segment g;
  int64_t N = 0;
  switch (s) {
    case 0: g.w = static_cast<const char*>(L.fused_in), N = C + HP + p.heads, g.K = int(D); break;
    case 1: g.w = static_cast<const char*>(L.o_proj), N = D, g.K = int(HP); break;
    case 2: g.w = static_cast<const char*>(L.w1), g.w3 = static_cast<const char*>(L.w3), N = p.ffn, g.K = int(D); break;
    default: g.w = static_cast<const char*>(L.w2), N = D, g.K = int(p.ffn); break;
  }
  g.r0 = N * b / nb;
  g.r1 = N * (b + 1) / nb;
  g.R0 = chunk_rows(g.K, g.w3 != nullptr, int(sizeof(T)));
  return g;
}

template <typename T>
__device__ void produce(const Mamba2LayersParams& p, Smem& sm) {
  uint32_t n = 0;
  for (int l = 0; l < p.n_layers; ++l)
    for (int s = 0; s < 4; ++s) {
      const Segment g = segment<T>(p, l, s);
      const int64_t row_bytes = int64_t(g.K) * int64_t(sizeof(T));
      for (int64_t row = g.r0; row < g.r1; row += g.R0, ++n) {
        const int slot = int(n % kSlots);
        if (n >= kSlots) mbar_wait(&sm.empty[slot], ((n / kSlots) - 1) & 1);
        const int64_t r = g.r1 - row < g.R0 ? g.r1 - row : g.R0;
        const unsigned bytes = unsigned(r * row_bytes);
        mbar_expect_tx(&sm.full[slot], g.w3 ? 2 * bytes : bytes);
        bulk_copy(sm.slots[slot], g.w + row * row_bytes, bytes, &sm.full[slot]);
        if (g.w3) bulk_copy(reinterpret_cast<char*>(sm.slots[slot]) + bytes, g.w3 + row * row_bytes, bytes, &sm.full[slot]);
      }
    }
}

/// The consumers' side of segment g: dot products of its chunks with sm.xs into sm.part, laid out
/// (row, matrix of the pair, K split) for the epilogue. n counts chunks over the whole launch.
template <typename T>
__device__ void consume(const Segment& g, Smem& sm, uint32_t& n) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int mats = g.w3 ? 2 : 1, vrows = g.R0 * mats, splits = kConsumerWarps / vrows;
  const int vr = warp / splits, split = warp % splits, mat = vr / g.R0, rr = vr % g.R0;
  const int nvec = g.K / 8 / splits;  // 16-byte vectors of this warp's part of a row
  for (int64_t row = g.r0; row < g.r1; row += g.R0, ++n) {
    const int slot = int(n % kSlots);
    const int64_t r = g.r1 - row < g.R0 ? g.r1 - row : g.R0;
    mbar_wait(&sm.full[slot], (n / kSlots) & 1);
    if (rr < r) {
      const uint4* w = sm.slots[slot] + (mat * r + rr) * (g.K / 8) + split * nvec;
      const uint4* x = sm.xs + split * nvec;
      float acc = 0.f;
#pragma unroll 8
      for (int v = lane; v < nvec; v += 32) acc = dot8<T>(w[v], x[v], acc);
      acc = warp_sum(acc);
      if (lane == 0) sm.part[((row - g.r0 + rr) * mats + mat) * splits + split] = acc;
    }
    __syncwarp();
    if (lane == 0) mbar_arrive(&sm.empty[slot]);
  }
  consumers_sync();  // every partial is in sm.part
}

/// Sum of the partials of local row j, matrix mat.
__device__ __forceinline__ float row_sum(const Segment& g, const Smem& sm, int64_t j, int mat) {
  const int mats = g.w3 ? 2 : 1, splits = kConsumerWarps / (g.R0 * mats);
  float s = 0.f;
  for (int k = 0; k < splits; ++k) s += sm.part[(j * mats + mat) * splits + k];
  return s;
}

/// Sum over the consumer threads; every consumer thread gets it.
__device__ __forceinline__ float consumers_sum(float v, Smem& sm) {
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0) sm.red[threadIdx.x / 32] = v;
  consumers_sync();
  float s = 0.f;
#pragma unroll
  for (int w = 0; w < kConsumerWarps; ++w) s += sm.red[w];
  consumers_sync();
  return s;
}

/// A value another block wrote during this launch: read through L2 (never a stale L1 line), and
/// volatile with a memory clobber so that it is neither merged with an earlier load nor moved across a
/// barrier (the bf16/f16 __ldcg overloads are neither).
template <typename T>
__device__ __forceinline__ T ld_cross_block(const T* p) {
  unsigned short u;
  asm volatile("ld.global.cg.b16 %0, [%1];" : "=h"(u) : "l"(p) : "memory");
  T v;
  *reinterpret_cast<unsigned short*>(&v) = u;
  return v;
}
template <typename T>
__device__ __forceinline__ float ld_shared_value(const T* p) {
  return to_float(ld_cross_block(p));
}

/// sm.xs = rms_norm(x) * nw (rounded as rms_norm_ref), or x itself without nw.
template <typename T>
__device__ void load_x(const T* x, const T* nw, int64_t K, float eps, Smem& sm) {
  T* xs = reinterpret_cast<T*>(sm.xs);
  if (!nw) {
    for (int64_t i = threadIdx.x; i < K; i += kConsumers) xs[i] = ld_cross_block(x + i);
  } else {
    float ss = 0.f;
    for (int64_t i = threadIdx.x; i < K; i += kConsumers) {
      const float v = ld_shared_value(x + i);
      ss += v * v;
    }
    const float inv = rsqrtf(consumers_sum(ss, sm) / float(K) + eps);
    for (int64_t i = threadIdx.x; i < K; i += kConsumers)
      xs[i] = from_float<T>(to_float(nw[i]) * round_to<T>(ld_shared_value(x + i) * inv));
  }
  consumers_sync();
}

/// What the step phase loads before its inputs exist: the unit's state rows and the conv of its
/// channels over last step's conv state.
struct StepPrefetch {
  float4 st[kSliceRows / kConsumerWarps];
  float acc_bc = 0.f, acc_x = 0.f, w_bc = 0.f, w_x = 0.f;
};

template <typename T>
__device__ void step_prefetch(const Mamba2LayersParams& p, int l, int unit, StepPrefetch& f) {
  const Mamba2LayerPtrs& L = p.layers[l];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, G = int(p.heads / p.kv_heads), K = p.width;
  const int64_t h = unit / kSlicesPerHead, slice = unit % kSlicesPerHead, kvh = h / G, dkv = p.kv_heads * kP;
  const int64_t C = 2 * dkv + p.heads * kP;
#pragma unroll
  for (int j = 0; j < kSliceRows / kConsumerWarps; ++j) {
    const int64_t row = slice * kSliceRows + warp * (kSliceRows / kConsumerWarps) + j;
    f.st[j] = reinterpret_cast<const float4*>(L.ssm_state + (h * kP + row) * kP)[lane];
  }
  const T* cw = static_cast<const T*>(L.conv_weight);
  const T* cb = static_cast<const T*>(L.conv_bias);
  const T* cs = static_cast<const T*>(L.conv_state);
  // Thread t < 128: B channel t of the kv head; 128 + t: C channel t of head h; t < 16 also x channel.
  const int64_t ch_bc = tid < kP ? dkv + kvh * kP + tid : 2 * dkv + h * kP + (tid - kP);
  const int64_t ch_x = kvh * kP + slice * kSliceRows + tid;
  const bool has_x = tid < kSliceRows;
  (void)C;
  f.acc_bc = to_float(cb[ch_bc]);
  f.acc_x = has_x ? to_float(cb[ch_x]) : 0.f;
  for (int k = 0; k < K - 1; ++k) {
    f.acc_bc += to_float(cw[ch_bc * K + k]) * to_float(cs[ch_bc * (K - 1) + k]);
    if (has_x) f.acc_x += to_float(cw[ch_x * K + k]) * to_float(cs[ch_x * (K - 1) + k]);
  }
  f.w_bc = to_float(cw[ch_bc * K + K - 1]);
  f.w_x = has_x ? to_float(cw[ch_x * K + K - 1]) : 0.f;
}

/// One unit of the step: conv + SiLU of its channels at this token, dt, the state update of its 16
/// rows and their readout y (rounded to T) into work y.
template <typename T>
__device__ void step_unit(const Mamba2LayersParams& p, int l, int unit, const StepPrefetch& f, const T* z, T* y,
                          Smem& sm) {
  const Mamba2LayerPtrs& L = p.layers[l];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, G = int(p.heads / p.kv_heads);
  const int64_t h = unit / kSlicesPerHead, slice = unit % kSlicesPerHead, kvh = h / G, dkv = p.kv_heads * kP;
  const int64_t HP = p.heads * kP, C = 2 * dkv + HP;
  const int64_t ch_bc = tid < kP ? dkv + kvh * kP + tid : 2 * dkv + h * kP + (tid - kP);
  const int64_t ch_x = kvh * kP + slice * kSliceRows + tid;
  const float conv_bc = round_to<T>(silu(f.acc_bc + f.w_bc * ld_shared_value(z + ch_bc)));
  if (tid < kP) sm.sB[tid] = conv_bc;
  else sm.sC[tid - kP] = conv_bc;
  if (tid < kSliceRows) sm.sx[tid] = round_to<T>(silu(f.acc_x + f.w_x * ld_shared_value(z + ch_x)));
  if (tid == 0) {
    const float zz = ld_shared_value(z + C + HP + h) + to_float(static_cast<const T*>(L.dt_bias)[h]);
    const float dt = zz > 20.f ? zz : log1pf(expf(zz));  // softplus, threshold 20 as in the reference
    sm.s_dt = dt;
    sm.s_decay = expf(dt * -expf(to_float(static_cast<const T*>(L.A_log)[h])));
  }
  consumers_sync();
  const float4 Bv = reinterpret_cast<const float4*>(sm.sB)[lane];
  const float4 Cv = reinterpret_cast<const float4*>(sm.sC)[lane];
  const float dt = sm.s_dt, decay = sm.s_decay;
#pragma unroll
  for (int j = 0; j < kSliceRows / kConsumerWarps; ++j) {
    const int local = warp * (kSliceRows / kConsumerWarps) + j;
    const int64_t row = slice * kSliceRows + local;
    float r;
    reinterpret_cast<float4*>(L.ssm_state + (h * kP + row) * kP)[lane] =
        ssm_row_step(f.st[j], sm.sx[local] * dt, Bv, Cv, decay, r);
    if (lane == 0) y[h * kP + row] = from_float<T>(r);
  }
  consumers_sync();  // sB, sC, sx are free for the next unit
}

#endif  // __CUDA_ARCH__ >= 900

template <typename T>
__global__ void __launch_bounds__(kThreads, 1) mamba2_layers_kernel(const __grid_constant__ Mamba2LayersParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  extern __shared__ __align__(128) unsigned char smem_raw[];
  Smem& sm = *reinterpret_cast<Smem*>(smem_raw);
  if (threadIdx.x == 0) {
    for (int s = 0; s < kSlots; ++s) {
      mbar_init(&sm.full[s], 1);
      mbar_init(&sm.empty[s], kConsumerWarps);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  if (threadIdx.x >= kConsumers) {  // the producer warp: one thread streams every chunk
    if (threadIdx.x == kConsumers) produce<T>(p, sm);
    return;
  }

  const int64_t D = p.dim, H = p.heads, HP = H * kP, C = 2 * p.kv_heads * kP + HP, F = p.ffn;
  const int64_t nb = gridDim.x, b = blockIdx.x, units = H * kSlicesPerHead;  // units of kSliceRows state rows
  T* work = static_cast<T*>(p.work);
  T* z = work;           // (C + HP + H)
  T* y = z + C + HP + H;  // (HP)
  T* out = y + HP;        // (D)
  T* a = out + D;         // (F)
  T* hbuf = a + F;        // (2, D)
  uint32_t n = 0;
  for (int l = 0; l < p.n_layers; ++l) {
    const Mamba2LayerPtrs& L = p.layers[l];
    const T* h = l == 0 ? static_cast<const T*>(p.h_in) : hbuf + ((l - 1) % 2) * D;
    T* h_next = l + 1 == p.n_layers ? static_cast<T*>(p.h_out) : hbuf + (l % 2) * D;

    // 1. z = rms_norm(h) W_in^T
    load_x<T>(h, static_cast<const T*>(L.attn_norm), D, p.rms_eps, sm);
    Segment g = segment<T>(p, l, 0);
    consume<T>(g, sm, n);
    for (int64_t j = threadIdx.x; j < g.r1 - g.r0; j += kConsumers) z[g.r0 + j] = from_float<T>(row_sum(g, sm, j, 0));
    StepPrefetch f;
    if (b < units) step_prefetch<T>(p, l, int(b), f);
    grid_barrier(p.barrier);

    // 2. the conv + SSM step, a unit (16 state rows of a head) per block at a time
    for (int64_t u = b; u < units; u += nb) {
      if (u != b) step_prefetch<T>(p, l, int(u), f);
      step_unit<T>(p, l, int(u), f, z, y, sm);
    }
    grid_barrier(p.barrier);

    // 3. shift this block's conv channels; o = gated_rmsnorm(y, gate); out = h + o W_O^T
    {
      const int K = p.width;
      T* cs = static_cast<T*>(L.conv_state);
      for (int64_t ch = C * b / nb + threadIdx.x; ch < C * (b + 1) / nb; ch += kConsumers) {
        T* row = cs + ch * (K - 1);
        for (int k = 0; k + 1 < K - 1; ++k) row[k] = row[k + 1];
        row[K - 2] = ld_cross_block(z + ch);
      }
      const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
      T* xs = reinterpret_cast<T*>(sm.xs);
      const T* gn = static_cast<const T*>(L.gnorm);
      for (int64_t hh = warp; hh < H; hh += kConsumerWarps) {
        float v[kP / 32], ss = 0.f;
#pragma unroll
        for (int q = 0; q < kP / 32; ++q) {
          v[q] = ld_shared_value(y + hh * kP + lane + 32 * q);
          ss += v[q] * v[q];
        }
        const float inv = rsqrtf(warp_sum(ss) / float(kP) + p.norm_eps);
#pragma unroll
        for (int q = 0; q < kP / 32; ++q) {
          const int i = lane + 32 * q;
          const float gate = ld_shared_value(z + C + hh * kP + i);
          xs[hh * kP + i] = from_float<T>(v[q] * inv * to_float(gn[i]) * silu(gate));
        }
      }
      consumers_sync();
    }
    g = segment<T>(p, l, 1);
    consume<T>(g, sm, n);
    for (int64_t j = threadIdx.x; j < g.r1 - g.r0; j += kConsumers)
      out[g.r0 + j] = from_float<T>(round_to<T>(row_sum(g, sm, j, 0)) + ld_shared_value(h + g.r0 + j));
    grid_barrier(p.barrier);

    // 4. a = silu(rms_norm(out) W1^T) * (rms_norm(out) W3^T)
    load_x<T>(out, static_cast<const T*>(L.ffn_norm), D, p.rms_eps, sm);
    g = segment<T>(p, l, 2);
    consume<T>(g, sm, n);
    for (int64_t j = threadIdx.x; j < g.r1 - g.r0; j += kConsumers) {
      const float gate = round_to<T>(row_sum(g, sm, j, 0)), up = round_to<T>(row_sum(g, sm, j, 1));
      a[g.r0 + j] = from_float<T>(round_to<T>(silu(gate)) * up);
    }
    grid_barrier(p.barrier);

    // 5. h_next = out + a W2^T
    load_x<T>(a, static_cast<const T*>(nullptr), F, 0.f, sm);
    g = segment<T>(p, l, 3);
    consume<T>(g, sm, n);
    for (int64_t j = threadIdx.x; j < g.r1 - g.r0; j += kConsumers)
      h_next[g.r0 + j] = from_float<T>(round_to<T>(row_sum(g, sm, j, 0)) + ld_shared_value(out + g.r0 + j));
    if (l + 1 < p.n_layers) grid_barrier(p.barrier);
  }
#else
  __trap();  // sm_90 only: the host never launches it elsewhere (mamba2_layers_unsupported)
#endif
}

/// What the launcher needs to know of a device, per device ordinal.
struct DeviceInfo {
  int sms = 0, major = 0, smem_optin = 0, cooperative = 0;
  bool attr_set[2] = {false, false};  // the dynamic shared-memory size, per element type
};

DeviceInfo* device_info() {
  static DeviceInfo infos[64];
  static bool known[64] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return nullptr;
  DeviceInfo& d = infos[dev];
  if (!known[dev]) {
    if (cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&d.major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&d.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&d.cooperative, cudaDevAttrCooperativeLaunch, dev) != cudaSuccess)
      return nullptr;
    known[dev] = true;
  }
  return &d;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Host twin of chunk_rows and the partials a segment of N rows, K columns needs per block.
int64_t part_floats(int64_t N, int64_t K, bool paired, int64_t nb) {
  const int64_t r = chunk_rows(K, paired, 2), mats = paired ? 2 : 1, splits = kConsumerWarps / (r * mats);
  return ceil_div(N, nb) * mats * splits;
}

/// Sets the kernel's shared-memory size on the current device once; 0 or the CUDA error.
template <typename T>
int prepare(DeviceInfo& d) {
  const int i = std::is_same<T, __half>::value ? 1 : 0;
  if (!d.attr_set[i]) {
    const cudaError_t e =
        cudaFuncSetAttribute(mamba2_layers_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(sizeof(Smem)));
    if (e != cudaSuccess) return int(e);
    d.attr_set[i] = true;
  }
  return 0;
}

template <typename T>
int launch(const Mamba2LayersParams& p, cudaStream_t stream) {
  DeviceInfo* d = device_info();
  if (!d) return int(cudaErrorInvalidDevice);
  if (const int e = prepare<T>(*d)) return e;
  // The grid barrier's words start at zero in every launch (a memset node in a captured graph).
  if (const cudaError_t e = cudaMemsetAsync(p.barrier, 0, 2 * sizeof(unsigned), stream)) return int(e);
  // Cooperative: the launch fails, rather than the grid barrier hanging, where the blocks cannot all be
  // resident at once.
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(unsigned(d->sms));
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = sizeof(Smem);
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeCooperative;
  attr[0].val.cooperative = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return int(cudaLaunchKernelEx(&cfg, mamba2_layers_kernel<T>, p));
}

}  // namespace

int64_t mamba2_layers_work_elems(int64_t dim, int64_t heads, int64_t kv_heads, int64_t ffn) {
  const int64_t HP = heads * kP, C = 2 * kv_heads * kP + HP;
  return (C + HP + heads) + HP + dim + ffn + 2 * dim;
}

const char* mamba2_layers_unsupported(int64_t dim, int64_t heads, int64_t kv_heads, int64_t ffn, int width, DType dtype) {
  // Opt-in: it passes the op harness (H100, session 16) but a layer takes 67.5 us in it against 57.1 us
  // as separate launches (mm_bench_gemv), so the per-layer ops stay the default.
  static const bool enabled = [] {
    const char* e = std::getenv("MMMAMBA_PERSISTENT_DECODE");
    return e && *e && *e != '0';
  }();
  if (!enabled) return "opt-in (MMMAMBA_PERSISTENT_DECODE=1): slower than the per-layer launches so far";
  if (dtype == DType::f32) return "dtype (bf16/f16)";
  DeviceInfo* d = device_info();
  // sm_90 exactly: the build carries sm_90a machine code; newer GPUs would run the compute_80 PTX.
  if (!d || d->major != 9) return "device (sm_90: bulk copies and mbarriers)";
  if (!d->cooperative || d->smem_optin < int(sizeof(Smem))) return "device (cooperative launch, 222 KB of shared memory)";
  if (kv_heads <= 0 || heads % kv_heads != 0) return "shape (H % H_kv)";
  const int64_t g = heads / kv_heads;
  if (g != 1 && g != 2 && g != 4 && g != 8) return "shape (H / H_kv in 1, 2, 4, 8)";
  const int64_t HP = heads * kP, C = 2 * kv_heads * kP + HP, nb = d->sms;
  // Multiples of 64: a row's split over up to 8 warps covers whole 16-byte vectors.
  if (dim % 64 != 0 || ffn % 64 != 0 || dim > kMaxK || ffn > kMaxK || HP > kMaxK)
    return "shape (D, F and H P multiples of 64, at most 8192)";
  if (dim * 2 * 2 > kSlotBytes) return "shape (D <= 8192)";
  if (width < 2 || width > 4) return "shape (conv width 2..4)";
  if (nb <= 0) return "device (multiprocessor count unknown)";
  if (part_floats(C + HP + heads, dim, false, nb) > kPartFloats || part_floats(dim, HP, false, nb) > kPartFloats ||
      part_floats(ffn, dim, true, nb) > kPartFloats || part_floats(dim, ffn, false, nb) > kPartFloats)
    return "shape (rows per block over the partial-sum buffer)";
  // One block per multiprocessor must fit (the grid barrier needs the whole grid resident).
  const bool half = dtype == DType::f16;
  if ((half ? prepare<__half>(*d) : prepare<__nv_bfloat16>(*d)) != 0) return "device (shared-memory size refused)";
  int per_sm = 0;
  const cudaError_t e = half ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, mamba2_layers_kernel<__half>, kThreads, sizeof(Smem))
                             : cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, mamba2_layers_kernel<__nv_bfloat16>, kThreads, sizeof(Smem));
  if (e != cudaSuccess || per_sm < 1) return "device (one block per multiprocessor does not fit)";
  return nullptr;
}

int mamba2_layers_launch(const Mamba2LayersParams& p, Stream stream) {
  if (p.n_layers <= 0) return 0;
  if (p.n_layers > kMamba2LayersMax) return int(cudaErrorInvalidValue);
  const auto s = cudaStream_t(stream);
  if (p.dtype == DType::bf16) return launch<__nv_bfloat16>(p, s);
  if (p.dtype == DType::f16) return launch<__half>(p, s);
  return int(cudaErrorInvalidValue);
}

}  // namespace mm::kern
