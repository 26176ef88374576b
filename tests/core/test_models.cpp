// Teacher, linear and hybrid models: cached prefill + decode reproduce one full forward; seeding gives
// the documented initial values; export then load gives identical logits; bad checkpoints are named.
#include <fstream>
#include <nlohmann/json.hpp>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "config/layer_plan.h"
#include "config/plan_stats.h"
#include "bench/peak_memory.h"
#include "generate/generator.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "ref/ssd_ref.h"
#include "io/tensor_io.h"
#include "models/layers.h"
#include "ref/attention_ref.h"
#include "models/random_init.h"
#include "models/vlm_model.h"
#include "ops/op_registry.h"
#include "seeding/seed_student.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QTemporaryDir>
#include <QtTest>

using namespace mm;

namespace {

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs().max() / (b.abs().max() + 1e-6)).item<double>();
}

struct Micro {
  ModelConfig cfg = architecture_preset("micro");
  TensorMap teacher = random_weights(cfg, 11, 0.08);
};

const Micro& micro() {
  static const Micro m;
  return m;
}

VlmModel make_model(const std::string& plan) {
  const Micro& m = micro();
  if (plan == "teacher") return VlmModel(m.cfg, m.teacher);
  SeedResult r = seed_student(m.cfg, m.teacher, LayerPlan::parse(plan), 1);
  return VlmModel(r.config, r.weights);
}

// 44 tokens: text, one image of 2 tiles (2 x 4 context tokens) wrapped in <img></img>, more text.
at::Tensor prompt_ids(const ModelConfig& cfg, int tiles) {
  std::vector<int64_t> ids = {1, 17, 23, 5, cfg.img_context_token_id - 2};
  for (int i = 0; i < tiles * cfg.tokens_per_tile(); ++i) ids.push_back(cfg.img_context_token_id);
  ids.push_back(cfg.img_context_token_id - 1);
  for (int i = 0; ids.size() < 44; ++i) ids.push_back(30 + (i * 37) % 250);
  return at::tensor(ids, at::kLong).view({1, -1});
}

at::Tensor pixels(int tiles, int64_t side) {
  at::Generator g = at::detail::createCPUGenerator(4);
  return at::randn({tiles, 3, side, side}, g);
}

}  // namespace

class TestModels : public QObject {
  Q_OBJECT
 private slots:
  void defaultPrefillChunkFollowsTheLayers() {
    // 4096 tokens a chunk without attention layers, 2048 with any (TARGETS.md's peak memory).
    const VlmModel linear = make_model("linear");
    QCOMPARE(default_prefill_chunk(linear.config(), false), int64_t(4096));
    QCOMPARE(default_prefill_chunk(make_model("teacher").config(), false), int64_t(2048));
    QCOMPARE(default_prefill_chunk(make_model("interval:2").config(), false), int64_t(2048));
    QCOMPARE(default_prefill_chunk(make_model("teacher").config(), true), int64_t(4096));
    const at::Tensor ids = prompt_ids(linear.config(), 1), px = pixels(1, linear.config().vision.image_size);
    ModelCache a = linear.new_cache(1), b = linear.new_cache(1), c = linear.new_cache(1);
    const at::Tensor by_default = prefill(linear, a, ids, px, 0);
    QVERIFY(max_rel(by_default, prefill(linear, b, ids, px, 4096)) == 0.0);
    QCOMPARE(a.seq_len, ids.size(1));
    QVERIFY_THROWS_EXCEPTION(c10::Error, prefill(linear, c, ids, px, -1));
  }

