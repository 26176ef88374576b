// The optimisation loop shared by teacher training and the distillation stages: deterministic batches,
// AdamW with the WSD schedule and clipping, metrics, checkpoints, pause/stop, NaN guard, resume, and a
// check that frozen tensors stayed bit-identical.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dist/dist_group.h"
#include "models/vlm_model.h"
#include "runtime/job.h"
#include "train/examples.h"
#include "train/losses.h"
#include "train/recipe.h"
#include "train/run_dir.h"

namespace mm {

/// Shared with the caller (UI, CLI) to pause a running stage; stopping is the job's cancel token, which
/// writes a checkpoint of the last finished step before the job ends.
struct TrainControl {
  std::atomic<bool> paused{false};
};

/// Fault injection for tests (1-based step numbers; 0 = off).
struct TrainHooks {
  int64_t nan_at_step = 0;              ///< the loss of this step reads NaN
  int64_t crash_after_step = 0;         ///< throw right after this step, without saving (like kill -9)
  int64_t fail_checkpoint_at_step = 0;  ///< the checkpoint of this step dies halfway through its write
  int64_t kill_checkpoint_at_step = 0;  ///< the checkpoint of this step is killed mid-write (leaves a partial)
};

struct StageJob {
  StageSettings settings;
  VlmModel* model = nullptr;  ///< the model being trained: fp32 master weights on `device`
  /// Where batches go. On CUDA the forward passes run under bf16 autocast (fp32 weights, gradients and
  /// optimiser state; matmuls in bf16, norms and softmax in fp32).
  c10::Device device = c10::Device(c10::kCPU);
  std::function<LossResult(const Batch&)> loss;
  const ExampleSet* train = nullptr;
  const ExampleSet* eval = nullptr;  ///< may be null
  const RunDir* run = nullptr;
  std::map<std::string, std::string> metadata;  ///< provenance written into every checkpoint
  std::string tokenizer_dir;
  uint64_t seed = 0;
  const TrainCheckpoint* resume = nullptr;  ///< continue from this checkpoint's step and optimiser state
  std::shared_ptr<TrainControl> control;
  TrainHooks hooks;
  /// Data parallelism: this rank trains on its shard of every global batch (`settings.batch` examples),
  /// gradients and metrics are summed over the ranks, rank 0 alone writes metrics, logs and checkpoints.
  /// Null: one process. Pausing (control) is for one process only.
  DistGroup* group = nullptr;
  bool zero = false;  ///< ZeRO-1: each rank keeps and updates its share of the AdamW state (needs group)
};

struct StageOutcome {
  std::string checkpoint;             ///< the stage's final checkpoint
  std::vector<std::string> warnings;  ///< sanity findings (frozen tensors that moved)
  double wall_s = 0;
};

StageOutcome run_stage(StageJob& job, const JobContext& ctx);

/// A checksum of a tensor's bytes (FNV-1a), to tell bit-identical from changed.
uint64_t tensor_fingerprint(const at::Tensor& t);

/// The batch's tensors on device (a no-op on the CPU).
Batch batch_to(const Batch& b, const c10::Device& device);

/// The examples of one optimiser step split into passes of at most micro_batch examples (0: no limit), each
/// with its share of the step's loss: the share of answer targets for the teacher's mean cross-entropy
/// (stage 0), the share of examples for the distillation losses. Accumulated gradients equal those of one
/// pass over the whole batch for the cross-entropy and the KL (tested), so for stages 0 and 3 on the CPU
/// (by_length) the passes group examples of similar length (length_grouped_passes) and pad less; the
/// layer-wise MSE averages over padded positions too, so stages 1 and 2 keep the batch's order and cut it
/// every micro_batch. On a GPU each pass costs far more than its padding saves (groups_by_length).
struct MicroBatch {
  Batch batch;
  double share = 1.0;
};
std::vector<MicroBatch> micro_batches(const ExampleSet& set, const std::vector<size_t>& indices, int64_t micro_batch,
                                      int stage, bool by_length);
/// Whether a stage's passes go by length on this device: stages 0 and 3, on the CPU only. On an H100 the
/// demo models at batch 32 trained 2.4x (stage 3) and 3.1x (stage 0) slower in length-grouped passes than
/// in one pass, while on the 2-core CPU stage 3 was 1.33-1.38x faster (examples/recipes/RESULTS.md).
bool groups_by_length(int stage, const c10::Device& device);

/// What a pass costs besides its tokens, in tokens: the fixed work of one forward and backward.
constexpr int64_t kPassTokens = 128;
/// The examples sorted by length and cut into passes of at most `most` that minimise padded tokens plus
/// kPassTokens a pass (a batch of one length stays one pass; one long example among short ones runs alone).
std::vector<std::vector<size_t>> length_grouped_passes(const ExampleSet& set, std::vector<size_t> indices, size_t most);

/// Turns bf16 autocast on for CUDA for its lifetime (nothing on the CPU), and drops autocast's weight
/// cache at the end so updated weights are re-cast.
class AutocastScope {
 public:
  explicit AutocastScope(const c10::Device& device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool previous_ = false;
};

}  // namespace mm
