#include "ops/op_timing.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <utility>

#if MM_TORCH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace mm {
namespace {

std::atomic<bool> g_on{false};
std::mutex g_mutex;
std::map<std::pair<int, std::string>, OpTime>& table() {
  static std::map<std::pair<int, std::string>, OpTime> t;
  return t;
}
thread_local int t_depth = 0;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Waits for the device; false while the current stream is capturing a graph (a wait would break it).
bool wait_for_device(bool on_cuda) {
#if MM_TORCH_CUDA
  if (on_cuda) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(c10::cuda::getCurrentCUDAStream(), &capture) != cudaSuccess ||
        capture != cudaStreamCaptureStatusNone)
      return false;
    c10::cuda::device_synchronize();
  }
#else
  (void)on_cuda;
#endif
  return true;
}

}  // namespace

void set_op_timing(bool on) { g_on.store(on, std::memory_order_relaxed); }
bool op_timing_enabled() { return g_on.load(std::memory_order_relaxed); }

std::vector<OpTime> op_times() {
  std::vector<OpTime> out;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (const auto& kv : table()) out.push_back(kv.second);
  }
  std::stable_sort(out.begin(), out.end(), [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  return out;
}

void reset_op_times() {
  std::lock_guard<std::mutex> lock(g_mutex);
  table().clear();
}

OpTimer::OpTimer(Op op, const char* path, bool on_cuda) : op_(op), path_(path), on_cuda_(on_cuda) {
  if (!op_timing_enabled()) return;
  counted_ = true;
  if (t_depth++ > 0 || !wait_for_device(on_cuda)) return;
  active_ = true;
  start_ns_ = now_ns();
}

OpTimer::~OpTimer() {
  if (counted_) --t_depth;
  if (!active_) return;
  wait_for_device(on_cuda_);
  const double s = double(now_ns() - start_ns_) * 1e-9;
  std::lock_guard<std::mutex> lock(g_mutex);
  OpTime& t = table()[{int(op_), path_}];
  t.op = op_name(op_);
  t.path = path_;
  t.calls += 1;
  t.seconds += s;
}

}  // namespace mm