  void prefillAndDecodeReproduceFullForward_data() {
    QTest::addColumn<QString>("plan");
    QTest::newRow("teacher") << "teacher";
    QTest::newRow("linear") << "linear";
    QTest::newRow("hybrid interval:2") << "interval:2";
    QTest::newRow("hybrid stacked:2:tail") << "stacked:2:tail";
  }
  void prefillAndDecodeReproduceFullForward() {
    QFETCH(QString, plan);
    const VlmModel model = make_model(plan.toStdString());
    const ModelConfig& cfg = model.config();
    const at::Tensor ids = prompt_ids(cfg, 2), px = pixels(2, cfg.vision.image_size);
    const at::Tensor full = model.forward(ids, px);  // (1, L, V)
    const int64_t L = ids.size(1), split = 30;       // the image sits inside the prefill part
    ModelCache cache = model.new_cache(1);
    // Chunked prefill (7 tokens per chunk, so chunks cut through the image) then one token at a time.
    const at::Tensor last = prefill(model, cache, ids.narrow(1, 0, split), px, 7);
    QVERIFY(max_rel(last, full[0][split - 1]) < 1e-4);
    for (int64_t t = split; t < L; ++t) {
      const at::Tensor step = decode_step(model, cache, ids[0][t].item<int64_t>());  // (V)
      const double e = max_rel(step, full[0][t]);
      if (e >= 1e-4) qWarning("position %lld: rel diff %.3e", (long long)t, e);
      QVERIFY(e < 1e-4);
    }
    QCOMPARE(cache.seq_len, L);
    // Fused inference projections give the same logits.
    VlmModel fused = make_model(plan.toStdString());
    fused.fuse_for_inference();
    QVERIFY(max_rel(fused.forward(ids, px), full) < 1e-5);
    // Decoding with the fused projections runs each run of Mamba-2 layers as one mamba2_layers_decode
    // and gives the same logits token by token.
    const int64_t layer_ops = op_path_records()[size_t(Op::mamba2_layers_decode)].reference_calls;
    ModelCache fused_cache = fused.new_cache(1);
    QVERIFY(max_rel(prefill(fused, fused_cache, ids.narrow(1, 0, split), px, 7), full[0][split - 1]) < 1e-4);
    for (int64_t t = split; t < L; ++t)
      QVERIFY(max_rel(decode_step(fused, fused_cache, ids[0][t].item<int64_t>()), full[0][t]) < 1e-4);
    const bool has_mamba = fused.config().count(LayerKind::mamba2) > 0;
    QCOMPARE(op_path_records()[size_t(Op::mamba2_layers_decode)].reference_calls > layer_ops, has_mamba);
    // The parts are views of the fused matrix (one copy in memory), in the layer and in the tensor map.
    for (int64_t i = 0; i < fused.config().n_layers(); ++i) {
      if (fused.config().layer_kinds[size_t(i)] != LayerKind::mamba2) continue;
      const Mamba2Weights& m = fused.layer(i).ssm;
      const at::Tensor& q = fused.weights().at(layer_prefix(fused.config(), i) + "attention.q_proj.weight");
      QVERIFY(q.is_same(m.q_proj));
      QCOMPARE(q.storage().data(), m.fused_in.storage().data());
      QVERIFY(at::equal(q, model.weights().at(layer_prefix(fused.config(), i) + "attention.q_proj.weight")));
    }
    // The unused LLM tok_embeddings go (the HE text embedding is the one read) and the logits stay.
    const char* unused = "language_model.model.tok_embeddings.weight";
    QVERIFY(fused.weights().count(unused) == 1);
    const int64_t table = fused.weights().at(unused).numel(), before = fused.param_count();
    QCOMPARE(fused.release_unused_weights(), table);
    QCOMPARE(fused.param_count(), before - table);
    QVERIFY(fused.weights().count(unused) == 0);
    QCOMPARE(fused.release_unused_weights(), int64_t(0));
    QVERIFY(max_rel(fused.forward(ids, px), full) < 1e-5);
  }

