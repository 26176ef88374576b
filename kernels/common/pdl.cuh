// Programmatic dependent launch (sm_90+): a kernel launched with launch_pdl may start while the kernel
// before it finishes; it reads nothing that kernel writes until wait_for_previous_kernel(), and lets the
// next kernel start early with allow_next_kernel(). Decode is a chain of short kernels over weights and
// states that do not depend on the previous kernel, so their loads can begin before it ends.
// MMMAMBA_NO_PDL=1 launches plainly (for before/after measurements).
#pragma once

#include <cuda_runtime.h>

#include <cstdlib>

namespace mm::kern {

__device__ __forceinline__ void wait_for_previous_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void allow_next_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

/// Whether launches use PDL: an sm_90 device (the build's sm_90a code has the griddepcontrol waits; a
/// newer GPU runs the compute_80 PTX, which has none, so its kernels must not overlap) and
/// MMMAMBA_NO_PDL not set.
inline bool pdl_enabled() {
  static const bool on = [] {
    if (const char* e = std::getenv("MMMAMBA_NO_PDL"); e && *e && *e != '0') return false;
    int dev = 0, major = 0;
    return cudaGetDevice(&dev) == cudaSuccess &&
           cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess && major == 9;
  }();
  return on;
}

template <typename Kernel, typename Params>
cudaError_t launch_pdl(Kernel kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, const Params& p) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl_enabled() ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, p);
}

}  // namespace mm::kern
