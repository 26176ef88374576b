#include "train/examples.h"

#include <unistd.h>

#include <algorithm>
#include <numeric>

#include "image/model_tiles.h"
#include "runtime/errors.h"
#include "text/chat_template.h"

namespace mm {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

EncodedConversation encode_conversation(const Tokenizer& tok, const ModelConfig& cfg, const std::string& system,
                                        const data::Sample& s, const std::vector<int>& tiles_per_image,
                                        bool include_last_answer) {
  EncodedConversation out;
  out.tiles_per_image = tiles_per_image;
  const int64_t im_end = tok.token_id(kImEnd);
  size_t image_at = 0;  // images are handed to the human turns in order of their <image> placeholders
  const size_t n_turns = s.turns.size();
  for (size_t t = 0; t < n_turns; ++t) {
    const data::Turn& turn = s.turns[t];
    if (turn.from_human) {
      size_t n_img = 0;
      for (size_t p = turn.value.find(kImagePlaceholder); p != std::string::npos;
           p = turn.value.find(kImagePlaceholder, p + 1))
        ++n_img;
      if (image_at + n_img > tiles_per_image.size())
        throw InputError("sample '" + s.id + "' has more <image> placeholders than images");
      std::vector<int> ctx;
      for (size_t k = 0; k < n_img; ++k) ctx.push_back(tiles_per_image[image_at + k] * int(cfg.tokens_per_tile()));
      image_at += n_img;
      const bool first = t == 0;
      // Record text is plain: only the template makes control tokens.
      const std::vector<int64_t> enc = tok.encode(chat_prompt(first ? system : "", {{"user", turn.value}}, true, ctx), first);
      out.ids.insert(out.ids.end(), enc.begin(), enc.end());
      out.is_answer.insert(out.is_answer.end(), enc.size(), 0);
    } else {
      if (t + 1 == n_turns && !include_last_answer) break;
      std::vector<int64_t> enc = tok.encode_plain(turn.value, false);
      enc.push_back(im_end);
      out.ids.insert(out.ids.end(), enc.begin(), enc.end());
      out.is_answer.insert(out.is_answer.end(), enc.size(), 1);
    }
  }
  if (image_at != tiles_per_image.size())
    throw InputError("sample '" + s.id + "' has " + std::to_string(tiles_per_image.size()) + " images but " +
                     std::to_string(image_at) + " <image> placeholders");
  return out;
}

ExampleSet::ExampleSet(data::Dataset data, std::shared_ptr<const Tokenizer> tok, ModelConfig cfg,
                       std::string system_prompt, int64_t max_length)
    : samples_(std::move(data.samples)),
      store_(std::move(data.images)),
      tok_(std::move(tok)),
      cfg_(std::move(cfg)),
      system_(std::move(system_prompt)),
      max_length_(max_length),
      tile_cache_budget_(default_tile_cache_budget()) {
  for (size_t i = 0; i < samples_.size(); ++i) {
    std::vector<int> tiles;
    for (const std::string& path : samples_[i].images) tiles.push_back(int(tiles_of(path).size(0)));
    EncodedConversation e = encode_conversation(*tok_, cfg_, system_, samples_[i], tiles);
    if (int64_t(e.ids.size()) > max_length) {
      if (skipped_++ == 0) first_skipped_ = samples_[i].id.empty() ? "#" + std::to_string(i + 1) : samples_[i].id;
      longest_skipped_ = std::max<int64_t>(longest_skipped_, int64_t(e.ids.size()));
      continue;
    }
    index_.push_back(i);
    examples_.push_back(std::move(e));
  }
  if (examples_.empty())
    throw InputError("no training example fits in " + std::to_string(max_length) + " tokens (" +
                         std::to_string(samples_.size()) + " records read)",
                     "raise max_length in the recipe or use shorter conversations");
}

std::string ExampleSet::skipped_message() const {
  if (skipped_ == 0) return {};
  return std::to_string(skipped_) + " of " + std::to_string(samples_.size()) + " records are longer than max_length " +
         std::to_string(max_length_) + " tokens and were left out (the longest has " + std::to_string(longest_skipped_) +
         " tokens; the first is " + first_skipped_ + "); raise max_length in the recipe to train on them";
}

// Tiles are kept (fp16) while they fit in an eighth of the machine's memory; beyond that, images that
// come from the mapped image store are tiled again at each use (60000 scenes would otherwise hold 9 GB).
size_t ExampleSet::default_tile_cache_budget() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? size_t(pages) * size_t(page) / 8 : size_t(1) << 30;
}

