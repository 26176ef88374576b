// Which tensors of a Mamba-2 layer each distillation stage trains (METHOD.md §4.2-4.4): the one
// definition that training (train/losses.cpp) and the planner's trainable share (plan_stats.cpp) use.
#pragma once

#include <string>
#include <vector>

namespace mm {

/// Tensor names under a Mamba-2 layer's "attention." that `stage` (1-3) trains:
///   stage 1: in_proj (W_gamma), dt_bias, A_log_bias (a), conv1d, g_proj (W_G), g_norm
///   stage 2: stage 1 + q_proj, k_proj, v_proj
///   stage 3: q/k/v_proj, g_proj, in_proj, conv1d, g_norm, + A_log_bias when train_a (the paper trains a;
///            the public code freezes it, and dt_bias, in stage 3).
std::vector<std::string> stage_trainable_parts(int stage, bool train_a);

/// The default of the recipes (paper): a is trained in stage 3.
inline constexpr bool kStage3TrainsA = true;

}  // namespace mm
