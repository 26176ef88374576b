// The executable spec holds together: recurrence = chunked SSD = one-token steps = the quadratic
// parallel form, with and without an initial state; causal conv full = step; gated norm formula.

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "ref/conv1d_ref.h"
#include "ref/ssd_ref.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QtTest>

using namespace mm;

namespace {

struct ScanInputs {
  at::Tensor x, dt, A, B, C;
};

// Small random problem: B=2, H=3, P=4, N=5; dt in a realistic (0, ~1.5) band.
ScanInputs make_inputs(int64_t L, uint64_t seed) {
  at::Generator g = at::detail::createCPUGenerator(seed);
  ScanInputs in;
  in.x = at::randn({2, L, 3, 4}, g);
  in.dt = at::softplus(at::randn({2, L, 3}, g) - 1.0);
  in.A = -at::exp(at::randn({3}, g) * 0.5);
  in.B = at::randn({2, L, 3, 5}, g) * 0.5;
  in.C = at::randn({2, L, 3, 5}, g) * 0.5;
  return in;
}

// y_t = sum_{s<=t} exp(sum_{r=s+1..t} dt_r A) dt_s (C_t . B_s) x_s, computed directly (O(L^2)).
at::Tensor quadratic_form(const ScanInputs& in) {
  const at::Tensor a = in.dt * in.A;                                    // (B, L, H)
  const at::Tensor cum = at::cumsum(a, 1);                              // (B, L, H)
  const at::Tensor seg = cum.unsqueeze(2) - cum.unsqueeze(1);           // (B, t, s, H)
  const int64_t L = in.x.size(1);
  const at::Tensor mask = at::ones({L, L}, at::kBool).tril().view({1, L, L, 1});
  const at::Tensor decay = at::exp(seg.masked_fill(mask.logical_not(), -INFINITY));
  const at::Tensor cb = at::einsum("bthn,bshn->btsh", {in.C, in.B});    // (B, t, s, H)
  return at::einsum("btsh,bsh,bshp->bthp", {decay * cb, in.dt, in.x});  // (B, L, H, P)
}

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs().max() / (b.abs().max() + 1e-6)).item<double>();
}

}  // namespace

class TestScan : public QObject {
  Q_OBJECT
 private slots:
  void formsAgree_data() {
    QTest::addColumn<int>("length");
    QTest::addColumn<int>("chunk");
    for (int L : {1, 2, 127, 128, 129, 300}) QTest::newRow(qPrintable(QString("L=%1 T=128").arg(L))) << L << 128;
    QTest::newRow("L=77 T=16 (multi-chunk, partial)") << 77 << 16;
    QTest::newRow("L=64 T=1") << 64 << 1;
  }
  void formsAgree() {
    QFETCH(int, length);
    QFETCH(int, chunk);
    const ScanInputs in = make_inputs(length, 7 + length);
    const ScanResult rec = ssd_scan_recurrent_ref(in.x, in.dt, in.A, in.B, in.C);
    const ScanResult chk = ssd_scan_chunked_ref(in.x, in.dt, in.A, in.B, in.C, chunk);
    at::Tensor state = at::zeros({2, 3, 4, 5});
    std::vector<at::Tensor> steps;
    for (int64_t t = 0; t < length; ++t)
      steps.push_back(ssd_state_update_ref(state, in.x.select(1, t), in.dt.select(1, t), in.A, in.B.select(1, t),
                                           in.C.select(1, t)));
    const at::Tensor stepped = at::stack(steps, 1);
    const at::Tensor quad = quadratic_form(in);
    const double e_chunk = max_rel(chk.y, rec.y), e_step = max_rel(stepped, rec.y), e_quad = max_rel(quad, rec.y);
    const double e_state = max_rel(chk.final_state, rec.final_state), e_step_state = max_rel(state, rec.final_state);
    qInfo("L=%d T=%d: chunked %.2e, step %.2e, quadratic %.2e, final state %.2e / %.2e", length, chunk, e_chunk,
          e_step, e_quad, e_state, e_step_state);
    // fp32 throughout; differences are reassociation only.
    QVERIFY(e_chunk < 1e-5);
    QVERIFY(e_step < 1e-5);
    QVERIFY(e_quad < 1e-5);
    QVERIFY(e_state < 1e-5);
    QVERIFY(e_step_state < 1e-5);
  }

  void chunkedWithInitialStateContinues() {
    const int64_t L = 300, half = 137;
    const ScanInputs in = make_inputs(L, 3);
    const ScanResult whole = ssd_scan_chunked_ref(in.x, in.dt, in.A, in.B, in.C, 64);
    auto part = [&](const at::Tensor& t, int64_t s, int64_t n) { return t.narrow(1, s, n); };
    const ScanResult first = ssd_scan_chunked_ref(part(in.x, 0, half), part(in.dt, 0, half), in.A,
                                                  part(in.B, 0, half), part(in.C, 0, half), 64);
    const ScanResult second = ssd_scan_chunked_ref(part(in.x, half, L - half), part(in.dt, half, L - half), in.A,
                                                   part(in.B, half, L - half), part(in.C, half, L - half), 64,
                                                   first.final_state);
    QVERIFY(max_rel(at::cat({first.y, second.y}, 1), whole.y) < 1e-5);
    QVERIFY(max_rel(second.final_state, whole.final_state) < 1e-5);
    // The recurrence accepts the same initial state.
    const ScanResult rec2 = ssd_scan_recurrent_ref(part(in.x, half, L - half), part(in.dt, half, L - half), in.A,
                                                   part(in.B, half, L - half), part(in.C, half, L - half),
                                                   first.final_state);
    QVERIFY(max_rel(rec2.y, second.y) < 1e-5);
  }

