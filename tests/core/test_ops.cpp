// The op dispatch layer: every op's dispatch against its reference over the harness's case table
// (ops/op_check.h), the path registry, and the supports() declarations. CUDA cases skip on a machine
// without a GPU, saying so; on the device `mmmamba selftest --full` runs the whole table.

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <limits>

#include "cache/model_cache.h"
#include "config/layer_plan.h"
#include "models/random_init.h"
#include "models/vlm_model.h"
#include "ops/op_check.h"
#include "ops/op_registry.h"
#include "ops/ops.h"
#include "ref/attention_ref.h"

#include <cmath>

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QtTest>

using namespace mm;

class TestOps : public QObject {
  Q_OBJECT

 private slots:
  void cpuDispatchMatchesReference() {
    reset_op_paths();
    const auto results = run_op_checks(c10::Device(c10::kCPU), /*full=*/false);
    QVERIFY(results.size() >= 10);  // one small case per op
    for (const OpCheckResult& r : results) {
      qInfo("%s %s: %s max %.3g mean %.3g budget %.3g", r.op.c_str(), r.label.c_str(), r.path.c_str(), r.max_diff,
            r.mean_diff, r.budget);
      QVERIFY2(!r.skipped && r.passed, (r.op + " " + r.label).c_str());
      QCOMPARE(r.path, std::string("reference"));  // a CPU has no fast path
      QCOMPARE(r.max_diff, 0.0);                    // the dispatch is the reference there, bit for bit
    }
    for (const OpPathRecord& p : op_path_records()) QVERIFY2(p.fast_calls == 0 && p.reference_calls > 0, p.op.c_str());
  }

  void fullTableSkipsCudaCasesOnCpu() {
    const auto results = run_op_checks(c10::Device(c10::kCPU), /*full=*/true);
    int skipped = 0;
    for (const OpCheckResult& r : results) {
      if (r.skipped) {
        ++skipped;
        QVERIFY2(r.note.find("CUDA case") != std::string::npos, r.note.c_str());
      } else {
        QVERIFY2(r.passed, (r.op + " " + r.label).c_str());
      }
    }
    QVERIFY(skipped > 50);  // bf16 and the long/batched cases are there for the GPU
    const std::string table = format_op_checks(results);
    QVERIFY(table.find("skipped") != std::string::npos);
  }

  void cudaCases() {
    if (!at::hasCUDA())
      QSKIP("no CUDA device (CPU build or machine): the CUDA cases run with `mmmamba selftest --full` on a GPU");
    const auto results = run_op_checks(c10::Device(c10::kCUDA, 0), /*full=*/true);
    qInfo("%s", format_op_checks(results).c_str());
    for (const OpCheckResult& r : results) QVERIFY2(r.skipped || r.passed, (r.op + " " + r.label).c_str());
  }

  void ssdScanKernelMatchesReference() {
    if (!at::hasCUDA())
      QSKIP("no CUDA device (CPU build or machine): the SSD scan kernel is checked on a GPU, also by `mmmamba selftest --full`");
    const auto results = run_op_checks(c10::Device(c10::kCUDA, 0), /*full=*/true, "ssd_scan");
    qInfo("%s", format_op_checks(results).c_str());
    QVERIFY(results.size() >= 20);
    for (const OpCheckResult& r : results) {
      QVERIFY2(r.passed, (r.op + " " + r.label).c_str());
      const bool kernel_shape = r.label.find("bf16") != std::string::npos && r.label.find("demo") == std::string::npos;
      QCOMPARE(r.path, std::string(kernel_shape && cuda_kernels_built() ? "cuda-chunked" : "reference"));
    }
    // A call that records gradients goes to the reference, saying so.
    const auto opts = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
    const at::Tensor x = at::randn({1, 8, 16, 128}, opts).requires_grad_(), bc = at::randn({1, 8, 16, 128}, opts) * 0.1;
    const at::Tensor dt = at::full({1, 8, 16}, 0.05, opts.dtype(at::kFloat)), A = -at::ones({16}, opts.dtype(at::kFloat));
    reset_op_paths();
    const ScanResult r = ssd_scan_chunked(x, dt, A, bc, bc, 128);
    r.y.sum().backward();
    QVERIFY(x.grad().defined());
    const OpPathRecord rec = op_path_records()[size_t(Op::ssd_scan)];
    QCOMPARE(rec.fast_calls, int64_t(0));
    if (cuda_kernels_built()) QCOMPARE(rec.fallback, std::string("the call needs gradients"));
  }

