#include "bench/peak_memory.h"

#include <fstream>
#include <sstream>

#if MM_TORCH_CUDA && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#define MM_BENCH_CUDA 1
#else
#define MM_BENCH_CUDA 0
#endif

namespace mm {
namespace {

/// VmHWM of this process in bytes, or -1.
int64_t read_vm_hwm() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    std::istringstream ss(line.substr(6));
    int64_t kib = -1;
    ss >> kib;  // "VmHWM:   123456 kB"
    return kib >= 0 ? kib * 1024 : -1;
  }
  return -1;
}

bool g_rss_reset_ok = true;  // false once clear_refs was refused: VmHWM would be the process lifetime peak

}  // namespace

void reset_peak_memory(const c10::Device& d) {
#if MM_BENCH_CUDA
  if (d.is_cuda()) {
    // 1.13 takes an int, 2.x a DeviceIndex: both accept d.index().
    c10::cuda::CUDACachingAllocator::resetPeakStats(d.has_index() ? d.index() : 0);
    return;
  }
#endif
  if (d.is_cpu()) {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";  // 5: reset the peak resident set size (VmHWM) to the current RSS
    f.flush();
    g_rss_reset_ok = bool(f);
  }
}

int64_t read_peak_memory(const c10::Device& d) {
#if MM_BENCH_CUDA
  if (d.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(d.has_index() ? d.index() : 0);
    return stats.allocated_bytes[0].peak;  // [0] = StatType::AGGREGATE (both pools)
  }
#endif
  if (d.is_cpu() && g_rss_reset_ok) return read_vm_hwm();
  return -1;
}

std::string peak_memory_measure(const c10::Device& d) {
  if (d.is_cpu()) return "process peak RSS (VmHWM after clearing it via /proc/self/clear_refs), whole process";
#if MM_BENCH_CUDA
  return "CUDA caching allocator peak allocated bytes (weights included), reset per measurement";
#else
  return "unavailable (this LibTorch build has no CUDA allocator stats)";
#endif
}

void release_cached_memory(const c10::Device& d) {
#if MM_BENCH_CUDA
  if (d.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

std::string device_name(const c10::Device& d) {
#if MM_BENCH_CUDA
  if (d.is_cuda()) return at::cuda::getDeviceProperties(d.has_index() ? d.index() : 0)->name;
#endif
  return {};
}

}  // namespace mm
