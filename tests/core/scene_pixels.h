// Reading scenes back from their pixels, for tests that check drawn images against the scene objects.
#pragma once

#if MM_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "data/scene.h"

namespace mm::data::testing {

using Rgb = std::array<uint8_t, 3>;

inline Rgb pixel(const std::vector<uint8_t>& px, int side, int x, int y) {
  const size_t i = (size_t(y) * side + x) * 3;
  return {px[i], px[i + 1], px[i + 2]};
}

/// The shapes read back from the pixels alone: per cell, the colour at the centre, the size from a point
/// below it and the kind from three probe points. Nullopt when some pixel fits no object.
inline std::optional<Scene> scene_from_pixels(const std::vector<uint8_t>& px, int side) {
  Scene s;
  s.side = side;
  const int cell = side / kGrid;
  const Rgb bg = background_rgb();
  for (int c = 0; c < kGrid * kGrid; ++c) {
    const int cx = (c % kGrid) * cell + cell / 2, cy = (c / kGrid) * cell + cell / 2;
    const Rgb centre = pixel(px, side, cx, cy);
    if (centre == bg) continue;
    SceneObject o;
    o.cell = c;
    int colour = 0;
    while (colour < kColours && colour_rgb(Colour(colour)) != centre) ++colour;
    if (colour == kColours) return std::nullopt;
    o.colour = Colour(colour);
    const Rgb low = pixel(px, side, cx, cy + int(std::lround(0.36 * cell)));
    if (low != centre && low != bg) return std::nullopt;
    o.size = low == centre ? Size::large : Size::small;
    const int r = int(std::lround((o.size == Size::large ? 0.45 : 0.30) * cell));
    auto on = [&](double dx, double dy) {
      const Rgb p = pixel(px, side, cx + int(std::lround(dx * r)), cy + int(std::lround(dy * r)));
      return p == centre ? 1 : p == bg ? 0 : -1;
    };
    const int diag = on(-0.5, -0.5), side_mid = on(-0.8, 0), corner = on(0.85, -0.85);
    if (diag < 0 || side_mid < 0 || corner < 0) return std::nullopt;
    o.kind = diag ? (corner ? Kind::square : Kind::circle) : (side_mid ? Kind::cross : Kind::triangle);
    s.objects.push_back(o);
  }
  return s;
}

inline std::vector<uint8_t> load_rgb(const std::string& path) {
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR), rgb;
  if (bgr.empty()) return {};
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return std::vector<uint8_t>(rgb.data, rgb.data + rgb.total() * 3);
}

inline std::string describe(const Scene& s) {
  std::vector<std::string> parts;
  for (const auto& o : s.objects)
    parts.push_back(std::to_string(o.cell) + ":" + size_name(o.size) + " " + colour_name(o.colour) + " " + kind_name(o.kind));
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) out += p + "; ";
  return out;
}

/// The colour whose blend with the background passes closest to p (anti-aliased strokes are blends).
inline Colour blended_colour(const Rgb& p) {
  const Rgb bg = background_rgb();
  int best = 0;
  double best_d = 1e30;
  for (int c = 0; c < kColours; ++c) {
    const Rgb col = colour_rgb(Colour(c));
    double dot = 0, len = 0, d = 0;
    for (int ch = 0; ch < 3; ++ch) {
      dot += (double(p[ch]) - bg[ch]) * (double(col[ch]) - bg[ch]);
      len += (double(col[ch]) - bg[ch]) * (double(col[ch]) - bg[ch]);
    }
    const double alpha = std::clamp(dot / len, 0.0, 1.0);
    for (int ch = 0; ch < 3; ++ch) {
      const double e = double(p[ch]) - bg[ch] - alpha * (double(col[ch]) - bg[ch]);
      d += e * e;
    }
    if (d < best_d) best = c, best_d = d;
  }
  return Colour(best);
}

}  // namespace mm::data::testing
#endif