  void forcedReferenceIsRecorded() {
    reset_op_paths();
    Op op;
    QVERIFY(op_from_name("ssd_scan", op) && op == Op::ssd_scan);
    QVERIFY(!op_from_name("no_such_op", op));
    set_reference_forced(Op::rms_norm, true);
    QVERIFY(reference_forced(Op::rms_norm));
    const at::Tensor x = at::ones({2, 8}), w = at::ones({8});
    QVERIFY(at::allclose(rms_norm(x, w, 1e-5), rms_norm_ref(x, w, 1e-5)));
    set_reference_forced(Op::rms_norm, false);
    QVERIFY(!reference_forced(Op::rms_norm));
    QCOMPARE(op_path_records()[size_t(Op::rms_norm)].reference_calls, int64_t(1));
  }

  void mergedAttentionBlocksEqualAttentionOverTheUnion() {
    // The cuDNN prefill's arithmetic: a chunk of L queries after P cached keys is the prefix block (all
    // visible) and the chunk's square (causal, top-left), merged by their log-sum-exps.
    at::Generator g = at::detail::createCPUGenerator(23);
    const int64_t B = 2, L = 9, P = 13, H = 4, Hkv = 2, hd = 16;
    const at::Tensor q = at::randn({B, L, H, hd}, g), k = at::randn({B, Hkv, P + L, hd}, g), v = at::randn({B, Hkv, P + L, hd}, g);
    const at::Tensor qh = q.transpose(1, 2);  // (B, H, L, hd)
    const auto block = [&](int64_t t0, int64_t n, bool causal) {  // plain attention over keys t0..t0+n-1
      const at::Tensor kx = k.narrow(2, t0, n).repeat_interleave(H / Hkv, 1), vx = v.narrow(2, t0, n).repeat_interleave(H / Hkv, 1);
      at::Tensor s = at::matmul(qh, kx.transpose(-1, -2)) / std::sqrt(double(hd));  // (B, H, L, n)
      if (causal) s = s.masked_fill(at::ones({L, n}, at::kBool).triu(1), -INFINITY);
      return std::make_pair(at::matmul(at::softmax(s, -1), vx), at::logsumexp(s, -1, true));
    };
    const auto [out_p, lse_p] = block(0, P, false);
    const auto [out_d, lse_d] = block(P, L, true);
    const at::Tensor merged = merge_attention_blocks(out_p, lse_p, out_d, lse_d).transpose(1, 2);
    QVERIFY(at::allclose(merged, attention_ref(q, k, v), 1e-5, 1e-5));
    // A block whose scores are far larger takes all the weight, without overflow.
    const at::Tensor one = merge_attention_blocks(out_p, lse_p + 200.0, out_d, lse_d);
    QVERIFY(at::allclose(one, out_p, 1e-6, 1e-6));
  }

  void staticCacheReferencesMatchTheGrowingOnes() {
    // The device-length forms read only the valid prefix: garbage past it changes nothing.
    at::Generator g = at::detail::createCPUGenerator(21);
    const at::Tensor q = at::randn({3, 1, 4, 64}, g), k = at::randn({3, 2, 50, 64}, g), v = at::randn({3, 2, 50, 64}, g);
    const at::Tensor len = at::full({1}, 29, at::TensorOptions().dtype(at::kLong));
    const at::Tensor want = attention_ref(q, k.narrow(2, 0, 29), v.narrow(2, 0, 29));
    QVERIFY(at::allclose(attention_decode_at_ref(q, k, v, len), want, 1e-5, 1e-6));
    at::Tensor k2 = k.clone(), v2 = v.clone();
    k2.narrow(2, 29, 21).fill_(1e4);
    v2.narrow(2, 29, 21).fill_(-1e4);
    QVERIFY(at::allclose(attention_decode_at_ref(q, k2, v2, len), want, 1e-5, 1e-6));
    const at::Tensor x = at::randn({3, 1, 2, 64}, g), pos = at::full({1}, 100000, at::TensorOptions().dtype(at::kLong));
    QVERIFY(at::equal(apply_rope_at_ref(x, pos, 1e6), apply_rope_ref(x, 100000, 1e6)));
  }

