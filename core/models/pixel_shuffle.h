// The vision path's pixel shuffle (METHOD.md §1.2, InternVL's pixel_shuffle at scale 0.5, ps_version v2).
#pragma once

#include <ATen/ATen.h>

namespace mm {

/// x (n, side^2, C) patch tokens of a side x side grid in row-major order (side even) ->
/// (n, side^2 / 4, 4C): half-grid token (i, j), row-major, is the 2x2 block of patches at rows 2i, 2i+1
/// and columns 2j, 2j+1, concatenated as (r0 c0, r0 c1, r1 c0, r1 c1).
at::Tensor pixel_shuffle_tokens(const at::Tensor& x, int64_t side);

}  // namespace mm
