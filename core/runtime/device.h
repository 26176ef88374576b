// Device choice and CPU threading for the engine.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace mm {

/// "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N". Throws InputError.
c10::Device parse_device(const std::string& spec);
/// "f32" | "bf16" | "f16" (also "float32", "bfloat16", "float16"). Throws InputError.
c10::ScalarType parse_dtype_name(const std::string& name);
/// bf16 on CUDA, fp32 on CPU.
c10::ScalarType default_dtype(const c10::Device& d);
/// Sets the CPU thread count for LibTorch's and OpenBLAS's OpenMP regions: `threads` when > 0, else
/// OMP_NUM_THREADS, else every core (LibTorch picks 1 on some VMs). Keeps large buffers in the malloc
/// heap so reused tensors do not page-fault again. Threads that already ran ATen pick the new count up
/// at their next sync_cpu_threads() (the job queue calls it before every job).
void configure_cpu_threads(int threads = 0);
/// The count configure_cpu_threads chose (>= 1).
int cpu_threads();
/// Applies cpu_threads() to the calling thread when it differs: OpenMP's thread count is per thread.
void sync_cpu_threads();
/// Parses a --threads / recipe value: "auto" or 0 = the default, else 1..1024. Throws InputError.
int parse_threads(const std::string& text);

/// Runs the calling thread's OpenMP regions (ATen's and OpenBLAS's) and, where LibTorch carries MKL,
/// MKL's with `threads` threads (0 = leave as is) until destroyed. Per thread and cheap (no thread pool
/// is rebuilt): fit for every decode step.
class ScopedCpuThreads {
 public:
  explicit ScopedCpuThreads(int threads);
  ~ScopedCpuThreads();
  ScopedCpuThreads(const ScopedCpuThreads&) = delete;
  ScopedCpuThreads& operator=(const ScopedCpuThreads&) = delete;

 private:
  int previous_ = 0;
  int previous_mkl_ = 0;
  bool mkl_set_ = false;
};

/// True where LibTorch's BLAS is MKL and ScopedCpuThreads sets MKL's per-thread count too.
bool cpu_blas_threads_are_scoped();

/// Below this many bytes read per decode step (weights + cache) a CPU step runs on one thread: its
/// ops are microseconds long, and each OpenMP region then costs more than it saves; with another
/// program on a core it waits a scheduler slice for the second thread (issue 11: 50x slower).
constexpr int64_t kParallelDecodeBytes = int64_t(32) << 20;
/// Threads for one CPU decode step that reads step_bytes: 1 below kParallelDecodeBytes, else cpu_threads().
int decode_step_threads(int64_t step_bytes);

/// "cpu (2 threads)" or "cuda:0 (NVIDIA H100 80GB HBM3)".
std::string describe_device(const c10::Device& d);

}  // namespace mm