  void staticCacheDecodeMatchesGrowingCache() {
    // The static path (position, K/V write and length through len_dev) against the growing cache, on
    // CPU: make_static leaves a CPU cache growing, so len_dev is set by hand here.
    const ModelConfig cfg = apply_plan(architecture_preset("micro"), LayerPlan::parse("hybrid"));
    VlmModel m(cfg, random_weights(cfg, 4));
    at::Generator g = at::detail::createCPUGenerator(8);
    const at::Tensor ids = at::randint(1, 200, {2, 9}, g, at::TensorOptions().dtype(at::kLong));
    ModelCache grow = m.new_cache(2), fixed = m.new_cache(2);
    fixed.make_static(cfg, 9 + 5, m.options());
    QVERIFY(!fixed.layers[0].attn.is_static());  // a CPU cache only reserves
    QCOMPARE(fixed.static_capacity(), std::numeric_limits<int64_t>::max());
    for (LayerCache& lc : fixed.layers)
      if (lc.kind == LayerKind::attention) {
        lc.attn.k.zero_();  // as make_static zeroes a CUDA cache: the masked keys must be finite
        lc.attn.v.zero_();
        lc.attn.len_dev = at::zeros({1}, at::TensorOptions().dtype(at::kLong));
      }
    QVERIFY(fixed.static_capacity() == 14);
    at::Tensor a = m.run_all(m.embed_tokens(ids), &grow), b = m.run_all(m.embed_tokens(ids), &fixed);
    for (int step = 0; step < 5; ++step) {
      QVERIFY(at::allclose(a, b, 1e-4, 1e-5));
      const at::Tensor next = m.head(a).select(1, -1).argmax(-1).unsqueeze(1);  // (2, 1)
      a = m.run_all(m.embed_tokens(next), &grow);
      b = m.run_all(m.embed_tokens(next), &fixed);
    }
    QVERIFY(at::allclose(a, b, 1e-4, 1e-5));
    for (const LayerCache& lc : fixed.layers)
      if (lc.kind == LayerKind::attention) QCOMPARE(lc.attn.len_dev.item<int64_t>(), int64_t(14));
    const at::Tensor next = m.head(a).select(1, -1).argmax(-1).unsqueeze(1);
    QVERIFY_THROWS_EXCEPTION(c10::Error, m.run_all(m.embed_tokens(next), &fixed));  // full: refused
    // append keeps the device length, and refuses to grow a static cache.
    AttentionCache c;
    c.reserve(1, 2, 4, 8, at::TensorOptions().dtype(at::kFloat));
    c.len_dev = at::zeros({1}, at::TensorOptions().dtype(at::kLong));
    const at::Tensor kv = at::ones({1, 2, 3, 8});
    c.append(kv, kv);
    QCOMPARE(c.len_dev.item<int64_t>(), int64_t(3));
    QVERIFY_THROWS_EXCEPTION(c10::Error, c.append(kv, kv));
    c.set_len(1);
    QCOMPARE(c.len_dev.item<int64_t>(), int64_t(1));
  }

  void checkerCatchesWrongResults() {
    at::Generator g = at::detail::createCPUGenerator(3);
    const at::Tensor want = at::randn({64, 128}, g);
    QCOMPARE(diff_stats(want.clone(), want).max_diff, 0.0);
    at::Tensor off = want.clone();
    off[5][7] += 0.1;  // one wrong element
    const DiffStats d = diff_stats(off, want);
    const double budget = diff_budget(at::kFloat, 0.0, want.abs().max().item<double>());
    QVERIFY(d.max_diff > budget);
    QVERIFY(diff_budget(at::kBFloat16, 0.0, 1.0) > diff_budget(at::kFloat, 0.0, 1.0));
    QVERIFY(diff_budget(at::kBFloat16, 0.5, 1.0) >= 1.0);  // twice the reference's own error
    off[0][0] = NAN;
    QVERIFY(std::isinf(diff_stats(off, want).max_diff));
    QVERIFY(std::isinf(diff_stats(want.narrow(0, 0, 3), want).max_diff));  // a shape mismatch fails
  }

  void registryRecordsWhatRan() {
    reset_op_paths();
    QCOMPARE(op_path_status(), std::string("ops: nothing run yet"));
    const at::Tensor x = at::ones({2, 8}), w = at::ones({8});
    QVERIFY(at::allclose(rms_norm(x, w, 1e-5), rms_norm_ref(x, w, 1e-5)));
    record_op_path(Op::attention_decode, "cuda-splitk");
    record_op_path(Op::attention_decode, "reference", "dtype (needs bf16/f16)");
    const auto recs = op_path_records();
    QCOMPARE(recs[size_t(Op::rms_norm)].reference_calls, int64_t(1));
    QCOMPARE(recs[size_t(Op::attention_decode)].fast_calls, int64_t(1));
    QCOMPARE(recs[size_t(Op::attention_decode)].fallback, std::string("dtype (needs bf16/f16)"));
    const std::string status = op_path_status();
    QVERIFY2(status.find("rms_norm reference") != std::string::npos, status.c_str());
    QVERIFY2(status.find("attention_decode cuda-splitk 50%") != std::string::npos, status.c_str());
    QVERIFY(op_path_report().find("fell back: dtype") != std::string::npos);
    reset_op_paths();
    QCOMPARE(op_path_records()[size_t(Op::attention_decode)].fast_calls, int64_t(0));
  }

