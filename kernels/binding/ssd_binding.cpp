#include "binding/check.h"
#include "binding/mm_kernels.h"
#include "ssd/ssd_scan.h"

namespace mm::cuda_ops {
namespace {

// (B, L, H / g, 128) of C's dtype (g >= 1), unit last stride, 16-byte rows (8-element strides, aligned data).
// Returns g.
int check_scan_operand(const at::Tensor& t, const char* name, const at::Tensor& c) {
  const int64_t H = c.size(2);
  TORCH_CHECK(t.dim() == 4 && t.size(0) == c.size(0) && t.size(1) == c.size(1) && t.size(2) > 0 && H % t.size(2) == 0 &&
                  t.size(3) == kern::kSsdChunk,
              name, " must be (B, L, H / g, 128) for C ", c.sizes(), ", got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == c.scalar_type(), name, " must have C's dtype ", c.scalar_type(), ", got ", t.scalar_type());
  MM_CHECK_CUDA(t);
  TORCH_CHECK(t.stride(3) == 1, name, " must have a unit last stride");
  TORCH_CHECK(t.stride(0) % 8 == 0 && t.stride(1) % 8 == 0 && t.stride(2) % 8 == 0 && aligned16(t.data_ptr()), name,
              " rows must be 16-byte aligned (strides multiples of 8 elements)");
  return int(H / t.size(2));
}

}  // namespace

ScanResult ssd_scan_chunked(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                            const at::Tensor& Cm, int64_t chunk_size, const at::Tensor& init_state) {
  MM_CHECK_CUDA(Cm);
  TORCH_CHECK(chunk_size == kern::kSsdChunk, "the SSD scan kernel takes chunk 128, got ", chunk_size);
  TORCH_CHECK(Cm.dim() == 4 && Cm.size(3) == kern::kSsdChunk, "C must be (B, L, H, 128), got ", Cm.sizes());
  TORCH_CHECK(Cm.scalar_type() == at::kBFloat16 || Cm.scalar_type() == at::kHalf, "C must be bf16 or f16, got ", Cm.scalar_type());
  const int x_group = check_scan_operand(x, "x", Cm), b_group = check_scan_operand(Bm, "B", Cm);
  check_scan_operand(Cm, "C", Cm);
  const int64_t Bsz = Cm.size(0), L = Cm.size(1), H = Cm.size(2), P = kern::kSsdChunk;
  MM_CHECK_SHAPE(dt, Bsz, L, H);
  MM_CHECK_DTYPE(dt, at::kFloat);
  MM_CHECK_CUDA(dt);
  MM_CHECK_SHAPE(A, H);
  MM_CHECK_DTYPE(A, at::kFloat);
  MM_CHECK_CONTIGUOUS(A);
  const auto f32 = x.options().dtype(at::kFloat);
  if (init_state.defined()) {
    MM_CHECK_SHAPE(init_state, Bsz, H, P, P);
    MM_CHECK_DTYPE(init_state, at::kFloat);
    MM_CHECK_CONTIGUOUS(init_state);
    TORCH_CHECK(aligned16(init_state.data_ptr()), "the initial state must be 16-byte aligned");
  }
  ScanResult r{at::empty({Bsz, L, H, P}, x.options()), at::empty({Bsz, H, P, P}, f32)};  // y (B, L, H, P)
  if (L == 0) {
    r.final_state = init_state.defined() ? init_state.clone() : at::zeros({Bsz, H, P, P}, f32);
    return r;
  }
  const int64_t nc = (L + P - 1) / P;
  // workspace: local states (fp32), entering states (x's dtype), chunk decays
  at::Tensor states = at::empty({Bsz, nc, H, P, P}, f32), entering = at::empty({Bsz, nc, H, P, P}, x.options());
  at::Tensor decay = at::empty({Bsz, H, nc}, f32);
  kern::SsdScanParams p;
  p.x = x.data_ptr();
  p.Bm = Bm.data_ptr();
  p.Cm = Cm.data_ptr();
  p.dt = dt.data_ptr<float>();
  p.A = A.data_ptr<float>();
  p.init_state = init_state.defined() ? init_state.data_ptr<float>() : nullptr;
  p.y = r.y.data_ptr();
  p.final_state = r.final_state.data_ptr<float>();
  p.chunk_states = states.data_ptr<float>();
  p.entering_states = entering.data_ptr();
  p.chunk_decay = decay.data_ptr<float>();
  p.x_stride_b = x.stride(0), p.x_stride_l = x.stride(1), p.x_stride_h = x.stride(2);
  p.b_stride_b = Bm.stride(0), p.b_stride_l = Bm.stride(1), p.b_stride_h = Bm.stride(2);
  p.c_stride_b = Cm.stride(0), p.c_stride_l = Cm.stride(1), p.c_stride_h = Cm.stride(2);
  p.dt_stride_b = dt.stride(0), p.dt_stride_l = dt.stride(1), p.dt_stride_h = dt.stride(2);
  p.batch = Bsz;
  p.len = L;
  p.heads = H;
  p.n_chunks = nc;
  p.x_group = x_group;
  p.b_group = b_group;
  p.dtype = kernel_dtype(x);
  MM_CHECK_LAUNCH(kern::ssd_scan_launch(p, current_stream(x)));
  return r;
}

}  // namespace mm::cuda_ops
