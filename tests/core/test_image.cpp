// Dynamic image tiling: grid choice, tile order, normalisation, preview inversion, file/bytes loading
// and the errors for bad input. Small tile sizes keep it fast.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "image/image_probe.h"
#include "image/image_tiles.h"
#include "runtime/errors.h"

#if MM_WITH_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#endif

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QTemporaryDir>
#include <QtTest>

#include "test_support.h"

using namespace mm;

namespace {

const float kMean[3] = {0.485f, 0.456f, 0.406f}, kStd[3] = {0.229f, 0.224f, 0.225f};

[[maybe_unused]] float normalised(int v, int ch) { return (float(v) / 255.0f - kMean[ch]) / kStd[ch]; }

TileOptions small(int s, int max_num = 12, bool thumb = true) {
  TileOptions o;
  o.image_size = s;
  o.max_num = max_num;
  o.use_thumbnail = thumb;
  return o;
}

/// Tightly packed RGB image of one colour.
std::vector<uint8_t> solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> px(size_t(w) * h * 3);
  for (size_t i = 0; i < px.size(); i += 3) px[i] = r, px[i + 1] = g, px[i + 2] = b;
  return px;
}

template <class F>
bool throws_input_error(F&& f, const char* hint_part = nullptr) {
  try {
    f();
  } catch (const InputError& e) {
    return !hint_part || e.hint().find(hint_part) != std::string::npos;
  } catch (...) {
    return false;
  }
  return false;
}

[[maybe_unused]] void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

}  // namespace

class TestImage : public QObject {
  Q_OBJECT
 private slots:
  void gridForSquareImages() {
    const TileOptions o;  // S = 448, 1..12 tiles
    auto g = choose_tile_grid(448, 448, o);
    QCOMPARE(g.cols, 1);
    QCOMPARE(g.rows, 1);
    g = choose_tile_grid(896, 896, o);  // tie with 1x1; area > half of 2x2's pixels but not of 3x3's
    QCOMPARE(g.cols, 2);
    QCOMPARE(g.rows, 2);
    g = choose_tile_grid(3000, 3000, o);  // 4x4 = 16 is over max_num
    QCOMPARE(g.cols, 3);
    QCOMPARE(g.rows, 3);
  }

  void gridForWideImageAndLimits() {
    auto g = choose_tile_grid(896, 448, TileOptions{});
    QCOMPARE(g.cols, 2);
    QCOMPARE(g.rows, 1);
    g = choose_tile_grid(448, 896, TileOptions{});
    QCOMPARE(g.cols, 1);
    QCOMPARE(g.rows, 2);
    g = choose_tile_grid(3000, 1500, small(448, 1));
    QCOMPARE(g.cols, 1);
    QCOMPARE(g.rows, 1);
    TileOptions lo;  // min_num forces a grid of at least 4 tiles
    lo.min_num = 4;
    g = choose_tile_grid(448, 448, lo);
    QCOMPARE(g.cols * g.rows, 4);
    QCOMPARE(g.cols, 2);
  }

  void tileCountWithAndWithoutThumbnail() {
    QCOMPARE(tile_count({2, 2}, small(28, 12, true)), 5);
    QCOMPARE(tile_count({2, 2}, small(28, 12, false)), 4);
    QCOMPARE(tile_count({1, 1}, small(28, 12, true)), 1);  // a single tile gets no thumbnail
    QCOMPARE(tile_count({3, 1}, small(28, 12, true)), 4);
  }

