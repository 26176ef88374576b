// The decode GEMVs (kernels/gemv) against their composition (rms_norm + cuBLAS through at::matmul) at
// the HoVLE-2.6B layer's shapes, each call replayed from a CUDA graph (no host launch cost), weights
// rotated over enough copies that L2 never holds them. Prints microseconds per call and the DRAM
// bandwidth that implies, a Mamba-2 layer's four GEMVs chained as decode runs them, then the whole
// layer's decode (the four GEMVs and the fused Mamba-2 step) and the step alone.
// usage: mm_bench_gemv [calls per graph = 64] [bandwidth TB/s = 4.24]
// MMMAMBA_NO_PDL=1: no PDL; MMMAMBA_MAMBA2_STEP_CLUSTER=0: the block step kernel instead of the cluster one (sm_90);
// MMMAMBA_PERSISTENT_DECODE=1: the persistent kernel for the 32-layer run.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/core/GradMode.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "ops/op_registry.h"
#include "ops/ops.h"
#include "ref/mamba2_step_ref.h"

namespace {

using Call = std::function<at::Tensor(int64_t copy)>;

/// Seconds per call: `calls` calls captured in one graph, replayed `reps` times after a warm-up.
double time_calls(const Call& call, int64_t copies, int calls, int reps) {
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(side);
  for (int i = 0; i < 3; ++i) call(i % copies);  // lazy handles, workspaces
  side.synchronize();
  at::cuda::CUDAGraph g;
  std::vector<at::Tensor> keep;
  g.capture_begin();
  for (int i = 0; i < calls; ++i) keep.push_back(call(i % copies));
  g.capture_end();
  g.replay();
  side.synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) g.replay();
  side.synchronize();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s / double(reps * calls);
}

