#include "ops/op_check.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <utility>

#include "bench/peak_memory.h"
#include "ops/op_registry.h"
#include "runtime/device.h"
#include "ops/ops.h"
#include "ref/attention_ref.h"

namespace mm {
namespace {

using Outputs = std::vector<std::pair<std::string, at::Tensor>>;
/// Builds the case's inputs (random fp32 rounded to round_dt, then held in run_dt) and runs the
/// dispatch (true) or the reference (false).
using CaseFn = std::function<Outputs(at::ScalarType round_dt, at::ScalarType run_dt, bool dispatch)>;

struct Case {
  Op op;
  std::string label;
  at::ScalarType dtype;
  bool small;  ///< runs on CPU too, and in the short self-test
  CaseFn fn;
};

// HoVLE-2.6B layer shape (TARGETS.md): 16 heads, head dim 128, hidden 2048.
constexpr int64_t kHeads = 16, kHd = 128, kHidden = 2048;

const char* dtype_name(at::ScalarType t) {
  return t == at::kBFloat16 ? "bf16" : t == at::kHalf ? "f16" : "f32";
}

/// Deterministic inputs: N(0, 1) * scale from a seeded CPU generator, moved and rounded.
struct Maker {
  c10::Device device;
  at::ScalarType round_dt, run_dt;
  uint64_t seed;
  at::Tensor randn(at::IntArrayRef shape, double scale = 1.0) {
    at::Generator g = at::detail::createCPUGenerator(seed++);
    return (at::randn(shape, g, at::TensorOptions().dtype(at::kFloat)) * scale).to(round_dt).to(device, run_dt);
  }
  at::Tensor uniform(at::IntArrayRef shape, double lo, double hi) {
    at::Generator g = at::detail::createCPUGenerator(seed++);
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
    t.uniform_(lo, hi, g);
    return t.to(round_dt).to(device, run_dt);
  }
  /// fp32 always (the SSM state is fp32 in every dtype).
  at::Tensor randn_f32(at::IntArrayRef shape, double scale) {
    at::Generator g = at::detail::createCPUGenerator(seed++);
    return (at::randn(shape, g, at::TensorOptions().dtype(at::kFloat)) * scale).to(device);
  }
};

/// A (B, H_kv, T, hd) cache-like view: a slice of a larger capacity, as AttentionCache hands out.
at::Tensor cache_view(Maker& mk, int64_t B, int64_t Hkv, int64_t T) {
  return mk.randn({B, Hkv, T + 37, kHd}).narrow(2, 0, T);
}

void add_attention_cases(std::vector<Case>& cs, const c10::Device& dev) {
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      for (int64_t g : {2, 1})
        for (int64_t T : {1, 127, 128, 129, 4096}) {
          const bool small = T == 129 && B == 1 && g == 2;
          cs.push_back({Op::attention_decode,
                        "decode T=" + std::to_string(T) + " B=" + std::to_string(B) + " g=" + std::to_string(g), dt, small,
                        [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                          Maker mk{dev, r, run, 100 + uint64_t(T + 7 * B + 31 * g)};
                          const int64_t Hkv = kHeads / g;
                          // q (B, 1, H, hd) as a transposed view: unit last stride, non-standard others
                          const at::Tensor q = mk.randn({B, kHeads, 1, kHd}).transpose(1, 2);
                          const at::Tensor k = cache_view(mk, B, Hkv, T), v = cache_view(mk, B, Hkv, T);
                          return {{"out", d ? attention_decode(q, k, v) : attention_ref(q, k, v)}};
                        }});
        }
  // A static cache: capacity T + 37 of which the first T (a device length) are valid; the rest holds
  // garbage that must not be read (test_ops holds attention_decode_at_ref to attention_ref on the prefix).
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      for (int64_t T : {1, 129, 4096}) {
        cs.push_back({Op::attention_decode, "decode static T=" + std::to_string(T) + " cap+37 B=" + std::to_string(B) + " g=2",
                      dt, T == 129 && B == 1, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                        Maker mk{dev, r, run, 150 + uint64_t(T + 7 * B)};
                        const at::Tensor q = mk.randn({B, kHeads, 1, kHd}).transpose(1, 2);
                        const at::Tensor k = mk.randn({B, kHeads / 2, T + 37, kHd}), v = mk.randn({B, kHeads / 2, T + 37, kHd});
                        const at::Tensor len = at::full({1}, T, at::TensorOptions().dtype(at::kLong).device(dev));
                        return {{"out", d ? attention_decode_at(q, k, v, len) : attention_decode_at_ref(q, k, v, len)}};
                      }});
      }
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      for (int64_t past : {0, 100})
        for (int64_t L : {127, 128, 129, 4096}) {
          if (L == 4096 && B == 3) continue;  // the fp32 reference's scores would be 3 GB
          const bool small = L == 129 && B == 1 && past == 100;
          cs.push_back({Op::attention_prefill,
                        "prefill L=" + std::to_string(L) + " past=" + std::to_string(past) + " B=" + std::to_string(B) + " g=2",
                        dt, small, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                          Maker mk{dev, r, run, 200 + uint64_t(L + 7 * B + past)};
                          const at::Tensor q = mk.randn({B, L, kHeads, kHd});
                          const at::Tensor k = cache_view(mk, B, kHeads / 2, past + L), v = cache_view(mk, B, kHeads / 2, past + L);
                          return {{"out", d ? attention_prefill(q, k, v) : attention_ref(q, k, v)}};
                        }});
        }
}

