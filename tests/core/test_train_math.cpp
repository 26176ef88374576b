// The training math against independent values: the WSD schedule by hand, AdamW against LibTorch's own
// torch::optim::AdamW, gradient clipping by hand, the KL and layer-wise losses recomputed from the models'
// outputs, the trainable set of each stage as METHOD.md states it, and gradient accumulation against one
// pass over the whole batch.
#include <ATen/ATen.h>
#include <torch/types.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <array>
#include <cmath>
#include <set>

#include "config/layer_plan.h"
#include "config/plan_stats.h"
#include "data/image_store.h"
#include "data/scene.h"
#include "io/name_table.h"
#include "models/random_init.h"
#include "models/vlm_model.h"
#include "seeding/seed_student.h"
#include "text/tokenizer_files.h"
#include "train/adamw.h"
#include "train/losses.h"
#include "train/recipe.h"
#include "runtime/errors.h"
#include "train/examples.h"
#include "train/trainer.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QTemporaryDir>
#include <QtTest>

using namespace mm;

namespace {

double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

/// The micro preset and a tokenizer for it, written into dir/tok.
std::shared_ptr<const Tokenizer> micro_tokenizer(const QTemporaryDir& dir, const ModelConfig& cfg) {
  const std::string tok_dir = dir.path().toStdString() + "/tok";
  write_tokenizer_dir(tok_dir, int(cfg.vocab_size), sample_scene_sentences(300, 2));
  return std::shared_ptr<const Tokenizer>(Tokenizer::load(tok_dir));
}

/// METHOD.md §4.2-4.4, written out from the text (not from the code under test): the tensors of one
/// Mamba-2 layer that each stage trains. Stage 1: W_gamma (in_proj), dt_bias, a (A_log_bias), conv1d
/// weight and bias, W_G (g_proj), the gated-norm weight. Stage 2 adds W_Q, W_K, W_V. Stage 3 (the paper's
/// set): a, W_gamma, conv, W_G, W_Q, W_K, W_V and the norm weight; dt_bias frozen; without a when the
/// recipe follows the public code (train_a false).
std::set<std::string> method_parts(int stage, bool train_a) {
  if (stage == 1) return {"in_proj.weight", "dt_bias", "A_log_bias", "conv1d.weight", "conv1d.bias", "g_proj.weight", "g_norm.weight"};
  if (stage == 2)
    return {"in_proj.weight", "dt_bias", "A_log_bias", "conv1d.weight", "conv1d.bias", "g_proj.weight",
            "g_norm.weight", "q_proj.weight", "k_proj.weight", "v_proj.weight"};
  std::set<std::string> s = {"in_proj.weight", "conv1d.weight", "conv1d.bias", "g_proj.weight", "g_norm.weight",
                             "q_proj.weight", "k_proj.weight", "v_proj.weight"};
  if (train_a) s.insert("A_log_bias");
  return s;
}

/// A tiny batch of ids (no images) with right padding: row 1 is shorter.
Batch text_batch(const ModelConfig& cfg) {
  Batch b;
  b.ids = at::randint(1, cfg.vocab_size - 10, {2, 7}, at::kLong);
  b.mask = at::ones({2, 7}, at::kBool);
  b.ids[1].narrow(0, 5, 2).fill_(0);
  b.mask[1].narrow(0, 5, 2).fill_(false);
  b.labels = at::full({2, 7}, -100, at::kLong);
  return b;
}

}  // namespace

class TestTrainMath : public QObject {
  Q_OBJECT

