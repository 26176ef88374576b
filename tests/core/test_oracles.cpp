// Independent oracles: the engine's layers against golden tensors that tests/fixtures/make_oracles.py
// made once with PyTorch from the published math (METHOD.md; InternLM2's attention, rotary and
// repeat_kv; InternVL's pixel shuffle), in float64, the Mamba-2 recurrence token by token. The other
// layer tests compare the engine with itself; these compare it with an implementation that shares no code.
//
// Every engine run is a batch of two: row 0 is the fixture's sequence and row 1 the same reversed in
// time, so a batch row leaking into another fails too. Only row 0 has an oracle.
#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cache/model_cache.h"
#include "io/name_table.h"
#include "io/safetensors.h"
#include "io/tensor_io.h"
#include "models/layers.h"
#include "models/pixel_shuffle.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QtTest>

using namespace mm;

namespace {

// The engine runs in fp32 against a float64 oracle: the measured errors are 1e-7..7e-7 of each tensor's
// scale (37 steps, 64-wide dot products). 2e-5 leaves a margin of ~30x; the deliberate breaks tried
// (rotary halves swapped, conv taps reversed, kv heads tiled, x and B swapped in the decode step, gate
// before the norm) err by 0.65 to 1.6. (mmMamba has no D skip, so there is none to drop.)
constexpr double kLayerTol = 2e-5;

struct Fixture {
  TensorMap t;
  std::map<std::string, std::string> meta;
  const at::Tensor& at(const std::string& name) const {
    auto it = t.find(name);
    if (it == t.end()) qFatal("fixture tensor %s is missing", name.c_str());
    return it->second;
  }
  double num(const std::string& key) const { return std::stod(meta.at(key)); }
  int64_t count(const std::string& key) const { return std::stoll(meta.at(key)); }
};

Fixture load(const char* name) {
  Fixture fx;
  const std::string path = std::string(MM_ORACLE_DIR) + "/" + name + ".safetensors";
  const auto file = SafetensorsFile::open(path);
  for (const TensorInfo& info : file->tensors()) fx.t[info.name] = read_tensor(*file, info);
  fx.meta = file->metadata();
  return fx;
}

// A one-layer model description (the layer is LLM layer 0) from the fixture's sizes.
ModelConfig layer_config(const Fixture& fx, LayerKind kind) {
  StackConfig s;
  s.n_layers = 1;
  s.hidden = fx.count("hidden");
  s.n_heads = fx.count("n_heads");
  s.n_kv_heads = fx.count("n_kv_heads");
  s.head_dim = fx.count("head_dim");
  s.intermediate = fx.count("intermediate");
  s.rms_eps = fx.num("rms_eps");
  if (fx.meta.count("rope_theta")) s.rope_theta = fx.num("rope_theta");
  ModelConfig c;
  c.llm = s;
  c.he = s;
  c.he.n_layers = 0;
  c.layer_kinds = {kind};
  if (fx.meta.count("norm_eps")) c.mamba.norm_eps = fx.num("norm_eps");
  if (fx.meta.count("d_conv")) c.mamba.d_conv = fx.count("d_conv");
  return c;
}

// (1, ...) oracle row -> the engine's batch of two: [x, x reversed in time].
at::Tensor batch_of_two(const at::Tensor& x) { return at::cat({x, x.flip({1})}, 0); }

// Max |a - b| over the scale of b; prints both before the caller asserts.
double report(const char* what, const at::Tensor& engine, const at::Tensor& oracle) {
  if (engine.sizes() != oracle.sizes())
    qFatal("%s: engine %s vs oracle %s", what, c10::str(engine.sizes()).c_str(), c10::str(oracle.sizes()).c_str());
  const double diff = (engine.to(at::kDouble) - oracle.to(at::kDouble)).abs().max().item<double>();
  const double scale = oracle.abs().max().item<double>();
  const double rel = diff / (scale + 1e-12);
  qInfo("%-34s max abs diff %.2e, scale %.2e, rel %.2e", what, diff, scale, rel);
  return rel;
}

#define CHECK_CLOSE(what, engine, oracle, tol) QVERIFY2(report(what, engine, oracle) < (tol), what)

struct Mamba2Layer {
  Fixture fx = load("mamba2_layer");
  ModelConfig cfg = layer_config(fx, LayerKind::mamba2);
  /// fused: the checkpoint's wvkqgdt as the inference projection; otherwise split by from_hf_layout.
  LayerWeights weights(bool fused) const {
    LayerWeights lw = bind_layer(cfg, from_hf_layout(cfg, fx.t), 0);
    if (fused) lw.ssm.fused_in = fx.at("language_model.model.layers.0.attention.wvkqgdt.weight");
    return lw;
  }
  /// What one test row runs: the config at the row's SSD chunk and the bound weights.
  struct Run {
    ModelConfig cfg;
    LayerWeights lw;
  };
  LayerCache empty_cache(int64_t B) const {
    const StackConfig& s = cfg.llm;
    LayerCache c;
    c.kind = LayerKind::mamba2;
    c.ssm.conv = at::zeros({B, 2 * s.n_kv_heads * s.head_dim + s.n_heads * s.head_dim, cfg.mamba.d_conv - 1});
    c.ssm.ssm = at::zeros({B, s.n_heads, s.head_dim, s.head_dim});
    return c;
  }
};

const Mamba2Layer& mamba2() {
  static const Mamba2Layer m;
  return m;
}

struct AttentionLayer {
  Fixture fx = load("attention_layer");
  ModelConfig cfg = layer_config(fx, LayerKind::attention);
  LayerWeights lw = bind_layer(cfg, fx.t, 0);
};

const AttentionLayer& attention() {
  static const AttentionLayer a;
  return a;
}

// How a test feeds the sequence to a layer with a cache: pieces of these lengths, the last repeated to
// the end. "spans of 7" is the generator's chunked prefill as one layer sees it (every span after the
// first starts from the cache, and the spans cut across the SSD chunks); "prefill 20, then decode"
// takes the one-token step path (the fused Mamba-2 step; attention over the cache) for 17 positions.
const std::vector<std::pair<const char*, std::vector<int64_t>>> kFeeds = {
    {"whole", {1 << 20}}, {"spans of 7", {7}}, {"prefill 20, then decode", {20, 1}}};

// Runs h (B, L, D) through the layer with the cache, piece by piece; the outputs concatenated (B, L, D).
at::Tensor feed(const at::Tensor& h, const LayerWeights& lw, const ModelConfig& cfg, LayerCache& cache,
                const std::vector<int64_t>& pieces) {
  std::vector<at::Tensor> outs;
  const int64_t L = h.size(1);
  for (int64_t pos = 0, i = 0; pos < L; ++i) {
    const int64_t n = std::min(pieces[std::min<size_t>(i, pieces.size() - 1)], L - pos);
    outs.push_back(decoder_layer(h.narrow(1, pos, n), lw, cfg.llm, cfg.mamba, &cache, pos));
    pos += n;
  }
  return at::cat(outs, 1);
}

// The Mamba-2 layer at SSD chunks 16 (37 = 16 + 16 + 5: a partial last chunk), 8 and 64 (one partial
// chunk), with the projections split from the checkpoint's wvkqgdt or used fused as stored.
void add_mamba2_columns() {
  QTest::addColumn<bool>("fused");
  QTest::addColumn<int>("chunk");
}

Mamba2Layer::Run mamba2_run(bool fused, int chunk) {
  const Mamba2Layer& m = mamba2();
  Mamba2Layer::Run r{m.cfg, m.weights(fused)};
  r.cfg.mamba.chunk_size = chunk;
  return r;
}

const char* projections(bool fused) { return fused ? "fused wvkqgdt" : "split q/k/v/g/gamma"; }

}  // namespace

