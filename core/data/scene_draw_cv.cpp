// OpenCV side of the scenes: drawing the shapes and words, writing PNGs. OpenCV's exceptions never
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

/// Draws one object centred in its cell; the image is RGB-ordered.
void draw_object(cv::Mat& img, const SceneObject& o, int cell) {
  const int cx = o.col() * cell + cell / 2, cy = o.row() * cell + cell / 2;
  const int r = std::max(2, int(std::lround((o.size == Size::large ? 0.45 : 0.30) * cell)));
  const cv::Scalar colour = rgb_scalar(colour_rgb(o.colour));
  switch (o.kind) {
    case Kind::circle:
      cv::circle(img, {cx, cy}, r, colour, cv::FILLED, cv::LINE_AA);
      break;
    case Kind::square:
      cv::rectangle(img, cv::Point(cx - r, cy - r), cv::Point(cx + r, cy + r), colour, cv::FILLED);
      break;
    case Kind::triangle: {  // apex up; the cell centre lies inside
      const cv::Point pts[3] = {{cx, cy - r}, {cx + r, cy + r}, {cx - r, cy + r}};
      cv::fillConvexPoly(img, pts, 3, colour, cv::LINE_AA);
      break;
    }
    case Kind::cross: {  // a plus sign with bars a third of the radius thick on each side
      const int t = std::max(1, r / 3);
      cv::rectangle(img, cv::Point(cx - r, cy - t), cv::Point(cx + r, cy + t), colour, cv::FILLED);
      cv::rectangle(img, cv::Point(cx - t, cy - r), cv::Point(cx + t, cy + r), colour, cv::FILLED);
      break;
    }
    case Kind::word: {  // scaled to 70% (small) or 95% (large) of the cell's width
      const int font = cv::FONT_HERSHEY_SIMPLEX, thick = std::max(1, cell / 28);
      int base = 0;
      const cv::Size unit = cv::getTextSize(o.text, font, 1.0, thick, &base);
      const double scale = (o.size == Size::large ? 0.95 : 0.70) * cell / std::max(1, unit.width);
      const cv::Size sz = cv::getTextSize(o.text, font, scale, thick, &base);
      cv::putText(img, o.text, cv::Point(cx - sz.width / 2, cy + sz.height / 2), font, scale, colour, thick, cv::LINE_AA);
      break;
    }
  }
}

}  // namespace

std::vector<uint8_t> render_scene(const Scene& s) {
  validate(s);
  std::vector<uint8_t> px(size_t(s.side) * s.side * 3);
  try {
    cv::Mat img(s.side, s.side, CV_8UC3, px.data());
    img.setTo(rgb_scalar(background_rgb()));
    for (const SceneObject& o : s.objects) draw_object(img, o, s.side / kGrid);
  } catch (const cv::Exception& e) {
    throw InputError(std::string("drawing the scene failed: ") + e.what());
  }
  return px;
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