  void aBatchDecodesAsEachSequenceAlone_data() {
    QTest::addColumn<QString>("plan");
    QTest::newRow("teacher") << "teacher";
    QTest::newRow("linear") << "linear";
    QTest::newRow("hybrid interval:2") << "interval:2";
  }
  void aBatchDecodesAsEachSequenceAlone() {
    // Three different prompts prefilled and decoded together (growing and static caches) give each
    // sequence the logits it gets alone.
    QFETCH(QString, plan);
    const VlmModel model = make_model(plan.toStdString());
    const int64_t B = 3, L = 20, steps = 4;
    const at::Tensor ids = (at::arange(B * L, at::kLong) * 37 % 250 + 30).view({B, L});  // (B, L)
    const at::Tensor fed = (at::arange(B * steps, at::kLong) * 11 % 200 + 40).view({B, steps});
    for (bool make_static : {false, true}) {
      ModelCache batch = model.new_cache(B);
      if (make_static) batch.make_static(model.config(), L + steps, model.options());
      const at::Tensor first = prefill(model, batch, ids, {}, 7).view({B, -1});  // (B, V)
      std::vector<at::Tensor> got;
      for (int64_t k = 0; k < steps; ++k) got.push_back(decode_step(model, batch, fed.narrow(1, k, 1).contiguous()));
      for (int64_t b = 0; b < B; ++b) {
        ModelCache alone = model.new_cache(1);
        QVERIFY(max_rel(first[b], prefill(model, alone, ids.narrow(0, b, 1), {}, 7)) < 1e-5);
        for (int64_t k = 0; k < steps; ++k)
          QVERIFY(max_rel(got[size_t(k)][b], decode_step(model, alone, fed[b][k].item<int64_t>())) < 1e-5);
      }
    }
    ModelCache two = model.new_cache(2);
    prefill(model, two, ids.narrow(0, 0, 2), {}, 7);
    QVERIFY_THROWS_EXCEPTION(c10::Error, decode_step(model, two, fed.narrow(1, 0, 1).contiguous()));  // 3 tokens, batch 2
  }

  void prefillPeakMemoryDoesNotGrowWithThePrompt() {
    // Prefill embeds chunk by chunk: a prompt 16x longer raises the peak by its cache only, not by
    // the whole prompt's (B, L, D) embeddings.
    install_cpu_memory_counter();
    const VlmModel model = make_model("linear");
    const c10::Device cpu(c10::kCPU);
    const int64_t D = model.config().hidden();
    auto peak_above_cache = [&](int64_t L) {
      ModelCache cache = model.new_cache(1);
      const at::Tensor ids = (at::arange(L, at::kLong) * 37 % 250 + 30).view({1, L});  // text only
      const int64_t before = cpu_tensor_bytes(), cache_before = cache.bytes();
      reset_peak_memory(cpu);
      prefill(model, cache, ids, {}, 32, nullptr, /*check_positions=*/false);
      return read_peak_memory(cpu) - before - (cache.bytes() - cache_before);
    };
    const int64_t short_peak = peak_above_cache(256), long_peak = peak_above_cache(4096);
    const int64_t whole_prompt = (4096 - 256) * D * 4;  // what the embeddings of the whole prompt add
    QVERIFY2(long_peak - short_peak < whole_prompt / 4,
             qPrintable(QString("peak %1 -> %2 bytes above the cache").arg(short_peak).arg(long_peak)));
  }

  void decodeOpsMatchTheirReferences() {
    at::Generator gen = at::detail::createCPUGenerator(5);
    const at::Tensor kv = at::randn({2, 3, 2, 8}, gen);  // (B, L, H_kv, hd)
    QVERIFY(at::equal(expand_heads(kv, 6), kv.repeat_interleave(3, 2)));
    QVERIFY(at::equal(expand_heads(kv, 2), kv));
    // Small (the plain ops, with a masked key) and large (at::softmax) inputs.
    for (int64_t T : {7, 40000}) {
      at::Tensor s = at::randn({2, T}, gen) * 10;
      s[0][T - 1] = -INFINITY;
      const double e = (softmax_lastdim(s) - at::softmax(s, -1)).abs().max().item<double>();
      QVERIFY2(e < 1e-6, qPrintable(QString::number(e)));
    }
    // With a gradient it is at::softmax, so backward works.
    const at::Tensor w = at::randn({3, 5}, gen).requires_grad_(true);
    softmax_lastdim(w * 2).select(1, 0).sum().backward();
    QVERIFY(w.grad().defined() && at::isfinite(w.grad()).all().item<bool>());
  }

  void positionTableResizesForOtherTileSizes() {
    const VlmModel model = make_model("teacher");
    const int64_t S = model.config().vision.image_size, D = model.config().hidden();
    // Native size: no interpolation; twice the size: the table is resized bicubically, 4x the tokens.
    QCOMPARE(model.embed_images(pixels(2, S)).sizes(), at::IntArrayRef({2 * model.config().tokens_per_tile(), D}));
    const at::Tensor big = model.embed_images(pixels(1, 2 * S));
    QCOMPARE(big.size(0), 4 * model.config().tokens_per_tile());
    QVERIFY(at::isfinite(big).all().item<bool>());
    QVERIFY_THROWS_EXCEPTION(InputError, model.embed_images(pixels(1, S + 14)));
  }