  void groupedHeadsReadTheirKvHead() {
    // x and B with 2 heads for 6: head j reads head j / 3, as if each were repeated 3 times.
    at::Generator g = at::detail::createCPUGenerator(11);
    const int64_t L = 131;
    const at::Tensor x = at::randn({2, L, 2, 4}, g), B = at::randn({2, L, 2, 5}, g) * 0.5;
    const at::Tensor C = at::randn({2, L, 6, 5}, g) * 0.5, dt = at::softplus(at::randn({2, L, 6}, g) - 1.0);
    const at::Tensor A = -at::exp(at::randn({6}, g) * 0.5), s0 = at::randn({2, 6, 4, 5}, g);
    const at::Tensor xr = x.repeat_interleave(3, 2), Br = B.repeat_interleave(3, 2);
    const ScanResult grouped = ssd_scan_chunked_ref(x, dt, A, B, C, 64, s0), full = ssd_scan_chunked_ref(xr, dt, A, Br, C, 64, s0);
    QVERIFY(at::equal(grouped.y, full.y));
    QVERIFY(at::equal(grouped.final_state, full.final_state));
    const ScanResult rec = ssd_scan_recurrent_ref(x, dt, A, B, C, s0), rec_full = ssd_scan_recurrent_ref(xr, dt, A, Br, C, s0);
    QVERIFY(at::equal(rec.y, rec_full.y));
    QVERIFY(max_rel(rec.y, grouped.y) < 1e-5);
    // Head counts that do not divide C's are refused.
    QVERIFY_THROWS_EXCEPTION(c10::Error, ssd_scan_chunked_ref(x.narrow(2, 0, 1).repeat({1, 1, 4, 1}), dt, A, B, C, 64));
  }

  void scanRejectsBadShapes() {
    const ScanInputs in = make_inputs(4, 1);
    QVERIFY_THROWS_EXCEPTION(c10::Error, ssd_scan_chunked_ref(in.x, in.dt.narrow(1, 0, 3), in.A, in.B, in.C, 2));
    QVERIFY_THROWS_EXCEPTION(c10::Error, ssd_scan_chunked_ref(in.x, in.dt, in.A, in.B, in.C, 0));
  }

  void convFullEqualsSteps() {
    at::Generator g = at::detail::createCPUGenerator(5);
    const int64_t B = 2, L = 9, C = 6;
    for (int64_t K : {1, 2, 4}) {
      const at::Tensor x = at::randn({B, L, C}, g), w = at::randn({C, K}, g), b = at::randn({C}, g);
      const ConvResult full = causal_conv1d_ref(x, w, b);
      // Direct definition: out[t] = silu(b + sum_k w[k] x[t - (K-1) + k]).
      at::Tensor direct = b.view({1, 1, C}).expand({B, L, C}).clone();
      for (int64_t t = 0; t < L; ++t)
        for (int64_t k = 0; k < K; ++k) {
          const int64_t src = t - (K - 1) + k;
          if (src >= 0) direct.select(1, t).add_(x.select(1, src) * w.select(1, k));
        }
      QVERIFY(max_rel(full.out, at::silu(direct)) < 1e-6);
      at::Tensor state = at::zeros({B, C, K - 1});
      std::vector<at::Tensor> outs;
      for (int64_t t = 0; t < L; ++t) outs.push_back(causal_conv1d_update_ref(x.select(1, t), state, w, b));
      QVERIFY(max_rel(at::stack(outs, 1), full.out) < 1e-6);
      if (K > 1) QVERIFY(max_rel(state, full.final_state) < 1e-6);
      // Two halves with the carried state equal the whole.
      const ConvResult a = causal_conv1d_ref(x.narrow(1, 0, 4), w, b);
      const ConvResult c = causal_conv1d_ref(x.narrow(1, 4, L - 4), w, b, a.final_state);
      QVERIFY(max_rel(at::cat({a.out, c.out}, 1), full.out) < 1e-6);
    }
  }

  void gatedNormMatchesFormula() {
    at::Generator g = at::detail::createCPUGenerator(9);
    const at::Tensor y = at::randn({2, 3, 8}, g), gate = at::randn({2, 3, 8}, g), w = at::randn({8}, g);
    const at::Tensor out = gated_rmsnorm_ref(y, gate, w, 1e-5);
    const float* py = y.data_ptr<float>();
    double ms = 0;
    for (int i = 0; i < 8; ++i) ms += double(py[i]) * py[i];
    const double inv = 1.0 / std::sqrt(ms / 8 + 1e-5);
    const double g0 = gate.data_ptr<float>()[0];
    const double expect = py[0] * inv * w.data_ptr<float>()[0] * (g0 / (1 + std::exp(-g0)));
    QVERIFY(std::abs(out.data_ptr<float>()[0] - expect) < 1e-5);
  }
};

QTEST_GUILESS_MAIN(TestScan)
#include "test_scan.moc"