void add_rope_cases(std::vector<Case>& cs, const c10::Device& dev) {
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      for (int64_t L : {1, 127, 4096})
        for (int64_t pos0 : {0, 100000}) {
          cs.push_back({Op::rope, "rope L=" + std::to_string(L) + " pos0=" + std::to_string(pos0) + " B=" + std::to_string(B) + " k of qkv",
                        dt, L == 127 && B == 1 && pos0 == 0, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                          Maker mk{dev, r, run, 350 + uint64_t(L + B + pos0)};
                          // the query heads of a (B, L, H_kv, g + 2, hd) projection: strided, unit last stride
                          const at::Tensor qkv = mk.randn({B, L, kHeads / 2, 4, kHd});
                          const at::Tensor k = qkv.select(3, 2);  // (B, L, H_kv, hd)
                          return {{"out", d ? apply_rope(k, pos0, 1e6) : apply_rope_ref(k, pos0, 1e6)}};
                        }});
        }
  // The prefill's query and key slots of a (B, L, H_kv, g + 2, hd) projection, read in place (g = 2); hd 6
  // takes the kernel's one-element path (its halves are not 16-byte multiples).
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      for (int64_t L : {1, 129, 4096})
        for (int64_t hd : {kHd, int64_t(6)})
          for (int64_t first : {0, 2}) {
            if (L == 4096 && (B == 3 || hd == 6)) continue;
            const int64_t n = first == 0 ? 2 : 1, pos0 = L == 129 ? 100000 : 7;
            cs.push_back({Op::rope, "rope slots [" + std::to_string(first) + ", " + std::to_string(first + n) + ") of qkv L=" +
                                        std::to_string(L) + " B=" + std::to_string(B) + " hd=" + std::to_string(hd) +
                                        " pos0=" + std::to_string(pos0),
                          dt, L == 129 && B == 1 && hd == kHd && first == 0, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                            Maker mk{dev, r, run, 390 + uint64_t(L + B + hd + first)};
                            const at::Tensor qkv = mk.randn({B, L, kHeads / 2, 4, hd});
                            const at::Tensor ref_in = qkv.narrow(3, first, n).reshape({B, L, kHeads / 2 * n, hd});
                            return {{"out", d ? apply_rope_slots(qkv, first, n, pos0, 1e6) : apply_rope_ref(ref_in, pos0, 1e6)}};
                          }});
          }
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t pos0 : {0, 100000})
      cs.push_back({Op::rope, "rope at device pos0=" + std::to_string(pos0) + " L=1 B=3 k of qkv", dt, pos0 == 100000,
                    [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                      Maker mk{dev, r, run, 370 + uint64_t(pos0)};
                      const at::Tensor k = mk.randn({3, 1, kHeads / 2, 4, kHd}).select(3, 2);  // (B, 1, H_kv, hd)
                      const at::Tensor pos = at::full({1}, pos0, at::TensorOptions().dtype(at::kLong).device(dev));
                      return {{"out", d ? apply_rope_at(k, pos, 1e6) : apply_rope_at_ref(k, pos, 1e6)}};
                    }});
}

/// The static-cache step's RoPE + K/V write + length advance: qkv as the wqkv projection lays it out
/// (8 kv heads, g = 2), a cache of capacity 300 holding noise, the length 257 on the device.
void add_kv_append_cases(std::vector<Case>& cs, const c10::Device& dev) {
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3}) {
      cs.push_back({Op::rope_kv_append, "rope_kv_append B=" + std::to_string(B) + " g=2 pos 257 cap 300", dt, B == 1,
                    [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                      Maker mk{dev, r, run, 860 + uint64_t(B)};
                      const int64_t Hkv = kHeads / 2;
                      const at::Tensor qkv = mk.randn({B, 1, Hkv, 4, kHd});
                      at::Tensor kc = mk.randn({B, Hkv, 300, kHd}), vc = mk.randn({B, Hkv, 300, kHd});
                      at::Tensor len = at::full({1}, 257, at::TensorOptions().dtype(at::kLong).device(dev));
                      at::Tensor q;
                      if (d) {
                        q = rope_kv_append(qkv, kc, vc, len, 1e6);
                      } else {
                        q = apply_rope_at_ref(qkv.narrow(3, 0, 2).reshape({B, 1, kHeads, kHd}), len, 1e6);
                        kc.index_copy_(2, len, apply_rope_at_ref(qkv.select(3, 2), len, 1e6).transpose(1, 2));
                        vc.index_copy_(2, len, qkv.select(3, 3).transpose(1, 2));
                        len.add_(1);
                      }
                      return {{"q", q}, {"k_cache", kc}, {"v_cache", vc}, {"len", len.to(at::kFloat)}};
                    }});
    }
}

