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
/// Honours OMP_NUM_THREADS, else uses every core (LibTorch picks 1 on some VMs); keeps large
/// buffers in the malloc heap so reused tensors do not page-fault again.
void configure_cpu_threads();
/// "cpu (2 threads)" or "cuda:0 (NVIDIA H100 80GB HBM3)".
std::string describe_device(const c10::Device& d);

}  // namespace mm