class TestOracles : public QObject {
  Q_OBJECT
 private slots:
  void mamba2LayerWithoutCache_data() {
    add_mamba2_columns();
    for (int chunk : {16, 8, 64})
      for (bool fused : {false, true})
        QTest::newRow(qPrintable(QString("%1, chunk %2").arg(projections(fused)).arg(chunk))) << fused << chunk;
  }
  void mamba2LayerWithoutCache() {
    QFETCH(bool, fused);
    QFETCH(int, chunk);
    const Mamba2Layer& m = mamba2();
    const Mamba2Layer::Run r = mamba2_run(fused, chunk);
    at::Tensor mix;
    const at::Tensor out = decoder_layer(batch_of_two(m.fx.at("oracle.h_in")), r.lw, r.cfg.llm, r.cfg.mamba, nullptr, 0, &mix);
    CHECK_CLOSE("layer output", out.narrow(0, 0, 1), m.fx.at("oracle.h_out"), kLayerTol);
    CHECK_CLOSE("mixer output (pre W_O)", mix.narrow(0, 0, 1), m.fx.at("oracle.mixer_out"), kLayerTol);
  }

  // The outputs, and the conv and SSM state the cache holds at the end.
  void mamba2LayerWithCache_data() {
    add_mamba2_columns();
    QTest::addColumn<int>("feed_index");
    for (int chunk : {16, 8, 64})
      for (bool fused : {false, true})
        for (int f = 0; f < int(kFeeds.size()); ++f)
          QTest::newRow(qPrintable(QString("%1, chunk %2, %3").arg(projections(fused)).arg(chunk).arg(kFeeds[f].first)))
              << fused << chunk << f;
  }
  void mamba2LayerWithCache() {
    QFETCH(bool, fused);
    QFETCH(int, chunk);
    QFETCH(int, feed_index);
    const Mamba2Layer& m = mamba2();
    const Mamba2Layer::Run r = mamba2_run(fused, chunk);
    LayerCache cache = m.empty_cache(2);
    const at::Tensor out = feed(batch_of_two(m.fx.at("oracle.h_in")), r.lw, r.cfg, cache, kFeeds[feed_index].second);
    CHECK_CLOSE("layer output", out.narrow(0, 0, 1), m.fx.at("oracle.h_out"), kLayerTol);
    CHECK_CLOSE("final conv state", cache.ssm.conv.narrow(0, 0, 1), m.fx.at("oracle.conv_state"), kLayerTol);
    CHECK_CLOSE("final SSM state (H, P, N)", cache.ssm.ssm.narrow(0, 0, 1), m.fx.at("oracle.ssm_state"), kLayerTol);
  }

