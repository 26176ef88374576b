#include "train/adamw.h"

#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>

#include "runtime/errors.h"

namespace mm {

AdamW::AdamW(std::vector<NamedParam> params, AdamWOptions opts) : params_(std::move(params)), opts_(opts) {
  for (const NamedParam& p : params_) {
    exp_avg_.push_back(at::zeros_like(p.tensor, p.tensor.options().dtype(at::kFloat)));
    exp_avg_sq_.push_back(at::zeros_like(p.tensor, p.tensor.options().dtype(at::kFloat)));
    lo_.push_back(0);
    len_.push_back(p.tensor.numel());
    chunk_ += p.tensor.numel();
  }
}

void AdamW::shard(int rank, int world) {
  TORCH_CHECK(world >= 1 && rank >= 0 && rank < world, "AdamW::shard: rank ", rank, " of ", world);
  int64_t n = 0;
  for (const NamedParam& p : params_) n += p.tensor.numel();
  world_ = world;
  chunk_ = (n + world - 1) / world;
  const int64_t begin = std::min(n, rank * chunk_), end = std::min(n, (rank + 1) * chunk_);
  int64_t offset = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t numel = params_[i].tensor.numel();
    TORCH_CHECK(params_[i].tensor.is_contiguous(), "AdamW::shard: ", params_[i].name, " is not contiguous");
    const int64_t lo = std::clamp(begin - offset, int64_t(0), numel), hi = std::clamp(end - offset, int64_t(0), numel);
    lo_[i] = lo;
    len_[i] = std::max<int64_t>(0, hi - lo);
    const auto opts = params_[i].tensor.options().dtype(at::kFloat);
    exp_avg_[i] = at::zeros({len_[i]}, opts);
    exp_avg_sq_[i] = at::zeros({len_[i]}, opts);
    offset += numel;
  }
}

at::Tensor AdamW::local_share(const std::vector<at::Tensor>& per_param) const {
  std::vector<at::Tensor> slices;
  for (size_t i = 0; i < params_.size(); ++i) slices.push_back(per_param[i].reshape({-1}).narrow(0, lo_[i], len_[i]));
  return pack_local(slices);
}

at::Tensor AdamW::pack_local(const std::vector<at::Tensor>& slices) const {
  std::vector<at::Tensor> parts;
  for (size_t i = 0; i < params_.size(); ++i)
    if (len_[i] > 0) parts.push_back(slices[i].reshape({-1}).to(at::kFloat));
  const auto opts = params_.empty() ? at::TensorOptions().dtype(at::kFloat)
                                    : params_[0].tensor.options().dtype(at::kFloat);
  at::Tensor flat = parts.empty() ? at::zeros({0}, opts) : at::cat(parts);  // (<= C)
  if (flat.numel() < chunk_) flat = at::cat({flat, at::zeros({chunk_ - flat.numel()}, opts)});
  return flat;  // (C)
}

std::vector<at::Tensor> AdamW::split_gathered(const at::Tensor& gathered) const {
  std::vector<at::Tensor> out;
  int64_t offset = 0;
  for (const NamedParam& p : params_) {
    out.push_back(gathered.narrow(0, offset, p.tensor.numel()));  // (numel)
    offset += p.tensor.numel();
  }
  return out;
}

void AdamW::step(double lr) {
  ++steps_;
  const double bc1 = 1.0 - std::pow(opts_.beta1, double(steps_));
  const double bc2 = 1.0 - std::pow(opts_.beta2, double(steps_));
  c10::AutoGradMode no_grad(false);
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor p = params_[i].tensor;
    at::Tensor g = p.grad();
    if (!g.defined() || len_[i] == 0) continue;
    if (sharded()) {  // this rank's slice only, as flat views (in place on p)
      p = p.view({-1}).narrow(0, lo_[i], len_[i]);
      g = g.reshape({-1}).narrow(0, lo_[i], len_[i]);
    }
    const double plr = lr * params_[i].lr_scale;
    const at::Tensor gf = g.to(at::kFloat);
    exp_avg_[i].mul_(opts_.beta1).add_(gf, 1.0 - opts_.beta1);
    exp_avg_sq_[i].mul_(opts_.beta2).addcmul_(gf, gf, 1.0 - opts_.beta2);
    if (params_[i].decay && opts_.weight_decay != 0.0) p.mul_(1.0 - plr * opts_.weight_decay);
    const at::Tensor denom = (exp_avg_sq_[i] / bc2).sqrt_().add_(opts_.eps);
    const at::Tensor update = exp_avg_[i] / denom * (plr / bc1);
    p.sub_(update.to(p.scalar_type()));
  }
}

void AdamW::zero_grad() {
  for (NamedParam& p : params_) {
    at::Tensor g = p.tensor.mutable_grad();
    if (g.defined()) g.zero_();
  }
}

TensorMap AdamW::state() const {
  TensorMap out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out["exp_avg." + params_[i].name] = exp_avg_[i];
    out["exp_avg_sq." + params_[i].name] = exp_avg_sq_[i];
  }
  return out;
}

void AdamW::load_state(const TensorMap& state, int64_t steps) {
  for (size_t i = 0; i < params_.size(); ++i) {
    for (auto* moment : {&exp_avg_, &exp_avg_sq_}) {
      const std::string key = (moment == &exp_avg_ ? "exp_avg." : "exp_avg_sq.") + params_[i].name;
      auto it = state.find(key);
      if (it == state.end() || !it->second.sizes().equals(params_[i].tensor.sizes()))
        throw CheckpointError("optimiser state has no matching " + key,
                              "the checkpoint belongs to a different stage or model; resume from its own run directory");
      at::Tensor m = it->second.to(params_[i].tensor.device(), at::kFloat);
      if (sharded()) m = m.reshape({-1}).narrow(0, lo_[i], len_[i]);
      (*moment)[i] = m.clone();
    }
  }
  steps_ = steps;
}

double clip_grad_norm(const std::vector<NamedParam>& params, double max_norm) {
  c10::AutoGradMode no_grad(false);
  std::vector<at::Tensor> squares;  // one host sync for the whole norm
  for (const NamedParam& p : params) {
    const at::Tensor g = p.tensor.grad();
    if (g.defined()) squares.push_back(g.to(at::kFloat).pow(2).sum().to(at::kDouble));
  }
  const double norm = squares.empty() ? 0.0 : std::sqrt(at::stack(squares).sum().item<double>());
  if (max_norm > 0.0 && norm > max_norm && std::isfinite(norm)) {
    const double scale = max_norm / (norm + 1e-6);
    for (const NamedParam& p : params) {
      at::Tensor g = p.tensor.mutable_grad();
      if (g.defined()) g.mul_(scale);
    }
  }
  return norm;
}

double wsd_factor(int64_t step, int64_t total, int64_t warmup, int64_t decay, double min_ratio) {
  if (warmup > 0 && step < warmup) return double(step + 1) / double(warmup);
  const int64_t decay_start = total - decay;
  if (decay <= 0 || step < decay_start) return 1.0;
  // transformers' get_wsd_schedule: progress 0 at the first decay step, (decay - 1) / decay at the last, so
  // the last step still learns (at 1 - cos^2 of a small angle above min_ratio).
  const double progress = std::min(1.0, double(step - decay_start) / double(decay));
  return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace mm