  void badOptionsThrow() {
    TileOptions o;
    o.image_size = 0;
    QVERIFY(throws_input_error([&] { choose_tile_grid(10, 10, o); }));
    o = TileOptions{};
    o.min_num = 0;
    QVERIFY(throws_input_error([&] { choose_tile_grid(10, 10, o); }));
    o = TileOptions{};
    o.min_num = 5;
    o.max_num = 4;
    QVERIFY(throws_input_error([&] { choose_tile_grid(10, 10, o); }));
    QVERIFY(throws_input_error([&] { validate(o); }));
    QVERIFY(throws_input_error([&] { choose_tile_grid(0, 10, TileOptions{}); }));
    const auto px = solid(4, 4, 1, 2, 3);
    QVERIFY(throws_input_error([&] { tile_image_rgb(px.data(), 4, 4, 12, o); }));
    QVERIFY(throws_input_error([&] { tile_image_bytes({1, 2, 3}, o); }));
    QVERIFY(throws_input_error([] { tiles_to_rgb(at::zeros({1, 3, 4, 4}), 1); }));
    QVERIFY(throws_input_error([] { tiles_to_rgb(at::Tensor(), 0); }));
  }

#if MM_WITH_OPENCV
  void solidColourGivesExactNormalisedValues() {
    const int S = 28;
    const auto px = solid(2 * S, S, 200, 100, 50);
    const ImageTiles t = tile_image_rgb(px.data(), 2 * S, S, 2 * S * 3, small(S));
    QCOMPARE(t.grid.cols, 2);
    QCOMPARE(t.grid.rows, 1);
    QVERIFY(t.thumbnail);
    QCOMPARE(t.source_width, 2 * S);
    QCOMPARE(t.source_height, S);
    QCOMPARE(t.pixels.scalar_type(), at::kFloat);
    QCOMPARE(t.pixels.sizes().vec(), (std::vector<int64_t>{3, 3, S, S}));
    const int rgb[3] = {200, 100, 50};
    for (int ch = 0; ch < 3; ++ch) {
      const at::Tensor plane = t.pixels.select(1, ch);
      const double err = (plane - normalised(rgb[ch], ch)).abs().max().item<double>();
      QVERIFY2(err <= 1e-5, qPrintable(QString("channel %1 off by %2").arg(ch).arg(err)));
    }
  }

