#include "train/losses.h"

#include <c10/core/GradMode.h>

#include "config/stage_trainables.h"
#include "models/layers.h"

namespace mm {

std::vector<std::string> trainable_tensors(const ModelConfig& cfg, const TensorMap& weights, const StageSettings& st) {
  std::vector<std::string> out;
  if (st.stage == 0) {
    for (const auto& [name, t] : weights)
      if (t.is_floating_point()) out.push_back(name);
    return out;
  }
  const std::vector<std::string> parts = stage_trainable_parts(st.stage, st.train_a);
  for (int64_t i = 0; i < cfg.n_layers(); ++i) {
    if (cfg.layer_kinds[size_t(i)] != LayerKind::mamba2) continue;
    const std::string a = layer_prefix(cfg, i) + "attention.";
    for (const std::string& p : parts)
      if (weights.count(a + p)) out.push_back(a + p);
    if (st.stage == 3 && st.train_mlp)
      for (const char* w : {"feed_forward.w1.weight", "feed_forward.w2.weight", "feed_forward.w3.weight"})
        if (weights.count(layer_prefix(cfg, i) + w)) out.push_back(layer_prefix(cfg, i) + w);
  }
  return out;
}

bool decays(const std::string& name, const at::Tensor& t, int stage) {
  if (name.find("bias") != std::string::npos) return false;
  return !(stage == 0 && t.dim() <= 1);
}

double lr_scale_of(const std::string& name, const StageSettings& st) {
  const auto ends = [&](const std::string& tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return ends("attention.A_log_bias") || ends("attention.dt_bias") ? st.a_dt_lr_scale : 1.0;
}

LossResult lm_loss(const VlmModel& model, const Batch& b) {
  const at::Tensor logits = model.forward(b.ids, b.pixels);  // (B, L, V) fp32
  const int64_t V = logits.size(-1);
  return {at::cross_entropy_loss(logits.reshape({-1, V}), b.labels.reshape({-1}), {}, at::Reduction::Mean, -100), {}};
}

namespace {

struct LayerIO {
  at::Tensor input;   ///< (B, L, D) hidden state entering the layer
  at::Tensor target;  ///< (B, L, H, hd) teacher attention output before W_O
};

/// The teacher's per-layer inputs and attention outputs, following VlmModel::run_all.
std::vector<LayerIO> teacher_layer_io(const VlmModel& teacher, const Batch& b) {
  c10::AutoGradMode no_grad(false);
  const ModelConfig& cfg = teacher.config();
  std::vector<LayerIO> out;
  at::Tensor h = teacher.embed(b.ids, b.pixels);
  for (int64_t i = 0; i < cfg.n_layers(); ++i) {
    if (i == cfg.he.n_layers && cfg.normalize_encoder_output) h = h / h.norm(2, -1, true).clamp_min(1e-12);
    std::vector<at::Tensor> mix;
    const at::Tensor next = teacher.run_layers(h, nullptr, i, i + 1, 0, &mix);
    out.push_back({h, mix.at(0)});
    h = next;
  }
  return out;
}

}  // namespace

LossResult layerwise_loss(const VlmModel& teacher, const VlmModel& student, const Batch& b, double mse_factor) {
  const std::vector<LayerIO> io = teacher_layer_io(teacher, b);
  const ModelConfig& cfg = student.config();
  LossResult r;
  at::Tensor total;
  int64_t n = 0;
  for (int64_t i = 0; i < cfg.n_layers(); ++i) {
    if (cfg.layer_kinds[size_t(i)] != LayerKind::mamba2) continue;
    const LayerWeights& lw = student.layer(i);
    const StackConfig& s = cfg.stack_of(i);
    const at::Tensor u = rms_norm(io[size_t(i)].input, lw.attention_norm, s.rms_eps);
    const at::Tensor y = mamba2_mixer(u, lw.ssm, s, cfg.mamba, nullptr);  // (B, L, H, hd)
    const at::Tensor mse = (y.to(at::kFloat) - io[size_t(i)].target.to(at::kFloat)).pow(2).mean();
    r.layer_losses.push_back(mse.item<double>());
    total = total.defined() ? total + mse : mse;
    ++n;
  }
  r.loss = total * (mse_factor / double(n));
  return r;
}

LossResult kl_loss(const VlmModel& teacher, const VlmModel& student, const Batch& b, double temperature,
                   double answer_ce) {
  at::Tensor teacher_logp;
  {
    c10::AutoGradMode no_grad(false);
    teacher_logp = at::log_softmax(teacher.forward(b.ids, b.pixels) / temperature, -1);  // (B, L, V)
  }
  const at::Tensor student_logits = student.forward(b.ids, b.pixels);  // (B, L, V) fp32
  const at::Tensor student_logp = at::log_softmax(student_logits / temperature, -1);
  // sum_v p_t (log p_t - log p_s), over real positions only
  const at::Tensor per_pos = (teacher_logp.exp() * (teacher_logp - student_logp)).sum(-1);  // (B, L)
  const double batch = double(b.ids.size(0));
  at::Tensor loss = (per_pos * b.mask.to(at::kFloat)).sum() / batch * (temperature * temperature);
  if (answer_ce > 0) {
    const int64_t V = student_logits.size(-1);
    const at::Tensor ce = at::cross_entropy_loss(student_logits.reshape({-1, V}), b.labels.reshape({-1}), {},
                                                 at::Reduction::Sum, -100);  // at T = 1
    loss = loss + ce * (answer_ce / batch);
  }
  return {loss, {}};
}

}  // namespace mm
