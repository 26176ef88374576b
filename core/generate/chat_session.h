// A multi-turn chat over one model: the internlm2-chat template, images, streaming text, and a cache
// snapshot before every reply so a reply can be regenerated without re-reading the conversation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cache/model_cache.h"
#include "generate/generator.h"
#include "models/vlm_model.h"
#include "runtime/job.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace mm {

struct ChatReply {
  std::string text;
  Generation generation;
};

class ChatSession {
 public:
  /// model and tokenizer must outlive the session.
  ChatSession(const VlmModel& model, const Tokenizer& tokenizer, std::string system_prompt);

  /// Adds a user turn. pixels: the tiles of all images of this turn, (n, 3, S, S), or undefined;
  /// tiles_per_image: how many of those tiles each image has. The question gets `<image>` placeholders
  /// when it has none. Streams TokenEvents through ctx; ctx's cancel ends the reply early.
  ChatReply ask(const std::string& question, const at::Tensor& pixels, const std::vector<int>& tiles_per_image,
                const SamplingOptions& opts, JobContext& ctx);
  /// Replaces the last reply with a new one (e.g. other sampling settings), from the snapshot taken
  /// before it: the prompt is not read again.
  ChatReply regenerate(const SamplingOptions& opts, JobContext& ctx);
  /// Puts an earlier version of the last reply back (one regenerate() replaced): the cache returns to
  /// the snapshot before the reply and reads that version's sampled tokens, so the next turn follows
  /// it exactly. ids and last_token as its Generation gave them.
  void use_reply(const std::vector<int64_t>& ids, int64_t last_token, const std::string& text, JobContext& ctx);
  void reset();
  /// Adds a finished exchange (e.g. from a saved conversation) without generating: the question, its
  /// images and the given reply are read into the cache as if the reply had been sampled.
  void add_exchange(const std::string& question, const at::Tensor& pixels, const std::vector<int>& tiles_per_image,
                    const std::string& reply, JobContext& ctx);

  const std::vector<ChatTurn>& turns() const { return turns_; }
  const ModelCache& cache() const { return cache_; }
  /// Stop ids used by default: <|im_end|> and </s>.
  std::vector<int64_t> default_stop_ids() const;

 private:
  std::string reply_text(const std::vector<int64_t>& ids) const;
  /// The ids that feed a new user turn after the history (pending tail, <|im_end|>, the rendered turn).
  std::vector<int64_t> user_turn_ids(const std::string& question, const at::Tensor& pixels,
                                     const std::vector<int>& tiles_per_image) const;
  ChatReply run_reply(const std::vector<int64_t>& new_ids, const at::Tensor& pixels, const SamplingOptions& opts,
                      JobContext& ctx);

  const VlmModel& model_;
  const Tokenizer& tok_;
  std::string system_;
  ModelCache cache_;
  std::vector<ChatTurn> turns_;
  std::vector<int64_t> pending_;  ///< tokens of the history not yet in the cache (the last reply's tail)
  // State before the last reply, for regenerate().
  CacheSnapshot before_reply_;
  std::vector<int64_t> reply_prompt_;  ///< the ids fed for the last reply
  at::Tensor reply_pixels_;
  std::vector<int64_t> pending_before_;
};

}  // namespace mm
