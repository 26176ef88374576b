// The decoded images of a dataset in one safetensors file beside its JSONL, <split>.images.safetensors:
// tensor "pixels" uint8 (N, S, S, 3) RGB, and metadata "mmmamba.images", a JSON list of the N image paths
// relative to the file's directory (row i is path i). make-data writes it; training and evaluation read
// pixels from it instead of decoding PNGs: faster, and the GPU build has no image decoder.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/conversation.h"

namespace mm {
class SafetensorsFile;
}

namespace mm::data {

class ImageStore {
 public:
  /// "dir/train.jsonl" -> "dir/train.images.safetensors".
  static std::string path_beside(const std::string& jsonl);
  /// The store beside a JSONL file, or nullptr when there is none; CheckpointError/InputError when it is
  /// malformed (not uint8 (N, S, S, 3), or the path list does not match N).
  static std::shared_ptr<const ImageStore> open_beside(const std::string& jsonl);

  /// The S*S*3 RGB bytes of an image by its absolute path (as data::read_jsonl resolves it), or nullptr.
  const uint8_t* find(const std::string& absolute_path) const;
  int side() const { return side_; }
  size_t size() const { return rows_.size(); }

 private:
  std::shared_ptr<SafetensorsFile> file_;
  const uint8_t* pixels_ = nullptr;
  int side_ = 0;
  std::map<std::string, size_t> rows_;
};

/// A dataset: its records, and the image store beside it when there is one. With a store, every image
/// must be in it (InputError naming the first that is not) and the image files need not exist.
struct Dataset {
  std::vector<Sample> samples;
  std::shared_ptr<const ImageStore> images;
};
Dataset read_dataset(const std::string& jsonl);

/// Writes the store beside a JSONL file, atomically: pixels holds the images (side*side*3 RGB bytes each)
/// one after another, in the order of their absolute paths (which lie under the JSONL's directory).
void write_image_store(const std::string& jsonl, const std::vector<std::string>& absolute_paths,
                       const std::vector<uint8_t>& pixels, int side);

}  // namespace mm::data
