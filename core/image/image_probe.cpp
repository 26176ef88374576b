#include "image/image_probe.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace mm {
namespace {

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint32_t le32(const uint8_t* p) { return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]; }
int be16(const uint8_t* p) { return p[0] << 8 | p[1]; }
int le16(const uint8_t* p) { return p[1] << 8 | p[0]; }

std::optional<ProbedSize> probe_png(const uint8_t* b, size_t n) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n < 24 || !std::equal(sig, sig + 8, b) || !std::equal(b + 12, b + 16, "IHDR")) return std::nullopt;
  return ProbedSize{"png", be32(b + 16), be32(b + 20)};
}

std::optional<ProbedSize> probe_jpeg(const uint8_t* b, size_t n) {
  if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) return std::nullopt;
  size_t pos = 2;  // walk the marker segments up to the first start-of-frame
  while (pos + 4 <= n) {
    if (b[pos] != 0xFF) return std::nullopt;
    const uint8_t m = b[pos + 1];
    if (m == 0xFF) { ++pos; continue; }                                  // fill byte
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { pos += 2; continue; }  // no length field
    const int len = be16(b + pos + 2);
    if (len < 2 || m == 0xDA || m == 0xD9) return std::nullopt;  // scan data or end before any frame
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (pos + 9 > n) return std::nullopt;
      return ProbedSize{"jpeg", be16(b + pos + 7), be16(b + pos + 5)};
    }
    pos += 2 + size_t(len);
  }
  return std::nullopt;
}

/// Classic TIFF: ImageWidth (256) and ImageLength (257) of the first IFD (the page OpenCV decodes).
std::optional<ProbedSize> probe_tiff(const uint8_t* b, size_t n) {
  if (n < 8) return std::nullopt;
  const bool le = b[0] == 'I' && b[1] == 'I' && b[2] == 42 && b[3] == 0;
  const bool be = b[0] == 'M' && b[1] == 'M' && b[2] == 0 && b[3] == 42;
  if (!le && !be) return std::nullopt;
  auto u16 = [&](size_t at) { return uint32_t(le ? le16(b + at) : be16(b + at)); };
  auto u32 = [&](size_t at) { return le ? le32(b + at) : be32(b + at); };
  const size_t ifd = u32(4);
  if (ifd < 8 || ifd + 2 > n) return std::nullopt;
  const size_t entries = u16(ifd);
  int64_t w = -1, h = -1;
  for (size_t i = 0; i < entries; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    if (e + 12 > n) return std::nullopt;
    const uint32_t tag = u16(e), type = u16(e + 2);
    if (tag != 256 && tag != 257) continue;
    if (u32(e + 4) != 1 || (type != 3 && type != 4)) return std::nullopt;  // one SHORT or LONG
    const int64_t v = type == 3 ? int64_t(u16(e + 8)) : int64_t(u32(e + 8));
    (tag == 256 ? w : h) = v;
  }
  if (w < 0 || h < 0) return std::nullopt;
  return ProbedSize{"tiff", w, h};
}

std::optional<ProbedSize> probe_bmp(const uint8_t* b, size_t n) {
  if (n < 26 || b[0] != 'B' || b[1] != 'M') return std::nullopt;
  const uint32_t header = le32(b + 14);
  if (header == 12) return ProbedSize{"bmp", le16(b + 18), le16(b + 20)};  // OS/2 core header
  if (header < 40 || n < 26) return std::nullopt;
  const int32_t w = int32_t(le32(b + 18)), h = int32_t(le32(b + 22));  // height < 0: top-down rows
  return ProbedSize{"bmp", int64_t(w), h == INT32_MIN ? int64_t(-1) : std::abs(int64_t(h))};
}

std::optional<ProbedSize> probe_webp(const uint8_t* b, size_t n) {
  if (n < 30 || !std::equal(b, b + 4, "RIFF") || !std::equal(b + 8, b + 12, "WEBP")) return std::nullopt;
  const uint8_t* c = b + 12;
  if (std::equal(c, c + 4, "VP8 ")) {  // lossy: frame tag, start code, 14-bit sizes
    if (c[11] != 0x9D || c[12] != 0x01 || c[13] != 0x2A) return std::nullopt;
    return ProbedSize{"webp", le16(c + 14) & 0x3FFF, le16(c + 16) & 0x3FFF};
  }
  if (std::equal(c, c + 4, "VP8L")) {  // lossless: signature byte, then 14-bit width-1 and height-1
    if (c[8] != 0x2F) return std::nullopt;
    const uint32_t bits = le32(c + 9);
    return ProbedSize{"webp", int64_t(bits & 0x3FFF) + 1, int64_t((bits >> 14) & 0x3FFF) + 1};
  }
  if (std::equal(c, c + 4, "VP8X")) {  // extended: 24-bit canvas width-1 and height-1
    const int64_t w = int64_t(c[12] | c[13] << 8 | c[14] << 16) + 1, h = int64_t(c[15] | c[16] << 8 | c[17] << 16) + 1;
    return ProbedSize{"webp", w, h};
  }
  return std::nullopt;
}

/// PBM/PGM/PPM (P1-P6): magic, then width and height as decimal text, comments allowed.
std::optional<ProbedSize> probe_pnm(const uint8_t* b, size_t n) {
  if (n < 3 || b[0] != 'P' || b[1] < '1' || b[1] > '6') return std::nullopt;
  size_t pos = 2;
  int64_t v[2];
  for (int64_t& x : v) {
    while (pos < n && (std::isspace(b[pos]) || b[pos] == '#')) {
      if (b[pos] == '#')
        while (pos < n && b[pos] != '\n') ++pos;
      else
        ++pos;
    }
    if (pos >= n || !std::isdigit(b[pos])) return std::nullopt;
    x = 0;
    for (int digits = 0; pos < n && std::isdigit(b[pos]); ++pos)
      if (++digits > 9) return std::nullopt;
      else x = x * 10 + (b[pos] - '0');
  }
  return ProbedSize{"pnm", v[0], v[1]};
}

}  // namespace

std::optional<ProbedSize> probe_image_size(const uint8_t* data, size_t size) {
  if (!data) return std::nullopt;
  for (auto probe : {probe_png, probe_jpeg, probe_tiff, probe_bmp, probe_webp, probe_pnm})
    if (auto r = probe(data, size)) return r;
  return std::nullopt;
}

}  // namespace mm
