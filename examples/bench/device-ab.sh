#!/usr/bin/env bash
# A kernel change against the code it replaces, side by side on one warm machine: the tree as sent ("new"),
# then the files under BEFORE_DIR (the same relative paths, e.g. a git-ignored gpucarry/ copy of the old
# sources) built in place ("old"), then the tree again ("new-again"). Each arm first runs the harness cases
# of HARNESS_OPS (a failure of the new code stops the call), then `mmmamba bench` over PLANS at LENGTHS in
# MODE (two timed repeats; OP_TIMES=1 adds the op table of one more prefill).
#   examples/bench/device-ab.sh OUT_DIR SECONDS BEFORE_DIR [PLANS] [LENGTHS] [MODE] [HARNESS_OPS]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=$2 before=$3 plans=${4:-linear,hybrid} lengths=${5:-103k} mode=${6:-prefill} harness=${7:-}
. examples/bench/device-common.sh
bin=build/cuda/bin/mmmamba
files=$(cd "$before" && find . -type f | sed 's|^\./||')
mkdir -p /tmp/ab-new
for f in $files; do mkdir -p "/tmp/ab-new/$(dirname "$f")"; cp "$f" "/tmp/ab-new/$f"; done
arm() {  # NAME
  local name=$1
  device_build mmmamba || { echo "$name: the build failed"; return 1; }
  for op in ${harness//,/ }; do
    timeout 120 $bin selftest --device cuda --full --op "$op" > "$out/$card-$name-selftest-$op.txt" 2>&1
    local rc=$?; grep -E "FAIL|error|passed," "$out/$card-$name-selftest-$op.txt"
    if [ "$name" != old ] && { [ $rc -ne 0 ] || grep -q FAIL "$out/$card-$name-selftest-$op.txt"; }; then
      echo "$name $op: the harness failed"; return 1
    fi
  done
  if [ "$(left)" -lt 45 ]; then stamp "$name: no time left"; return 1; fi
  timeout $(left) $bin bench --arch hovle-2.6b --plans "$plans" --lengths "$lengths" --mode "$mode" --repeats 2 \
    ${OP_TIMES:+--op-times} --json "$out/$card-$name.json" > "$out/$card-$name.txt" 2>&1
  stamp "$name rc=$?"; grep -E " $mode |ssd_scan|conv1d|gated_rmsnorm|outside" "$out/$card-$name.txt" | head -20
}
arm new || exit 1
for f in $files; do cp "$before/$f" "$f"; done
arm old
for f in $files; do cp "/tmp/ab-new/$f" "$f"; done
arm new-again
