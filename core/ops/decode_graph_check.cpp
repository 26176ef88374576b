// The op harness's graph check: a captured decode step against eager decode (ops/op_check.h).
#include <ATen/CPUGeneratorImpl.h>

#include "config/layer_plan.h"
#include "generate/decode_graph.h"
#include "generate/generator.h"
#include "models/random_init.h"
#include "models/vlm_model.h"
#include "ops/op_check.h"

namespace mm {
namespace {

/// A small model with HoVLE's head dim (hidden 256, 2 heads of 128, 1 kv head), bf16 on dev.
VlmModel graph_check_model(const c10::Device& dev, const std::string& plan) {
  ModelConfig cfg = architecture_preset("tiny");
  for (StackConfig* s : {&cfg.he, &cfg.llm}) {
    s->hidden = 256;
    s->n_heads = 2;
    s->n_kv_heads = 1;
    s->head_dim = 128;
    s->max_position_embeddings = 32768;  // room for the long reply of check_generate_graph
  }
  cfg = apply_plan(cfg, LayerPlan::parse(plan));
  VlmModel m(cfg, random_weights(cfg, 11));
  m.release_unused_weights();
  m.to(dev, at::kBFloat16);
  m.fuse_for_inference();
  return m;
}

}  // namespace

/// The captured CUDA-graph decode against eager decode, for a model of each kind (plan "teacher",
/// "linear", "hybrid"): a small model with HoVLE's head dim (hidden 256, 2 heads of 128, 1 kv head) on a
/// static cache, 16 prompt tokens, 8 greedy steps from one snapshot. Tokens must match and the last
/// layer's state (K/V rows or SSM state) must agree within the budget.
OpCheckResult check_decode_graph(const c10::Device& dev, const std::string& plan) {
  OpCheckResult r;
  r.op = "decode_graph";
  r.label = plan + " hidden 256 hd 128: 8 steps, graph vs eager bf16";
  if (!dev.is_cuda()) {
    r.skipped = true;
    r.note = "CUDA case: skipped on " + dev.str() + " (CUDA graphs need a GPU)";
    return r;
  }
  const VlmModel m = graph_check_model(dev, plan);
  ModelCache cache = m.new_cache(1);
  cache.make_static(m.config(), 16 + 8, m.options());
  at::Generator g = at::detail::createCPUGenerator(12);
  const at::Tensor ids = at::randint(1, 500, {1, 16}, g, at::TensorOptions().dtype(at::kLong)).to(dev);
  const int64_t first = m.head(m.run_all(m.embed_tokens(ids), &cache)).select(1, 15).argmax(-1).item<int64_t>();
  const CacheSnapshot snap = cache.snapshot();
  // What the graph must reproduce: the last layer's SSM state, or its K rows up to the last step.
  const LayerCache& last = cache.layers.back();
  const auto final_state = [&] {
    return last.kind == LayerKind::mamba2 ? last.ssm.ssm.clone() : last.attn.k.narrow(2, 0, 16 + 8).clone();
  };
  std::vector<int64_t> eager, graphed;
  int64_t t = first;
  for (int k = 0; k < 8; ++k) {
    const at::Tensor in = at::full({1, 1}, t, ids.options());
    t = m.head(m.run_all(m.embed_tokens(in), &cache)).reshape({-1}).argmax().item<int64_t>();
    eager.push_back(t);
  }
  const at::Tensor eager_state = final_state();
  cache.restore(snap);
  if (const char* why = decode_graph_unsupported(m, cache)) {
    r.skipped = true;
    r.note = why;
    return r;
  }
  if (last.kind == LayerKind::attention) cache.layers.back().attn.k.narrow(2, 16, 8).zero_();  // the graph must write them
  DecodeGraph graph(m, cache);
  t = first;
  for (int k = 0; k < 8; ++k) graphed.push_back(t = graph.step(t));
  const at::Tensor graph_state = final_state();
  const DiffStats d = diff_stats(graph_state, eager_state);
  r.path = "cuda-graph";
  r.worst = last.kind == LayerKind::mamba2 ? "ssm_state" : "k_cache";
  r.max_diff = d.max_diff;
  r.mean_diff = d.mean_diff;
  r.budget = diff_budget(at::kFloat, 0.0, eager_state.abs().max().item<double>());
  r.passed = graphed == eager && d.max_diff <= r.budget && cache.seq_len == 16 + 8;
  if (graphed != eager) r.worst = "tokens differ";
  return r;
}

OpCheckResult check_generate_graph(const c10::Device& dev, const std::string& plan) {
  OpCheckResult r;
  r.op = "decode_graph";
  r.label = plan + ": replies, graph vs eager (turns, restore, sampled" + std::string(plan == "teacher" ? ", 5200 tokens)" : ")");
  if (!dev.is_cuda()) {
    r.skipped = true;
    r.note = "CUDA case: skipped on " + dev.str() + " (CUDA graphs need a GPU)";
    return r;
  }
  const VlmModel m = graph_check_model(dev, plan);
  ModelCache graphed = m.new_cache(1), eager = m.new_cache(1);
  SamplingOptions on, off;
  on.max_new_tokens = off.max_new_tokens = 24;
  on.stop_ids = off.stop_ids = {-1};  // random weights: every reply runs to its length
  off.decode_graph = false;
  at::Generator g = at::detail::createCPUGenerator(13);
  const auto prompt = [&](int64_t n) { return at::randint(1, 500, {1, n}, g, at::TensorOptions().dtype(at::kLong)); };
  r.path = "cuda-graph";
  r.passed = true;
  const auto turn = [&](const at::Tensor& ids, const char* what) {
    Generation a = generate(m, graphed, ids, at::Tensor(), on, {});
    const Generation b = generate(m, eager, ids, at::Tensor(), off, {});
    const bool same = a.ids == b.ids && a.last_token == b.last_token && graphed.seq_len == eager.seq_len;
    if (r.passed && (!same || a.stats.decode_path != "cuda graph" || b.stats.decode_path != "eager")) {
      r.passed = false;
      r.worst = std::string(what) + (same ? ": decoded on " + a.stats.decode_path + " (" + a.stats.graph_fallback + ")"
                                          : ": tokens differ");
    }
    return a;
  };
  // The next turn: the pending token (random weights may pick the image-context id, which a prompt
  // without images may not hold), then new text.
  const auto next_turn = [&](int64_t pending) {
    if (pending == m.config().img_context_token_id) pending = 1;
    return at::cat({at::full({1, 1}, pending, at::kLong), prompt(5)}, 1);
  };
  const Generation t1 = turn(prompt(16), "turn 1");
  const CacheSnapshot snap_graphed = graphed.snapshot(), snap_eager = eager.snapshot();
  const at::Tensor second = next_turn(t1.last_token);
  const Generation t2 = turn(second, "turn 2");
  graphed.restore(snap_graphed);  // a regenerate: lengths on the host and the device back, states copied in
  eager.restore(snap_eager);
  const Generation again = turn(second, "turn 2 after a restore");
  if (r.passed && again.ids != t2.ids) {
    r.passed = false;
    r.worst = "turn 2 differs after a restore";
  }
  on.temperature = off.temperature = 1.0;
  on.seed = off.seed = 7;
  const Generation t3 = turn(next_turn(again.last_token), "sampled turn");
  if (plan == "teacher") {  // past the first reservation (prompt + 4096, rounded up to 1024): captured again
    on.temperature = off.temperature = 0;
    on.max_new_tokens = off.max_new_tokens = 5200;
    turn(next_turn(t3.last_token), "5200-token turn");
  }
  if (r.worst.empty()) r.worst = "tokens";
  return r;
}

}  // namespace mm