  void snapshotRestoreReplaysExactly() {
    const VlmModel model = make_model("interval:2");
    const at::Tensor ids = prompt_ids(model.config(), 1), px = pixels(1, model.config().vision.image_size);
    ModelCache cache = model.new_cache(1);
    prefill(model, cache, ids, px, 64);
    const CacheSnapshot snap = cache.snapshot();
    SamplingOptions o;
    o.max_new_tokens = 6;
    const at::Tensor next = at::full({1, 1}, 42, at::kLong);
    const at::Tensor a = model.head(model.run_all(model.embed_tokens(next), &cache));
    cache.restore(snap);
    const at::Tensor b = model.head(model.run_all(model.embed_tokens(next), &cache));
    QVERIFY(at::equal(a, b));
    QCOMPARE(cache.seq_len, ids.size(1) + 1);
  }

  void seededLayerHasDocumentedValues() {
    const Micro& m = micro();
    const SeedResult r = seed_student(m.cfg, m.teacher, LayerPlan::parse("linear"), 5);
    const StackConfig& s = m.cfg.llm;
    const int64_t H = s.n_heads, Hkv = s.n_kv_heads, hd = s.head_dim, g = H / Hkv, D = s.hidden;
    for (int64_t layer : {int64_t(0), m.cfg.n_layers() - 1}) {
      const std::string a = layer_prefix(m.cfg, layer) + "attention.";
      const at::Tensor wqkv = m.teacher.at(a + "wqkv.weight");
      const auto& w = r.weights;
      // Inherited slices: query head kv*g + j is row block kv*(g+2) + j; k and v are slots g and g+1.
      for (int64_t kv = 0; kv < Hkv; ++kv) {
        for (int64_t j = 0; j < g; ++j)
          QVERIFY(at::equal(w.at(a + "q_proj.weight").narrow(0, (kv * g + j) * hd, hd),
                            wqkv.narrow(0, (kv * (g + 2) + j) * hd, hd)));
        QVERIFY(at::equal(w.at(a + "k_proj.weight").narrow(0, kv * hd, hd), wqkv.narrow(0, (kv * (g + 2) + g) * hd, hd)));
        QVERIFY(at::equal(w.at(a + "v_proj.weight").narrow(0, kv * hd, hd),
                          wqkv.narrow(0, (kv * (g + 2) + g + 1) * hd, hd)));
      }
      QVERIFY(at::equal(w.at(a + "o_proj.weight"), m.teacher.at(a + "wo.weight")));
      QVERIFY(w.at(a + "in_proj.weight").eq(0).all().item<bool>());
      QVERIFY(w.at(a + "A_log_bias").eq(1).all().item<bool>());
      QVERIFY(w.at(a + "g_norm.weight").eq(1).all().item<bool>());
      QVERIFY(w.at(a + "conv1d.bias").eq(0).all().item<bool>());
      const at::Tensor conv = w.at(a + "conv1d.weight");  // (C, 1, 2): tap 1 (current token) = 1
      QVERIFY(conv.select(2, 1).eq(1).all().item<bool>() && conv.select(2, 0).eq(0).all().item<bool>());
      const at::Tensor dt = at::softplus(w.at(a + "dt_bias"));
      QVERIFY(dt.min().item<double>() >= 1e-3 * 0.99 && dt.max().item<double>() <= 0.1 * 1.01);
      const double bound = std::pow(2.0, -2.5) * std::sqrt(6.0 / double(D + H * hd));
      const at::Tensor gp = w.at(a + "g_proj.weight");
      QVERIFY(gp.abs().max().item<double>() <= bound && gp.abs().max().item<double>() > bound / 2);
    }
    // Every student tensor appears in the report, and the same seed gives the same student.
    for (const auto& kv : r.weights) {
      bool found = false;
      for (const auto& e : r.report) found = found || e.tensor == kv.first;
      QVERIFY2(found, kv.first.c_str());
    }
    const SeedResult again = seed_student(m.cfg, m.teacher, LayerPlan::parse("linear"), 5);
    const std::string dtb = layer_prefix(m.cfg, 0) + "attention.dt_bias";
    QVERIFY(at::equal(again.weights.at(dtb), r.weights.at(dtb)));
    const SeedResult other = seed_student(m.cfg, m.teacher, LayerPlan::parse("linear"), 6);
    QVERIFY(!at::equal(other.weights.at(dtb), r.weights.at(dtb)));
  }

