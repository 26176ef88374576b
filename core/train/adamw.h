// AdamW over named tensors (torch.optim.AdamW semantics: decoupled weight decay, bias-corrected moments),
// with its state as plain named tensors so runs checkpoint it to safetensors and resume bit-identically.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "models/layer_weights.h"

namespace mm {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.05;
};

struct NamedParam {
  std::string name;
  at::Tensor tensor;  ///< a leaf that requires grad
  bool decay = true;  ///< false: the no-weight-decay group
  double lr_scale = 1.0;  ///< this parameter's learning rate is lr x lr_scale
};

class AdamW {
 public:
  AdamW(std::vector<NamedParam> params, AdamWOptions opts);
  /// One update at learning rate lr from each parameter's .grad() (missing grads count as zero).
  void step(double lr);
  void zero_grad();
  int64_t steps() const { return steps_; }
  const std::vector<NamedParam>& params() const { return params_; }
  /// "exp_avg.<name>" and "exp_avg_sq.<name>" for every parameter, fp32 (sharded: this rank's slices).
  TensorMap state() const;
  /// Restores moments and the step count from full (unsharded) moments; CheckpointError when a parameter's
  /// moments are missing or misshapen.
  void load_state(const TensorMap& state, int64_t steps);

  /// ZeRO-1: keeps moments and updates only for this rank's share of the parameters, seen as one flat
  /// vector of N elements in parameter order: elements [rank C, (rank + 1) C) with C = ceil(N / world).
  /// Call before load_state. The other shares' parameters are left as they are (gather them after step).
  void shard(int rank, int world);
  bool sharded() const { return world_ > 1; }
  int64_t shard_elements() const { return chunk_; }  ///< C (the last share is padded to it)
  /// This rank's share of a flat parameter-ordered vector made of `per_param` (one tensor per parameter,
  /// shaped like it): (C), zero-padded.
  at::Tensor local_share(const std::vector<at::Tensor>& per_param) const;
  /// The same from this rank's slices themselves (one (len) tensor per parameter, as moments() holds them).
  at::Tensor pack_local(const std::vector<at::Tensor>& slices) const;
  /// The inverse over all ranks: `gathered` (world C) -> one (numel) fp32 view per parameter.
  std::vector<at::Tensor> split_gathered(const at::Tensor& gathered) const;
  /// The moments as per-parameter tensors: exp_avg when first, else exp_avg_sq (sharded: slices).
  const std::vector<at::Tensor>& moments(bool first) const { return first ? exp_avg_ : exp_avg_sq_; }

 private:
  std::vector<NamedParam> params_;
  std::vector<at::Tensor> exp_avg_, exp_avg_sq_;
  std::vector<int64_t> lo_, len_;  ///< per parameter: the flat range [lo, lo + len) this rank updates
  int world_ = 1;
  int64_t chunk_ = 0;
  AdamWOptions opts_;
  int64_t steps_ = 0;
};

/// Global L2 norm of all gradients; scales them down to max_norm when above (max_norm <= 0: no clipping).
/// Returns the norm before clipping.
double clip_grad_norm(const std::vector<NamedParam>& params, double max_norm);

/// Warmup-stable-decay factor in [0, 1] at optimiser step `step` (0-based) of `total`: linear warmup
/// over `warmup` steps (the first step at 1 / warmup, not 0), constant, then cosine decay towards min_ratio
/// over the last `decay` steps (transformers' get_wsd_schedule shape): the last step runs at
/// min_ratio + (1 - min_ratio) * (1 + cos(pi (decay - 1) / decay)) / 2 > min_ratio.
double wsd_factor(int64_t step, int64_t total, int64_t warmup, int64_t decay, double min_ratio = 0.0);

}  // namespace mm
