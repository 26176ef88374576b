#include "models/random_init.h"

#include <ATen/CPUGeneratorImpl.h>

#include "io/name_table.h"

namespace mm {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TensorMap random_weights(const ModelConfig& cfg, uint64_t seed, double std) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  TensorMap w;
  for (const TensorSpec& spec : expected_tensors(cfg, WeightLayout::internal)) {
    const std::string& n = spec.name;
    at::Tensor t;
    if (ends_with(n, "norm.weight") || ends_with(n, "A_log_bias")) {
      t = at::ones(spec.shape);
    } else if (ends_with(n, ".bias") || ends_with(n, "dt_bias")) {
      t = at::zeros(spec.shape);
    } else if (ends_with(n, "conv1d.weight")) {
      t = at::zeros(spec.shape);
      t.select(2, spec.shape[2] - 1).fill_(1.0);  // identity on the current token
    } else {
      t = at::normal(0.0, std, spec.shape, gen);
    }
    w[n] = t;
  }
  return w;
}

}  // namespace mm
