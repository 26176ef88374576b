// Tiling settings and image loading as a model's config asks for them.
#pragma once

#include <string>
#include <vector>

#include "config/model_config.h"
#include "image/image_tiles.h"

namespace mm {

inline TileOptions tile_options_for(const ModelConfig& cfg, int max_tiles_override = 0) {
  TileOptions o;
  o.image_size = int(cfg.vision.image_size);
  o.min_num = int(cfg.vision.min_dynamic_patch);
  o.max_num = max_tiles_override > 0 ? max_tiles_override : int(cfg.vision.max_dynamic_patch);
  if (!cfg.vision.dynamic_image_size) o.max_num = o.min_num = 1;
  o.use_thumbnail = cfg.vision.use_thumbnail;
  return o;
}

/// Tiles every image file; pixels of all images concatenated (n, 3, S, S), tiles per image listed.
struct PromptImages {
  at::Tensor pixels;
  std::vector<int> tiles_per_image;
};

inline PromptImages load_prompt_images(const std::vector<std::string>& paths, const TileOptions& opts) {
  PromptImages out;
  std::vector<at::Tensor> parts;
  for (const std::string& p : paths) {
    ImageTiles t = tile_image_file(p, opts);
    out.tiles_per_image.push_back(int(t.pixels.size(0)));
    parts.push_back(t.pixels);
  }
  if (!parts.empty()) out.pixels = at::cat(parts, 0);
  return out;
}

}  // namespace mm
