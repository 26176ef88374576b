#include "models/pixel_shuffle.h"

#include <c10/util/Exception.h>

namespace mm {

at::Tensor pixel_shuffle_tokens(const at::Tensor& x, int64_t side) {
  TORCH_CHECK(x.dim() == 3 && side > 0 && side % 2 == 0 && x.size(1) == side * side,
              "pixel_shuffle_tokens: x must be (n, side^2, C) with an even side ", side, ", got ", x.sizes());
  const int64_t n = x.size(0), C = x.size(2), w = side, h = side;
  // METHOD §1.2 steps 1-5 (the grid is square, so InternVL's w and h are the same side).
  at::Tensor y = x.reshape({n, w, h / 2, 2 * C});      // (n, w, h/2, 2C)
  y = y.permute({0, 2, 1, 3}).contiguous();            // (n, h/2, w, 2C)
  y = y.view({n, h / 2, w / 2, 4 * C});                // (n, h/2, w/2, 4C)
  return y.permute({0, 2, 1, 3}).reshape({n, -1, 4 * C});  // (n, (h/2)(w/2), 4C)
}

}  // namespace mm
