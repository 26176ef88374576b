#!/usr/bin/env bash
# Session 24's two fusions against the ops they replace, in one device call: the Mamba-2 layer's conv in
# the SSD scan's loads (conv_ssd_scan; MMMAMBA_REFERENCE_OPS=conv_ssd_scan runs causal_conv1d's kernel,
# then the scan's) and the decode's input projection with the step in one cluster launch (mamba2_in_step;
# MMMAMBA_REFERENCE_OPS=mamba2_in_step runs the decode GEMV, then the cluster step). The harness cases of
# the ops they touch first, with the CUDA-graph decode of every model kind (a failure stops the call);
# then the linear's and the hybrid's 1K decode and 103K prefill, fused / separate, and both fused again
# (two timed repeats each).
#   examples/bench/device-conv-scan.sh OUT_DIR [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-540}
. examples/bench/device-common.sh
device_build mmmamba || exit 1
bin=build/cuda/bin/mmmamba
for op in conv_ssd_scan mamba2_in_step mamba2_decode_step decode_graph; do
  timeout 120 $bin selftest --device cuda --full --op $op > "$out/$card-selftest-$op.txt" 2>&1
  rc=$?; grep -E "FAIL|error|passed," "$out/$card-selftest-$op.txt"
  if [ $rc -ne 0 ] || grep -q "FAIL" "$out/$card-selftest-$op.txt"; then echo "$op: the harness failed, stopping"; exit 1; fi
done
arm() {  # NAME MODE LENGTH [ENV...]
  local name=$1 mode=$2 len=$3; shift 3
  if [ "$(left)" -lt 60 ]; then stamp "$name: no time left"; return; fi
  env "$@" timeout $(left) $bin bench --arch hovle-2.6b --plans linear,hybrid --lengths $len --mode $mode --repeats 2 \
    --json "$out/$card-$name.json" > "$out/$card-$name.txt" 2>&1
  stamp "$name rc=$?"; grep -E " $mode |ops:" "$out/$card-$name.txt"
}
arm decode-fused decode 1k
arm decode-separate decode 1k MMMAMBA_REFERENCE_OPS=mamba2_in_step
arm prefill-fused prefill 103k
arm prefill-separate prefill 103k MMMAMBA_REFERENCE_OPS=conv_ssd_scan
arm decode-fused-again decode 1k
arm prefill-fused-again prefill 103k
