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

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
int be16(const uint8_t* p) { return p[0] << 8 | p[1]; }

/// Width and height from a PNG or JPEG header without decoding, so a "decompression bomb" is
/// refused before OpenCV allocates for it. nullopt for other formats or unrecognised headers.
std::optional<std::pair<int64_t, int64_t>> probe_size(const std::vector<uint8_t>& b) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const uint8_t ihdr[4] = {'I', 'H', 'D', 'R'};
  if (b.size() >= 24 && std::equal(png_sig, png_sig + 8, b.begin()) && std::equal(ihdr, ihdr + 4, b.begin() + 12))
    return std::make_pair(int64_t(be32(&b[16])), int64_t(be32(&b[20])));
  if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return std::nullopt;
  size_t pos = 2;  // walk the marker segments up to the first start-of-frame
  while (pos + 4 <= b.size()) {
    if (b[pos] != 0xFF) return std::nullopt;
    const uint8_t m = b[pos + 1];
    if (m == 0xFF) { ++pos; continue; }  // fill byte
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { pos += 2; continue; }  // no length field
    const int len = be16(&b[pos + 2]);
    if (len < 2 || m == 0xDA || m == 0xD9) return std::nullopt;  // scan data or end before any frame
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (pos + 9 > b.size()) return std::nullopt;
      return std::make_pair(int64_t(be16(&b[pos + 7])), int64_t(be16(&b[pos + 5])));  // (width, height)
    }
    pos += 2 + size_t(len);
  }
  return std::nullopt;
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
  if (const auto wh = probe_size(encoded)) {
    check_size(wh->first, wh->second);
  }
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
