#include "bench/benchmark.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>

#include "bench/bench_setup.h"
#include "bench/peak_memory.h"
#include "config/plan_stats.h"
#include "generate/decode_graph.h"
#include "generate/generator.h"
#include "models/vlm_model.h"
#include "ops/op_registry.h"
#include "ops/op_timing.h"

namespace mm {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// Thrown by the fail_oom_at_length hook; handled exactly like a real allocation failure.
struct SimulatedOom : std::bad_alloc {
  const char* what() const noexcept override { return "out of memory (simulated by the test hook)"; }
};

/// The message of the exception in flight when it is an out-of-memory; nullopt for anything else.
std::optional<std::string> oom_message(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const c10::OutOfMemoryError& x) {
    return std::string(x.what_without_backtrace());
  } catch (const std::bad_alloc& x) {
    return std::string(x.what());
  } catch (const Error& x) {
    if (x.kind() == ErrorKind::out_of_memory) return std::string(x.what());
  } catch (const c10::Error& x) {
    const std::string m = x.what_without_backtrace();
    // CUDA: "CUDA out of memory"; Debian's CPU allocator: "DefaultCPUAllocator: can't allocate memory".
    if (m.find("out of memory") != std::string::npos || m.find("can't allocate memory") != std::string::npos) return m;
  } catch (...) {
  }
  return std::nullopt;
}

/// Mean, sample standard deviation and minimum of xs (non-empty) into r.
void summarise(const std::vector<double>& xs, BenchRow& r) {
  double sum = 0;
  for (double x : xs) sum += x;
  r.seconds = sum / double(xs.size());
  double ss = 0;
  for (double x : xs) ss += (x - r.seconds) * (x - r.seconds);
  r.stddev = xs.size() > 1 ? std::sqrt(ss / double(xs.size() - 1)) : 0.0;
  r.min = *std::min_element(xs.begin(), xs.end());
  r.repeats = int(xs.size());
}

class Sweep {
 public:
  Sweep(const BenchOptions& o, const JobContext& ctx) : o_(o), ctx_(ctx), env_(resolve_bench_env(o)) {
    total_ = int64_t(o.models.size() * o.lengths.size() * o.batches.size()) * ((o.prefill ? 1 : 0) + (o.decode ? 1 : 0));
  }

  std::vector<BenchRow> run() {
    c10::AutoGradMode no_grad(false);
    reset_op_paths();  // the bench JSON reports the paths of this sweep
    install_cpu_memory_counter();  // before any model is built, so that weights count
    ctx_.progress("bench", 0.0, env_.device_text);
    for (const BenchModelSpec& spec : o_.models) run_model(spec);
    return rows_;
  }

 private:
  /// Forces a model's reference_ops for as long as it is measured.
  struct ForcedOps {
    std::vector<Op> ops;
    explicit ForcedOps(const std::vector<std::string>& names) {
      for (const std::string& n : names) {
        Op op;
        if (op_from_name(n, op) && !reference_forced(op)) {
          set_reference_forced(op, true);
          ops.push_back(op);
        }
      }
    }
    ~ForcedOps() {
      for (Op op : ops) set_reference_forced(op, false);
    }
  };