  void hybridKeepsTeacherAttention() {
    const Micro& m = micro();
    const SeedResult r = seed_student(m.cfg, m.teacher, LayerPlan::parse("interval:2"), 5);
    const std::string a0 = layer_prefix(m.cfg, 0) + "attention.wqkv.weight";
    QVERIFY(r.config.layer_kinds[0] == LayerKind::attention && r.config.layer_kinds[1] == LayerKind::mamba2);
    QVERIFY(at::equal(r.weights.at(a0), m.teacher.at(a0)));
    QVERIFY(!r.weights.count(layer_prefix(m.cfg, 1) + "attention.wqkv.weight"));
  }

  void exportThenLoadGivesIdenticalLogits_data() {
    QTest::addColumn<QString>("plan");
    QTest::newRow("teacher") << "teacher";
    QTest::newRow("linear") << "linear";
    QTest::newRow("hybrid") << "interval:3";
  }
  void exportThenLoadGivesIdenticalLogits() {
    QFETCH(QString, plan);
    QTemporaryDir dir;
    const VlmModel model = make_model(plan.toStdString());
    const std::string path = dir.filePath("ckpt").toStdString();
    save_checkpoint(path, model.config(), model.weights(), base_metadata(), {}, 64 << 10);  // small shards
    const Checkpoint back = load_checkpoint(path);
    QCOMPARE(back.config.layer_kinds, model.config().layer_kinds);
    QCOMPARE(back.metadata.at("format"), std::string("pt"));
    const VlmModel loaded(back.config, back.weights);
    const at::Tensor ids = prompt_ids(model.config(), 1), px = pixels(1, model.config().vision.image_size);
    QVERIFY(at::equal(loaded.forward(ids, px), model.forward(ids, px)));
    if (plan != "teacher") {
      const nlohmann::json cfg = nlohmann::json::parse(std::ifstream(path + "/config.json"));
      QCOMPARE(cfg["model_type"].get<std::string>(), std::string("mmMamba_chat"));
      QVERIFY(cfg["llm_config"]["layers_block_type"].is_array());
      QVERIFY(QFile::exists(QString::fromStdString(path + "/model.safetensors.index.json")));
    }
  }

  void loadNamesMissingAndMisshapedTensors() {
    QTemporaryDir dir;
    const VlmModel model = make_model("linear");
    const std::string path = dir.filePath("ckpt").toStdString();
    save_checkpoint(path, model.config(), model.weights(), base_metadata());
    const SafetensorsDir files = SafetensorsDir::open(path);
    const std::string victim = "language_model.model.layers.1.attention.dt_bias";
    const std::string warped = "language_model.model.layers.2.attention.wvkqgdt.weight";
    std::vector<std::pair<std::string, at::Tensor>> kept;
    for (const auto& n : files.names()) {
      if (n == victim) continue;
      at::Tensor t = read_tensor(files, n);
      if (n == warped) t = t.narrow(0, 0, t.size(0) - 1).contiguous();
      kept.emplace_back(n, t);
    }
    kept.emplace_back("language_model.model.layers.0.attention.stray.weight", at::zeros({2}));
    write_tensors(path + "/model.safetensors", kept, {{"format", "pt"}});
    try {
      load_checkpoint(path);
      QFAIL("a damaged checkpoint loaded");
    } catch (const CheckpointError& e) {
      const std::string msg = e.what();
      QVERIFY2(msg.find(victim) != std::string::npos, msg.c_str());
      QVERIFY2(msg.find(warped) != std::string::npos, msg.c_str());
      QVERIFY2(msg.find("stray") != std::string::npos, msg.c_str());
      QVERIFY(!e.hint().empty());
    }
  }