void add_norm_cases(std::vector<Case>& cs, const c10::Device& dev) {
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      for (int64_t L : {1, 127, 4096}) {
        cs.push_back({Op::rms_norm, "rms_norm L=" + std::to_string(L) + " B=" + std::to_string(B) + " D=2048 strided", dt,
                      L == 127 && B == 1, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                        Maker mk{dev, r, run, 300 + uint64_t(L + B)};
                        const at::Tensor x = mk.randn({B, L, kHidden + 64}, 2.0).narrow(2, 0, kHidden);  // row stride 2112
                        const at::Tensor w = mk.uniform({kHidden}, 0.5, 1.5);
                        return {{"out", d ? rms_norm(x, w, 1e-5) : rms_norm_ref(x, w, 1e-5)}};
                      }});
      }
}

// Mamba-2 layer channels: [v | k | q] = 2 H_kv hd + H hd; z rows also carry gate (H hd) and gamma (H).
int64_t channels(int64_t Hkv) { return 2 * Hkv * kHd + kHeads * kHd; }

void add_gated_norm_cases(std::vector<Case>& cs, const c10::Device& dev) {
  const int64_t Z = channels(8) + kHeads * kHd + kHeads;
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      for (int64_t L : {1, 129, 4096}) {
        cs.push_back({Op::gated_rmsnorm, "gated_rmsnorm L=" + std::to_string(L) + " B=" + std::to_string(B) + " gate of z", dt,
                      L == 129 && B == 1, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                        Maker mk{dev, r, run, 800 + uint64_t(L + B)};
                        const at::Tensor y = mk.randn({B, L, kHeads, kHd});
                        // the gate slice of the fused projection z: (B, L, H, P) with row stride Z
                        const at::Tensor g = mk.randn({B, L, Z}).narrow(2, channels(8), kHeads * kHd).reshape({B, L, kHeads, kHd});
                        const at::Tensor w = mk.uniform({kHd}, 0.5, 1.5);
                        return {{"out", d ? gated_rmsnorm(y, g, w, 1e-5) : gated_rmsnorm_ref(y, g, w, 1e-5)}};
                      }});
      }
  // P = 96 and an odd gate stride take the per-element kernel; P = 64 and 256 the other vector widths.
  for (const int64_t P : {96, 64, 256})
    for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
      cs.push_back({Op::gated_rmsnorm, "gated_rmsnorm L=33 B=2 H=4 P=" + std::to_string(P) + (P == 96 ? " odd gate stride" : ""),
                    dt, false, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                      Maker mk{dev, r, run, 850 + uint64_t(P)};
                      const at::Tensor y = mk.randn({2, 33, 4, P});
                      const int64_t row = 4 * P + (P == 96 ? 1 : 8);
                      const at::Tensor g = mk.randn({2, 33, row}).narrow(2, 0, 4 * P).reshape({2, 33, 4, P});
                      const at::Tensor w = mk.uniform({P}, 0.5, 1.5);
                      return {{"out", d ? gated_rmsnorm(y, g, w, 1e-5) : gated_rmsnorm_ref(y, g, w, 1e-5)}};
                    }});
}


