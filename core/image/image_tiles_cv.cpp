// OpenCV side of the tiling: decoding, bicubic resizes, crops and normalisation.
// Untrusted input: sizes are checked before anything large is allocated, and OpenCV's own
// exceptions never leave this file (they become InputError with a hint).
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <optional>

#include "image/image_probe.h"
#include "image/image_tiles.h"
#include "runtime/errors.h"

namespace mm {
namespace {

constexpr int kMaxSide = 16384;
constexpr double kMaxPixels = 100e6;
constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t(1) << 30;  // no sane photo is 1 GiB encoded

const char* const kTooLargeHint = "downscale it first (at most 16384 px on a side and 100 megapixels)";
const char* const kUndecodableHint = "not an image OpenCV can read; convert it to PNG or JPEG";

void check_size(int64_t w, int64_t h) {
  if (w <= 0 || h <= 0) throw InputError("the image is empty (0 pixels)", "re-export it as a PNG or JPEG with content");
  if (w > kMaxSide || h > kMaxSide || double(w) * h > kMaxPixels)
    throw InputError("the image is too large (" + std::to_string(w) + "x" + std::to_string(h) + ")", kTooLargeHint);
}

/// rgb: CV_8UC3 in RGB order, any size.
ImageTiles tile_rgb_mat(const cv::Mat& rgb, const TileOptions& o) {
  check_size(rgb.cols, rgb.rows);
  const TileGrid g = choose_tile_grid(rgb.cols, rgb.rows, o);
  const int S = o.image_size;
  std::vector<cv::Mat> tiles;  // row-major, thumbnail last
  cv::Mat resized;
  cv::resize(rgb, resized, cv::Size(S * g.cols, S * g.rows), 0, 0, cv::INTER_CUBIC);
  for (int r = 0; r < g.rows; ++r)
    for (int c = 0; c < g.cols; ++c) tiles.push_back(resized(cv::Rect(c * S, r * S, S, S)));
  const bool thumb = tiles.size() > 1 && o.use_thumbnail;
  if (thumb) {
    cv::Mat t;
    cv::resize(rgb, t, cv::Size(S, S), 0, 0, cv::INTER_CUBIC);
    tiles.push_back(t);
  }
  ImageTiles out;
  out.grid = g;
  out.thumbnail = thumb;
  out.source_width = rgb.cols;
  out.source_height = rgb.rows;
  out.pixels = at::empty({int64_t(tiles.size()), 3, S, S}, at::kFloat);
  float* base = out.pixels.data_ptr<float>();
  for (size_t i = 0; i < tiles.size(); ++i)
    normalise_tile(tiles[i].ptr<uint8_t>(0), S, tiles[i].step[0], base + i * 3 * size_t(S) * S);
  return out;
}

/// Runs f, turning OpenCV's exceptions and allocation failures into InputError.
template <class F>
ImageTiles guarded(F&& f) {
  try {
    return f();
  } catch (const cv::Exception& e) {
    throw InputError(std::string("image processing failed: ") + e.what(), kUndecodableHint);
  } catch (const std::bad_alloc&) {
    throw InputError("not enough memory to tile the image", "downscale it first or allow fewer tiles");
  }
}

}  // namespace

ImageTiles tile_image_bytes(const std::vector<uint8_t>& encoded, const TileOptions& o) {
  validate(o);
  if (encoded.empty()) throw InputError("the image data is empty", "give a PNG or JPEG image");
  if (encoded.size() > kMaxFileBytes) throw InputError("the image data is larger than 1 GiB", kTooLargeHint);
  // Sized from the header before decoding; formats whose header we cannot size are not decoded.
  const auto wh = probe_image_size(encoded.data(), encoded.size());
  if (!wh)
    throw InputError("the image is not a PNG, JPEG, TIFF, BMP, WebP or PNM file with a readable header, so its size "
                     "cannot be checked before decoding",
                     "convert it to PNG or JPEG");
  check_size(wh->width, wh->height);
  return guarded([&] {
    const cv::Mat raw(1, int(encoded.size()), CV_8UC1, const_cast<uint8_t*>(encoded.data()));
    cv::Mat bgr;
    try {
      bgr = cv::imdecode(raw, cv::IMREAD_COLOR);
    } catch (const cv::Exception&) {
      bgr.release();
    }
    if (bgr.empty()) throw InputError("the image could not be decoded", kUndecodableHint);
    if (bgr.type() != CV_8UC3) throw InputError("the image decoded to an unexpected pixel format", kUndecodableHint);
    check_size(bgr.cols, bgr.rows);
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return tile_rgb_mat(rgb, o);
  });
}

ImageTiles tile_image_file(const std::string& path, const TileOptions& o) {
  validate(o);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError("no image file at " + path, "check the path");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxFileBytes) throw InputError(path + ": the file is larger than 1 GiB", kTooLargeHint);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open " + path, "check the file's permissions");
  std::vector<uint8_t> bytes;
  try {
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::bad_alloc&) {
    throw InputError(path + ": not enough memory to read the file", kTooLargeHint);
  }
  if (in.bad()) throw IoError("error while reading " + path, "check the disk and the file");
  try {
    return tile_image_bytes(bytes, o);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what(), e.hint());
  }
}

ImageTiles tile_image_rgb(const uint8_t* rgb, int width, int height, int stride_bytes, const TileOptions& o) {
  validate(o);
  check_size(width, height);
  if (!rgb) throw InputError("no pixel buffer given");
  if (stride_bytes < 3 * width) throw InputError("bad RGB buffer: the row stride is smaller than 3 x width");
  return guarded([&] {
    const cv::Mat view(height, width, CV_8UC3, const_cast<uint8_t*>(rgb), size_t(stride_bytes));
    return tile_rgb_mat(view, o);
  });
}

}  // namespace mm
