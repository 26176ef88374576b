// Runtime choices become template constants: DTYPE_SWITCH gives `scalar_t`, GROUP_SWITCH gives the
// constant `kG` (query heads per kv head). Used only inside .cu launchers.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/kernel_types.h"

#define MM_DTYPE_SWITCH(dtype, ...)                        \
  [&] {                                                    \
    if ((dtype) == ::mm::kern::DType::bf16) {              \
      using scalar_t = __nv_bfloat16;                      \
      return __VA_ARGS__();                                \
    } else if ((dtype) == ::mm::kern::DType::f16) {        \
      using scalar_t = __half;                             \
      return __VA_ARGS__();                                \
    } else {                                               \
      using scalar_t = float;                              \
      return __VA_ARGS__();                                \
    }                                                      \
  }()

#define MM_GROUP_SWITCH(g, ...)          \
  [&] {                                  \
    if ((g) == 1) {                      \
      constexpr int kG = 1;              \
      return __VA_ARGS__();              \
    } else if ((g) == 2) {               \
      constexpr int kG = 2;              \
      return __VA_ARGS__();              \
    } else if ((g) == 4) {               \
      constexpr int kG = 4;              \
      return __VA_ARGS__();              \
    } else {                             \
      constexpr int kG = 8;              \
      return __VA_ARGS__();              \
    }                                    \
  }()
