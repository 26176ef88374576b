#include "runtime/device.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <cstdlib>
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

void configure_cpu_threads() {
  // Keep large tensor buffers in the heap instead of fresh mmaps: every new 32 MB buffer otherwise
  // costs ~40 ms of page faults on these VMs (measured), which doubled the chunked scan's time.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  int n = 0;
  if (const char* env = std::getenv("OMP_NUM_THREADS")) n = std::atoi(env);
  if (n <= 0) n = int(std::thread::hardware_concurrency());
  if (n > 0) at::set_num_threads(n);
}

std::string describe_device(const c10::Device& d) {
  if (d.is_cpu()) return "cpu (" + std::to_string(at::get_num_threads()) + " threads)";
  return d.str();
}

}  // namespace mm
