// The prefill GEMMs of the HoVLE-2.6B layer, Y (M, N) = X (M, K) W^T with W (N, K) row-major as the
// engine stores it: at::matmul (what the prefill ops call) against every algorithm cuBLASLt's heuristic
// offers for the same problem, each timed alone. Prints TFLOP/s per shape and which Lt algorithm won, so
// an algorithm choice is only made in the engine where this shows it pays.
// usage: mm_bench_gemm [rows M = 4096] [iterations = 20] [algorithms asked of the heuristic = 16]
#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

#define LT_OK(expr)                                                                        \
  do {                                                                                     \
    const cublasStatus_t s_ = (expr);                                                      \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                     \
      std::fprintf(stderr, "%s failed: %s\n", #expr, cublasLtGetStatusString(s_));         \
      std::exit(1);                                                                        \
    }                                                                                      \
  } while (0)

struct Problem {
  std::string name;
  int64_t n, k;
};

/// Milliseconds per call of fn, timed with events over `iters` calls after three warm-up calls.
template <typename Fn>
double time_ms(Fn fn, int iters, cudaStream_t stream) {
  for (int i = 0; i < 3; ++i) fn();
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  cudaEventRecord(a, stream);
  for (int i = 0; i < iters; ++i) fn();
  cudaEventRecord(b, stream);
  cudaEventSynchronize(b);
  float ms = 0.f;
  cudaEventElapsedTime(&ms, a, b);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return double(ms) / iters;
}

/// The row-major product Y = X W^T as column-major Y^T (N, M) = op_T(W) (N, K) x X^T (K, M): the TN case.
struct LtGemm {
  cublasLtMatmulDesc_t desc{};
  cublasLtMatrixLayout_t a{}, b{}, c{};
  LtGemm(int64_t m, int64_t n, int64_t k) {
    LT_OK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t t = CUBLAS_OP_T;
    LT_OK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof(t)));
    LT_OK(cublasLtMatrixLayoutCreate(&a, CUDA_R_16BF, uint64_t(k), uint64_t(n), k));  // W as (K, N) column-major
    LT_OK(cublasLtMatrixLayoutCreate(&b, CUDA_R_16BF, uint64_t(k), uint64_t(m), k));  // X as (K, M)
    LT_OK(cublasLtMatrixLayoutCreate(&c, CUDA_R_16BF, uint64_t(n), uint64_t(m), n));  // Y as (N, M)
  }
  ~LtGemm() {
    cublasLtMatrixLayoutDestroy(c);
    cublasLtMatrixLayoutDestroy(b);
    cublasLtMatrixLayoutDestroy(a);
    cublasLtMatmulDescDestroy(desc);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t M = argc > 1 ? std::atoll(argv[1]) : 4096;
  const int iters = argc > 2 ? std::atoi(argv[2]) : 20, asked = argc > 3 ? std::atoi(argv[3]) : 16;
  if (argc > 4 || M < 1 || iters < 1 || asked < 1) {
    std::fprintf(stderr, "usage: mm_bench_gemm [rows M = 4096] [iterations = 20] [algorithms = 16], all positive\n");
    return 2;
  }
  if (!at::hasCUDA()) {
    std::fprintf(stderr, "mm_bench_gemm needs a CUDA device\n");
    return 1;
  }
  const std::vector<Problem> problems = {
      {"fused input projection", 6160, 2048}, {"output projection W_O", 2048, 2048},
      {"w1 or w3", 8192, 2048},               {"w1 and w3 as one", 16384, 2048},
      {"w2", 2048, 8192},                     {"attention qkv (16 + 2x8 heads)", 4096, 2048},
      {"square 8192", 8192, 8192},
  };
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
  cublasLtHandle_t lt;
  LT_OK(cublasLtCreate(&lt));
  const size_t ws_bytes = size_t(64) << 20;
  const auto opts = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  const at::Tensor ws = at::empty({int64_t(ws_bytes)}, opts.dtype(at::kByte));
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("%s, M = %lld rows, bf16 in and out, fp32 accumulation, %d iterations per figure\n", prop.name,
              (long long)M, iters);
  std::printf("%-32s %6s %6s %10s %10s %10s %5s %s\n", "problem", "N", "K", "at::matmul", "Lt first", "Lt best",
              "algo", "(TFLOP/s)");
  for (const Problem& pr : problems) {
    const int64_t m = pr.name.rfind("square", 0) == 0 ? 8192 : M;
    const at::Tensor x = at::randn({m, pr.k}, opts) * 0.5, w = at::randn({pr.n, pr.k}, opts) * 0.02;
    at::Tensor y = at::empty({m, pr.n}, opts);
    const double flops = 2.0 * double(m) * double(pr.n) * double(pr.k);
    const double t_aten = time_ms([&] { at::matmul_out(y, x, w.t()); }, iters, stream);
    const at::Tensor y_ref = y.clone();

    LtGemm g(m, pr.n, pr.k);
    cublasLtMatmulPreference_t pref;
    LT_OK(cublasLtMatmulPreferenceCreate(&pref));
    LT_OK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                               sizeof(ws_bytes)));
    std::vector<cublasLtMatmulHeuristicResult_t> found(static_cast<size_t>(asked));
    int n_found = 0;
    LT_OK(cublasLtMatmulAlgoGetHeuristic(lt, g.desc, g.a, g.b, g.c, g.c, pref, asked, found.data(), &n_found));
    cublasLtMatmulPreferenceDestroy(pref);
    const float one = 1.f, zero = 0.f;
    double t_first = 0, t_best = 1e30;
    int best = -1;
    for (int i = 0; i < n_found; ++i) {
      if (found[size_t(i)].state != CUBLAS_STATUS_SUCCESS) continue;
      const auto run = [&] {
        LT_OK(cublasLtMatmul(lt, g.desc, &one, w.data_ptr(), g.a, x.data_ptr(), g.b, &zero, y.data_ptr(), g.c,
                             y.data_ptr(), g.c, &found[size_t(i)].algo, ws.data_ptr(), ws_bytes, stream));
      };
      const double t = time_ms(run, iters, stream);
      const double diff = (y.to(at::kFloat) - y_ref.to(at::kFloat)).abs().max().item<double>();
      if (diff > 0.05) std::printf("  algo %d disagrees with at::matmul by %.3g\n", i, diff);
      if (i == 0) t_first = t;
      if (t < t_best) t_best = t, best = i;
    }
    const auto tf = [&](double ms) { return ms > 0 ? flops / (ms * 1e-3) / 1e12 : 0.0; };
    std::printf("%-32s %6lld %6lld %10.1f %10.1f %10.1f %2d/%-2d  %.3f / %.3f / %.3f ms\n", pr.name.c_str(),
                (long long)pr.n, (long long)pr.k, tf(t_aten), tf(t_first), tf(t_best), best, n_found, t_aten, t_first,
                t_best);
  }
  cublasLtDestroy(lt);
  return 0;
}