struct Shape {
  std::string name;
  int64_t n, k;
  int mode;  // 0 norm_linear, 1 norm_swiglu, 2 linear_residual
};

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 64;
  const double tbps = argc > 2 ? std::atof(argv[2]) : 4.24;
  c10::AutoGradMode no_grad(false);
  const auto bf = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  const char* pdl = std::getenv("MMMAMBA_NO_PDL");
  std::printf("decode GEMVs, batch 1, bf16, %d calls per graph, PDL %s; floor at %.2f TB/s\n", calls,
              pdl && *pdl && *pdl != '0' ? "off" : "on", tbps);
  std::printf("%-34s %10s %10s %9s %10s %10s %9s %8s\n", "shape", "floor us", "gemv us", "TB/s", "composed us", "", "TB/s",
              "ratio");
  const std::vector<Shape> shapes = {{"mamba2 fused_in 6160x2048 +norm", 6160, 2048, 0},
                                     {"attention wqkv 4096x2048 +norm", 4096, 2048, 0},
                                     {"mlp w1,w3 2x8192x2048 +norm", 8192, 2048, 1},
                                     {"W_O 2048x2048 +residual", 2048, 2048, 2},
                                     {"mlp w2 2048x8192 +residual", 2048, 8192, 2},
                                     {"head 92553x2048 +norm", 92553, 2048, 0}};
  const at::Tensor nw = at::rand({2048}, bf) + 0.5;
  for (const Shape& s : shapes) {
    const int64_t mats = s.mode == 1 ? 2 : 1;
    const double bytes = double(mats * s.n * s.k * 2);
    const int64_t copies = std::max<int64_t>(2, int64_t(512e6 / bytes) + 1);
    std::vector<at::Tensor> w, w3;
    for (int64_t c = 0; c < copies; ++c) {
      w.push_back(at::randn({s.n, s.k}, bf) * 0.02);
      if (s.mode == 1) w3.push_back(at::randn({s.n, s.k}, bf) * 0.02);
    }
    const at::Tensor x = at::randn({1, 1, s.k}, bf), res = at::randn({1, 1, s.n}, bf);
    const Call call = [&](int64_t c) {
      if (s.mode == 0) return mm::norm_linear(x, nw.narrow(0, 0, s.k), 1e-5, w[c]);
      if (s.mode == 1) return mm::norm_swiglu(x, nw, 1e-5, w[c], w3[c]);
      return mm::linear_residual(x, w[c], res);
    };
    const mm::Op op = s.mode == 0 ? mm::Op::norm_linear : s.mode == 1 ? mm::Op::norm_swiglu : mm::Op::linear_residual;
    const double fast = time_calls(call, copies, calls, 20);
    mm::set_reference_forced(op, true);
    const double comp = time_calls(call, copies, calls, 20);
    mm::set_reference_forced(op, false);
    const double floor = bytes / (tbps * 1e12);
    std::printf("%-34s %10.2f %10.2f %9.2f %10.2f %10s %9.2f %7.2fx\n", s.name.c_str(), floor * 1e6, fast * 1e6,
                bytes / fast / 1e12, comp * 1e6, "", bytes / comp / 1e12, comp / fast);
  }
  // A Mamba-2 layer's GEMVs chained (each reads the last one's output), 32 layers' weights.
  {
    const int64_t L = 32;
    std::vector<at::Tensor> fin, wo, w1, w3, w2;
    for (int64_t i = 0; i < L; ++i) {
      fin.push_back(at::randn({6160, 2048}, bf) * 0.02);
      wo.push_back(at::randn({2048, 2048}, bf) * 0.02);
      w1.push_back(at::randn({8192, 2048}, bf) * 0.02);
      w3.push_back(at::randn({8192, 2048}, bf) * 0.02);
      w2.push_back(at::randn({2048, 8192}, bf) * 0.02);
    }
    at::Tensor h = at::randn({1, 1, 2048}, bf);
    const Call layer = [&](int64_t i) {
      const at::Tensor z = mm::norm_linear(h, nw, 1e-5, fin[i]);
      const at::Tensor o = mm::linear_residual(z.narrow(-1, 0, 2048), wo[i], h);
      return mm::linear_residual(mm::norm_swiglu(o, nw, 1e-5, w1[i], w3[i]), w2[i], o);
    };
    const double bytes = double(6160 + 2048 + 3 * 8192) * 2048 * 2;
    const double t = time_calls(layer, L, int(L), 10);
    std::printf("%-34s %10.2f %10.2f %9.2f   (4 GEMVs per layer, 32 layers' weights, per layer)\n",
                "mamba2 layer chain", bytes / (tbps * 1e12) * 1e6, t * 1e6, bytes / t / 1e12);
    for (mm::Op op : {mm::Op::norm_linear, mm::Op::norm_swiglu, mm::Op::linear_residual}) mm::set_reference_forced(op, true);
    const double tc = time_calls(layer, L, int(L), 10);
    std::printf("%-34s %10s %10.2f %9.2f   (the composition)\n", "mamba2 layer chain, composed", "", tc * 1e6,
                bytes / tc / 1e12);
    for (mm::Op op : {mm::Op::norm_linear, mm::Op::norm_swiglu, mm::Op::linear_residual}) mm::set_reference_forced(op, false);

    // The whole layer as decode runs it: fused_in, the fused step (16 heads, 8 kv heads, conv width 2,
    // fp32 state), W_O + residual, w1/w3 SwiGLU, w2 + residual; each layer its own state.
    const int64_t H = 16, Hkv = 8, P = 128, C = 2 * Hkv * P + H * P;
    const auto f32 = bf.dtype(at::kFloat);
    std::vector<at::Tensor> conv, ssm;
    std::vector<mm::Mamba2StepWeights> sw;
    for (int64_t i = 0; i < L; ++i) {
      conv.push_back(at::randn({1, C, 1}, bf));
      ssm.push_back(at::randn({1, H, P, P}, f32) * 0.1);
      sw.push_back({at::randn({C, 2}, bf) * 0.5, at::randn({C}, bf) * 0.1, at::randn({H}, bf), at::randn({H}, bf) * 0.5,
                    at::rand({P}, bf) + 0.5, H, Hkv, 1e-5});
    }
    const Call full = [&](int64_t i) {
      const at::Tensor z = mm::norm_linear(h, nw, 1e-5, fin[i]);  // (1, 1, C + H P + H)
      const at::Tensor c = z.select(1, 0).narrow(-1, 0, C), gate = z.select(1, 0).narrow(-1, C, H * P),
                       gamma = z.select(1, 0).narrow(-1, C + H * P, H);
      const at::Tensor o = mm::mamba2_decode_step(c, gate, gamma, conv[i], ssm[i], sw[i]);  // (1, H, P)
      const at::Tensor out = mm::linear_residual(o.reshape({1, 1, H * P}), wo[i], h);
      return mm::linear_residual(mm::norm_swiglu(out, nw, 1e-5, w1[i], w3[i]), w2[i], out);
    };
    const double state_bytes = double(H * P * P * 4) * 2;  // read and written
    const double tf = time_calls(full, L, int(L), 10);
    std::printf("%-34s %10.2f %10.2f %9.2f   (4 GEMVs + the step, per layer)\n", "mamba2 layer decode",
                (bytes + state_bytes) / (tbps * 1e12) * 1e6, tf * 1e6, (bytes + state_bytes) / tf / 1e12);
    const at::Tensor z0 = mm::norm_linear(h, nw, 1e-5, fin[0]);
    const Call step = [&](int64_t i) {
      const at::Tensor c = z0.select(1, 0).narrow(-1, 0, C), gate = z0.select(1, 0).narrow(-1, C, H * P),
                       gamma = z0.select(1, 0).narrow(-1, C + H * P, H);
      return mm::mamba2_decode_step(c, gate, gamma, conv[i], ssm[i], sw[i]);
    };
    const double ts = time_calls(step, L, int(L), 10);
    std::printf("%-34s %10.2f %10.2f %9.2f   (the fused step alone, state read + written)\n", "mamba2 step",
                state_bytes / (tbps * 1e12) * 1e6, ts * 1e6, state_bytes / ts / 1e12);

    // All 32 layers as one mamba2_layers_decode (the persistent kernel on sm_90), per layer.
    std::vector<mm::Mamba2DecodeLayer> run;
    for (int64_t i = 0; i < L; ++i)
      run.push_back({nw, fin[i], wo[i], nw, w1[i], w3[i], w2[i], sw[i], &conv[i], &ssm[i]});
    const Call all = [&](int64_t) { return mm::mamba2_layers_decode(h, run, 1e-5); };
    const double ta = time_calls(all, 1, 4, 10) / double(L);
    std::printf("%-34s %10.2f %10.2f %9.2f   (32 layers in one op: %s, per layer)\n", "mamba2 layers, one op",
                (bytes + state_bytes) / (tbps * 1e12) * 1e6, ta * 1e6, (bytes + state_bytes) / ta / 1e12,
                mm::op_path_records()[size_t(mm::Op::mamba2_layers_decode)].fast_path.c_str());
  }
  return 0;
}
