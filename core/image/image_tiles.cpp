// Dynamic tiling (grid choice, tile counts, option checks) and the tile preview; the OpenCV loaders
// live in image_tiles_cv.cpp, with stand-ins below for builds without OpenCV.
#include "image/image_tiles.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "runtime/errors.h"

namespace mm {

namespace {
constexpr int kMaxTileSize = 4096;  // far above any vision tower; keeps S*S*cols*rows sane
constexpr int kMaxTiles = 1024;     // bounds the candidate list and the output tensor
}  // namespace

void validate(const TileOptions& o) {
  if (o.image_size <= 0 || o.image_size > kMaxTileSize)
    throw InputError("tile size must be 1.." + std::to_string(kMaxTileSize) + " pixels (got " +
                         std::to_string(o.image_size) + ")",
                     "use the model's image_size (usually 448)");
  if (o.min_num < 1 || o.max_num < o.min_num || o.max_num > kMaxTiles)
    throw InputError("tile limits must satisfy 1 <= min <= max <= " + std::to_string(kMaxTiles) + " (got " +
                         std::to_string(o.min_num) + ".." + std::to_string(o.max_num) + ")",
                     "set the fewest tiles to 1 or more and the most tiles to at least that");
}

TileGrid choose_tile_grid(int width, int height, const TileOptions& o) {
  validate(o);
  if (width <= 0 || height <= 0) throw InputError("the image has no pixels");
  // Candidates (cols, rows) with min <= cols*rows <= max, ordered by tile count (stable, cols ascending).
  std::vector<TileGrid> grids;
  for (int c = 1; c <= o.max_num; ++c)
    for (int r = 1; r <= o.max_num / c; ++r)
      if (c * r >= o.min_num) grids.push_back({c, r});
  std::stable_sort(grids.begin(), grids.end(),
                   [](const TileGrid& a, const TileGrid& b) { return a.cols * a.rows < b.cols * b.rows; });
  const double aspect = double(width) / double(height), area = double(width) * double(height);
  const double S2 = double(o.image_size) * o.image_size;
  TileGrid best{1, 1};
  double best_diff = INFINITY;
  for (const TileGrid& g : grids) {
    const double diff = std::abs(aspect - double(g.cols) / g.rows);
    if (diff < best_diff) {
      best_diff = diff;
      best = g;
    } else if (diff == best_diff && area > 0.5 * S2 * g.cols * g.rows) {
      best = g;
    }
  }
  return best;
}

int tile_count(const TileGrid& g, const TileOptions& o) {
  const int n = g.cols * g.rows;
  return n + (n > 1 && o.use_thumbnail ? 1 : 0);
}

void normalise_tile(const uint8_t* rgb, int S, size_t stride_bytes, float* dst) {
  // Lookup table per channel, computed once for all 256 byte values.
  static const auto lut = [] {
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
    std::array<std::array<float, 256>, 3> t{};
    for (int ch = 0; ch < 3; ++ch)
      for (int v = 0; v < 256; ++v) t[size_t(ch)][size_t(v)] = (float(v) / 255.0f - mean[ch]) / stdv[ch];
    return t;
  }();
  const size_t plane = size_t(S) * S;
  for (int y = 0; y < S; ++y) {
    const uint8_t* row = rgb + size_t(y) * stride_bytes;
    for (int x = 0; x < S; ++x)
      for (int ch = 0; ch < 3; ++ch) dst[size_t(ch) * plane + size_t(y) * S + x] = lut[size_t(ch)][row[3 * x + ch]];
  }
}

std::vector<uint8_t> tiles_to_rgb(const at::Tensor& pixels, int index) {
  if (!pixels.defined() || pixels.dim() != 4 || pixels.size(1) != 3 || index < 0 || index >= pixels.size(0))
    throw InputError("no tile " + std::to_string(index) + " in a pixel tensor of " +
                     std::to_string(pixels.defined() && pixels.dim() == 4 ? pixels.size(0) : 0) + " tiles");
  const at::Tensor mean = at::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1});
  const at::Tensor stdv = at::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1});
  const at::Tensor t = (pixels[index].to(at::kCPU, at::kFloat) * stdv + mean) * 255.0;  // (3, S, S)
  const at::Tensor hwc = t.round().clamp(0, 255).to(at::kByte).permute({1, 2, 0}).contiguous();  // (S, S, 3)
  return std::vector<uint8_t>(hwc.data_ptr<uint8_t>(), hwc.data_ptr<uint8_t>() + hwc.numel());
}

#if !MM_WITH_OPENCV
namespace {
[[noreturn]] void no_images() { throw InputError("this build has no image support", "rebuild with -DMM_WITH_OPENCV=ON"); }
}  // namespace
ImageTiles tile_image_file(const std::string&, const TileOptions&) { no_images(); }
ImageTiles tile_image_bytes(const std::vector<uint8_t>&, const TileOptions&) { no_images(); }
ImageTiles tile_image_rgb(const uint8_t* rgb, int width, int height, int stride_bytes, const TileOptions& o) {
  if (!rgb || width <= 0 || height <= 0 || int64_t(stride_bytes) < 3 * int64_t(width))
    throw InputError("the RGB image is empty or its row stride is below 3 bytes per pixel");
  const TileGrid g = choose_tile_grid(width, height, o);
  if (width != o.image_size || height != o.image_size || tile_count(g, o) != 1)
    throw InputError("this build has no image resizer: it takes only " + std::to_string(o.image_size) + "x" +
                         std::to_string(o.image_size) + " images that make one tile (got " + std::to_string(width) +
                         "x" + std::to_string(height) + ")",
                     "make the data at the model's tile size (make-data --image-size), or rebuild with -DMM_WITH_OPENCV=ON");
  ImageTiles out;
  out.grid = g;
  out.source_width = width;
  out.source_height = height;
  out.pixels = at::empty({1, 3, height, width}, at::kFloat);
  normalise_tile(rgb, width, size_t(stride_bytes), out.pixels.data_ptr<float>());
  return out;
}
#endif

}  // namespace mm
