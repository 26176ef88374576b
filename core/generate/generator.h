// Prefill (chunked for long prompts) and cached decoding.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "generate/sampler.h"
#include "models/vlm_model.h"
#include "runtime/job.h"

namespace mm {

struct GenerationStats {
  int64_t prompt_tokens = 0;
  int64_t new_tokens = 0;
  int64_t decode_steps = 0;        ///< single-token forwards after the prefill
  double prefill_seconds = 0;
  double decode_seconds = 0;
  double time_to_first_token = 0;  ///< prefill + first sample
  int64_t cache_bytes = 0;         ///< after the reply
  std::string stop_reason;         ///< "stop_token", "max_tokens", "max_positions" (the config's last position) or "cancelled"
  std::string decode_path = "eager";  ///< "cuda graph" when the steps replayed a captured graph
  std::string graph_fallback;      ///< why a reply on a CUDA device decoded eagerly ("" when it did not)
  double decode_tokens_per_second() const { return decode_seconds > 0 ? decode_steps / decode_seconds : 0; }
};

struct Generation {
  std::vector<int64_t> ids;  ///< the reply, stop token excluded
  int64_t last_token = -1;   ///< the last sampled token (the stop token when one ended it), not yet in the cache
  GenerationStats stats;
};

/// The longest sequence the config declares: the smallest max_position_embeddings over the stacks that
/// hold an attention layer (RoPE positions); no limit for a model without attention. The config declares
/// no RoPE scaling, so positions past it are refused rather than extrapolated.
int64_t max_sequence_length(const ModelConfig& cfg);
/// InputError with a hint when `tokens` positions (cache + prompt) exceed max_sequence_length.
void check_sequence_length(const ModelConfig& cfg, int64_t tokens);

/// The prefill chunk a request of 0 means: 4096 tokens on CUDA (bigger GEMMs; the 103K prefill of the
/// HoVLE-2.6B models 2-3% faster than at 2048 on an H100, every peak within weights + cache + 0.5 GB since
/// the in-place RoPE and the fused cuDNN block merge); elsewhere 4096 for a model without attention layers
/// and 2048 otherwise (the CPU attention reference holds a chunk's scores over every key).
int64_t default_prefill_chunk(const ModelConfig& cfg, bool cuda);

/// Feeds ids (B, L) and their images into the cache, prefill_chunk tokens at a time (0: the model's
/// default_prefill_chunk); returns the fp32 logits at the last position, (V) for one sequence and
/// (B * V) row by row for B. Each chunk is
/// embedded on its own (image features once for the prompt), so memory stays flat in L. Prompts past
/// max_sequence_length are refused unless check_positions is false (the benchmark: random weights,
/// where only speed is measured and RoPE past the trained range costs the same).
at::Tensor prefill(const VlmModel& model, ModelCache& cache, const at::Tensor& ids, const at::Tensor& pixels,
                   int64_t prefill_chunk, const CancelToken* cancel = nullptr, bool check_positions = true);

/// One decode step: feeds token at the cache's next position; returns the fp32 logits (V). On a CPU a
/// small model's step runs on one thread (runtime/device.h: decode_step_threads).
at::Tensor decode_step(const VlmModel& model, ModelCache& cache, int64_t token);
/// One decode step for every sequence of the cache's batch: tokens (B, 1) long on the model's device;
/// returns the fp32 logits (B, V).
at::Tensor decode_step(const VlmModel& model, ModelCache& cache, const at::Tensor& tokens);

/// Prefills the prompt then decodes until a stop id, max_new_tokens, the last position the config
/// declares (max_sequence_length: never past it) or cancellation (which ends the reply early, not with an error). on_token is called for every reply token.
Generation generate(const VlmModel& model, ModelCache& cache, const at::Tensor& prompt_ids, const at::Tensor& pixels,
                    const SamplingOptions& opts, const std::function<void(int64_t)>& on_token,
                    const CancelToken* cancel = nullptr);

}  // namespace mm