void add_conv_cases(std::vector<Case>& cs, const c10::Device& dev) {
  const int64_t C = channels(8), Z = C + kHeads * kHd + kHeads;
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      for (int64_t L : {1, 127, 128, 129, 4096}) {
        const bool with_state = B == 3;
        cs.push_back({Op::conv1d,
                      "conv L=" + std::to_string(L) + " B=" + std::to_string(B) + " C=4096 K=2" + (with_state ? " +state" : ""),
                      dt, L == 129 && B == 3, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                        Maker mk{dev, r, run, 400 + uint64_t(L + B)};
                        const at::Tensor x = mk.randn({B, L, Z}).narrow(2, 0, C);  // the [v | k | q] slice of z
                        const at::Tensor w = mk.randn({C, 2}, 0.5), b = mk.randn({C}, 0.1);
                        const at::Tensor s0 = with_state ? mk.randn({B, C, 1}) : at::Tensor();
                        const ConvResult o = d ? causal_conv1d(x, w, b, s0) : causal_conv1d_ref(x, w, b, s0);
                        return {{"out", o.out}, {"final_state", o.final_state}};
                      }});
      }
  // Other widths and channel counts: C % 8 != 0 takes the per-element kernel, the rest the vector one;
  // 600000 tokens run the vector kernel's grid-strided token blocks.
  struct Shape { int64_t B, L, C, K; };
  for (const Shape s : {Shape{2, 129, 36, 3}, Shape{2, 129, 4096, 4}, Shape{3, 130, 512, 3}, Shape{1, 600000, 16, 2}})
    for (at::ScalarType dt : {at::kBFloat16, at::kFloat}) {
      const int64_t B = s.B, L = s.L, Cs = s.C, K = s.K;
      cs.push_back({Op::conv1d,
                    "conv L=" + std::to_string(L) + " B=" + std::to_string(B) + " C=" + std::to_string(Cs) + " K=" +
                        std::to_string(K) + " +state",
                    dt, false, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                      Maker mk{dev, r, run, 450 + uint64_t(L + Cs + K)};
                      const at::Tensor x = mk.randn({B, L, Cs + 8}).narrow(2, 0, Cs);
                      const at::Tensor w = mk.randn({Cs, K}, 0.5), b = mk.randn({Cs}, 0.1);
                      const at::Tensor s0 = mk.randn({B, Cs, K - 1});
                      const ConvResult o = d ? causal_conv1d(x, w, b, s0) : causal_conv1d_ref(x, w, b, s0);
                      return {{"out", o.out}, {"final_state", o.final_state}};
                    }});
    }
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      cs.push_back({Op::conv1d_update, "conv step B=" + std::to_string(B) + " C=4096 K=2", dt, B == 1,
                    [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                      Maker mk{dev, r, run, 500 + uint64_t(B)};
                      const at::Tensor x = mk.randn({B, Z}).narrow(1, 0, C);
                      const at::Tensor w = mk.randn({C, 2}, 0.5), b = mk.randn({C}, 0.1);
                      at::Tensor st = mk.randn({B, C, 1});
                      const at::Tensor out = d ? causal_conv1d_update(x, st, w, b) : causal_conv1d_update_ref(x, st, w, b);
                      return {{"out", out}, {"state", st}};
                    }});
}

void add_mamba2_cases(std::vector<Case>& cs, const c10::Device& dev) {
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      for (int64_t g : {2, 1}) {
        cs.push_back({Op::mamba2_decode_step, "mamba2 step B=" + std::to_string(B) + " g=" + std::to_string(g) + " hd=128", dt,
                      B == 1 && g == 2, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                        Maker mk{dev, r, run, 600 + uint64_t(B + 7 * g)};
                        const int64_t Hkv = kHeads / g, C = channels(Hkv), Z = C + kHeads * kHd + kHeads;
                        const at::Tensor z = mk.randn({B, Z});  // one token's fused projection row
                        Mamba2StepWeights w;
                        w.conv_weight = mk.randn({C, 2}, 0.5);
                        w.conv_bias = mk.randn({C}, 0.1);
                        w.dt_bias = mk.uniform({kHeads}, -4.0, -1.0);
                        w.A_log = mk.uniform({kHeads}, 0.0, 2.7);
                        w.norm_weight = mk.uniform({kHd}, 0.5, 1.5);
                        w.n_heads = kHeads;
                        w.n_kv_heads = Hkv;
                        at::Tensor conv = mk.randn({B, C, 1}), ssm = mk.randn_f32({B, kHeads, kHd, kHd}, 0.1);
                        const at::Tensor c = z.narrow(1, 0, C), gate = z.narrow(1, C, kHeads * kHd),
                                         gamma = z.narrow(1, C + kHeads * kHd, kHeads);
                        const at::Tensor out = d ? mamba2_decode_step(c, gate, gamma, conv, ssm, w)
                                                 : mamba2_decode_step_ref(c, gate, gamma, conv, ssm, w);
                        return {{"out", out}, {"conv_state", conv}, {"ssm_state", ssm}};
                      }});
      }
}