 private slots:
  void wsdScheduleByHand() {
    // 10 steps, warmup 2, decay 4: 1/2, 1, 1, 1, 1, 1, then (1 + cos(pi p)) / 2 at p = 0, 1/4, 1/2, 3/4.
    const double c = 0.5 * (1 + std::cos(M_PI * 0.25)), d = 0.5 * (1 + std::cos(M_PI * 0.75));
    const std::vector<double> want = {0.5, 1, 1, 1, 1, 1, 1, c, 0.5, d};
    for (int64_t s = 0; s < 10; ++s) QVERIFY2(std::abs(wsd_factor(s, 10, 2, 4) - want[size_t(s)]) < 1e-12, std::to_string(s).c_str());
    QVERIFY(wsd_factor(9, 10, 2, 4) > 0.1);  // the last step still learns
    QCOMPARE(wsd_factor(0, 10, 0, 0), 1.0);
    QVERIFY(std::abs(wsd_factor(9, 10, 0, 4, 0.1) - (0.1 + 0.9 * d)) < 1e-12);
  }

  void adamwMatchesLibTorch() {
    // Three groups: decayed, not decayed, and not decayed at ten times the lr (the decay scalars'
    // a_dt_lr_scale), each against a LibTorch group with that lr.
    at::manual_seed(3);
    const at::Tensor w0 = at::randn({4, 3}), b0 = at::randn({3}), a0 = at::randn({2});
    at::Tensor w = w0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true), a = a0.clone().requires_grad_(true);
    at::Tensor tw = w0.clone().requires_grad_(true), tb = b0.clone().requires_grad_(true), ta = a0.clone().requires_grad_(true);
    AdamW ours({{"w", w, true}, {"b", b, false}, {"a", a, false, 10.0}}, AdamWOptions{0.9, 0.999, 1e-8, 0.05});
    std::vector<torch::optim::OptimizerParamGroup> groups;
    for (const auto& [t, wd] : {std::pair{tw, 0.05}, {tb, 0.0}, {ta, 0.0}})
      groups.emplace_back(std::vector<at::Tensor>{t}, std::make_unique<torch::optim::AdamWOptions>(
                                                          torch::optim::AdamWOptions(1e-3).betas({0.9, 0.999}).eps(1e-8).weight_decay(wd)));
    torch::optim::AdamW theirs(std::move(groups));
    const std::vector<double> lrs = {1e-2, 3e-2, 5e-3, 2e-2, 1e-3, 4e-2};
    for (double lr : lrs) {
      const at::Tensor gw = at::randn({4, 3}), gb = at::randn({3}), ga = at::randn({2});
      ours.zero_grad();
      theirs.zero_grad();
      w.mutable_grad() = gw.clone();
      b.mutable_grad() = gb.clone();
      a.mutable_grad() = ga.clone();
      tw.mutable_grad() = gw.clone();
      tb.mutable_grad() = gb.clone();
      ta.mutable_grad() = ga.clone();
      for (size_t g = 0; g < 3; ++g)
        static_cast<torch::optim::AdamWOptions&>(theirs.param_groups()[g].options()).lr(g == 2 ? 10 * lr : lr);
      ours.step(lr);
      theirs.step();
    }
    qInfo("AdamW vs LibTorch after %zu steps: %.3g / %.3g / %.3g", lrs.size(), max_diff(w, tw), max_diff(b, tb), max_diff(a, ta));
    QVERIFY(max_diff(w, tw) < 1e-6);
    QVERIFY(max_diff(b, tb) < 1e-6);
    QVERIFY(max_diff(a, ta) < 1e-5);
    QVERIFY(max_diff(w, w0) > 1e-3);  // it moved
    QVERIFY(max_diff(a, a0) > 5 * max_diff(b, b0));  // the scaled group moved about ten times as far
  }

  void decayScalarsTakeTheirLrScale() {
    StageSettings st;
    st.a_dt_lr_scale = 8.0;
    QCOMPARE(lr_scale_of("language_model.model.layers.2.attention.A_log_bias", st), 8.0);
    QCOMPARE(lr_scale_of("embedding_model.encoder.0.attention.dt_bias", st), 8.0);
    QCOMPARE(lr_scale_of("language_model.model.layers.2.attention.in_proj.weight", st), 1.0);
    QCOMPARE(lr_scale_of("language_model.model.layers.2.attention.conv1d.bias", st), 1.0);
    QCOMPARE(lr_scale_of("language_model.model.layers.2.feed_forward.w1.weight", st), 1.0);
  }

  void clippingByHand() {
    at::Tensor a = at::zeros({2}).requires_grad_(true), c = at::zeros({1}).requires_grad_(true);
    a.mutable_grad() = at::tensor({3.0f, 4.0f});
    c.mutable_grad() = at::tensor({12.0f});
    const std::vector<NamedParam> ps = {{"a", a, true}, {"c", c, true}};
    QCOMPARE(clip_grad_norm(ps, 100.0), 13.0);  // sqrt(9 + 16 + 144), nothing scaled
    QCOMPARE(a.grad()[1].item<float>(), 4.0f);
    QCOMPARE(clip_grad_norm(ps, 6.5), 13.0);    // returns the norm before clipping
    const double scale = 6.5 / (13.0 + 1e-6);
    QVERIFY(std::abs(a.grad()[0].item<double>() - 3 * scale) < 1e-6);
    QVERIFY(std::abs(c.grad()[0].item<double>() - 12 * scale) < 1e-5);
    at::Tensor ta = at::zeros({2}).requires_grad_(true);
    ta.mutable_grad() = at::tensor({3.0f, 4.0f});
    torch::nn::utils::clip_grad_norm_(std::vector<at::Tensor>{ta}, 2.5);
    a.mutable_grad() = at::tensor({3.0f, 4.0f});
    clip_grad_norm({{"a", a, true}}, 2.5);
    QVERIFY(max_diff(a.grad(), ta.grad()) < 1e-6);  // as LibTorch's
  }

  void klLossRecomputedFromLogits() {
    at::manual_seed(5);
    const ModelConfig cfg = architecture_preset("micro");
    const VlmModel teacher(cfg, random_weights(cfg, 1, 0.1));
    const VlmModel student(cfg, random_weights(cfg, 2, 0.1));
    const Batch b = text_batch(cfg);
    const double T = 2.0;
    const double got = kl_loss(teacher, student, b, T).loss.item<double>();
    const at::Tensor lt = teacher.forward(b.ids).to(at::kDouble), ls = student.forward(b.ids).to(at::kDouble);
    // sum over real positions and the vocabulary of p_t (log p_t - log p_s) at temperature T, x T^2 / batch
    double want = 0;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t t = 0; t < 7; ++t) {
        if (!b.mask[r][t].item<bool>()) continue;
        const at::Tensor pt = at::softmax(lt[r][t] / T, 0), ps = at::softmax(ls[r][t] / T, 0);
        want += (pt * (pt.log() - ps.log())).sum().item<double>();
      }
    want *= T * T / 2.0;
    qInfo("KL %.8g, by hand %.8g", got, want);
    QVERIFY(want > 0);
    QVERIFY(std::abs(got - want) < 1e-5 * want);
    QVERIFY(std::abs(kl_loss(teacher, teacher, b, 1.0).loss.item<double>()) < 1e-5);  // KL(p || p) = 0
  }

  void answerCrossEntropyAddedByHand() {
    at::manual_seed(7);
    const ModelConfig cfg = architecture_preset("micro");
    const VlmModel teacher(cfg, random_weights(cfg, 1, 0.1));
    const VlmModel student(cfg, random_weights(cfg, 2, 0.1));
    Batch b = text_batch(cfg);
    // Answer targets at three positions: row 0 t = 3, 4 and row 1 t = 2.
    const std::vector<std::array<int64_t, 2>> targets = {{0, 3}, {0, 4}, {1, 2}};
    for (const auto& [r, t] : targets) b.labels[r][t] = b.ids[r][t + 1];
    const double w = 0.7;
    const double kl = kl_loss(teacher, student, b, 1.0).loss.item<double>();
    const double got = kl_loss(teacher, student, b, 1.0, w).loss.item<double>();
    const at::Tensor ls = student.forward(b.ids).to(at::kDouble);
    double ce = 0;  // -log p_s(next token), summed over the answer targets
    for (const auto& [r, t] : targets) ce -= at::log_softmax(ls[r][t], 0)[b.ids[r][t + 1].item<int64_t>()].item<double>();
    const double want = kl + w * ce / 2.0;  // / batch
    qInfo("KL + answer CE %.8g, by hand %.8g (KL %.8g)", got, want, kl);
    QVERIFY(ce > 0);
    QVERIFY(std::abs(got - want) < 1e-5 * want);
  }

  void layerwiseLossOfASilentStudent() {
    // A student whose gated-norm weights are 0 outputs 0 in every Mamba-2 layer, so its loss is
    // factor x mean over layers of mean(target^2), with the targets the teacher's attention outputs.
    at::manual_seed(6);
    const ModelConfig cfg = architecture_preset("micro");
    const TensorMap tw = random_weights(cfg, 1, 0.1);
    const VlmModel teacher(cfg, tw);
    SeedResult s = seed_student(cfg, tw, LayerPlan::parse("linear"), 3);
    for (auto& [name, t] : s.weights)
      if (name.find("g_norm.weight") != std::string::npos) t = at::zeros_like(t);
    const VlmModel student(s.config, s.weights);
    const Batch b = text_batch(cfg);
    const LossResult r = layerwise_loss(teacher, student, b, 1000.0);
    std::vector<at::Tensor> targets;
    teacher.run_layers(teacher.embed(b.ids, {}), nullptr, 0, cfg.n_layers(), 0, &targets);
    double want = 0;
    for (const at::Tensor& y : targets) want += y.to(at::kDouble).pow(2).mean().item<double>();
    want *= 1000.0 / double(targets.size());
    QCOMPARE(r.layer_losses.size(), targets.size());
    qInfo("layer-wise %.8g, by hand %.8g", r.loss.item<double>(), want);
    QVERIFY(std::abs(r.loss.item<double>() - want) < 1e-5 * want);
  }

  void trainableSetsAreMethodsSets() {
    const ModelConfig t = architecture_preset("micro");
    const SeedResult s = seed_student(t, random_weights(t, 1), LayerPlan::parse("interval:3"), 3);
    for (int stage = 0; stage <= 3; ++stage)
      for (bool train_a : {true, false}) {
        StageSettings st;
        st.stage = stage;
        st.train_a = train_a;
        const std::vector<std::string> got = trainable_tensors(s.config, s.weights, st);
        std::set<std::string> want;
        if (stage == 0) {
          for (const auto& [name, w] : s.weights) want.insert(name);  // teacher training: everything
        } else {
          for (int64_t i = 0; i < s.config.n_layers(); ++i) {
            if (s.config.layer_kinds[size_t(i)] != LayerKind::mamba2) continue;
            for (const std::string& p : method_parts(stage, train_a)) want.insert(layer_prefix(s.config, i) + "attention." + p);
          }
        }
        QCOMPARE(std::set<std::string>(got.begin(), got.end()), want);
        QCOMPARE(got.size(), want.size());
      }
    // "train_mlp" (not the paper's): stage 3 also trains the MLP of every Mamba-2 layer, no other layer's.
    const auto stage3 = [](bool train_mlp) {
      StageSettings st;
      st.stage = 3;
      st.train_mlp = train_mlp;
      return st;
    };
    const std::vector<std::string> paper = trainable_tensors(s.config, s.weights, stage3(false));
    std::set<std::string> want(paper.begin(), paper.end());
    for (int64_t i = 0; i < s.config.n_layers(); ++i)
      if (s.config.layer_kinds[size_t(i)] == LayerKind::mamba2)
        for (const char* w : {"feed_forward.w1.weight", "feed_forward.w2.weight", "feed_forward.w3.weight"})
          want.insert(layer_prefix(s.config, i) + w);
    const std::vector<std::string> got = trainable_tensors(s.config, s.weights, stage3(true));
    QCOMPARE(std::set<std::string>(got.begin(), got.end()), want);
    QVERIFY(want.size() > paper.size());
    QVERIFY_EXCEPTION_THROWN(Recipe::from_json(nlohmann::json::parse(R"({"stages": [{"stage": 2, "train_mlp": true}]})"), "."),
                             ConfigError);
    QVERIFY_EXCEPTION_THROWN(Recipe::from_json(nlohmann::json::parse(R"({"stages": [{"stage": 2, "answer_ce": 1}]})"), "."),
                             ConfigError);
    QVERIFY_EXCEPTION_THROWN(Recipe::from_json(nlohmann::json::parse(R"({"stages": [{"stage": 3, "answer_ce": -1}]})"), "."),
                             ConfigError);
    // The planner's trainable share counts the same stage-3 set (a trained, the recipes' default).
    StageSettings st3;
    st3.stage = 3;
    int64_t n = 0;
    for (const std::string& name : trainable_tensors(s.config, s.weights, st3)) n += s.weights.at(name).numel();
    QCOMPARE(compute_plan_stats(s.config).trainable_params, n);
  }

  void accumulatedGradientsEqualOnePass() {
    QTemporaryDir dir;
    const ModelConfig cfg = architecture_preset("micro");
    const std::shared_ptr<const Tokenizer> tok = micro_tokenizer(dir, cfg);
    data::Dataset ds;
    const char* answers[] = {"yes", "no", "red circle", "three"};
    for (int i = 0; i < 6; ++i) {
      data::Sample s;
      s.id = std::to_string(i);
      s.turns = {{true, std::string("How many things are there") + (i % 2 ? " here?" : "?")}, {false, answers[i % 4]}};
      if (i == 3) s.turns.insert(s.turns.end(), {{true, "And now?"}, {false, "blue"}});
      ds.samples.push_back(s);
    }
    const ExampleSet set(ds, tok, cfg, "", 512);
    const std::vector<size_t> idx = {0, 1, 2, 3, 4, 5};
    const VlmModel teacher(cfg, random_weights(cfg, 4, 0.1));
    for (int stage : {0, 3}) {
      VlmModel model(cfg, random_weights(cfg, 5, 0.1));
      at::Tensor w = model.mutable_weights().at("language_model.output.weight");
      w.requires_grad_(true);
      auto loss = [&](const Batch& b) { return stage == 0 ? lm_loss(model, b) : kl_loss(teacher, model, b, 1.0); };
      std::vector<at::Tensor> grads;
      loss(set.batch(idx)).loss.backward();  // one pass over the whole batch, in its order
      grads.push_back(w.grad().clone());
      double total_share = 0;
      for (int64_t micro : {0, 4, 1}) {
        w.mutable_grad() = at::Tensor();
        total_share = 0;
        for (const MicroBatch& m : micro_batches(set, idx, micro, stage, groups_by_length(stage, c10::kCPU))) {
          (loss(m.batch).loss * m.share).backward();
          total_share += m.share;
        }
        grads.push_back(w.grad().clone());
      }
      QVERIFY(std::abs(total_share - 1.0) < 1e-12);
      const double scale = grads[0].abs().max().item<double>();
      qInfo("stage %d: length-grouped / 4 / 1 a pass vs one pass %.3g / %.3g / %.3g (max |g| %.3g)", stage,
            max_diff(grads[1], grads[0]), max_diff(grads[2], grads[0]), max_diff(grads[3], grads[0]), scale);
      QVERIFY(scale > 0);
      for (size_t i = 1; i < grads.size(); ++i) QVERIFY(max_diff(grads[i], grads[0]) < 1e-5 * scale);
      w.requires_grad_(false);
    }
  }

  void passesGroupExamplesOfSimilarLength() {
    QTemporaryDir dir;
    const ModelConfig cfg = architecture_preset("micro");
    const std::shared_ptr<const Tokenizer> tok = micro_tokenizer(dir, cfg);
    data::Dataset ds;
    for (int i = 0; i < 8; ++i) {
      data::Sample s;
      s.id = std::to_string(i);
      s.turns = {{true, "How many things are there?"}, {false, "three"}};
      if (i % 4 == 1)  // two long conversations among short ones
        for (int t = 0; t < 30; ++t) s.turns.insert(s.turns.end(), {{true, "And now, how many are there?"}, {false, "two"}});
      ds.samples.push_back(s);
    }
    const ExampleSet set(ds, tok, cfg, "", 4096);
    const std::vector<size_t> idx = {0, 1, 2, 3, 4, 5, 6, 7};
    const auto padded = [&](const std::vector<std::vector<size_t>>& passes) {
      int64_t tokens = 0;
      for (const auto& p : passes) tokens += set.batch(p).ids.numel();
      return tokens;
    };
    const auto passes = length_grouped_passes(set, idx, idx.size());
    QCOMPARE(passes.size(), size_t(2));  // the six short ones, then the two long ones
    QCOMPARE(passes[1], (std::vector<size_t>{1, 5}));
    QVERIFY(padded(passes) < padded({idx}) / 2);
    size_t seen = 0;
    for (const auto& p : passes) seen += p.size();
    QCOMPARE(seen, idx.size());
    // Equal lengths stay one pass; a cap on the pass size is kept.
    QCOMPARE(length_grouped_passes(set, {0, 2, 3, 4}, 4).size(), size_t(1));
    for (const auto& p : length_grouped_passes(set, idx, 3)) QVERIFY(p.size() <= 3);
    // Stages 1 and 2 keep the batch's order (their MSE counts padded positions); on a GPU every stage does
    // (a pass there costs more than the padding it saves).
    QVERIFY(!groups_by_length(1, c10::kCPU) && !groups_by_length(2, c10::kCPU));
    QVERIFY(groups_by_length(0, c10::kCPU) && groups_by_length(3, c10::kCPU));
    for (int stage : {0, 1, 2, 3}) QVERIFY(!groups_by_length(stage, c10::Device(c10::kCUDA, 0)));
    QCOMPARE(micro_batches(set, idx, 0, 2, groups_by_length(2, c10::kCPU)).size(), size_t(1));
    QCOMPARE(micro_batches(set, idx, 0, 3, groups_by_length(3, c10::kCPU)).size(), size_t(2));
    QCOMPARE(micro_batches(set, idx, 0, 3, false).size(), size_t(1));
    QCOMPARE(micro_batches(set, idx, 3, 3, false).size(), size_t(3));  // 3 + 3 + 2, in the batch's order
    QCOMPARE(micro_batches(set, idx, 3, 3, false)[0].batch.ids.size(0), 3);
  }

  // A dataset bigger than the tile budget tiles its store images again at each use: the same pixels.
  void tilesBeyondTheCacheBudgetAreTheSame() {
    QTemporaryDir dir;
    const std::string root = dir.path().toStdString();
    const ModelConfig cfg = architecture_preset("micro");
    const std::shared_ptr<const Tokenizer> tok = micro_tokenizer(dir, cfg);
    data::SceneDataOptions o;
    o.out_dir = root + "/data";
    o.count = 6;
    o.image_side = int(cfg.vision.image_size);
    const std::string jsonl = data::make_scene_dataset(o, JobContext{}).jsonl_path;
    ExampleSet cached(data::read_dataset(jsonl), tok, cfg, "", 512), uncached(data::read_dataset(jsonl), tok, cfg, "", 512);
    QVERIFY(ExampleSet::default_tile_cache_budget() > (size_t(64) << 20));
    QVERIFY(cached.tile_cache_bytes() > 0);
    uncached.limit_tile_cache(0);
    QCOMPARE(uncached.tile_cache_bytes(), size_t(0));
    const std::vector<size_t> idx = {5, 0, 3};
    const Batch a = cached.batch(idx), b = uncached.batch(idx);
    QVERIFY(a.pixels.defined() && a.pixels.numel() > 0);
    QVERIFY(at::equal(a.pixels, b.pixels) && at::equal(a.ids, b.ids));
    QCOMPARE(uncached.tile_cache_bytes(), size_t(0));
  }
};

QTEST_GUILESS_MAIN(TestTrainMath)
#include "test_train_math.moc"
