#include "runtime/device.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <dlfcn.h>
#include <malloc.h>
#include <thread>

#include "runtime/errors.h"

namespace mm {

c10::Device parse_device(const std::string& spec) {
  if (spec == "auto") return at::hasCUDA() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  try {
    c10::Device d(spec);
    if (d.is_cuda() && !at::hasCUDA())
      throw InputError("device '" + spec + "' was asked for but this build or machine has no CUDA", "use --device cpu");
    if (!d.is_cpu() && !d.is_cuda()) throw InputError("device '" + spec + "' is not supported", "use cpu or cuda[:N]");
    if (d.is_cuda() && d.has_index() && size_t(d.index()) >= at::getNumGPUs())
      throw InputError("device '" + spec + "' does not exist: this machine has " + std::to_string(at::getNumGPUs()) +
                           " CUDA device(s)",
                       "use cuda:0 to cuda:" + std::to_string(int64_t(at::getNumGPUs()) - 1));
    return d;
  } catch (const c10::Error&) {
    throw InputError("cannot read device '" + spec + "'", "use auto, cpu, cuda or cuda:N");
  }
}

c10::ScalarType parse_dtype_name(const std::string& n) {
  if (n == "f32" || n == "float32" || n == "fp32") return c10::kFloat;
  if (n == "bf16" || n == "bfloat16") return c10::kBFloat16;
  if (n == "f16" || n == "float16" || n == "fp16") return c10::kHalf;
  throw InputError("unknown dtype '" + n + "'", "use f32, bf16 or f16");
}

c10::ScalarType default_dtype(const c10::Device& d) { return d.is_cuda() ? c10::kBFloat16 : c10::kFloat; }

namespace {
std::atomic<int> g_threads{0};  // 0 until configure_cpu_threads ran
}  // namespace

void configure_cpu_threads(int threads) {
  // Keep large tensor buffers in the heap instead of fresh mmaps: every new 32 MB buffer otherwise
  // costs ~40 ms of page faults on these VMs (measured), which doubled the chunked scan's time.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  int n = threads;
  if (n <= 0)
    if (const char* env = std::getenv("OMP_NUM_THREADS")) n = std::atoi(env);
  if (n <= 0) n = int(std::thread::hardware_concurrency());
  g_threads = std::max(1, n);
  at::set_num_threads(g_threads);
}

int cpu_threads() { return g_threads > 0 ? g_threads.load() : at::get_num_threads(); }

void sync_cpu_threads() {
  if (g_threads > 0 && at::get_num_threads() != g_threads) at::set_num_threads(g_threads);
}

int parse_threads(const std::string& text) {
  if (text.empty() || text == "auto") return 0;
  try {
    size_t used = 0;
    const int n = std::stoi(text, &used);
    if (used == text.size() && n >= 0 && n <= 1024) return n;
  } catch (const std::exception&) {
  }
  throw InputError("threads: '" + text + "' is not a thread count",
                   "give a number of CPU threads from 1 to the number of cores, or auto");
}

namespace {

/// The OpenMP runtime LibTorch was loaded with (Debian's libgomp, or the copy inside a PyTorch wheel),
/// looked up at run time so that we never link a second one. Null without OpenMP.
struct OmpApi {
  void (*set_num_threads)(int) = nullptr;
  int (*get_max_threads)() = nullptr;
};

const OmpApi& omp_api() {
  static const OmpApi api = [] {
    OmpApi a;
    a.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    a.get_max_threads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
    if (!a.set_num_threads || !a.get_max_threads) a = OmpApi{};
    return a;
  }();
  return api;
}

/// MKL's per-thread thread count, where LibTorch carries MKL (PyTorch's wheels link it statically and
/// export it; Debian's build uses OpenBLAS, which follows OpenMP's count). MKL keeps its own count:
/// at::set_num_threads sets it for the calling thread only, and OpenMP's count does not reach MKL's
/// GEMV, so a one-thread decode step would still fork MKL regions over every core. Returns the
/// previous per-thread count (0 = MKL's global setting). Null without MKL.
using MklSetLocal = int (*)(int);
MklSetLocal mkl_set_local() {
  static const MklSetLocal f = [] {
    void* p = dlsym(RTLD_DEFAULT, "MKL_Set_Num_Threads_Local");
    if (!p) p = dlsym(RTLD_DEFAULT, "mkl_set_num_threads_local");
    return reinterpret_cast<MklSetLocal>(p);
  }();
  return f;
}

}  // namespace

ScopedCpuThreads::ScopedCpuThreads(int threads) {
  if (threads <= 0) return;
  if (const MklSetLocal mkl = mkl_set_local()) {
    previous_mkl_ = mkl(threads);
    mkl_set_ = true;
  }
  const OmpApi& omp = omp_api();
  if (!omp.set_num_threads) return;
  at::internal::lazy_init_num_threads();  // else ATen's first region on this thread would reset the count
  const int now = omp.get_max_threads();
  if (now == threads) return;
  omp.set_num_threads(threads);
  previous_ = now;
}

ScopedCpuThreads::~ScopedCpuThreads() {
  if (previous_ > 0) omp_api().set_num_threads(previous_);
  if (mkl_set_) mkl_set_local()(previous_mkl_);
}

bool cpu_blas_threads_are_scoped() { return mkl_set_local() != nullptr; }

int decode_step_threads(int64_t step_bytes) { return step_bytes < kParallelDecodeBytes ? 1 : cpu_threads(); }

std::string describe_device(const c10::Device& d) {
  if (d.is_cpu()) return "cpu (" + std::to_string(cpu_threads()) + " threads)";
  return d.str();
}

}  // namespace mm