/// The chunked SSD scan (chunk 128): the HoVLE layer's 16 heads of 128 at the edge lengths, with and
/// without an initial state, x/B/C contiguous or as strided views of one projection (as the Mamba-2
/// layer hands them over), x and B with 8 heads for C's 16 (the layer's kv grouping, read in place);
/// and a head dim of 64 (the demo's shape), which the kernel leaves to the reference.
void add_ssd_scan_cases(std::vector<Case>& cs, const c10::Device& dev) {
  const auto scan_case = [dev](int64_t B, int64_t L, int64_t P, bool with_state, bool views, uint64_t seed,
                               int64_t g = 1) {
    return [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
      Maker mk{dev, r, run, seed};
      const int64_t Hx = kHeads / g;  // x and B heads
      at::Tensor x, Bm, Cm;
      if (views) {  // z (B, L, (2 H_x + H) P) = [x | B | C] per position, each a (B, L, heads, P) view of it
        const at::Tensor z = at::cat({mk.randn({B, L, Hx * P}), mk.randn({B, L, Hx * P}, 0.1),
                                      mk.randn({B, L, kHeads * P}, 0.1)}, 2);
        x = z.narrow(2, 0, Hx * P).view({B, L, Hx, P});
        Bm = z.narrow(2, Hx * P, Hx * P).view({B, L, Hx, P});
        Cm = z.narrow(2, 2 * Hx * P, kHeads * P).view({B, L, kHeads, P});
      } else {
        x = mk.randn({B, L, Hx, P});
        Bm = mk.randn({B, L, Hx, P}, 0.1);
        Cm = mk.randn({B, L, kHeads, P}, 0.1);
      }
      const at::Tensor dtv = mk.uniform({B, L, kHeads}, 0.01, 0.1).to(at::kFloat);
      const at::Tensor A = -mk.uniform({kHeads}, 1.0, 8.0).to(at::kFloat);
      const at::Tensor s0 = with_state ? mk.randn_f32({B, kHeads, P, P}, 0.1) : at::Tensor();
      const ScanResult o = d ? ssd_scan_chunked(x, dtv, A, Bm, Cm, 128, s0) : ssd_scan_chunked_ref(x, dtv, A, Bm, Cm, 128, s0);
      return {{"y", o.y}, {"final_state", o.final_state}};
    };
  };
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3})
      for (int64_t L : {1, 127, 128, 129, 4096}) {
        const bool with_state = B == 3 || L == 129, views = B == 1 && L != 128;
        const std::string label = "ssd scan L=" + std::to_string(L) + " B=" + std::to_string(B) + " chunk 128" +
                                  (with_state ? " +state" : "") + (views ? " views" : "");
        cs.push_back({Op::ssd_scan, label, dt, L == 129 && B == 1, scan_case(B, L, kHd, with_state, views, 720 + uint64_t(L + B))});
      }
  for (int64_t L : {129, 4096})
    cs.push_back({Op::ssd_scan, "ssd scan L=" + std::to_string(L) + " B=1 x, B: 8 heads for 16 views +state", at::kBFloat16,
                  L == 129, scan_case(1, L, kHd, true, true, 760 + uint64_t(L), 2)});
  cs.push_back({Op::ssd_scan, "ssd scan L=129 B=1 P=N=64 (demo shape)", at::kBFloat16, false, scan_case(1, 129, 64, true, false, 740)});
}

/// The decode GEMVs at the HoVLE layer's shapes: the Mamba-2 fused input projection (N = 6160) and the
/// attention wqkv (4096) after the pre-norm; the MLP's w1/w3 pair; W_O (K = 2048) and w2 (K = 8192) with
/// the residual. x rows are strided views (row stride K + 64); 5 rows is past the GEMV (the composition).
void add_linear_cases(std::vector<Case>& cs, const c10::Device& dev) {
  const auto norm_in = [](Maker& mk, int64_t B, int64_t K) {
    return mk.randn({B, 1, K + 64}, 2.0).narrow(2, 0, K);  // (B, 1, K), row stride K + 64
  };
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3, 5})
      for (int64_t N : {6160, 4096}) {
        if (B == 5 && (dt != at::kBFloat16 || N != 6160)) continue;
        cs.push_back({Op::norm_linear, "norm_linear B=" + std::to_string(B) + " N=" + std::to_string(N) + " K=2048 strided",
                      dt, B == 1 && N == 6160, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                        Maker mk{dev, r, run, 800 + uint64_t(B + N)};
                        const at::Tensor x = norm_in(mk, B, kHidden), nw = mk.uniform({kHidden}, 0.5, 1.5);
                        const at::Tensor w = mk.randn({N, kHidden}, 1.0 / std::sqrt(double(kHidden)));
                        return {{"out", d ? norm_linear(x, nw, 1e-5, w) : at::matmul(rms_norm_ref(x, nw, 1e-5), w.t())}};
                      }});
      }
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3}) {
      cs.push_back({Op::norm_swiglu, "norm_swiglu B=" + std::to_string(B) + " I=8192 K=2048 strided", dt, B == 1,
                    [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                      Maker mk{dev, r, run, 820 + uint64_t(B)};
                      const at::Tensor x = norm_in(mk, B, kHidden), nw = mk.uniform({kHidden}, 0.5, 1.5);
                      const double sc = 2.0 / std::sqrt(double(kHidden));
                      const at::Tensor w1 = mk.randn({8192, kHidden}, sc), w3 = mk.randn({8192, kHidden}, sc);
                      if (d) return {{"out", norm_swiglu(x, nw, 1e-5, w1, w3)}};
                      const at::Tensor n = rms_norm_ref(x, nw, 1e-5);
                      return {{"out", at::silu(at::matmul(n, w1.t())) * at::matmul(n, w3.t())}};
                    }});
    }
  // Prefill rows (past the GEMV): cuBLAS and the in-place SiLU x up; I = 8190 leaves a tail of 6 elements.
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    cs.push_back({Op::norm_swiglu, "norm_swiglu L=301 I=8190 K=2048 strided (prefill)", dt, false,
                  [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                    Maker mk{dev, r, run, 830};
                    const at::Tensor x = mk.randn({1, 301, kHidden + 64}, 2.0).narrow(2, 0, kHidden);
                    const at::Tensor nw = mk.uniform({kHidden}, 0.5, 1.5);
                    const double sc = 2.0 / std::sqrt(double(kHidden));
                    const at::Tensor w1 = mk.randn({8190, kHidden}, sc), w3 = mk.randn({8190, kHidden}, sc);
                    if (d) return {{"out", norm_swiglu(x, nw, 1e-5, w1, w3)}};
                    const at::Tensor n = rms_norm_ref(x, nw, 1e-5);
                    return {{"out", at::silu(at::matmul(n, w1.t())) * at::matmul(n, w3.t())}};
                  }});
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (int64_t B : {1, 3, 4})
      for (int64_t K : {2048, 8192}) {
        if (B == 4 && K != 8192) continue;  // 4 rows of 8192: the 64 KB shared-memory launch
        cs.push_back({Op::linear_residual, "linear_residual B=" + std::to_string(B) + " N=2048 K=" + std::to_string(K), dt,
                      B == 1 && K == 2048, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                        Maker mk{dev, r, run, 840 + uint64_t(B + K)};
                        const at::Tensor x = mk.randn({B, 1, K}), res = mk.randn({B, 1, kHidden}, 4.0);
                        const at::Tensor w = mk.randn({kHidden, K}, 1.0 / std::sqrt(double(K)));
                        return {{"out", d ? linear_residual(x, w, res) : res + at::matmul(x, w.t())}};
                      }});
      }
  // Prefill rows: the residual as cuBLAS's accumulator.
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    cs.push_back({Op::linear_residual, "linear_residual B=2 L=150 N=2048 K=8192 (prefill)", dt, false,
                  [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                    Maker mk{dev, r, run, 860};
                    const at::Tensor x = mk.randn({2, 150, 8192}), res = mk.randn({2, 150, kHidden}, 4.0);
                    const at::Tensor w = mk.randn({kHidden, 8192}, 1.0 / std::sqrt(8192.0));
                    return {{"out", d ? linear_residual(x, w, res) : res + at::matmul(x, w.t())}};
                  }});
}

