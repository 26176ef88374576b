// Chunked SSD vs the per-step recurrence on CPU, side by side in one run, with their agreement.
// usage: mm_bench_scan [L=4096] [heads=4] [head_dim=64] [repeats=3]
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "ref/ssd_ref.h"
#include "runtime/device.h"

int main(int argc, char** argv) {
  mm::configure_cpu_threads();
  const int64_t L = argc > 1 ? std::atoll(argv[1]) : 4096, H = argc > 2 ? std::atoll(argv[2]) : 4;
  const int64_t P = argc > 3 ? std::atoll(argv[3]) : 64, repeats = argc > 4 ? std::atoll(argv[4]) : 3;
  if (argc > 5 || L < 1 || H < 1 || P < 1 || repeats < 1) {
    std::fprintf(stderr, "usage: mm_bench_scan [L=4096] [heads=4] [head_dim=64] [repeats=3], all positive\n");
    return 2;
  }
  at::Generator g = at::detail::createCPUGenerator(0);
  const at::Tensor x = at::randn({1, L, H, P}, g), B = at::randn({1, L, H, P}, g) * 0.1, C = at::randn({1, L, H, P}, g) * 0.1;
  const at::Tensor dt = at::softplus(at::randn({1, L, H}, g) - 3), A = -at::ones({H});
  auto time = [&](auto fn) {
    double best = 1e30;
    for (int64_t r = 0; r < repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  mm::ScanResult chunked, stepwise;
  const double tc = time([&] { chunked = mm::ssd_scan_chunked_ref(x, dt, A, B, C, 128); });
  const double tr = time([&] { stepwise = mm::ssd_scan_recurrent_ref(x, dt, A, B, C); });
  const double diff = ((chunked.y - stepwise.y).abs().max() / stepwise.y.abs().max()).item<double>();
  std::printf("scan L=%lld H=%lld P=N=%lld on %s (best of %lld)\n", (long long)L, (long long)H, (long long)P,
              mm::describe_device(c10::Device(c10::kCPU)).c_str(), (long long)repeats);
  std::printf("  per-step recurrence  %8.3f s\n  chunked SSD (T=128)  %8.3f s\n  speedup              %8.1fx\n",
              tr, tc, tr / tc);
  std::printf("  max relative difference %.2e\n", diff);
  return 0;
}
