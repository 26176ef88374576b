// Peak memory of one measurement: reset before, read after. CUDA: the caching allocator's peak
// allocated bytes on the device (needs a CUDA LibTorch: MM_TORCH_CUDA). CPU: the process peak resident
// set (VmHWM), reset by writing "5" to /proc/self/clear_refs (Linux >= 4.0).
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace mm {

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