  void configParsesHoVLEAndMmMamba() {
    nlohmann::json j = {{"model_type", "internvl_chat"},
                        {"embedding_config", {{"num_hidden_layers", 2}, {"hidden_size", 64}, {"num_attention_heads", 4},
                                              {"num_key_value_heads", 2}, {"intermediate_size", 96}, {"llm_vocab_size", 300},
                                              {"img_context_token_id", 293}, {"image_size", 28}, {"patch_size", 14},
                                              {"rope_theta", 5000.0}}},
                        {"llm_config", {{"num_hidden_layers", 3}, {"hidden_size", 64}, {"num_attention_heads", 4},
                                        {"num_key_value_heads", 2}, {"intermediate_size", 96}, {"vocab_size", 300},
                                        {"rope_theta", 1e6}}},
                        {"max_dynamic_patch", 6}};
    ModelConfig c = parse_model_config(j);
    QCOMPARE(c.n_layers(), int64_t(5));
    QCOMPARE(c.he.rope_theta, 5000.0);
    QCOMPARE(c.llm.rope_theta, 1e6);
    QCOMPARE(c.tokens_per_tile(), int64_t(1));
    QVERIFY(c.is_teacher());
    j["model_type"] = "mmMamba_chat";
    j["llm_config"]["layers_block_type"] = {"mha", "mamba2", "mamba2"};
    c = parse_model_config(j);
    QVERIFY(c.layer_kinds[2] == LayerKind::attention && c.layer_kinds[3] == LayerKind::mamba2);
    // The export writes what the parser reads.
    const ModelConfig again = parse_model_config(to_hf_config(c));
    QCOMPARE(again.layer_kinds, c.layer_kinds);
    QCOMPARE(again.he.rope_theta, c.he.rope_theta);
    j["llm_config"]["layers_block_type"] = {"mha"};
    QVERIFY_THROWS_EXCEPTION(ConfigError, parse_model_config(j));
    j["model_type"] = "llava";
    QVERIFY_THROWS_EXCEPTION(ConfigError, parse_model_config(j));
  }

  void plansPlaceAttentionLayers() {
    auto attention = [](const std::string& p, int n) {
      std::vector<int> out;
      const auto k = LayerPlan::parse(p).kinds(n);
      for (int i = 0; i < n; ++i)
        if (k[i] == LayerKind::attention) out.push_back(i);
      return out;
    };
    QCOMPARE(attention("hybrid", 32), (std::vector<int>{0, 4, 8, 12, 16, 20, 24, 28}));
    QCOMPARE(attention("interval:4:tail", 8), (std::vector<int>{3, 7}));
    QCOMPARE(attention("stacked:3", 8), (std::vector<int>{0, 1, 2}));
    QCOMPARE(attention("stacked:2:tail", 8), (std::vector<int>{6, 7}));
    QCOMPARE(attention("list:1,5", 8), (std::vector<int>{1, 5}));
    QCOMPARE(attention("linear", 8), std::vector<int>{});
    QVERIFY_THROWS_EXCEPTION(InputError, LayerPlan::parse("interval:0"));
    QVERIFY_THROWS_EXCEPTION(InputError, LayerPlan::parse("sometimes"));
    QVERIFY_THROWS_EXCEPTION(InputError, LayerPlan::parse("list:9").kinds(8));
  }

  void planStatsMatchThePaper() {
    // METHOD.md App. A: 12,628,096 trainable per layer without a; the paper's stage-3 set (METHOD §4.4)
    // adds a (A_log_bias, 16 per layer); 14.7% (linear) and 11.2% (hybrid) of the student either way.
    const ModelConfig t = architecture_preset("hovle-2.6b");
    const PlanStats lin = compute_plan_stats(apply_plan(t, LayerPlan::parse("linear")));
    const PlanStats hyb = compute_plan_stats(apply_plan(t, LayerPlan::parse("hybrid")));
    QCOMPARE(lin.trainable_params, int64_t(32) * (12628096 + 16));
    QCOMPARE(hyb.trainable_params, int64_t(24) * (12628096 + 16));
    QCOMPARE(std::round(lin.trainable_share() * 1000) / 10, 14.7);
    QCOMPARE(std::round(hyb.trainable_share() * 1000) / 10, 11.2);
    // bf16 KV per token: 32 layers x 2 x 8 heads x 128 x 2 B = 131072; hybrid keeps 8 layers.
    QCOMPARE(compute_plan_stats(t).kv_bytes_per_token, int64_t(131072));
    QCOMPARE(hyb.kv_bytes_per_token, int64_t(32768));
    QCOMPARE(lin.kv_bytes_per_token, int64_t(0));
  }
};

QTEST_GUILESS_MAIN(TestModels)
#include "test_models.moc"
