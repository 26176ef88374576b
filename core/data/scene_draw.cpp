// Drawing the scenes' shapes into RGB pixels, with no image library: every build (the GPU one has no
// OpenCV) draws the same bytes, so a model trained on one machine sees the same images on another.
// Circles and triangles are anti-aliased by 4x4 supersampling; squares and crosses cover whole pixels.
// Words are drawn by OpenCV's text renderer (scene_draw_cv.cpp) where the build has it.
#include <algorithm>
#include <cmath>

#include "data/scene.h"
#include "runtime/errors.h"

namespace mm::data {

#if MM_WITH_OPENCV
void draw_word(std::vector<uint8_t>& px, int side, const SceneObject& o);  // scene_draw_cv.cpp
#endif

namespace {

constexpr int kSub = 4;  // subsamples per pixel side

struct Canvas {
  std::vector<uint8_t>& px;
  int side;
  /// Blends colour over pixel (x, y) with coverage in [0, 1].
  void blend(int x, int y, const std::array<uint8_t, 3>& c, double coverage) {
    if (x < 0 || y < 0 || x >= side || y >= side || coverage <= 0) return;
    uint8_t* p = &px[(size_t(y) * side + x) * 3];
    for (int ch = 0; ch < 3; ++ch) p[ch] = uint8_t(std::lround(p[ch] + (double(c[ch]) - p[ch]) * coverage));
  }
  /// Every pixel whose centre lies in [x0, x1] x [y0, y1] (inclusive), fully covered.
  void fill_rect(int x0, int y0, int x1, int y1, const std::array<uint8_t, 3>& c) {
    for (int y = std::max(0, y0); y <= std::min(side - 1, y1); ++y)
      for (int x = std::max(0, x0); x <= std::min(side - 1, x1); ++x) blend(x, y, c, 1.0);
  }
  /// Pixels around (cx, cy) within radius reach, covered by the fraction of subsamples where inside(dx, dy)
  /// holds; (dx, dy) is the subsample's offset from the centre (pixel centres sit at integer coordinates).
  template <class Inside>
  void fill_shape(int cx, int cy, int reach, const std::array<uint8_t, 3>& c, Inside&& inside) {
    for (int y = cy - reach; y <= cy + reach; ++y)
      for (int x = cx - reach; x <= cx + reach; ++x) {
        int hits = 0;
        for (int sy = 0; sy < kSub; ++sy)
          for (int sx = 0; sx < kSub; ++sx) {
            const double dx = x - cx + (sx + 0.5) / kSub - 0.5, dy = y - cy + (sy + 0.5) / kSub - 0.5;
            hits += inside(dx, dy) ? 1 : 0;
          }
        blend(x, y, c, double(hits) / (kSub * kSub));
      }
  }
};

/// One object centred in its cell: radius (half-size) 30% (small) or 45% (large) of the cell.
void draw_shape(Canvas& cv, const SceneObject& o, int cell) {
  const int cx = o.col() * cell + cell / 2, cy = o.row() * cell + cell / 2;
  const int r = std::max(2, int(std::lround((o.size == Size::large ? 0.45 : 0.30) * cell)));
  const std::array<uint8_t, 3> colour = colour_rgb(o.colour);
  switch (o.kind) {
    case Kind::circle:
      cv.fill_shape(cx, cy, r + 1, colour, [&](double dx, double dy) { return dx * dx + dy * dy <= double(r) * r; });
      break;
    case Kind::square:
      cv.fill_rect(cx - r, cy - r, cx + r, cy + r, colour);
      break;
    case Kind::triangle:  // apex (0, -r), base corners (+-r, r): |dx| <= (dy + r) / 2 for -r <= dy <= r
      cv.fill_shape(cx, cy, r + 1, colour, [&](double dx, double dy) {
        return dy >= -r && dy <= r && 2.0 * std::abs(dx) <= dy + r;
      });
      break;
    case Kind::cross: {  // a plus sign with bars a third of the radius thick on each side
      const int t = std::max(1, r / 3);
      cv.fill_rect(cx - r, cy - t, cx + r, cy + t, colour);
      cv.fill_rect(cx - t, cy - r, cx + t, cy + r, colour);
      break;
    }
    case Kind::word:
      break;  // drawn by draw_word
  }
}

}  // namespace

std::vector<uint8_t> render_scene(const Scene& s) {
  validate(s);
  std::vector<uint8_t> px(size_t(s.side) * s.side * 3);
  const std::array<uint8_t, 3> bg = background_rgb();
  for (size_t i = 0; i < px.size(); i += 3) std::copy(bg.begin(), bg.end(), px.begin() + long(i));
  Canvas cv{px, s.side};
  for (const SceneObject& o : s.objects) {
    if (o.kind != Kind::word) {
      draw_shape(cv, o, s.side / kGrid);
      continue;
    }
#if MM_WITH_OPENCV
    draw_word(px, s.side, o);
#else
    throw InputError("this build cannot draw words (it has no OpenCV text renderer)",
                     "draw scenes without words (--word-prob 0) here, or use a build with OpenCV");
#endif
  }
  return px;
}

}  // namespace mm::data