  void run_model(const BenchModelSpec& spec) {
    ctx_.check_cancel();
    const ForcedOps forced(spec.reference_ops);
    graph_ = o_.cuda_graph && !spec.eager_decode;
    ctx_.log("bench: " + spec.label + ": building the model");
    std::unique_ptr<VlmModel> model;
    std::optional<std::string> dead;  // set once the model ran out of memory: later points are skipped
    int64_t dead_at = 0;
    base_bytes_ = std::max<int64_t>(0, current_memory(env_.device));  // not this model's
    try {
      model = build_bench_model(spec, o_.seed, env_.device, env_.dtype);
      warm_up(*model);
    } catch (...) {
      dead = oom_message(std::current_exception());
      if (!dead) throw;
      dead_at = o_.lengths.front();
    }
    const int64_t elem = int64_t(c10::elementSize(env_.dtype));
    const ModelConfig cfg = model ? model->config() : bench_model_config(spec);
    const PlanStats stats = compute_plan_stats(cfg, elem);
    const int64_t read_bytes = decode_weight_bytes(cfg, elem);
    // The weights the model holds (the unused LLM tok_embeddings are dropped at build).
    const int64_t held_params = model ? model->param_count() : stats.total_params;
    // Points past one that ran out of memory (as long and as large a batch, or more) are skipped.
    std::vector<std::pair<int64_t, int64_t>> dead_points;  // (length, batch)
    if (dead) dead_points.emplace_back(dead_at, o_.batches.front());
    for (int64_t L : o_.lengths) {
      for (int64_t B : o_.batches) {
        ModelCache cache;  // the prefilled cache of this point, shared by prefill and decode
        at::Tensor next;   // (B, 1) the greedy picks after the prefill
        for (const char* phase : {"prefill", "decode"}) {
          const bool is_prefill = phase[0] == 'p';
          if (!(is_prefill ? o_.prefill : o_.decode)) continue;
          ctx_.check_cancel();
          BenchRow r;
          r.model = spec.label;
          r.length = L;
          r.batch = B;
          r.phase = phase;
          r.predicted_bytes = held_params * elem + B * stats.cache_bytes(L);
          if (!is_prefill && env_.bandwidth > 0)
            r.floor_seconds = double(read_bytes + B * stats.cache_bytes(L)) / env_.bandwidth;
          const auto killed = std::find_if(dead_points.begin(), dead_points.end(),
                                           [&](const auto& d) { return d.first <= L && d.second <= B; });
          if (killed != dead_points.end()) {
            r.oom = true;
            r.error = *killed == std::make_pair(L, B) && r.phase == "prefill" && dead
                          ? *dead
                          : "skipped: out of memory at " + std::to_string(killed->first) + " tokens" +
                                (killed->second > 1 ? " x " + std::to_string(killed->second) : "");
          } else {
            try {
              if (L == o_.fail_oom_at_length) throw SimulatedOom();
              if (is_prefill) measure_prefill(*model, L, B, cache, next, r);
              else measure_decode(*model, L, B, cache, next, r);
            } catch (...) {
              dead = oom_message(std::current_exception());
              if (!dead) throw;
              dead_points.emplace_back(L, B);
              cache = ModelCache();
              next = at::Tensor();
              release_cached_memory(env_.device);
              r.oom = true;
              r.error = *dead;
            }
          }
          emit(std::move(r));
        }
      }
    }
    model.reset();
    release_cached_memory(env_.device);
  }

  /// (B, L) random token ids below the image-context id, deterministic from the seed, L and the row.
  at::Tensor prompt(const VlmModel& m, int64_t L, int64_t B) const {
    const int64_t hi = std::max<int64_t>(2, std::min(m.config().img_context_token_id, m.config().text_vocab_size));
    std::vector<at::Tensor> rows;
    for (int64_t b = 0; b < B; ++b) {  // row b is the same at every batch size
      at::Generator gen = at::detail::createCPUGenerator(o_.seed * 1000003u + uint64_t(L) + uint64_t(b) * 7919u);
      rows.push_back(at::randint(1, hi, {1, L}, gen, at::TensorOptions().dtype(at::kLong)));
    }
    return at::cat(rows).to(env_.device);  // (B, L)
  }

  /// Prefills ids (B, L) into a fresh cache; returns the greedy next tokens (B, 1) (reading the first
  /// waits for the device, so the time is the prefill's).
  at::Tensor run_prefill(const VlmModel& m, const at::Tensor& ids, ModelCache& cache) const {
    const int64_t B = ids.size(0);
    cache = ModelCache();  // free the previous repeat's cache before allocating the next
    cache = m.new_cache(B);
    // Static (preallocated, no growth copies and no 2x KV peak; on CUDA its length on the device, so the
    // decode step of any model can be captured in a graph).
    cache.make_static(m.config(), ids.size(1) + o_.decode_tokens, m.options());
    // Lengths past max_position_embeddings are measured too (the sweep runs to 1M on random weights).
    const at::Tensor logits =
        prefill(m, cache, ids, {}, o_.prefill_chunk, &ctx_.cancel, /*check_positions=*/false);  // (B * V)
    const at::Tensor next = logits.view({B, -1}).argmax(-1).view({B, 1});                      // (B, 1)
    (void)next[0][0].item<int64_t>();
    return next;
  }

  /// One decode step as the chat generator runs it (embed, all layers, head, greedy pick) for every
  /// sequence; reads sequence 0's pick, as a chat reads its token.
  static at::Tensor step(const VlmModel& m, ModelCache& cache, const at::Tensor& tokens) {
    const at::Tensor next = decode_step(m, cache, tokens).argmax(-1).view({-1, 1});  // (B, 1)
    (void)next[0][0].item<int64_t>();
    return next;
  }

  /// Untimed, once per model: a short prefill and two steps pay one-off setup costs (kernels, handles).
  void warm_up(const VlmModel& m) const {
    ModelCache cache;
    const at::Tensor t = run_prefill(m, prompt(m, std::min<int64_t>(o_.lengths.front(), 16), 1), cache);
    step(m, cache, step(m, cache, t));
  }