  void selfTestLeavesTheRecordsAsTheyWere() {
    reset_op_paths();
    record_op_path(Op::attention_decode, "cuda-splitk");
    const std::string before = op_path_status();
    const SelfTestReport report = run_self_test(at::Device(at::kCPU), "rms_norm");
    QVERIFY(!report.results.empty());
    QCOMPARE(report.passed, int(report.results.size()));
    QCOMPARE(report.failed, 0);
    QVERIFY(report.turned_off.empty());
    QVERIFY2(report.device.rfind("cpu", 0) == 0, report.device.c_str());
    for (const OpCheckResult& r : report.results) QCOMPARE(r.op, std::string("rms_norm"));
    QCOMPARE(op_path_status(), before);  // the check's rms_norm calls left no trace
    reset_op_paths();
  }

  void failedFastPathsAreTurnedOff() {
    const auto result = [](const char* op, const char* path, bool passed, bool skipped = false) {
      OpCheckResult r;
      r.op = op;
      r.path = path;
      r.passed = passed;
      r.skipped = skipped;
      return r;
    };
    const std::vector<OpCheckResult> results = {
        result("rms_norm", "cuda", false),            // a fast path that disagrees: off
        result("rms_norm", "cuda", false),            // the same op twice: listed once
        result("rope", "reference", false),           // the reference itself: nothing to turn off
        result("conv1d", "cuda", true),               // passed
        result("gated_rmsnorm", "cuda", false, true),  // skipped
        result("decode_graph", "cuda-graph", false),  // not one op's check: reported only
    };
    const std::vector<std::string> off = turn_off_failed_fast_paths(results);
    QCOMPARE(off, std::vector<std::string>{"rms_norm"});
    QVERIFY(reference_forced(Op::rms_norm));
    QVERIFY(!reference_forced(Op::rope) && !reference_forced(Op::conv1d) && !reference_forced(Op::gated_rmsnorm));
    set_reference_forced(Op::rms_norm, false);
  }

  void reservedKvCacheNeverGrows() {
    const ModelConfig cfg = architecture_preset("micro");  // every layer attention
    ModelCache cache(cfg, 1, at::TensorOptions().dtype(at::kFloat));
    cache.reserve(cfg, 100, at::TensorOptions().dtype(at::kFloat));
    AttentionCache& a = cache.layers[0].attn;
    const StackConfig& s = cfg.stack_of(0);
    QCOMPARE(a.k.size(2), int64_t(100));
    const void* before = a.k.data_ptr();
    at::Generator g = at::detail::createCPUGenerator(5);
    const at::Tensor k1 = at::randn({1, s.n_kv_heads, 60, s.head_dim}, g), k2 = at::randn({1, s.n_kv_heads, 40, s.head_dim}, g);
    a.append(k1, k1);
    a.append(k2, k2);
    QCOMPARE(a.k.data_ptr(), before);  // filled to capacity in place
    QVERIFY(at::equal(a.keys(), at::cat({k1, k2}, 2)));
    a.append(k2.narrow(2, 0, 1), k2.narrow(2, 0, 1));  // past the reservation it still grows
    QCOMPARE(a.len, int64_t(101));
    QVERIFY(at::equal(a.keys().narrow(2, 0, 100), at::cat({k1, k2}, 2)));
  }

  void cpuTensorsAreNeverOfferedToKernels() {
    const at::Tensor q = at::zeros({1, 1, 16, 128}, at::kBFloat16), kv = at::zeros({1, 8, 10, 128}, at::kBFloat16);
    QVERIFY(attention_decode_unsupported(q, kv, kv) != nullptr);
    QVERIFY(attention_prefill_unsupported(q, kv, kv) != nullptr);
    QVERIFY(rms_norm_unsupported(at::zeros({4, 8}), at::zeros({8})) != nullptr);
    QVERIFY(conv1d_unsupported(at::zeros({1, 3, 8}), at::zeros({8, 2}), {}) != nullptr);
    const at::Tensor x = at::zeros({1, 4, 16, 128}, at::kBFloat16), dt = at::zeros({1, 4, 16}), A = at::zeros({16});
    QVERIFY(ssd_scan_unsupported(x, dt, A, x, x, 128, {}) != nullptr);
    QVERIFY(gemv_unsupported(at::zeros({1, 1, 64}, at::kBFloat16), at::zeros({32, 64}, at::kBFloat16)) != nullptr);
    if (!cuda_kernels_built()) QCOMPARE(std::string(attention_decode_unsupported(q, kv, kv)), std::string("this build has no CUDA kernels"));
  }
};

QTEST_APPLESS_MAIN(TestOps)
#include "test_ops.moc"