/// A run of Mamba-2 decoder layers decoded token by token (batch 1): each token's output and, after
/// the last token, every layer's conv and SSM state. Small shapes with g = 2 and g = 1, and the HoVLE
/// layer's shape (D 2048, 16 heads over 8 kv heads, F 8192).
void add_layers_cases(std::vector<Case>& cs, const c10::Device& dev) {
  struct Shape {
    int64_t D, H, Hkv, F, layers, tokens;
    bool small;
  };
  for (at::ScalarType dt : {at::kBFloat16, at::kFloat})
    for (const Shape& s : {Shape{512, 4, 2, 1024, 3, 3, true}, Shape{512, 4, 4, 1024, 2, 3, false},
                           Shape{kHidden, kHeads, kHeads / 2, 8192, 2, 2, false}}) {
      if (s.D == kHidden && dt != at::kBFloat16) continue;
      const std::string label = "layers x" + std::to_string(s.layers) + " tokens " + std::to_string(s.tokens) + " D=" +
                                std::to_string(s.D) + " g=" + std::to_string(s.H / s.Hkv);
      cs.push_back({Op::mamba2_layers_decode, label, dt, s.small, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                      Maker mk{dev, r, run, 900 + uint64_t(s.D + s.Hkv)};
                      const int64_t HP = s.H * kHd, C = 2 * s.Hkv * kHd + HP;
                      std::vector<at::Tensor> convs, ssms;
                      for (int64_t i = 0; i < s.layers; ++i) {
                        convs.push_back(mk.randn({1, C, 1}));
                        ssms.push_back(mk.randn_f32({1, s.H, kHd, kHd}, 0.1));
                      }
                      std::vector<Mamba2DecodeLayer> ls(size_t(s.layers));
                      for (int64_t i = 0; i < s.layers; ++i) {
                        Mamba2DecodeLayer& l = ls[size_t(i)];
                        l.attn_norm = mk.uniform({s.D}, 0.5, 1.5);
                        l.fused_in = mk.randn({C + HP + s.H, s.D}, 1.0 / std::sqrt(double(s.D)));
                        l.o_proj = mk.randn({s.D, HP}, 1.0 / std::sqrt(double(HP)));
                        l.ffn_norm = mk.uniform({s.D}, 0.5, 1.5);
                        l.w1 = mk.randn({s.F, s.D}, 2.0 / std::sqrt(double(s.D)));
                        l.w3 = mk.randn({s.F, s.D}, 2.0 / std::sqrt(double(s.D)));
                        l.w2 = mk.randn({s.D, s.F}, 1.0 / std::sqrt(double(s.F)));
                        l.step = {mk.randn({C, 2}, 0.5), mk.randn({C}, 0.1), mk.uniform({s.H}, -4.0, -1.0),
                                  mk.uniform({s.H}, 0.0, 2.7), mk.uniform({kHd}, 0.5, 1.5), s.H, s.Hkv, 1e-5};
                        l.conv_state = &convs[size_t(i)];
                        l.ssm_state = &ssms[size_t(i)];
                      }
                      std::vector<at::Tensor> ys;
                      for (int64_t t = 0; t < s.tokens; ++t) {
                        const at::Tensor h = mk.randn({1, 1, s.D});
                        ys.push_back(d ? mamba2_layers_decode(h, ls, 1e-5) : mamba2_layers_decode_composed(h, ls, 1e-5));
                      }
                      return {{"out", at::cat(ys, 1)}, {"conv_state", at::cat(convs, 1)}, {"ssm_state", at::cat(ssms, 1)}};
                    }});
    }
}