  void quadrantsComeOutRowMajor() {
    const int S = 28, W = 2 * S;
    const uint8_t colours[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}};  // TL, TR, BL, BR
    std::vector<uint8_t> px(size_t(W) * W * 3);
    for (int y = 0; y < W; ++y)
      for (int x = 0; x < W; ++x)
        for (int ch = 0; ch < 3; ++ch) px[(size_t(y) * W + x) * 3 + ch] = colours[(y >= S) * 2 + (x >= S)][ch];
    const ImageTiles t = tile_image_rgb(px.data(), W, W, W * 3, small(S));
    QCOMPARE(t.grid.cols, 2);
    QCOMPARE(t.grid.rows, 2);
    QCOMPARE(t.pixels.size(0), int64_t(5));  // four tiles and the thumbnail
    for (int i = 0; i < 4; ++i)
      for (int ch = 0; ch < 3; ++ch) {
        const float got = t.pixels[i][ch][S / 2][S / 2].item<float>();
        QVERIFY2(std::abs(got - normalised(colours[i][ch], ch)) < 1e-5, qPrintable(QString("tile %1 ch %2").arg(i).arg(ch)));
      }
    // Thumbnail: the whole image at S x S, so its quadrants carry the four colours.
    const std::vector<uint8_t> thumb = tiles_to_rgb(t.pixels, 4);
    const int q = S / 4, pos[4][2] = {{q, q}, {q, S - q}, {S - q, q}, {S - q, S - q}};  // (y, x)
    for (int i = 0; i < 4; ++i)
      for (int ch = 0; ch < 3; ++ch)
        QCOMPARE(int(thumb[(size_t(pos[i][0]) * S + pos[i][1]) * 3 + ch]), int(colours[i][ch]));
  }

  void tilesToRgbInvertsNormalisation() {
    const int S = 28;
    std::mt19937 rng(7);
    std::vector<uint8_t> px(size_t(S) * S * 3);
    for (auto& v : px) v = uint8_t(rng() & 0xFF);
    // A padded stride, as a QImage row may have.
    const int stride = S * 3 + 5;
    std::vector<uint8_t> padded(size_t(stride) * S, 0xAB);
    for (int y = 0; y < S; ++y) std::copy_n(&px[size_t(y) * S * 3], S * 3, &padded[size_t(y) * stride]);
    const ImageTiles t = tile_image_rgb(padded.data(), S, S, stride, small(S));
    QCOMPARE(t.pixels.size(0), int64_t(1));
    const std::vector<uint8_t> back = tiles_to_rgb(t.pixels, 0);
    QCOMPARE(back.size(), px.size());
    int worst = 0;
    for (size_t i = 0; i < px.size(); ++i) worst = std::max(worst, std::abs(int(back[i]) - int(px[i])));
    QVERIFY2(worst <= 1, qPrintable(QString("worst difference %1").arg(worst)));
  }

  void pngRoundTripsThroughFileAndBytes() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = test::temp_path(dir, "img.png");
    const int S = 28;
    cv::Mat bgr(S, 2 * S, CV_8UC3, cv::Scalar(50, 100, 200));  // BGR: RGB (200, 100, 50)
    QVERIFY(cv::imwrite(path, bgr));
    const ImageTiles f = tile_image_file(path, small(S));
    QCOMPARE(f.grid.cols, 2);
    QCOMPARE(f.grid.rows, 1);
    QCOMPARE(f.source_width, 2 * S);
    QCOMPARE(f.source_height, S);
    QCOMPARE(f.pixels.size(0), int64_t(3));
    const int rgb[3] = {200, 100, 50};
    for (int ch = 0; ch < 3; ++ch)
      QVERIFY((f.pixels.select(1, ch) - normalised(rgb[ch], ch)).abs().max().item<double>() <= 1e-5);
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const ImageTiles b = tile_image_bytes(bytes, small(S));
    QVERIFY(at::equal(f.pixels, b.pixels));
  }

  void badFilesAndBytesGiveInputError() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QVERIFY(throws_input_error([&] { tile_image_file(test::temp_path(dir, "missing.png"), small(28)); }, "check the path"));
    QVERIFY(throws_input_error([&] { tile_image_file(dir.path().toStdString(), small(28)); }, "check the path"));
    std::mt19937 rng(11);
    std::vector<uint8_t> noise(4096);
    for (auto& v : noise) v = uint8_t(rng() & 0xFF);
    const std::string junk = test::temp_path(dir, "junk.jpg");
    write_file(junk, noise);
    QVERIFY(throws_input_error([&] { tile_image_file(junk, small(28)); }, "convert it to PNG or JPEG"));
    QVERIFY(throws_input_error([&] { tile_image_bytes(noise, small(28)); }, "convert it to PNG or JPEG"));
    QVERIFY(throws_input_error([] { tile_image_bytes({}, small(28)); }));
    const std::string empty = test::temp_path(dir, "empty.png");
    write_file(empty, {});
    QVERIFY(throws_input_error([&] { tile_image_file(empty, small(28)); }));

    // A real PNG cut short, and headers with random tails: refused, never a crash.
    std::vector<uint8_t> png;
    QVERIFY(cv::imencode(".png", cv::Mat(40, 40, CV_8UC3, cv::Scalar(1, 2, 3)), png));
    std::vector<uint8_t> jpg;
    QVERIFY(cv::imencode(".jpg", cv::Mat(40, 40, CV_8UC3, cv::Scalar(1, 2, 3)), jpg));
    QVERIFY(throws_input_error([&] { tile_image_bytes(std::vector<uint8_t>(png.begin(), png.begin() + 40), small(28)); }));
    for (const auto* real : {&png, &jpg})
      for (int trial = 0; trial < 20; ++trial) {
        std::vector<uint8_t> b(real->begin(), real->begin() + std::min<size_t>(real->size(), 30 + trial * 7));
        for (size_t i = 0; i < 64; ++i) b.push_back(uint8_t(rng() & 0xFF));
        try {
          tile_image_bytes(b, small(28));  // a lenient decoder may accept it; that is fine too
        } catch (const InputError&) {
        }
      }

    // A PNG header that claims 100000 x 100000 pixels is refused before decoding.
    std::vector<uint8_t> bomb(png);
    const uint8_t big[4] = {0x00, 0x01, 0x86, 0xA0};  // 100000 big-endian
    std::copy(big, big + 4, bomb.begin() + 16);
    std::copy(big, big + 4, bomb.begin() + 20);
    QVERIFY(throws_input_error([&] { tile_image_bytes(bomb, small(28)); }, "downscale it first"));
  }

  // Issue 10: every format is sized from its header before decoding, like PNG and JPEG; a format
  // whose header cannot be sized is not decoded at all.
  void everyFormatIsSizedBeforeDecoding() {
    const cv::Mat img(24, 40, CV_8UC3, cv::Scalar(10, 20, 30));
    int tested = 0;
    for (const char* ext : {".png", ".jpg", ".tiff", ".bmp", ".webp", ".ppm"}) {
      std::vector<uint8_t> enc;
      if (!cv::imencode(ext, img, enc)) continue;  // this OpenCV lacks the encoder
      ++tested;
      const auto size = probe_image_size(enc.data(), enc.size());
      QVERIFY2(size && size->width == 40 && size->height == 24, ext);
      QCOMPARE(tile_image_bytes(enc, small(28, 1)).pixels.size(0), int64_t(1));  // and it still decodes
    }
    QVERIFY(tested >= 4);
    // A TIFF whose first IFD claims 20000 pixels across: refused before OpenCV allocates for it.
    std::vector<uint8_t> tiff;
    QVERIFY(cv::imencode(".tiff", img, tiff));
    const bool le = tiff[0] == 'I';
    auto u16 = [&](size_t at) { return le ? tiff[at] | tiff[at + 1] << 8 : tiff[at] << 8 | tiff[at + 1]; };
    const size_t ifd = le ? (tiff[4] | tiff[5] << 8 | tiff[6] << 16 | size_t(tiff[7]) << 24)
                          : (size_t(tiff[4]) << 24 | tiff[5] << 16 | tiff[6] << 8 | tiff[7]);
    bool patched = false;
    for (size_t i = 0, n = size_t(u16(ifd)); i < n; ++i) {
      const size_t e = ifd + 2 + 12 * i;
      if (u16(e) != 256) continue;
      const uint32_t v = 20000;  // written as a LONG
      tiff[e + 2] = le ? 4 : 0, tiff[e + 3] = le ? 0 : 4;
      for (int b = 0; b < 4; ++b) tiff[e + 8 + size_t(b)] = uint8_t(le ? v >> (8 * b) : v >> (8 * (3 - b)));
      patched = true;
    }
    QVERIFY(patched);
    QVERIFY(throws_input_error([&] { tile_image_bytes(tiff, small(28)); }, "downscale it first"));
    // Radiance HDR (decodable by OpenCV, no size check of ours): not decoded.
    std::vector<uint8_t> hdr;
    cv::Mat f;
    img.convertTo(f, CV_32FC3, 1.0 / 255);
    if (cv::imencode(".hdr", f, hdr)) QVERIFY(throws_input_error([&] { tile_image_bytes(hdr, small(28)); }, "convert it to PNG"));
  }

  void oversizedAndBadRgbBuffersThrow() {
    const auto px = solid(4, 4, 1, 2, 3);
    QVERIFY(throws_input_error([&] { tile_image_rgb(px.data(), 20000, 4, 60000, small(28)); }, "downscale it first"));
    QVERIFY(throws_input_error([&] { tile_image_rgb(px.data(), 12000, 12000, 36000, small(28)); }, "downscale it first"));
    QVERIFY(throws_input_error([&] { tile_image_rgb(px.data(), 0, 4, 12, small(28)); }));
    QVERIFY(throws_input_error([&] { tile_image_rgb(nullptr, 4, 4, 12, small(28)); }));
    QVERIFY(throws_input_error([&] { tile_image_rgb(px.data(), 4, 4, 11, small(28)); }));
  }
#else
  void loadersSayThereIsNoImageSupport() {
    const auto px = solid(4, 4, 1, 2, 3);
    QVERIFY(throws_input_error([] { tile_image_file("x.png", TileOptions{}); }, "MM_WITH_OPENCV"));
    QVERIFY(throws_input_error([] { tile_image_bytes({1, 2, 3}, TileOptions{}); }, "MM_WITH_OPENCV"));
    QVERIFY(throws_input_error([&] { tile_image_rgb(px.data(), 4, 4, 12, TileOptions{}); }, "MM_WITH_OPENCV"));
  }
#endif
};

QTEST_GUILESS_MAIN(TestImage)
#include "test_image.moc"
