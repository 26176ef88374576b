// Image preprocessing for HoVLE/InternVL-style models (METHOD.md §1.5): dynamic tiling into SxS
// tiles plus an optional thumbnail, ImageNet normalisation. No OpenCV types in this header.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mm {

struct TileOptions {
  int image_size = 448;  ///< S: tile side in pixels
  int min_num = 1;       ///< fewest tiles
  int max_num = 12;      ///< most tiles (thumbnail not counted)
  bool use_thumbnail = true;
};

struct TileGrid {
  int cols = 1;
  int rows = 1;
};

/// The grid (cols x rows) whose aspect ratio is closest to width/height among min_num..max_num tiles;
/// on a tie, the larger grid when the image area exceeds half of the grid's pixel area.
TileGrid choose_tile_grid(int width, int height, const TileOptions& opts);
/// cols * rows, plus the thumbnail when there is more than one tile and use_thumbnail is set.
int tile_count(const TileGrid& grid, const TileOptions& opts);
/// Throws InputError unless 1 <= image_size <= 4096 and 1 <= min_num <= max_num <= 1024.
void validate(const TileOptions& opts);

struct ImageTiles {
  at::Tensor pixels;  ///< (n_tiles, 3, S, S) float32, ImageNet-normalised RGB; row-major tiles, thumbnail last
  TileGrid grid;
  bool thumbnail = false;
  int source_width = 0, source_height = 0;
};

ImageTiles tile_image_file(const std::string& path, const TileOptions& opts);
/// PNG, JPEG, ... bytes in memory.
ImageTiles tile_image_bytes(const std::vector<uint8_t>& encoded, const TileOptions& opts);
/// 8-bit RGB pixels, rows stride_bytes apart (e.g. a QImage in Format_RGB888). A build without OpenCV
/// has no resizer and takes only an SxS image that needs one tile.
ImageTiles tile_image_rgb(const uint8_t* rgb, int width, int height, int stride_bytes, const TileOptions& opts);

/// ImageNet normalisation of one SxS RGB tile (rows stride_bytes apart) into dst (3, S, S):
/// (v / 255 - mean) / std per channel.
void normalise_tile(const uint8_t* rgb, int S, size_t stride_bytes, float* dst);

/// Tile `index` back to 8-bit RGB (S*S*3, row-major) for showing what the model sees.
std::vector<uint8_t> tiles_to_rgb(const at::Tensor& pixels, int index);

}  // namespace mm