/// Ops with no fast path yet: one case each, so the table shows they run the reference everywhere.
void add_reference_only_cases(std::vector<Case>& cs, const c10::Device& dev) {
  const at::ScalarType dt = dev.is_cuda() ? at::kBFloat16 : at::kFloat;
  cs.push_back({Op::ssd_state_update, "ssd step B=1", dt, true, [=](at::ScalarType r, at::ScalarType run, bool d) -> Outputs {
                  Maker mk{dev, r, run, 730};
                  at::Tensor S = mk.randn_f32({1, kHeads, kHd, kHd}, 0.1);
                  const at::Tensor x = mk.randn({1, kHeads, kHd}), Bm = mk.randn({1, kHeads, kHd}, 0.1),
                                   Cm = mk.randn({1, kHeads, kHd}, 0.1);
                  const at::Tensor dtv = mk.uniform({1, kHeads}, 0.01, 0.1).to(at::kFloat);
                  const at::Tensor A = -mk.uniform({kHeads}, 1.0, 8.0).to(at::kFloat);
                  const at::Tensor y = d ? ssd_state_update(S, x, dtv, A, Bm, Cm) : ssd_state_update_ref(S, x, dtv, A, Bm, Cm);
                  return {{"y", y}, {"state", S}};
                }});
}

std::string path_taken(Op op, const std::vector<OpPathRecord>& before) {
  const OpPathRecord now = op_path_records()[size_t(op)];
  return now.fast_calls > before[size_t(op)].fast_calls ? now.fast_path : "reference";
}

OpCheckResult run_case(const Case& c, const c10::Device& dev) {
  OpCheckResult res;
  res.op = op_name(c.op);
  res.label = c.label + " " + dtype_name(c.dtype);
  const auto before = op_path_records();
  const Outputs got = c.fn(c.dtype, c.dtype, true);
  res.path = path_taken(c.op, before);
  const Outputs want = c.fn(c.dtype, at::kFloat, false);  // fp32 reference on the same rounded inputs
  const Outputs base = c.fn(c.dtype, c.dtype, false);     // the reference's own error in this dtype
  double worst_ratio = -1;
  res.passed = true;
  for (size_t i = 0; i < want.size(); ++i) {
    const DiffStats d = diff_stats(got[i].second, want[i].second);
    const DiffStats b = diff_stats(base[i].second, want[i].second);
    const double absmax = want[i].second.abs().max().item<double>();
    const double budget = diff_budget(c.dtype, b.max_diff, absmax);  // an fp32 state of a bf16 case: bf16 inputs
    const double ratio = budget > 0 ? d.max_diff / budget : (d.max_diff > 0 ? INFINITY : 0);
    if (!(d.max_diff <= budget)) res.passed = false;
    if (ratio > worst_ratio || !(ratio == ratio)) {
      worst_ratio = ratio;
      res.worst = got[i].first;
      res.max_diff = d.max_diff;
      res.mean_diff = d.mean_diff;
      res.baseline = b.max_diff;
      res.budget = budget;
    }
  }
  return res;
}

OpCheckResult failed_case(const std::string& op, const std::string& label, const std::string& what) {
  OpCheckResult r;
  r.op = op;
  r.label = label;
  r.path = "error";
  r.worst = what;
  r.worst = r.worst.substr(0, r.worst.find('\n'));
  r.max_diff = INFINITY;
  return r;
}

}  // namespace

DiffStats diff_stats(const at::Tensor& got, const at::Tensor& want) {
  DiffStats s;
  if (got.sizes() != want.sizes()) {
    s.max_diff = s.mean_diff = INFINITY;
    return s;
  }
  if (got.numel() == 0) return s;
  const at::Tensor d = (got.to(at::kFloat) - want.to(at::kFloat)).abs();
  s.max_diff = d.max().item<double>();
  s.mean_diff = d.mean().item<double>();
  if (!std::isfinite(s.max_diff)) s.max_diff = s.mean_diff = INFINITY;
  return s;
}

double diff_budget(at::ScalarType dtype, double baseline_max, double ref_absmax) {
  // fp32: a few ulps of reordered sums over the largest value; bf16/f16: about two roundings (2^-8 each).
  const double floor = dtype == at::kFloat ? 1e-4 : 1e-2;
  return std::max(2.0 * baseline_max, floor * std::max(ref_absmax, 1e-6));
}

