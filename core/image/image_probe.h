// Image width and height read from the file header, without decoding, for every format the engine
// lets OpenCV decode: PNG, JPEG, TIFF, BMP, WebP and PNM. A "decompression bomb" is refused before
// anything is allocated for it, and a format whose size cannot be read this way is not decoded at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace mm {

struct ProbedSize {
  std::string format;  ///< "png", "jpeg", "tiff", "bmp", "webp", "pnm"
  int64_t width = 0, height = 0;
};

/// The header's size, or nullopt for another format or a header that does not parse.
std::optional<ProbedSize> probe_image_size(const uint8_t* data, size_t size);

}  // namespace mm
