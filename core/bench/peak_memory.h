// Peak memory of one measurement: reset before, read after. CUDA: the caching allocator's peak
// allocated bytes on the device (needs a CUDA LibTorch: MM_TORCH_CUDA). CPU: the bytes of live tensors,
// counted by a wrapper around LibTorch's CPU allocator (install_cpu_memory_counter), so the number is
// the model's and not the process's; the process peak resident set (VmHWM, reset by writing "5" to
// /proc/self/clear_refs, Linux >= 4.0) is read beside it.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace mm {

/// Wraps the current CPU allocator with a byte counter (idempotent, thread-safe). Tensors allocated
/// before the first call are not counted; call it before building the models to measure.
void install_cpu_memory_counter();
/// Bytes of CPU tensors alive now (counted since install; 0 before).
int64_t cpu_tensor_bytes();
/// Bytes allocated on d now: CPU tensors (counter) or the CUDA allocator's; -1 when unknown.
int64_t current_memory(const c10::Device& d);
/// Peak process resident set (VmHWM) since the last reset_peak_memory, or -1.
int64_t read_peak_rss();

/// Starts a new peak window on device d.
void reset_peak_memory(const c10::Device& d);
/// Peak bytes since the last reset, or -1 when this build or system cannot measure it.
int64_t read_peak_memory(const c10::Device& d);
/// What read_peak_memory measures on d, in words.
std::string peak_memory_measure(const c10::Device& d);
/// Returns cached device memory to the driver (CUDA); nothing on CPU.
void release_cached_memory(const c10::Device& d);
/// The device's name, e.g. "NVIDIA H100 80GB HBM3"; empty for CPU or when unknown.
std::string device_name(const c10::Device& d);

}  // namespace mm