std::vector<OpCheckResult> run_op_checks(const c10::Device& device, bool full, const std::string& only_op) {
  c10::AutoGradMode no_grad(false);
  std::vector<Case> cases;
  add_attention_cases(cases, device);
  add_rope_cases(cases, device);
  add_norm_cases(cases, device);
  add_kv_append_cases(cases, device);
  add_conv_cases(cases, device);
  add_mamba2_cases(cases, device);
  add_gated_norm_cases(cases, device);
  add_ssd_scan_cases(cases, device);
  add_linear_cases(cases, device);
  add_layers_cases(cases, device);
  add_reference_only_cases(cases, device);
  std::vector<OpCheckResult> out;
  for (const Case& c : cases) {
    if (!only_op.empty() && only_op != op_name(c.op)) continue;
    // CPU: only the small fp32 cases (the rest exist for CUDA fast paths); the short table on CUDA:
    // the small cases in bf16, the dtype the GPU runs.
    const bool cpu_skip = !device.is_cuda() && (!c.small || c.dtype != at::kFloat);
    if (!full && (!c.small || (device.is_cuda() && c.dtype != at::kBFloat16) || (!device.is_cuda() && cpu_skip))) continue;
    if (cpu_skip) {
      OpCheckResult r;
      r.op = op_name(c.op);
      r.label = c.label + " " + dtype_name(c.dtype);
      r.skipped = true;
      r.note = "CUDA case: skipped on " + device.str() + " (no GPU here; run `mmmamba selftest --full` on one)";
      out.push_back(r);
      continue;
    }
    try {
      out.push_back(run_case(c, device));
    } catch (const c10::Error& e) {  // a failing fast path is a failed case, not the end of the table
      out.push_back(failed_case(op_name(c.op), c.label + " " + dtype_name(c.dtype), e.what_without_backtrace()));
    }
  }
  if ((full || device.is_cuda()) && (only_op.empty() || only_op == "decode_graph"))
    for (const char* plan : {"linear", "hybrid", "teacher"}) {
      try {
        out.push_back(check_decode_graph(device, plan));
      } catch (const c10::Error& e) {
        out.push_back(failed_case("decode_graph", std::string(plan) + ": graph vs eager", e.what_without_backtrace()));
      }
      try {  // generate() may also throw the engine's own errors
        out.push_back(check_generate_graph(device, plan));
      } catch (const c10::Error& e) {
        out.push_back(failed_case("decode_graph", std::string(plan) + ": replies, graph vs eager", e.what_without_backtrace()));
      } catch (const std::exception& e) {
        out.push_back(failed_case("decode_graph", std::string(plan) + ": replies, graph vs eager", e.what()));
      }
    }
  return out;
}

std::string format_op_checks(const std::vector<OpCheckResult>& results) {
  std::string s;
  char line[512];
  std::snprintf(line, sizeof line, "%-20s %-44s %-12s %-12s %10s %10s %10s %10s  %s\n", "op", "case", "path", "output",
                "max diff", "mean diff", "ref err", "budget", "result");
  s += line;
  int passed = 0, failed = 0, skipped = 0;
  for (const OpCheckResult& r : results) {
    if (r.skipped) {
      ++skipped;
      std::snprintf(line, sizeof line, "%-20s %-44s %s\n", r.op.c_str(), r.label.c_str(), r.note.c_str());
    } else {
      (r.passed ? passed : failed) += 1;
      std::snprintf(line, sizeof line, "%-20s %-44s %-12s %-12s %10.3g %10.3g %10.3g %10.3g  %s\n", r.op.c_str(),
                    r.label.c_str(), r.path.c_str(), r.worst.c_str(), r.max_diff, r.mean_diff, r.baseline, r.budget,
                    r.passed ? "ok" : "FAIL");
    }
    s += line;
  }
  std::snprintf(line, sizeof line, "%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return s + line;
}

std::string describe_op_device(const c10::Device& device) {
  const std::string name = device_name(device);
  return describe_device(device) + (name.empty() ? "" : " (" + name + ")") + ": CUDA kernels " +
         (cuda_kernels_built() ? "built" : "not built") + ", SDPA flash " + (sdpa_flash_built() ? "built" : "not built");
}

std::vector<std::string> turn_off_failed_fast_paths(const std::vector<OpCheckResult>& results) {
  std::vector<std::string> off;
  for (const OpCheckResult& r : results) {
    Op op;
    if (r.skipped || r.passed || r.path == "reference" || !op_from_name(r.op, op) || reference_forced(op)) continue;
    set_reference_forced(op, true);
    off.push_back(r.op);
  }
  return off;
}

SelfTestReport run_self_test(const c10::Device& device, const std::string& only_op) {
  SelfTestReport report;
  report.device = describe_op_device(device);
  const OpPathSnapshot before = snapshot_op_paths();
  try {
    report.results = run_op_checks(device, /*full=*/false, only_op);
  } catch (...) {
    restore_op_paths(before);
    throw;
  }
  restore_op_paths(before);
  for (const OpCheckResult& r : report.results) (r.skipped ? report.skipped : r.passed ? report.passed : report.failed) += 1;
  report.turned_off = turn_off_failed_fast_paths(report.results);
  return report;
}

}  // namespace mm