at::Tensor ExampleSet::tiles_of(const std::string& path) const {
  auto it = tile_cache_.find(path);
  if (it != tile_cache_.end()) return it->second;
  const uint8_t* rgb = store_ ? store_->find(path) : nullptr;
  const int side = store_ ? store_->side() : 0;
  const TileOptions opts = tile_options_for(cfg_);
  const at::Tensor t = (rgb ? tile_image_rgb(rgb, side, side, side * 3, opts) : tile_image_file(path, opts)).pixels.to(at::kHalf);
  const size_t bytes = t.numel() * t.element_size();
  if (!rgb || tile_cache_bytes_ + bytes <= tile_cache_budget_) {  // decoded files always stay: decoding is the slow part
    tile_cache_[path] = t;
    tile_cache_bytes_ += bytes;
  }
  return t;
}

void ExampleSet::limit_tile_cache(size_t bytes) {
  tile_cache_budget_ = bytes;
  for (auto it = tile_cache_.begin(); it != tile_cache_.end() && tile_cache_bytes_ > bytes;) {
    if (store_ && store_->find(it->first)) {
      tile_cache_bytes_ -= it->second.numel() * it->second.element_size();
      it = tile_cache_.erase(it);
    } else {
      ++it;
    }
  }
}

SampleImages ExampleSet::images(size_t i) const {
  SampleImages out;
  std::vector<at::Tensor> parts;
  for (const std::string& path : sample(i).images) {
    parts.push_back(tiles_of(path).to(at::kFloat));
    out.tiles_per_image.push_back(int(parts.back().size(0)));
  }
  if (!parts.empty()) out.pixels = at::cat(parts, 0);
  return out;
}

Batch ExampleSet::batch(const std::vector<size_t>& indices) const {
  int64_t L = 0;
  for (size_t i : indices) L = std::max<int64_t>(L, int64_t(examples_.at(i).ids.size()));
  const int64_t B = int64_t(indices.size());
  Batch b;
  b.ids = at::zeros({B, L}, at::kLong);
  b.labels = at::full({B, L}, -100, at::kLong);
  b.mask = at::zeros({B, L}, at::kBool);
  auto ids = b.ids.accessor<int64_t, 2>();
  auto labels = b.labels.accessor<int64_t, 2>();
  auto mask = b.mask.accessor<bool, 2>();
  std::vector<at::Tensor> tiles;
  for (int64_t r = 0; r < B; ++r) {
    const EncodedConversation& e = examples_[indices[size_t(r)]];
    const int64_t n = int64_t(e.ids.size());
    for (int64_t t = 0; t < n; ++t) {
      ids[r][t] = e.ids[size_t(t)];
      mask[r][t] = true;
      // The logits at t predict token t + 1.
      if (t + 1 < n && e.is_answer[size_t(t + 1)]) {
        labels[r][t] = e.ids[size_t(t + 1)];
        ++b.target_tokens;
      }
    }
    b.tokens += n;
    SampleImages im = images(indices[size_t(r)]);
    if (im.pixels.defined()) tiles.push_back(im.pixels);
  }
  if (!tiles.empty()) b.pixels = at::cat(tiles, 0);
  return b;
}

std::vector<size_t> ExampleSet::indices_for_step(uint64_t seed, int64_t step, int64_t batch_size) const {
  const int64_t n = int64_t(examples_.size());
  std::vector<size_t> out;
  std::vector<size_t> perm;
  int64_t perm_epoch = -1;
  for (int64_t k = 0; k < batch_size; ++k) {
    const int64_t global = step * batch_size + k;
    const int64_t epoch = global / n;
    if (epoch != perm_epoch) {
      perm.resize(size_t(n));
      std::iota(perm.begin(), perm.end(), size_t(0));
      uint64_t state = seed * 0x2545F4914F6CDD1Dull + uint64_t(epoch);
      for (int64_t i = n - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[splitmix64(state) % uint64_t(i + 1)]);
      perm_epoch = epoch;
    }
    out.push_back(perm[size_t(global % n)]);
  }
  return out;
}

double ExampleSet::mean_tokens() const {
  double sum = 0;
  for (const auto& e : examples_) sum += double(e.ids.size());
  return examples_.empty() ? 0.0 : sum / double(examples_.size());
}

}  // namespace mm
