#include "bench/peak_memory.h"

#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <atomic>
#include <new>
#include <fstream>
#include <mutex>
#include <sstream>

#if MM_TORCH_CUDA && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <ATen/ATen.h>
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

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define MM_ALLOCATE_CONST         // 2.3 made Allocator::allocate non-const and added copy_data
#define MM_ALLOCATOR_COPY_DATA 1
#else
#define MM_ALLOCATE_CONST const
#define MM_ALLOCATOR_COPY_DATA 0
#endif

std::atomic<int64_t> g_live{0}, g_peak{0};

/// Forwards to the allocator it wraps and counts the bytes of every block it hands out until freed.
/// Each block carries a 64-byte header (alignment kept) holding the wrapped allocation, so a block's
/// context is its data pointer: LibTorch's raw_allocate (oneDNN's convolution buffers) requires that.
class CountingCpuAllocator final : public c10::Allocator {
 public:
  explicit CountingCpuAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t n) MM_ALLOCATE_CONST override {
    c10::DataPtr inner = inner_->allocate(n + kHeader);
    char* base = static_cast<char*>(inner.get());
    const c10::Device device = inner.device();
    new (base) Header{std::move(inner), int64_t(n)};
    const int64_t live = g_live += int64_t(n);
    int64_t peak = g_peak.load();
    while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
    }
    void* data = base + kHeader;
    return {data, data, &free_block, device};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &free_block; }
#if MM_ALLOCATOR_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#endif

 private:
  struct Header {
    c10::DataPtr inner;  // owns the block, header included
    int64_t bytes;
  };
  static constexpr size_t kHeader = 64;
  static_assert(sizeof(Header) <= kHeader, "the header must fit in front of the data");
  static void free_block(void* data) {
    auto* header = reinterpret_cast<Header*>(static_cast<char*>(data) - kHeader);
    g_live -= header->bytes;
    const c10::DataPtr keep = std::move(header->inner);  // frees the block when it goes out of scope
    header->~Header();
  }
  c10::Allocator* inner_;
};

}  // namespace

void install_cpu_memory_counter() {
  static std::once_flag once;
  std::call_once(once, [] {
    static CountingCpuAllocator counter(c10::GetCPUAllocator());
    c10::SetCPUAllocator(&counter, /*priority=*/1);
  });
}

int64_t cpu_tensor_bytes() { return g_live.load(); }

#if MM_BENCH_CUDA
namespace {
/// The caching allocator's statistics exist once CUDA is initialised; before the process's first CUDA
/// tensor they throw ("Invalid device argument ... did you call init?"). One allocation initialises it.
c10::DeviceIndex stats_device(const c10::Device& d) {
  static std::once_flag once;
  std::call_once(once, [&] { (void)at::empty({1}, at::TensorOptions().device(d)); });
  return d.has_index() ? d.index() : 0;
}
}  // namespace
#endif

int64_t current_memory(const c10::Device& d) {
#if MM_BENCH_CUDA
  if (d.is_cuda())
    return c10::cuda::CUDACachingAllocator::getDeviceStats(stats_device(d)).allocated_bytes[0].current;
#endif
  return d.is_cpu() ? cpu_tensor_bytes() : -1;
}

int64_t read_peak_rss() { return g_rss_reset_ok ? read_vm_hwm() : -1; }

void reset_peak_memory(const c10::Device& d) {
#if MM_BENCH_CUDA
  if (d.is_cuda()) {
    // 1.13 takes an int, 2.x a DeviceIndex: both accept d.index().
    c10::cuda::CUDACachingAllocator::resetPeakStats(stats_device(d));
    return;
  }
#endif
  if (d.is_cpu()) {
    g_peak = g_live.load();
    std::ofstream f("/proc/self/clear_refs");
    f << "5";  // 5: reset the peak resident set size (VmHWM) to the current RSS
    f.flush();
    g_rss_reset_ok = bool(f);
  }
}

int64_t read_peak_memory(const c10::Device& d) {
#if MM_BENCH_CUDA
  if (d.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(stats_device(d));
    return stats.allocated_bytes[0].peak;  // [0] = StatType::AGGREGATE (both pools)
  }
#endif
  if (d.is_cpu()) return g_peak.load();
  return -1;
}

std::string peak_memory_measure(const c10::Device& d) {
  if (d.is_cpu())
    return "peak bytes of CPU tensors (a counting wrapper of LibTorch's CPU allocator), weights included; "
           "rss_peak_bytes: the whole process's peak RSS (VmHWM after clearing it via /proc/self/clear_refs)";
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
