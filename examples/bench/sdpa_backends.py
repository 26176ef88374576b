# One HoVLE-2.6B attention layer's causal prefill at 103K (16 q heads, 8 kv heads, hd 128), per SDPA backend,
# and the whole teacher's share (32 attention layers: 8 embedding + 24 LLM). Run on the device with its python3:
#   python3 examples/bench/sdpa_backends.py
import torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
L, H, Hk, D = 105472, 16, 8, 128
q = torch.randn(1, H, L, D, device="cuda", dtype=torch.bfloat16)
k = torch.randn(1, Hk, L, D, device="cuda", dtype=torch.bfloat16)
v = torch.randn_like(k)
flops = 4 * L * L / 2 * D * H
def t(fn, n=3):
    fn(); torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(n): fn()
    e.record(); torch.cuda.synchronize()
    return s.elapsed_time(e) / n
for name, be in [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION)]:
    for gqa in (True, False):
        kk, vv = (k, v) if gqa else (k.repeat_interleave(2, 1), v.repeat_interleave(2, 1))
        try:
            with sdpa_kernel(be):
                ms = t(lambda: F.scaled_dot_product_attention(q, kk, vv, is_causal=True, enable_gqa=gqa))
            print(f"{name:10s} gqa={gqa}: {ms:8.2f} ms/layer  x32 = {ms*32/1000:.3f} s  {flops/ms/1e9:.0f} TFLOP/s")
        except Exception as ex:
            print(f"{name:10s} gqa={gqa}: unavailable ({str(ex).splitlines()[0][:120]})")
x = torch.randn(L, 2048, device="cuda", dtype=torch.bfloat16); w = torch.randn(2048, 2048, device="cuda", dtype=torch.bfloat16)
print(f"gemm 103Kx2048x2048: {t(lambda: x @ w):.2f} ms")
