#include "ref/ssd_ref.h"

#include <c10/core/GradMode.h>

#include <ATen/ExpandUtils.h>
#include <c10/util/Exception.h>

namespace mm {
namespace {

// x and B may carry fewer heads than C (grouped like the teacher's KV heads): H % H_x == 0, and head j
// reads head j / (H / H_x). dt, A and C have the H heads of the output.
void check_inputs(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                  const at::Tensor& Cm) {
  TORCH_CHECK(x.dim() == 4, "ssd: x must be (B, L, H_x, P), got ", x.sizes());
  TORCH_CHECK(Cm.dim() == 4, "ssd: C must be (B, L, H, N), got ", Cm.sizes());
  const auto Bsz = x.size(0), L = x.size(1), H = Cm.size(2);
  TORCH_CHECK(Cm.size(0) == Bsz && Cm.size(1) == L, "ssd: C must be (B, L, H, N) with x's B and L, got ", Cm.sizes());
  TORCH_CHECK(dt.sizes() == at::IntArrayRef({Bsz, L, H}), "ssd: dt must be (B, L, H), got ", dt.sizes());
  TORCH_CHECK(A.dim() == 1 && A.size(0) == H, "ssd: A must be (H), got ", A.sizes());
  TORCH_CHECK(Bm.dim() == 4 && Bm.size(0) == Bsz && Bm.size(1) == L && Bm.size(3) == Cm.size(3),
              "ssd: B must be (B, L, H_b, N) like C, got ", Bm.sizes());
  TORCH_CHECK(x.size(2) > 0 && H % x.size(2) == 0 && Bm.size(2) > 0 && H % Bm.size(2) == 0,
              "ssd: x and B heads must divide C's ", H, ", got ", x.size(2), " and ", Bm.size(2));
}

}  // namespace

at::Tensor expand_heads(const at::Tensor& t, int64_t H) {
  const int64_t Hx = t.size(2);
  if (Hx == H) return t;
  TORCH_CHECK(Hx > 0 && H % Hx == 0, "expand_heads: ", Hx, " heads do not divide ", H);
  const int64_t Bsz = t.size(0), L = t.size(1), D = t.size(3), g = H / Hx;
  // (B, L, H_x, D) -> (B, L, H_x, g, D) -> (B, L, H, D): a broadcast copy (repeat_interleave over heads)
  return t.unsqueeze(3).expand({Bsz, L, Hx, g, D}).reshape({Bsz, L, H, D});
}

namespace {

// Batched matmul over leading dims. On CPU, LibTorch 1.13's bmm runs ~5x below BLAS for 128-sized
// blocks while a loop of at::mm reaches it (measured on the 2-core CI machine), so loop there.
at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!a.is_cpu() || a.dim() < 3) return at::matmul(a, b);
  std::vector<int64_t> batch = at::infer_size(a.sizes().slice(0, a.dim() - 2), b.sizes().slice(0, b.dim() - 2));
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  std::vector<int64_t> ashape = batch, bshape = batch;
  ashape.insert(ashape.end(), {m, k});
  bshape.insert(bshape.end(), {k, n});
  const at::Tensor a3 = a.expand(ashape).reshape({-1, m, k}), b3 = b.expand(bshape).reshape({-1, k, n});
  std::vector<int64_t> oshape = batch;
  oshape.insert(oshape.end(), {m, n});
  if (at::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad())) {
    // Training: out= kernels are not differentiable; stacked mm keeps the speed and the graph.
    std::vector<at::Tensor> parts;
    parts.reserve(size_t(a3.size(0)));
    for (int64_t i = 0; i < a3.size(0); ++i) parts.push_back(at::mm(a3.select(0, i), b3.select(0, i)));
    return at::stack(parts, 0).view(oshape);
  }
  at::Tensor out = at::empty({a3.size(0), m, n}, a.options());
  for (int64_t i = 0; i < a3.size(0); ++i) {
    at::Tensor o = out.select(0, i);
    at::mm_out(o, a3.select(0, i), b3.select(0, i));
  }
  return out.view(oshape);
}

at::Tensor initial_state(const at::Tensor& x, const at::Tensor& Bm, const at::Tensor& init) {
  const auto shape = std::vector<int64_t>{x.size(0), x.size(2), x.size(3), Bm.size(3)};  // x and B expanded
  if (!init.defined()) return at::zeros(shape, x.options().dtype(at::kFloat));
  TORCH_CHECK(init.sizes() == at::IntArrayRef(shape), "ssd: initial state must be (B, H, P, N) = ", shape,
              ", got ", init.sizes());
  return init.to(at::kFloat);
}

}  // namespace

ScanResult ssd_scan_recurrent_ref(const at::Tensor& x_in, const at::Tensor& dt, const at::Tensor& A,
                                  const at::Tensor& B_in, const at::Tensor& Cm, const at::Tensor& init_state) {
  check_inputs(x_in, dt, A, B_in, Cm);
  const at::Tensor x = expand_heads(x_in, Cm.size(2)), Bm = expand_heads(B_in, Cm.size(2));  // (B, L, H, P|N)
  at::Tensor S = initial_state(x, Bm, init_state).clone();  // (B, H, P, N)
  const at::Tensor xf = x.to(at::kFloat), dtf = dt.to(at::kFloat), Bf = Bm.to(at::kFloat), Cf = Cm.to(at::kFloat);
  const at::Tensor Af = A.to(at::kFloat);
  std::vector<at::Tensor> ys;
  ys.reserve(x.size(1));
  for (int64_t t = 0; t < x.size(1); ++t) {
    const at::Tensor d = dtf.select(1, t);                                                       // (B, H)
    const at::Tensor gamma = at::exp(d * Af).unsqueeze(-1).unsqueeze(-1);                         // (B, H, 1, 1)
    const at::Tensor outer = at::einsum("bhp,bhn->bhpn", {xf.select(1, t) * d.unsqueeze(-1), Bf.select(1, t)});
    S = gamma * S + outer;                                                                        // S_t
    ys.push_back(at::einsum("bhpn,bhn->bhp", {S, Cf.select(1, t)}));                              // y_t = S_t C_t
  }
  at::Tensor y = ys.empty() ? at::empty_like(x) : at::stack(ys, 1).to(x.scalar_type());  // (B, L, H, P)
  return {y, S};
}

