// Independent oracles: the engine's layers against golden tensors that tests/fixtures/make_oracles.py
// made once with PyTorch from the published math (METHOD.md; InternLM2's attention, rotary and
// repeat_kv; InternVL's pixel shuffle), in float64, the Mamba-2 recurrence token by token. The other
// layer tests compare the engine with itself; these compare it with an implementation that shares no code.
//
// Every engine run is a batch of two: row 0 is the fixture's sequence and row 1 the same reversed in
// time, so a batch row leaking into another fails too. Only row 0 has an oracle.
#include <ATen/ATen.h>

#include <map>
#include <string>
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

void add_projection_rows() {
  QTest::addColumn<bool>("fused");
  QTest::addColumn<int>("chunk");
  for (int chunk : {16, 8, 64}) {
    QTest::newRow(qPrintable(QString("split q/k/v/g/gamma, chunk %1").arg(chunk))) << false << chunk;
    QTest::newRow(qPrintable(QString("fused wvkqgdt, chunk %1").arg(chunk))) << true << chunk;
  }
}

}  // namespace

class TestOracles : public QObject {
  Q_OBJECT
 private slots:
  // The whole sequence in one call (37 = 16 + 16 + 5 at chunk 16: a partial last chunk; at chunk 64 a
  // single partial chunk), without a cache and with one, whose final states are checked too.
  void mamba2LayerFullPrefill_data() { add_projection_rows(); }
  void mamba2LayerFullPrefill() {
    QFETCH(bool, fused);
    QFETCH(int, chunk);
    const Mamba2Layer& m = mamba2();
    ModelConfig cfg = m.cfg;
    cfg.mamba.chunk_size = chunk;
    const LayerWeights lw = m.weights(fused);
    const at::Tensor h = batch_of_two(m.fx.at("oracle.h_in"));  // (2, L, D)
    at::Tensor mix;
    const at::Tensor out = decoder_layer(h, lw, cfg.llm, cfg.mamba, nullptr, 0, &mix);
    CHECK_CLOSE("layer output", out.narrow(0, 0, 1), m.fx.at("oracle.h_out"), kLayerTol);
    CHECK_CLOSE("mixer output (pre W_O)", mix.narrow(0, 0, 1), m.fx.at("oracle.mixer_out"), kLayerTol);
    LayerCache cache = m.empty_cache(2);
    const at::Tensor cached = decoder_layer(h, lw, cfg.llm, cfg.mamba, &cache, 0);
    CHECK_CLOSE("layer output, with a cache", cached.narrow(0, 0, 1), m.fx.at("oracle.h_out"), kLayerTol);
    CHECK_CLOSE("final conv state", cache.ssm.conv.narrow(0, 0, 1), m.fx.at("oracle.conv_state"), kLayerTol);
    CHECK_CLOSE("final SSM state (H, P, N)", cache.ssm.ssm.narrow(0, 0, 1), m.fx.at("oracle.ssm_state"), kLayerTol);
  }

  // Prefill in spans of 7 tokens, as the generator's chunked prefill feeds a layer: every span after the
  // first starts from the cached conv and SSM state, and the spans cut across the SSD chunks.
  void mamba2LayerChunkedPrefill_data() { add_projection_rows(); }
  void mamba2LayerChunkedPrefill() {
    QFETCH(bool, fused);
    QFETCH(int, chunk);
    const Mamba2Layer& m = mamba2();
    ModelConfig cfg = m.cfg;
    cfg.mamba.chunk_size = chunk;
    const LayerWeights lw = m.weights(fused);
    const at::Tensor h = batch_of_two(m.fx.at("oracle.h_in"));
    const int64_t L = h.size(1), span = 7;
    LayerCache cache = m.empty_cache(2);
    std::vector<at::Tensor> outs;
    for (int64_t s = 0; s < L; s += span)
      outs.push_back(decoder_layer(h.narrow(1, s, std::min(span, L - s)), lw, cfg.llm, cfg.mamba, &cache, s));
    CHECK_CLOSE("layer output, spans of 7", at::cat(outs, 1).narrow(0, 0, 1), m.fx.at("oracle.h_out"), kLayerTol);
    CHECK_CLOSE("final conv state", cache.ssm.conv.narrow(0, 0, 1), m.fx.at("oracle.conv_state"), kLayerTol);
    CHECK_CLOSE("final SSM state (H, P, N)", cache.ssm.ssm.narrow(0, 0, 1), m.fx.at("oracle.ssm_state"), kLayerTol);
  }

