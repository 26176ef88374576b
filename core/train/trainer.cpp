#include "train/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>
#include <c10/core/GradMode.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <thread>

#include "train/adamw.h"

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

std::vector<MicroBatch> micro_batches(const ExampleSet& set, const std::vector<size_t>& indices, int64_t micro_batch,
                                      int stage) {
  const size_t per = micro_batch > 0 ? size_t(micro_batch) : indices.size();
  std::vector<MicroBatch> out;
  int64_t targets = 0;
  for (size_t i = 0; i < indices.size(); i += per) {
    const std::vector<size_t> part(indices.begin() + long(i), indices.begin() + long(std::min(indices.size(), i + per)));
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
    for (const MicroBatch& m : micro_batches(ev, idx, job.settings.micro_batch, job.settings.stage)) {
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
  TensorMap& w = job.model->mutable_weights();
  const std::vector<std::string> names = trainable_tensors(job.model->config(), w, st);
  std::vector<NamedParam> params;
  for (auto& [name, t] : w) t.requires_grad_(false);
  for (const std::string& n : names) {
    w.at(n).requires_grad_(true);
    params.push_back({n, w.at(n), decays(n, w.at(n), st.stage)});
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
  if (job.resume) opt.load_state(job.resume->optimizer, state.step);

  const int64_t warmup = std::llround(st.warmup * double(st.steps));
  const int64_t decay = std::llround(st.decay * double(st.steps));
  std::string last_saved = job.resume ? job.resume->dir : std::string();
  int64_t saved_step = job.resume ? state.step : -1;
  auto save = [&](SaveFault fault) {
    last_saved = job.run->save(stage, job.model->config(), w, job.metadata, job.tokenizer_dir, opt.state(), state, 2,
                               fault);
    saved_step = state.step;
    ctx.send(CheckpointEvent{stage, state.step, last_saved});
    job.run->log(stage + ": checkpoint " + last_saved);
  };
  ctx.send(StageEvent{stage, false, job.resume ? "resumed at step " + std::to_string(state.step) : "started"});
  job.run->log(stage + (job.resume ? ": resumed at step " + std::to_string(state.step) : ": started") + ", " +
               std::to_string(params.size()) + " trainable tensors");

  const Clock::time_point started = Clock::now();
  const double wall0 = state.wall_s;
  double paused_s = 0;  // time spent paused is not training time: wall_s, tokens/s and ETAs leave it out
  try {
    while (state.step < st.steps) {
      if (job.control && job.control->paused.load()) {
        const Clock::time_point pause_start = Clock::now();
        while (job.control->paused.load()) {
          ctx.check_cancel();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        paused_s += seconds_since(pause_start);
      }
      ctx.check_cancel();
      const Clock::time_point t0 = Clock::now();
      const std::vector<MicroBatch> parts =
          micro_batches(*job.train, job.train->indices_for_step(state.data_seed, state.step, st.batch), st.micro_batch,
                        st.stage);
      const double lr = st.lr * wsd_factor(state.step, st.steps, warmup, decay);
      opt.zero_grad();
      const int64_t step_no = state.step + 1;
      double loss = 0;
      int64_t tokens = 0;
      std::vector<double> layer_losses;
      for (const MicroBatch& part : parts) {  // gradient accumulation: each pass adds its share
        LossResult r;
        {
          AutocastScope autocast(job.device);
          r = job.loss(batch_to(part.batch, job.device));
        }
        double part_loss = r.loss.item<double>();
        if (job.hooks.nan_at_step == step_no) part_loss = std::nan("");
        if (!std::isfinite(part_loss))
          throw DivergedError(stage + ": the loss is " + std::to_string(part_loss) + " at step " + std::to_string(step_no),
                              last_saved.empty() ? "lower the learning rate or the clip value and start again"
                                                 : "the last good checkpoint is " + last_saved +
                                                       "; lower the learning rate in the run's recipe.json and resume");
        (r.loss * part.share).backward();
        loss += part.share * part_loss;
        tokens += part.batch.tokens;
        layer_losses.resize(r.layer_losses.size(), 0.0);
        for (size_t l = 0; l < r.layer_losses.size(); ++l) layer_losses[l] += part.share * r.layer_losses[l];
      }
      const double gnorm = clip_grad_norm(params, st.clip);
      if (!std::isfinite(gnorm))
        throw DivergedError(stage + ": the gradient norm is not finite at step " + std::to_string(step_no),
                            "the last good checkpoint is " + last_saved + "; lower the learning rate and resume");
      opt.step(lr);
      const double dt = seconds_since(t0);
      state.step = step_no;
      state.tokens += tokens;
      state.wall_s = wall0 + seconds_since(started) - paused_s;

      MetricEvent m{stage, step_no, st.steps, loss, layer_losses, lr, gnorm, double(tokens) / dt, state.wall_s};
      m.tokens = state.tokens;
      const bool last = step_no == st.steps;
      if (job.eval && ((st.eval_every > 0 && step_no % st.eval_every == 0) || last)) m.eval_loss = eval_loss(job);
      json line = {{"stage", stage}, {"step", step_no}, {"loss", loss}, {"lr", lr}, {"grad_norm", gnorm},
                   {"tokens_per_s", m.tokens_per_s}, {"wall_s", m.wall_s}, {"tokens", state.tokens}};
      if (!layer_losses.empty()) line["layer_losses"] = layer_losses;
      if (m.eval_loss >= 0) line["eval_loss"] = m.eval_loss;
      job.run->append_metric(line);
      ctx.send(m);
      ctx.progress(stage, double(step_no) / double(st.steps),
                   "step " + std::to_string(step_no) + "/" + std::to_string(st.steps) + " loss " + std::to_string(loss));
      if (last || (st.checkpoint_every > 0 && step_no % st.checkpoint_every == 0))
        save(job.hooks.fail_checkpoint_at_step == step_no   ? SaveFault::after_model
             : job.hooks.kill_checkpoint_at_step == step_no ? SaveFault::killed
                                                            : SaveFault::none);
      if (job.hooks.crash_after_step == step_no) throw std::runtime_error("crash injected after step " + std::to_string(step_no));
    }
  } catch (const Cancelled&) {
    if (state.step > saved_step && state.step > 0) save(SaveFault::none);  // a stop leaves the run resumable where it stood
    job.run->log(stage + ": stopped at step " + std::to_string(state.step));
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
    job.run->log("sanity: " + warn);
  }
  job.run->mark_final(stage, last_saved);
  job.run->log(stage + ": finished at step " + std::to_string(state.step));
  ctx.send(StageEvent{stage, true, "finished"});
  return out;
}

}  // namespace mm