at::Tensor ssd_state_update_ref(at::Tensor& state, const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                                const at::Tensor& Bm, const at::Tensor& Cm) {
  TORCH_CHECK(state.dim() == 4 && state.scalar_type() == at::kFloat, "ssd step: state must be fp32 (B, H, P, N)");
  const at::Tensor dtf = dt.to(at::kFloat);                               // (B, H)
  const at::Tensor decay = at::exp(dtf * A.to(at::kFloat)).view({dtf.size(0), dtf.size(1), 1, 1});
  const at::Tensor xs = (x.to(at::kFloat) * dtf.unsqueeze(-1)).unsqueeze(-1);  // (B, H, P, 1)
  const at::Tensor b = Bm.to(at::kFloat).unsqueeze(-2);                      // (B, H, 1, N)
  state.mul_(decay).add_(xs * b);                                            // S = decay S + dt x B^T
  const at::Tensor y = at::matmul(state, Cm.to(at::kFloat).unsqueeze(-1)).squeeze(-1);  // (B, H, P)
  return y.to(x.scalar_type());
}

ScanResult ssd_scan_chunked_ref(const at::Tensor& x_in, const at::Tensor& dt, const at::Tensor& A,
                                const at::Tensor& B_in, const at::Tensor& Cm, int64_t T, const at::Tensor& init_state) {
  check_inputs(x_in, dt, A, B_in, Cm);
  const at::Tensor x = expand_heads(x_in, Cm.size(2)), Bm = expand_heads(B_in, Cm.size(2));  // (B, L, H, P|N)
  TORCH_CHECK(T > 0, "ssd: chunk_size must be positive");
  const int64_t Bsz = x.size(0), L = x.size(1), H = x.size(2);
  at::Tensor S = initial_state(x, Bm, init_state);
  if (L == 0) return {at::empty_like(x), S.clone()};
  // Chunk by chunk, all heads at once: each chunk's operands are a few MB that stay in cache, and the
  // state passing of step 3 is the running S (no (nc, H, P, N) stack of entering states).
  const at::Tensor xf = x.to(at::kFloat), Bf = Bm.to(at::kFloat), Cf = Cm.to(at::kFloat), dtf = dt.to(at::kFloat);
  const at::Tensor Af = A.to(at::kFloat).view({1, H, 1});
  const at::Tensor above = at::ones({T, T}, x.options().dtype(at::kBool)).triu(1);  // j > i: masked
  auto heads_first = [](const at::Tensor& t) { return t.permute({0, 2, 1, 3}).contiguous(); };  // (B, n, H, D) -> (B, H, n, D)
  std::vector<at::Tensor> ys;
  ys.reserve(size_t((L + T - 1) / T));
  for (int64_t l0 = 0; l0 < L; l0 += T) {
    const int64_t n = std::min(T, L - l0);
    const at::Tensor d = dtf.narrow(1, l0, n);                                 // (B, n, H)
    const at::Tensor xs = heads_first(xf.narrow(1, l0, n) * d.unsqueeze(-1));  // x~ = dt x, (B, H, n, P)
    const at::Tensor Bc = heads_first(Bf.narrow(1, l0, n)), Cc = heads_first(Cf.narrow(1, l0, n));  // (B, H, n, N)
    const at::Tensor Acum = at::cumsum(d.transpose(1, 2) * Af, -1);            // A^c_i, (B, H, n)

    // 1. Intra-chunk: Y_diag[i] = sum_{j<=i} exp(A_i - A_j) (C_i . B_j) x~_j  (masked decay "attention").
    const at::Tensor decay = (Acum.unsqueeze(-1) - Acum.unsqueeze(-2))       // (B, H, n, n): A_i - A_j
                                 .masked_fill_(above.narrow(0, 0, n).narrow(1, 0, n), -INFINITY)
                                 .exp_();
    at::Tensor y = batched_matmul(batched_matmul(Cc, Bc.transpose(-1, -2)) * decay, xs);  // (B, H, n, P)
    // 4. Off-diagonal: Y_off[i] = exp(A_i) S^(c-1) C_i, from the state entering the chunk.
    y = y + batched_matmul(Cc * at::exp(Acum).unsqueeze(-1), S.transpose(-1, -2));
    ys.push_back(y.transpose(1, 2));                                           // (B, n, H, P)

    // 2 + 3. The chunk's local state s_c = sum_j exp(A_last - A_j) x~_j B_j^T, and S^(c) = exp(A_last) S^(c-1) + s_c.
    const at::Tensor Alast = Acum.select(-1, n - 1);                           // (B, H)
    const at::Tensor w = at::exp(Alast.unsqueeze(-1) - Acum).unsqueeze(-1);    // (B, H, n, 1)
    S = S * at::exp(Alast).view({Bsz, H, 1, 1}) + batched_matmul((xs * w).transpose(-1, -2), Bc);  // (B, H, P, N)
  }
  return {at::cat(ys, 1).to(x.scalar_type()), S};                             // (B, L, H, P)
}

}  // namespace mm