  // Prefill of 20 tokens (one full chunk of 16 and a partial one), then token by token from the cache
  // (the fused decode step), each step checked, then the final state.
  void mamba2LayerDecodeFromCache_data() { add_projection_rows(); }
  void mamba2LayerDecodeFromCache() {
    QFETCH(bool, fused);
    QFETCH(int, chunk);
    const Mamba2Layer& m = mamba2();
    ModelConfig cfg = m.cfg;
    cfg.mamba.chunk_size = chunk;
    const LayerWeights lw = m.weights(fused);
    const at::Tensor h = batch_of_two(m.fx.at("oracle.h_in")), want = m.fx.at("oracle.h_out");
    const int64_t L = h.size(1), prompt = 20;
    LayerCache cache = m.empty_cache(2);
    const at::Tensor pre = decoder_layer(h.narrow(1, 0, prompt), lw, cfg.llm, cfg.mamba, &cache, 0);
    CHECK_CLOSE("prefill of 20", pre.narrow(0, 0, 1), want.narrow(1, 0, prompt), kLayerTol);
    double worst = 0;
    for (int64_t t = prompt; t < L; ++t) {
      const at::Tensor step = decoder_layer(h.narrow(1, t, 1), lw, cfg.llm, cfg.mamba, &cache, t);  // (2, 1, D)
      const double diff = ((step[0] - want[0].narrow(0, t, 1)).abs().max() / want.abs().max()).item<double>();
      worst = std::max(worst, diff);
      if (diff >= kLayerTol) qWarning("decode position %lld: rel diff %.3e", (long long)t, diff);
    }
    qInfo("%-34s worst rel diff %.2e over %lld steps", "decode steps", worst, (long long)(L - prompt));
    QVERIFY(worst < kLayerTol);
    CHECK_CLOSE("final conv state", cache.ssm.conv.narrow(0, 0, 1), m.fx.at("oracle.conv_state"), kLayerTol);
    CHECK_CLOSE("final SSM state (H, P, N)", cache.ssm.ssm.narrow(0, 0, 1), m.fx.at("oracle.ssm_state"), kLayerTol);
  }

  void attentionLayerFullPrefill() {
    const AttentionLayer& a = attention();
    const at::Tensor h = batch_of_two(a.fx.at("oracle.h_in"));
    at::Tensor mix;
    const at::Tensor out = decoder_layer(h, a.lw, a.cfg.llm, a.cfg.mamba, nullptr, 0, &mix);
    CHECK_CLOSE("layer output", out.narrow(0, 0, 1), a.fx.at("oracle.h_out"), kLayerTol);
    CHECK_CLOSE("attention output (pre wo)", mix.narrow(0, 0, 1), a.fx.at("oracle.mixer_out"), kLayerTol);
  }

  // Prefill in spans of 7 up to 21 tokens, then one query at a time over the cache; the growing cache and
  // the static one (length on the device: the CUDA-graph step's path, here on the CPU).
  void attentionLayerDecodeFromCache_data() {
    QTest::addColumn<bool>("static_cache");
    QTest::newRow("growing cache") << false;
    QTest::newRow("static cache") << true;
  }
  void attentionLayerDecodeFromCache() {
    QFETCH(bool, static_cache);
    const AttentionLayer& a = attention();
    const StackConfig& s = a.cfg.llm;
    const at::Tensor h = batch_of_two(a.fx.at("oracle.h_in")), want = a.fx.at("oracle.h_out");
    const int64_t L = h.size(1), prompt = 21, span = 7;
    LayerCache cache;
    cache.kind = LayerKind::attention;
    if (static_cache) {
      cache.attn.k = at::zeros({2, s.n_kv_heads, L, s.head_dim});
      cache.attn.v = at::zeros({2, s.n_kv_heads, L, s.head_dim});
      cache.attn.len_dev = at::zeros({1}, at::kLong);
    }
    std::vector<at::Tensor> outs;
    for (int64_t p = 0; p < prompt; p += span)
      outs.push_back(decoder_layer(h.narrow(1, p, span), a.lw, s, a.cfg.mamba, &cache, p));
    CHECK_CLOSE("prefill, spans of 7", at::cat(outs, 1).narrow(0, 0, 1), want.narrow(1, 0, prompt), kLayerTol);
    double worst = 0;
    for (int64_t t = prompt; t < L; ++t) {
      const at::Tensor step = decoder_layer(h.narrow(1, t, 1), a.lw, s, a.cfg.mamba, &cache, t);  // (2, 1, D)
      const double diff = ((step[0] - want[0].narrow(0, t, 1)).abs().max() / want.abs().max()).item<double>();
      worst = std::max(worst, diff);
      if (diff >= kLayerTol) qWarning("decode position %lld: rel diff %.3e", (long long)t, diff);
    }
    qInfo("%-34s worst rel diff %.2e over %lld steps", "decode steps", worst, (long long)(L - prompt));
    QVERIFY(worst < kLayerTol);
    QCOMPARE(cache.attn.len, L);
    // The cache holds the rotated keys and the values of every position, per kv head.
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
