// Conversation records -> token ids with answer targets, and padded batches with their image tiles.
// Training and evaluation encode a conversation exactly as ChatSession does while chatting: each user
// turn is rendered with the generation prompt and encoded on its own, each reply is followed by <|im_end|>.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "data/conversation.h"
#include "data/image_store.h"
#include "text/tokenizer.h"

namespace mm {

struct EncodedConversation {
  std::vector<int64_t> ids;
  std::vector<uint8_t> is_answer;  ///< 1 where ids[t] is a reply token (or its <|im_end|>): a training target
  std::vector<int> tiles_per_image;
};

/// Tiles every image of a sample per the model's config; pixels of all images concatenated (n, 3, S, S).
struct SampleImages {
  at::Tensor pixels;
  std::vector<int> tiles_per_image;
};

/// Encodes the sample's turns. With include_last_answer false, the final reply is left out, so the ids
/// end with the generation prompt (what evaluation feeds before generating).
EncodedConversation encode_conversation(const Tokenizer& tok, const ModelConfig& cfg, const std::string& system,
                                        const data::Sample& s, const std::vector<int>& tiles_per_image,
                                        bool include_last_answer = true);

struct Batch {
  at::Tensor ids;     ///< (B, L) int64, right-padded with 0
  at::Tensor labels;  ///< (B, L) int64: the next token where it is an answer target, else -100
  at::Tensor mask;    ///< (B, L) bool: real (non-pad) positions
  at::Tensor pixels;  ///< (tiles, 3, S, S) in batch order, or undefined
  int64_t tokens = 0;          ///< real tokens
  int64_t target_tokens = 0;   ///< answer targets
};

/// A tokenised dataset that builds batches; images are read from the dataset's image store when it has one
/// (data/image_store.h), else decoded from their files, and their tiles kept (fp16) in memory while they fit
/// in an eighth of the machine's memory (store images beyond that are tiled again at each use).
class ExampleSet {
 public:
  /// Samples longer than max_length tokens are skipped (METHOD §4.1) and counted (skipped_message);
  /// InputError if none remain.
  ExampleSet(data::Dataset data, std::shared_ptr<const Tokenizer> tok, ModelConfig cfg, std::string system_prompt,
             int64_t max_length);
  size_t size() const { return examples_.size(); }
  int64_t skipped() const { return skipped_; }
  /// "N of M records are longer than max_length ..." for the run's log; "" when none was skipped.
  std::string skipped_message() const;
  const data::Sample& sample(size_t i) const { return samples_[index_[i]]; }
  const EncodedConversation& encoded(size_t i) const { return examples_[i]; }
  SampleImages images(size_t i) const;
  Batch batch(const std::vector<size_t>& indices) const;
  /// The examples of optimiser step `step`: consecutive slices of a per-epoch permutation that is a pure
  /// function of (seed, epoch), so a resumed run draws exactly what an uninterrupted one would.
  std::vector<size_t> indices_for_step(uint64_t seed, int64_t step, int64_t batch_size) const;
  double mean_tokens() const;
  /// Keeps at most `bytes` of image-store tiles in memory (the default is an eighth of physical memory).
  void limit_tile_cache(size_t bytes);
  size_t tile_cache_bytes() const { return tile_cache_bytes_; }
  static size_t default_tile_cache_budget();

 private:
  at::Tensor tiles_of(const std::string& path) const;
  std::vector<data::Sample> samples_;
  std::shared_ptr<const data::ImageStore> store_;
  std::vector<size_t> index_;  ///< example i -> sample
  std::vector<EncodedConversation> examples_;
  std::shared_ptr<const Tokenizer> tok_;
  ModelConfig cfg_;
  std::string system_;
  int64_t skipped_ = 0;
  int64_t max_length_ = 0;
  int64_t longest_skipped_ = 0;
  std::string first_skipped_;  ///< id of the first record skipped
  mutable std::map<std::string, at::Tensor> tile_cache_;
  mutable size_t tile_cache_bytes_ = 0;
  size_t tile_cache_budget_ = 0;
};

/// splitmix64: the project's portable deterministic generator step.
uint64_t splitmix64(uint64_t& state);

}  // namespace mm
