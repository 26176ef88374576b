// Shared by launchers and bindings: element types and the stream handle, free of ATen and of CUDA headers,
// so the POD params structs can be filled by C++ that never includes cuda_runtime.h.
#pragma once

#include <cstdint>

namespace mm::kern {

enum class DType : int32_t { f32 = 0, f16 = 1, bf16 = 2 };

/// A cudaStream_t passed through as an opaque pointer.
using Stream = void*;

}  // namespace mm::kern
