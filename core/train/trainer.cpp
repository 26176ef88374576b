#include "train/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <numeric>
#include <thread>

#include "train/adamw.h"
#include "train/data_parallel.h"

namespace mm {
using nlohmann::json;

uint64_t tensor_fingerprint(const at::Tensor& t) {
  const at::Tensor c = t.detach().cpu().contiguous();
  const auto* p = static_cast<const unsigned char*>(c.data_ptr());
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0, n = size_t(c.nbytes()); i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

Batch batch_to(const Batch& b, const c10::Device& device) {
  if (device.is_cpu()) return b;
  Batch out = b;
  out.ids = b.ids.to(device);
  out.labels = b.labels.to(device);
  out.mask = b.mask.to(device);
  if (b.pixels.defined()) out.pixels = b.pixels.to(device);
  return out;
}

std::vector<std::vector<size_t>> length_grouped_passes(const ExampleSet& set, std::vector<size_t> indices, size_t most) {
  if (indices.empty()) return {};
  const auto length = [&](size_t i) { return int64_t(set.encoded(i).ids.size()); };
  std::stable_sort(indices.begin(), indices.end(), [&](size_t a, size_t b) { return length(a) < length(b); });
  // cost[j]: the cheapest cut of the first j examples; a pass [i, j) costs (j - i) x the longest length
  // (its padded tokens) plus kPassTokens for running it at all.
  const size_t n = indices.size();
  std::vector<int64_t> cost(n + 1, 0);
  std::vector<size_t> cut(n + 1, 0);
  for (size_t j = 1; j <= n; ++j) {
    cost[j] = std::numeric_limits<int64_t>::max();
    for (size_t i = j - std::min(j, most); i < j; ++i) {
      const int64_t c = cost[i] + int64_t(j - i) * length(indices[j - 1]) + kPassTokens;
      if (c < cost[j]) cost[j] = c, cut[j] = i;
    }
  }
  std::vector<std::vector<size_t>> passes;
  for (size_t j = n; j > 0; j = cut[j]) passes.emplace_back(indices.begin() + long(cut[j]), indices.begin() + long(j));
  std::reverse(passes.begin(), passes.end());
  return passes;
}

bool groups_by_length(int stage, const c10::Device& device) { return (stage == 0 || stage == 3) && device.is_cpu(); }

std::vector<MicroBatch> micro_batches(const ExampleSet& set, const std::vector<size_t>& indices, int64_t micro_batch,
                                      int stage, bool by_length) {
  const size_t per = micro_batch > 0 ? size_t(micro_batch) : indices.size();
  std::vector<std::vector<size_t>> passes;
  if (by_length) {
    passes = length_grouped_passes(set, indices, per);  // exact for these losses: see the header
  } else {
    for (size_t i = 0; i < indices.size(); i += per)
      passes.emplace_back(indices.begin() + long(i), indices.begin() + long(std::min(indices.size(), i + per)));
  }
  std::vector<MicroBatch> out;
  int64_t targets = 0;
  for (const std::vector<size_t>& part : passes) {
    out.push_back({set.batch(part), double(part.size()) / double(indices.size())});
    targets += out.back().batch.target_tokens;
  }
  if (stage == 0)
    for (MicroBatch& m : out) m.share = targets > 0 ? double(m.batch.target_tokens) / double(targets) : 0.0;
  return out;
}

// LibTorch 2.4 made autocast's switches per device type; 1.13 has the CUDA-only ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
AutocastScope::AutocastScope(const c10::Device& device) : active_(device.is_cuda()) {
  if (!active_) return;
  previous_ = at::autocast::is_autocast_enabled(at::kCUDA);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
}
AutocastScope::~AutocastScope() {
  if (!active_) return;
  at::autocast::set_autocast_enabled(at::kCUDA, previous_);
  at::autocast::clear_cache();
}
#else
AutocastScope::AutocastScope(const c10::Device& device) : active_(device.is_cuda()) {
  if (!active_) return;
  previous_ = at::autocast::is_enabled();
  at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  at::autocast::set_enabled(true);
}
AutocastScope::~AutocastScope() {
  if (!active_) return;
  at::autocast::set_enabled(previous_);
  at::autocast::clear_cache();
}
#endif

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double eval_loss(StageJob& job) {
  c10::AutoGradMode no_grad(false);
  const ExampleSet& ev = *job.eval;
  const int64_t B = job.settings.batch;
  const int64_t n_batches = std::min<int64_t>(job.settings.eval_batches, (int64_t(ev.size()) + B - 1) / B);
  double sum = 0;
  for (int64_t k = 0; k < n_batches; ++k) {
    std::vector<size_t> idx;
    for (int64_t i = k * B; i < std::min<int64_t>((k + 1) * B, int64_t(ev.size())); ++i) idx.push_back(size_t(i));
    for (const MicroBatch& m : micro_batches(ev, idx, job.settings.micro_batch, job.settings.stage,
                                                      groups_by_length(job.settings.stage, job.device))) {
      AutocastScope autocast(job.device);
      sum += m.share * job.loss(batch_to(m.batch, job.device)).loss.item<double>();
    }
  }
  return n_batches > 0 ? sum / double(n_batches) : -1.0;
}

}  // namespace

StageOutcome run_stage(StageJob& job, const JobContext& ctx) {
  const StageSettings& st = job.settings;
  const std::string stage = st.name();
  DistGroup* group = job.group;
  const int rank = group ? group->rank() : 0, world = group ? group->size() : 1;
  const bool lead = rank == 0;  // writes metrics, logs and checkpoints
  auto run_log = [&](const std::string& line) {
    if (lead) job.run->log(line);
  };
  TensorMap& w = job.model->mutable_weights();
  const std::vector<std::string> names = trainable_tensors(job.model->config(), w, st);
  if (names.empty())  // backward would fail deep inside autograd ("does not require grad")
    throw ConfigError(st.name() + " has no tensor to train (the model has no Mamba-2 layer)",
                      "use a plan that turns layers into Mamba-2 (linear, hybrid, interval:K), or leave this stage out");
  std::vector<NamedParam> params;
  for (auto& [name, t] : w) t.requires_grad_(false);
  for (const std::string& n : names) {
    w.at(n).requires_grad_(true);
    params.push_back({n, w.at(n), decays(n, w.at(n), st.stage), lr_scale_of(n, st)});
  }
  TrainState state;
  state.data_seed = job.seed * 1000003ull + uint64_t(st.stage);
  if (job.resume) {
    state = job.resume->state;
  } else {
    for (const auto& [name, t] : w)
      if (!t.requires_grad()) state.fingerprints[name] = std::to_string(tensor_fingerprint(t));
  }
  AdamW opt(params, AdamWOptions{0.9, 0.999, 1e-8, st.weight_decay});
  if (job.zero && group) opt.shard(rank, world);
  if (job.resume) opt.load_state(job.resume->optimizer, state.step);
  // stages 1-2 report one loss per converted layer: every rank's metrics have that many, shard or not
  size_t n_layer_losses = 0;
  if (st.stage == 1 || st.stage == 2)
    for (LayerKind k : job.model->config().layer_kinds) n_layer_losses += k == LayerKind::mamba2 ? 1 : 0;

  const int64_t warmup = std::llround(st.warmup * double(st.steps));
  const int64_t decay = std::llround(st.decay * double(st.steps));
  std::string last_saved = job.resume ? job.resume->dir : std::string();
  int64_t saved_step = job.resume ? state.step : -1;
  auto save = [&](SaveFault fault) {
    const TensorMap opt_state = opt.sharded() ? zero_gather_state(*group, opt) : opt.state();
    if (lead) {
      last_saved = job.run->save(stage, job.model->config(), w, job.metadata, job.tokenizer_dir, opt_state, state, 2,
                                 fault);
      job.run->log(stage + ": checkpoint " + last_saved);
    }
    if (group) {
      group->barrier("after the checkpoint of step " + std::to_string(state.step));
      if (!lead) last_saved = job.run->latest(stage).value_or(last_saved);
    }
    saved_step = state.step;
    ctx.send(CheckpointEvent{stage, state.step, last_saved});
  };
  ctx.send(StageEvent{stage, false, job.resume ? "resumed at step " + std::to_string(state.step) : "started"});
  run_log(stage + (job.resume ? ": resumed at step " + std::to_string(state.step) : ": started") + ", " +
          std::to_string(params.size()) + " trainable tensors" +
          (group ? ", " + std::to_string(world) + " ranks over " + group->backend() + (opt.sharded() ? ", ZeRO-1" : "")
                 : std::string()));
  if (group) {  // what ZeRO-1 saves: the moments this rank holds, of all of them
    int64_t held = 0, all = 0;
    for (const bool first : {true, false})
      for (const at::Tensor& m : opt.moments(first)) held += m.numel() * 4;
    for (const NamedParam& p : params) all += p.tensor.numel() * 8;
    char buf[200];
    std::snprintf(buf, sizeof buf, ": AdamW state %.1f MiB on rank 0, of %.1f MiB in all (%lld of %lld bytes)",
                  double(held) / 1048576.0, double(all) / 1048576.0, static_cast<long long>(held),
                  static_cast<long long>(all));
    run_log(stage + buf);
  }
  if (job.zero && !group) run_log("warning: \"zero\": 1 shards the AdamW state over the ranks; one process keeps all of it");
  if (group && st.batch < world)
    run_log("warning: " + stage + "'s batch of " + std::to_string(st.batch) + " leaves " +
            std::to_string(world - st.batch) + " of " + std::to_string(world) + " ranks without examples");

  const Clock::time_point started = Clock::now();
  const double wall0 = state.wall_s;
  double paused_s = 0;  // time spent paused is not training time: wall_s, tokens/s and ETAs leave it out
  bool agreed_stop = false;  // every rank stops at the same step, so they checkpoint together
  try {
    while (state.step < st.steps) {
      if (!group && job.control && job.control->paused.load()) {
        const Clock::time_point pause_start = Clock::now();
        while (job.control->paused.load()) {
          ctx.check_cancel();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        paused_s += seconds_since(pause_start);
      }
      if (!group) ctx.check_cancel();
      const Clock::time_point t0 = Clock::now();
      const std::vector<size_t> global = job.train->indices_for_step(state.data_seed, state.step, st.batch);
      const std::vector<size_t> mine = group ? rank_shard(global, rank, world) : global;
      std::vector<MicroBatch> parts;
      if (!mine.empty())
        parts = micro_batches(*job.train, mine, st.micro_batch, st.stage, groups_by_length(st.stage, job.device));
      if (group) {
        // One small all-reduce per step: whether any rank was asked to stop, and the global target count
        // that stage 0's shares divide by. Shares become fractions of the global batch.
        int64_t targets = 0;
        for (const MicroBatch& m : parts) targets += m.batch.target_tokens;
        std::vector<at::Tensor> head{
            at::tensor({ctx.cancel.cancelled() ? 1.0 : 0.0, double(targets)}, at::kDouble).to(job.device)};  // NCCL: on the GPU
        group->all_reduce_sum(head, "the stop flag of step " + std::to_string(state.step + 1));
        const at::Tensor h = head[0].cpu();
        if (h[0].item<double>() > 0) {
          agreed_stop = true;
          throw Cancelled();
        }
        const double global_targets = h[1].item<double>();
        for (MicroBatch& m : parts)
          m.share = st.stage == 0 ? (global_targets > 0 ? double(m.batch.target_tokens) / global_targets : 0.0)
                                  : m.share * double(mine.size()) / double(global.size());
      }
      const double lr = st.lr * wsd_factor(state.step, st.steps, warmup, decay);
      opt.zero_grad();
      const int64_t step_no = state.step + 1;
      double loss = 0;
      int64_t tokens = 0;
      bool finite = true;
      std::vector<double> layer_losses(n_layer_losses, 0.0);
      for (const MicroBatch& part : parts) {  // gradient accumulation: each pass adds its share
        LossResult r;
        {
          AutocastScope autocast(job.device);
          r = job.loss(batch_to(part.batch, job.device));
        }
        double part_loss = r.loss.item<double>();
        if (job.hooks.nan_at_step == step_no) part_loss = std::nan("");
        if (!std::isfinite(part_loss)) {
          loss = part_loss;
          finite = false;
          break;
        }
        (r.loss * part.share).backward();
        loss += part.share * part_loss;
        tokens += part.batch.tokens;
        layer_losses.resize(std::max(layer_losses.size(), r.layer_losses.size()), 0.0);
        for (size_t l = 0; l < r.layer_losses.size(); ++l) layer_losses[l] += part.share * r.layer_losses[l];
      }
      const double rank_dt = seconds_since(t0);  // this rank's forward and backward, before waiting for peers
      std::vector<double> rank_tokens_per_s;
      if (group) {
        // [loss, tokens, not finite, layer losses..., tokens/s of each rank...], summed with the gradients
        std::vector<double> scalars{finite ? loss : 0.0, double(tokens), finite ? 0.0 : 1.0};
        scalars.insert(scalars.end(), layer_losses.begin(), layer_losses.end());
        scalars.resize(3 + layer_losses.size() + size_t(world), 0.0);
        scalars[3 + layer_losses.size() + size_t(rank)] = double(tokens) / rank_dt;
        all_reduce_gradients(*group, params, scalars, "the gradients of step " + std::to_string(step_no));
        if (scalars[2] > 0 && finite) loss = std::nan("");  // a peer's loss was not finite
        else if (finite) loss = scalars[0];
        finite = finite && scalars[2] == 0;
        tokens = int64_t(std::llround(scalars[1]));
        for (size_t l = 0; l < layer_losses.size(); ++l) layer_losses[l] = scalars[3 + l];
        rank_tokens_per_s.assign(scalars.end() - world, scalars.end());
      }
      if (!finite)
        throw DivergedError(stage + ": the loss is " + std::to_string(loss) + " at step " + std::to_string(step_no),
                            last_saved.empty() ? "lower the learning rate or the clip value and start again"
                                               : "the last good checkpoint is " + last_saved +
                                                     "; lower the learning rate in the run's recipe.json and resume");
      const double gnorm = clip_grad_norm(params, st.clip);
      if (!std::isfinite(gnorm))
        throw DivergedError(stage + ": the gradient norm is not finite at step " + std::to_string(step_no),
                            "the last good checkpoint is " + last_saved + "; lower the learning rate and resume");
      opt.step(lr);
      if (opt.sharded()) zero_gather_params(*group, opt, "the parameters of step " + std::to_string(step_no));
      const double dt = seconds_since(t0);
      state.step = step_no;
      state.tokens += tokens;
      state.wall_s = wall0 + seconds_since(started) - paused_s;

      MetricEvent m{stage, step_no, st.steps, loss, layer_losses, lr, gnorm, double(tokens) / dt, state.wall_s};
      m.tokens = state.tokens;
      m.rank_tokens_per_s = rank_tokens_per_s;
      const bool last = step_no == st.steps;
      if (lead && job.eval && ((st.eval_every > 0 && step_no % st.eval_every == 0) || last)) m.eval_loss = eval_loss(job);
      json line = {{"stage", stage}, {"step", step_no}, {"loss", loss}, {"lr", lr}, {"grad_norm", gnorm},
                   {"tokens_per_s", m.tokens_per_s}, {"wall_s", m.wall_s}, {"tokens", state.tokens}};
      if (!layer_losses.empty()) line["layer_losses"] = layer_losses;
      if (m.eval_loss >= 0) line["eval_loss"] = m.eval_loss;
      if (group) line["rank_tokens_per_s"] = rank_tokens_per_s;
      if (lead) job.run->append_metric(line);
      ctx.send(m);
      ctx.progress(stage, double(step_no) / double(st.steps),
                   "step " + std::to_string(step_no) + "/" + std::to_string(st.steps) + " loss " + std::to_string(loss));
      if (group && (last || step_no == 1 || (st.checkpoint_every > 0 && step_no % st.checkpoint_every == 0))) {
        std::string per_rank;
        for (size_t r = 0; r < rank_tokens_per_s.size(); ++r)
          per_rank += (r ? ", " : "") + std::to_string(r) + ": " + std::to_string(std::llround(rank_tokens_per_s[r]));
        run_log(stage + ": step " + std::to_string(step_no) + ", tokens/s per rank (forward and backward) " + per_rank);
      }
      if (last || (st.checkpoint_every > 0 && step_no % st.checkpoint_every == 0))
        save(job.hooks.fail_checkpoint_at_step == step_no   ? SaveFault::after_model
             : job.hooks.kill_checkpoint_at_step == step_no ? SaveFault::killed
                                                            : SaveFault::none);
      if (job.hooks.crash_after_step == step_no) throw std::runtime_error("crash injected after step " + std::to_string(step_no));
    }
  } catch (const Cancelled&) {
    // a stop leaves the run resumable where it stood (with several ranks: only a stop they all agreed on)
    if ((!group || agreed_stop) && state.step > saved_step && state.step > 0) save(SaveFault::none);
    run_log(stage + ": stopped at step " + std::to_string(state.step));
    throw;
  }
  if (saved_step != state.step) save(SaveFault::none);

  StageOutcome out;
  out.checkpoint = last_saved;
  out.wall_s = state.wall_s;
  for (auto& [name, t] : w) t.requires_grad_(false);
  for (const auto& [name, fp] : state.fingerprints.items()) {
    auto it = w.find(name);
    if (it != w.end() && std::to_string(tensor_fingerprint(it->second)) != fp.get<std::string>())
      out.warnings.push_back("frozen tensor " + name + " changed during " + stage);
  }
  for (const std::string& warn : out.warnings) {
    ctx.log("sanity: " + warn);
    run_log("sanity: " + warn);
  }
  if (lead) job.run->mark_final(stage, last_saved);
  if (group) group->barrier("at the end of " + stage);
  run_log(stage + ": finished at step " + std::to_string(state.step));
  ctx.send(StageEvent{stage, true, "finished"});
  return out;
}

}  // namespace mm
