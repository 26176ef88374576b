#include "ops/op_registry.h"

#include <torch/version.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace mm {
namespace {

struct Slot {
  std::atomic<int64_t> fast{0}, ref{0};
  std::atomic<bool> forced{false};
  std::atomic<const char*> fast_path{nullptr}, fallback{nullptr};
};

constexpr const char* kNames[] = {"rms_norm",         "rope",          "attention_prefill", "attention_decode",
                                  "ssd_scan",         "ssd_state_update", "conv1d",         "conv1d_update",
                                  "gated_rmsnorm",    "mamba2_decode_step", "norm_linear",   "norm_swiglu",
                                  "linear_residual",  "rope_kv_append", "mamba2_layers_decode"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == size_t(Op::count_), "one name per op");

/// MMMAMBA_REFERENCE_OPS=op,op,...: ops sent to their reference from the start (a suspect fast path
/// turned off without a rebuild). Unknown names are ignored.
void force_from_environment(std::array<Slot, size_t(Op::count_)>& s) {
  const char* env = std::getenv("MMMAMBA_REFERENCE_OPS");
  if (!env) return;
  const std::string list = env;
  for (size_t start = 0; start <= list.size();) {
    const size_t end = std::min(list.find(',', start), list.size());
    Op op;
    if (op_from_name(list.substr(start, end - start), op)) s[size_t(op)].forced.store(true, std::memory_order_relaxed);
    start = end + 1;
  }
}

std::array<Slot, size_t(Op::count_)>& slots() {
  static std::array<Slot, size_t(Op::count_)> s;
  static const bool from_env = (force_from_environment(s), true);
  (void)from_env;
  return s;
}

}  // namespace

