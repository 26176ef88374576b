// Next-token choice: greedy, temperature, top-k, top-p and repetition penalty.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace mm {

struct SamplingOptions {
  double temperature = 0.0;         ///< 0: greedy
  int64_t top_k = 0;                ///< 0: off
  double top_p = 1.0;               ///< 1: off
  double repetition_penalty = 1.0;  ///< 1: off; >1 discourages tokens already in the context
  int64_t max_new_tokens = 256;
  std::vector<int64_t> stop_ids;    ///< generation ends when one is produced (it is not part of the reply)
  uint64_t seed = 0;
  int64_t prefill_chunk = 0;        ///< prompt tokens per forward while prefilling (bounds activation memory);
                                    ///< 0: the model's default_prefill_chunk
  /// On a CUDA device, a reply that may run past a few tokens replays its decode step as a CUDA graph
  /// (generate/decode_graph.h); false keeps every step eager (a comparison, or a suspect graph).
  bool decode_graph = true;
};

/// Validates ranges; throws InputError with the accepted range.
void validate(const SamplingOptions& o);

/// logits (V) fp32 on any device; context = ids seen so far (for the repetition penalty).
int64_t sample_token(const at::Tensor& logits, const std::vector<int64_t>& context, const SamplingOptions& o,
                     at::Generator& gen);

}  // namespace mm
