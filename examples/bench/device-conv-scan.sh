#!/usr/bin/env bash
# The Mamba-2 layer's conv fused into the SSD scan's loads (conv_ssd_scan) against the two ops it replaces
# (MMMAMBA_REFERENCE_OPS=conv_ssd_scan: causal_conv1d's kernel, then the scan's), in one device call: the
# harness cases of both scan ops first (a failure stops the call), then the 103K prefill of the linear and
# the hybrid, fused / separate / fused, two timed repeats each, and one op-timed pass of the fused build.
#   examples/bench/device-conv-scan.sh OUT_DIR [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-540}
. examples/bench/device-common.sh
device_build mmmamba || exit 1
bin=build/cuda/bin/mmmamba
for op in conv_ssd_scan ssd_scan conv1d; do
  timeout 150 $bin selftest --device cuda --full --op $op > "$out/$card-selftest-$op.txt" 2>&1
  rc=$?; grep -E "FAIL|error|passed," "$out/$card-selftest-$op.txt"
  if [ $rc -ne 0 ] || grep -q "FAIL" "$out/$card-selftest-$op.txt"; then echo "$op: the harness failed, stopping"; exit 1; fi
done
prefill() {  # NAME [ENV...]
  local name=$1; shift
  env "$@" timeout $(left) $bin bench --arch hovle-2.6b --plans linear,hybrid --lengths 103k --mode prefill --repeats 2 \
    --json "$out/$card-$name.json" > "$out/$card-$name.txt" 2>&1
  stamp "$name rc=$?"; grep -E "prefill|ops:" "$out/$card-$name.txt"
}
prefill fused
prefill separate MMMAMBA_REFERENCE_OPS=conv_ssd_scan
prefill fused-again
timeout $(left) $bin bench --arch hovle-2.6b --plans linear --lengths 103k --mode prefill --repeats 1 --op-times \
  > "$out/$card-fused-op-times.txt" 2>&1
stamp "op times rc=$?"; tail -20 "$out/$card-fused-op-times.txt"