bool cuda_kernels_built() {
#if MM_HAVE_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

bool sdpa_flash_built() {
#if MM_TORCH_CUDA && TORCH_VERSION_MAJOR >= 2
  return true;
#else
  return false;
#endif
}

const char* op_name(Op op) { return kNames[size_t(op)]; }

void set_reference_forced(Op op, bool forced) { slots()[size_t(op)].forced.store(forced, std::memory_order_relaxed); }
bool reference_forced(Op op) { return slots()[size_t(op)].forced.load(std::memory_order_relaxed); }

bool op_from_name(const std::string& name, Op& op) {
  for (size_t i = 0; i < size_t(Op::count_); ++i)
    if (name == kNames[i]) {
      op = Op(i);
      return true;
    }
  return false;
}

const char* op_fast_path_support(Op op) {
  switch (op) {
    case Op::attention_prefill:
      return sdpa_flash_built() ? "sdpa-cudnn where it passes its first-use check against flash, else sdpa-flash: CUDA, "
                                  "bf16/f16, hd % 8 == 0 and <= 256, H % H_kv == 0"
                                : "none built";
    default:
      break;
  }
  if (!cuda_kernels_built()) return "none built";
  switch (op) {
    case Op::rms_norm: return "cuda: bf16/f16/f32, weight of x's dtype, last dim <= 8192, unit last stride";
    case Op::rope: return "cuda: bf16/f16/f32, even hd <= 4096, unit last stride (angles in fp32); prefill q and k read in place from the projection";
    case Op::attention_decode: return "cuda split-K: one query, bf16/f16, hd 64/128, H / H_kv in 1,2,4,8, unit last strides";
    case Op::gated_rmsnorm: return "cuda: bf16/f16/f32, P % 32 == 0 and <= 1024, unit last strides";
    case Op::conv1d: return "cuda: K <= 4, bf16/f16/f32, unit channel stride";
    case Op::conv1d_update: return "cuda: K <= 4, bf16/f16/f32, unit channel stride";
    case Op::ssd_scan: return "cuda chunked (tensor cores, fp32 state): bf16/f16, head dim = state dim = chunk = 128, 16-byte rows";
    case Op::mamba2_decode_step:
      return "cuda fused (conv, dt, state update, readout, gated norm): hd 128, K <= 4, H / H_kv in 1,2,4,8";
    case Op::norm_linear:
      return "cuda-gemv (decode): 1-4 rows of x, bf16/f16, K % 8 == 0 and <= 8192, contiguous weights";
    case Op::norm_swiglu:
      return "cuda-gemv (decode): 1-4 rows of x, bf16/f16, K % 8 == 0 and <= 8192, contiguous weights; "
             "cublas+silu-mul (prefill): more rows, bf16/f16";
    case Op::linear_residual:
      return "cuda-gemv (decode): 1-4 rows of x, bf16/f16, K % 8 == 0 and <= 8192, contiguous weights; "
             "cublas-addmm (prefill, the residual as accumulator): more rows, bf16/f16";
    case Op::rope_kv_append:
      return "cuda (one launch: RoPE of q and k, K/V written at the device length, length advanced): bf16/f16/f32, "
             "batch <= 8, even hd, unit last strides";
    case Op::mamba2_layers_decode:
      return "cuda persistent (sm_90: a run of up to 32 Mamba-2 layers in one launch, weights streamed through "
             "shared memory by bulk copies): batch 1, bf16/f16, hd 128, D, F, H hd multiples of 64 and <= 8192";
    default: return "none yet (reference)";
  }
}

void record_op_path(Op op, const char* path, const char* why) {
  Slot& s = slots()[size_t(op)];
  const bool ref = path[0] == 'r' && std::string_view(path) == "reference";
  if (ref) {
    s.ref.fetch_add(1, std::memory_order_relaxed);
    if (why) s.fallback.store(why, std::memory_order_relaxed);
  } else {
    s.fast.fetch_add(1, std::memory_order_relaxed);
    s.fast_path.store(path, std::memory_order_relaxed);
  }
}

std::vector<OpPathRecord> op_path_records() {
  std::vector<OpPathRecord> out;
  for (size_t i = 0; i < size_t(Op::count_); ++i) {
    const Slot& s = slots()[i];
    OpPathRecord r;
    r.op = kNames[i];
    r.fast_calls = s.fast.load(std::memory_order_relaxed);
    r.reference_calls = s.ref.load(std::memory_order_relaxed);
    if (const char* p = s.fast_path.load(std::memory_order_relaxed)) r.fast_path = p;
    if (const char* w = s.fallback.load(std::memory_order_relaxed)) r.fallback = w;
    out.push_back(r);
  }
  return out;
}

std::string op_path_status() {
  std::string out;
  for (const OpPathRecord& r : op_path_records()) {
    const int64_t n = r.fast_calls + r.reference_calls;
    if (n == 0) continue;
    out += out.empty() ? "ops: " : " · ";
    out += r.op + " ";
    if (r.fast_calls == 0) {
      out += "reference";
    } else {
      char pct[16];
      std::snprintf(pct, sizeof pct, " %d%%", int(100.0 * double(r.fast_calls) / double(n) + 0.5));
      out += r.fast_path + pct;
    }
  }
  return out.empty() ? "ops: nothing run yet" : out;
}

std::string op_path_report() {
  std::string out = "op                  fast calls  ref calls  fast path       supports / last fallback\n";
  const auto recs = op_path_records();
  for (size_t i = 0; i < recs.size(); ++i) {
    const OpPathRecord& r = recs[i];
    char line[512];
    std::snprintf(line, sizeof line, "%-19s %10lld %10lld  %-14s  %s%s%s\n", r.op.c_str(), (long long)r.fast_calls,
                  (long long)r.reference_calls, r.fast_path.empty() ? "-" : r.fast_path.c_str(),
                  op_fast_path_support(Op(i)), r.fallback.empty() ? "" : " / fell back: ", r.fallback.c_str());
    out += line;
  }
  return out;
}

void reset_op_paths() {
  for (Slot& s : slots()) {
    s.fast = 0;
    s.ref = 0;
    s.fast_path = nullptr;
    s.fallback = nullptr;
  }
}

OpPathSnapshot snapshot_op_paths() {
  OpPathSnapshot out;
  for (const Slot& s : slots())
    out.entries.push_back({s.fast.load(), s.ref.load(), s.fast_path.load(), s.fallback.load()});
  return out;
}

void restore_op_paths(const OpPathSnapshot& snapshot) {
  auto& all = slots();
  for (size_t i = 0; i < all.size() && i < snapshot.entries.size(); ++i) {
    const OpPathSnapshot::Entry& e = snapshot.entries[i];
    all[i].fast = e.fast;
    all[i].ref = e.ref;
    all[i].fast_path = e.fast_path;
    all[i].fallback = e.fallback;
  }
}

}  // namespace mm
