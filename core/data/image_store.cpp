#include "data/image_store.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "io/safetensors.h"
#include "runtime/errors.h"

namespace mm::data {
namespace fs = std::filesystem;

namespace {
constexpr const char* kPathsKey = "mmmamba.images";
const char* const kRemakeHint = "delete it and run make-data again";
}  // namespace

std::string ImageStore::path_beside(const std::string& jsonl) {
  fs::path p(jsonl);
  return (p.parent_path() / (p.stem().string() + ".images.safetensors")).string();
}

std::shared_ptr<const ImageStore> ImageStore::open_beside(const std::string& jsonl) {
  const std::string path = path_beside(jsonl);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return nullptr;
  auto store = std::shared_ptr<ImageStore>(new ImageStore());
  store->file_ = SafetensorsFile::open(path);
  const TensorInfo* t = store->file_->find("pixels");
  if (!t || t->dtype != DType::U8 || t->shape.size() != 4 || t->shape[1] != t->shape[2] || t->shape[3] != 3)
    throw InputError(path + " holds no uint8 \"pixels\" tensor of shape (N, S, S, 3)", kRemakeHint);
  const auto meta = store->file_->metadata().find(kPathsKey);
  nlohmann::json paths;
  if (meta != store->file_->metadata().end()) paths = nlohmann::json::parse(meta->second, nullptr, false);
  if (!paths.is_array() || int64_t(paths.size()) != t->shape[0])
    throw InputError(path + ": the metadata \"" + kPathsKey + "\" does not list one path per image", kRemakeHint);
  const fs::path dir = fs::absolute(path).parent_path();
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!paths[i].is_string()) throw InputError(path + ": image path " + std::to_string(i) + " is not a string", kRemakeHint);
    store->rows_[(dir / paths[i].get<std::string>()).lexically_normal().string()] = i;
  }
  store->side_ = int(t->shape[1]);
  store->pixels_ = store->file_->data(*t);
  return store;
}

const uint8_t* ImageStore::find(const std::string& absolute_path) const {
  const auto it = rows_.find(absolute_path);
  return it == rows_.end() ? nullptr : pixels_ + it->second * size_t(side_) * size_t(side_) * 3;
}

Dataset read_dataset(const std::string& jsonl) {
  Dataset d;
  d.images = ImageStore::open_beside(jsonl);
  d.samples = read_jsonl(jsonl, /*check_image_files=*/!d.images);
  if (d.images)
    for (const Sample& s : d.samples)
      for (const std::string& p : s.images)
        if (!d.images->find(p))
          throw InputError("record '" + s.id + "' of " + jsonl + " shows " + p + ", which " +
                               ImageStore::path_beside(jsonl) + " does not hold",
                           "the image store is stale: delete it (or run make-data again) to read the image files");
  return d;
}

void write_image_store(const std::string& jsonl, const std::vector<std::string>& absolute_paths,
                       const std::vector<uint8_t>& pixels, int side) {
  const size_t per = size_t(side) * size_t(side) * 3;
  if (pixels.size() != per * absolute_paths.size())
    throw InputError("write_image_store: the pixels are not side*side*3 bytes per image path");
  nlohmann::json rel = nlohmann::json::array();
  const fs::path dir = fs::absolute(jsonl).parent_path();
  for (const std::string& p : absolute_paths) rel.push_back(fs::path(p).lexically_normal().lexically_relative(dir).string());
  const TensorBlob blob{"pixels", DType::U8, {int64_t(absolute_paths.size()), side, side, 3}, pixels.data(),
                        uint64_t(pixels.size())};
  write_safetensors(ImageStore::path_beside(jsonl), {blob}, {{kPathsKey, rel.dump()}});
}

}  // namespace mm::data
