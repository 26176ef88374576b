// Data parallelism for the training loop: which examples of a global batch each rank trains on, the
// bucketed all-reduce of gradients (with the step's metrics riding along), and ZeRO-1's gathers.
#pragma once

#include <string>
#include <vector>

#include "dist/dist_group.h"
#include "models/layer_weights.h"
#include "train/adamw.h"

namespace mm {

/// Rank `rank`'s examples of a global batch: the contiguous slice [rank B / world, (rank + 1) B / world).
/// The slices are disjoint and cover the batch; a rank gets none when B < world.
std::vector<size_t> rank_shard(const std::vector<size_t>& global, int rank, int world);

/// Sums every parameter's gradient over the ranks (flattened into buckets of about bucket_bytes, all in
/// flight together), and `scalars` with them (fp64). A gradient missing on a rank counts as zero; one
/// present on any rank is present on all afterwards, so every rank takes the same AdamW step.
void all_reduce_gradients(DistGroup& group, const std::vector<NamedParam>& params, std::vector<double>& scalars,
                          const std::string& what, int64_t bucket_bytes = int64_t(32) << 20);

/// ZeRO-1: after each rank's AdamW::step on its share, every rank gets every share's updated parameters.
void zero_gather_params(DistGroup& group, const AdamW& opt, const std::string& what);

/// ZeRO-1: the full (unsharded) optimiser state, as AdamW::state() has it without sharding, on every
/// rank: what a checkpoint stores, so it resumes on any world size, sharded or not.
TensorMap zero_gather_state(DistGroup& group, const AdamW& opt);

}  // namespace mm