  void measure_prefill(const VlmModel& m, int64_t L, int64_t B, ModelCache& cache, at::Tensor& next, BenchRow& r) const {
    const at::Tensor ids = prompt(m, L, B);
    std::vector<double> secs;
    reset_peak_memory(env_.device);
    for (int i = -o_.warmup; i < o_.repeats; ++i) {  // i < 0: untimed warm-up
      if (i > -o_.warmup) ctx_.check_cancel();
      const auto t0 = Clock::now();
      next = run_prefill(m, ids, cache);
      if (i >= 0) secs.push_back(seconds_since(t0));
    }
    read_peaks(r);
    summarise(secs, r);
    if (o_.op_times) time_ops(m, ids, cache, r);
  }

  /// One more prefill of ids with every op timed (after the peaks are read, so the row's figures stay
  /// those of the timed repeats).
  void time_ops(const VlmModel& m, const at::Tensor& ids, ModelCache& cache, BenchRow& r) const {
    reset_op_times();
    set_op_timing(true);
    const auto t0 = Clock::now();
    try {
      run_prefill(m, ids, cache);
    } catch (...) {
      set_op_timing(false);
      throw;
    }
    r.op_times_wall = seconds_since(t0);
    set_op_timing(false);
    r.op_times = op_times();
  }

  void read_peaks(BenchRow& r) const {
    const int64_t peak = read_peak_memory(env_.device);
    r.peak_bytes = peak >= 0 ? std::max<int64_t>(0, peak - base_bytes_) : -1;
    if (env_.device.is_cpu()) r.rss_peak_bytes = read_peak_rss();
  }

  /// Per-step seconds of decode_tokens steps after a prefill of B prompts of L tokens; each repeat
  /// restarts from the same prefilled state (snapshot), so every step sees a context of L..L+decode_tokens.
  void measure_decode(const VlmModel& m, int64_t L, int64_t B, ModelCache& cache, at::Tensor& next, BenchRow& r) const {
    if (cache.layers.empty() || cache.seq_len != L || cache.batch != B) next = run_prefill(m, prompt(m, L, B), cache);  // untimed
    const CacheSnapshot snap = cache.snapshot();
    std::vector<double> secs;
    reset_peak_memory(env_.device);
    std::unique_ptr<DecodeGraph> graph;  // captured once over this cache (untimed); restore() keeps its tensors
    if (graph_ && !decode_graph_unsupported(m, cache)) {
      try {
        graph = std::make_unique<DecodeGraph>(m, cache);
      } catch (const c10::Error& e) {  // a capture the stack refused: measure eagerly, say why
        ctx_.log("bench: " + r.model + ": no CUDA graph (" + e.what_without_backtrace() + "), decoding eagerly");
        cache.restore(snap);
      }
    }
    r.cuda_graph = graph != nullptr;
    for (int i = -o_.warmup; i < o_.repeats; ++i) {  // i < 0: untimed warm-up
      ctx_.check_cancel();
      if (i > -o_.warmup) cache.restore(snap);
      at::Tensor t = next;  // (B, 1): each sequence is fed its own pick
      const auto t0 = Clock::now();
      for (int k = 0; k < o_.decode_tokens; ++k) {
        if (graph) graph->step(k == 0 ? t : graph->next_tokens());
        else t = step(m, cache, t);
      }
      if (i >= 0) secs.push_back(seconds_since(t0) / o_.decode_tokens);
    }
    read_peaks(r);
    summarise(secs, r);
  }

  void emit(BenchRow r) {
    rows_.push_back(r);
    ctx_.send(BenchEvent{r});
    ++done_;
    ctx_.progress("bench", total_ ? double(done_) / double(total_) : 1.0,
                  r.model + " " + std::to_string(r.length) + (r.batch > 1 ? " x " + std::to_string(r.batch) : "") + " " +
                      r.phase + (r.oom ? " (out of memory)" : ""));
  }

  const BenchOptions& o_;
  const JobContext& ctx_;
  BenchEnv env_;
  std::vector<BenchRow> rows_;
  int64_t total_ = 0, done_ = 0;
  int64_t base_bytes_ = 0;  ///< device bytes allocated before the current model was built
  bool graph_ = true;       ///< the current model decodes through a CUDA graph where it can
};

}  // namespace

std::vector<BenchRow> run_benchmark(const BenchOptions& opts, const JobContext& ctx) {
  const BenchOptions o = resolve_bench_options(opts);
  return Sweep(o, ctx).run();
}

}  // namespace mm
