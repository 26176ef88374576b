// OpenCV side of the scenes: drawing words, writing PNGs (shapes: scene_draw.cpp). OpenCV's exceptions never
// leave this file.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "data/scene.h"
#include "runtime/errors.h"
#include "runtime/files.h"

namespace mm::data {
namespace {

cv::Scalar rgb_scalar(const std::array<uint8_t, 3>& c) { return cv::Scalar(c[0], c[1], c[2]); }

}  // namespace

/// A word scaled to 70% (small) or 95% (large) of its cell's width, centred in the cell (RGB order).
void draw_word(std::vector<uint8_t>& px, int side, const SceneObject& o) {
  try {
    cv::Mat img(side, side, CV_8UC3, px.data());
    const int cell = side / kGrid;
    const int cx = o.col() * cell + cell / 2, cy = o.row() * cell + cell / 2;
    const int font = cv::FONT_HERSHEY_SIMPLEX, thick = std::max(1, cell / 28);
    int base = 0;
    const cv::Size unit = cv::getTextSize(o.text, font, 1.0, thick, &base);
    const double scale = (o.size == Size::large ? 0.95 : 0.70) * cell / std::max(1, unit.width);
    const cv::Size sz = cv::getTextSize(o.text, font, scale, thick, &base);
    cv::putText(img, o.text, cv::Point(cx - sz.width / 2, cy + sz.height / 2), font, scale,
                rgb_scalar(colour_rgb(o.colour)), thick, cv::LINE_AA);
  } catch (const cv::Exception& e) {
    throw InputError(std::string("drawing a word failed: ") + e.what());
  }
}

void write_scene_png(const Scene& s, const std::string& path) {
  std::vector<uint8_t> px = render_scene(s);
  std::vector<uint8_t> png;
  bool ok = false;
  try {
    const cv::Mat rgb(s.side, s.side, CV_8UC3, px.data());
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    ok = cv::imencode(".png", bgr, png);
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok || png.empty()) throw IoError("cannot encode the scene as PNG for " + path);
  // Our own checked write: imwrite ignores errors that surface only when its FILE is closed (a full disk
  // then leaves empty PNGs and no error).
  write_bytes_checked(path, png.data(), png.size());
}

}  // namespace mm::data