  void attentionLayerWithoutCache() {
    const AttentionLayer& a = attention();
    at::Tensor mix;
    const at::Tensor out = decoder_layer(batch_of_two(a.fx.at("oracle.h_in")), a.lw, a.cfg.llm, a.cfg.mamba, nullptr, 0, &mix);
    CHECK_CLOSE("layer output", out.narrow(0, 0, 1), a.fx.at("oracle.h_out"), kLayerTol);
    CHECK_CLOSE("attention output (pre wo)", mix.narrow(0, 0, 1), a.fx.at("oracle.mixer_out"), kLayerTol);
  }

  // The growing KV cache and the static one (its length on the device: the CUDA-graph step's path, here
  // on the CPU); the cache ends holding the rotated keys and the values of every position.
  void attentionLayerWithCache_data() {
    QTest::addColumn<bool>("static_cache");
    QTest::addColumn<int>("feed_index");
    for (bool st : {false, true})
      for (int f = 0; f < int(kFeeds.size()); ++f)
        QTest::newRow(qPrintable(QString("%1 cache, %2").arg(st ? "static" : "growing").arg(kFeeds[f].first))) << st << f;
  }
  void attentionLayerWithCache() {
    QFETCH(bool, static_cache);
    QFETCH(int, feed_index);
    const AttentionLayer& a = attention();
    const StackConfig& s = a.cfg.llm;
    const at::Tensor h = batch_of_two(a.fx.at("oracle.h_in"));
    const int64_t L = h.size(1);
    LayerCache cache;
    cache.kind = LayerKind::attention;
    if (static_cache) {
      cache.attn.k = at::zeros({2, s.n_kv_heads, L, s.head_dim});
      cache.attn.v = at::zeros({2, s.n_kv_heads, L, s.head_dim});
      cache.attn.len_dev = at::zeros({1}, at::kLong);
    }
    const at::Tensor out = feed(h, a.lw, a.cfg, cache, kFeeds[feed_index].second);
    CHECK_CLOSE("layer output", out.narrow(0, 0, 1), a.fx.at("oracle.h_out"), kLayerTol);
    QCOMPARE(cache.attn.len, L);
    CHECK_CLOSE("cached keys (rotary applied)", cache.attn.keys().narrow(0, 0, 1), a.fx.at("oracle.k_cache"), kLayerTol);
    CHECK_CLOSE("cached values", cache.attn.values().narrow(0, 0, 1), a.fx.at("oracle.v_cache"), kLayerTol);
  }

  // Pure data movement: exact.
  void pixelShuffle_data() {
    QTest::addColumn<int>("side");
    QTest::newRow("4x4 patch grid") << 4;
    QTest::newRow("6x6 patch grid") << 6;
  }
  void pixelShuffle() {
    QFETCH(int, side);
    static const Fixture fx = load("pixel_shuffle");
    const std::string g = "grid" + std::to_string(side);
    const at::Tensor out = pixel_shuffle_tokens(fx.at(g + ".in"), side);
    QVERIFY(at::equal(out, fx.at(g + ".out")));
  }
};

QTEST_GUILESS_MAIN(TestOracles)
#include "test_oracles.moc"
