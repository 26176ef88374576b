#include "generate/sampler.h"

#include <algorithm>
#include <cmath>

#include "runtime/errors.h"

namespace mm {

void validate(const SamplingOptions& o) {
  if (!(o.temperature >= 0) || !std::isfinite(o.temperature))
    throw InputError("temperature must be a finite number >= 0", "use 0 for greedy decoding");
  if (o.top_k < 0) throw InputError("top-k must be >= 0", "use 0 to turn it off");
  if (!(o.top_p > 0 && o.top_p <= 1)) throw InputError("top-p must be in (0, 1]", "use 1 to turn it off");
  if (!(o.repetition_penalty > 0) || !std::isfinite(o.repetition_penalty))
    throw InputError("repetition penalty must be a finite number > 0", "use 1 to turn it off");
  if (o.max_new_tokens < 0) throw InputError("max new tokens must be >= 0", "the most tokens one reply may have, e.g. 256");
  if (o.prefill_chunk < 0) throw InputError("prefill chunk must be >= 0", "0 takes the model's default (4096 tokens; 2048 on the CPU for models with attention layers)");
}

int64_t sample_token(const at::Tensor& logits_in, const std::vector<int64_t>& context, const SamplingOptions& o,
                     at::Generator& gen) {
  at::Tensor logits = logits_in.to(at::kCPU, at::kFloat).contiguous().clone();  // (V)
  if (o.repetition_penalty != 1.0 && !context.empty()) {
    // CTRL-style: divide positive logits, multiply negative ones, for tokens already seen.
    std::vector<int64_t> seen(context);
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    float* p = logits.data_ptr<float>();
    for (int64_t id : seen)
      if (id >= 0 && id < logits.size(0)) p[id] = p[id] > 0 ? p[id] / o.repetition_penalty : p[id] * o.repetition_penalty;
  }
  if (o.temperature == 0.0 || o.top_k == 1) return logits.argmax().item<int64_t>();
  logits.div_(o.temperature);
  if (o.top_k > 0 && o.top_k < logits.size(0)) {
    const at::Tensor kth = std::get<0>(logits.topk(o.top_k)).min();
    logits.masked_fill_(logits < kth, -INFINITY);
  }
  if (o.top_p < 1.0) {
    auto sorted = logits.sort(/*dim=*/0, /*descending=*/true);
    const at::Tensor probs = at::softmax(std::get<0>(sorted), 0);
    const at::Tensor before = probs.cumsum(0) - probs;  // mass of strictly better tokens
    const at::Tensor drop = before >= o.top_p;         // keeps at least the best token
    logits.index_put_({std::get<1>(sorted).masked_select(drop)}, -INFINITY);
  }
  const at::Tensor probs = at::softmax(logits, 0);
  return at::multinomial(probs, 1, false, gen).item<int64_t>();
}

}  // namespace mm
