// The training objectives: next-token cross-entropy on answers (teacher training), the layer-wise MSE of
// stages 1-2 and the end-to-end KL of stage 3 (METHOD.md §4), and which tensors each stage trains.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "models/vlm_model.h"
#include "train/examples.h"
#include "train/recipe.h"

namespace mm {

struct LossResult {
  at::Tensor loss;                   ///< scalar, differentiable w.r.t. the trainable tensors
  std::vector<double> layer_losses;  ///< stages 1-2: unscaled MSE per converted layer
};

/// The student tensors a stage trains: stage 0 everything; stage 1 W_gamma, dt_bias, a, conv, W_G and the
/// gated-norm weight of every Mamba-2 layer; stage 2 adds W_Q, W_K, W_V; stage 3 W_Q, W_K, W_V, W_G,
/// W_gamma, conv, norm (+ a when st.train_a). W_O, MLPs, norms, embeddings and attention layers stay frozen.
std::vector<std::string> trainable_tensors(const ModelConfig& cfg, const TensorMap& weights, const StageSettings& st);

/// METHOD §4.5: names containing "bias" (dt_bias, A_log_bias, conv1d.bias) get no weight decay; in teacher
/// training (stage 0) neither do 1-D tensors (norms).
bool decays(const std::string& name, const at::Tensor& t, int stage);
/// The learning-rate multiplier of a trainable tensor: st.a_dt_lr_scale for the Mamba-2 layers' per-head
/// decay scalars (A_log_bias, dt_bias), 1 for the rest.
double lr_scale_of(const std::string& name, const StageSettings& st);

/// Mean cross-entropy over the batch's answer targets.
LossResult lm_loss(const VlmModel& model, const Batch& b);

/// Stages 1-2: every Mamba-2 layer of the student gets the teacher's hidden state at its input and is
/// scored against the teacher attention's per-head output before W_O: factor x mean over layers of MSE
/// (mean over all elements, padding included, as the public code does).
LossResult layerwise_loss(const VlmModel& teacher, const VlmModel& student, const Batch& b, double mse_factor);

/// Stage 3: KL(teacher || student) of the logits at temperature T, x T^2, summed over real positions and
/// the vocabulary and divided by the batch size ("batchmean"); plus answer_ce x the student's cross-entropy
/// on the answer tokens (b.labels), summed over them and divided by the batch size in the same way.
LossResult kl_loss(const VlmModel& teacher, const VlmModel& student, const Batch& b, double temperature,
                   double answer_ce = 0.0);

}  // namespace mm
