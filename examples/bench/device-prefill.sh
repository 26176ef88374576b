#!/usr/bin/env bash
# Where the 103K prefill goes, and the decode with the session-16 defaults, in one device call:
# build the CLI (cuda preset), the op harness (selftest --full), then `mmmamba bench --op-times` for each
# model (prefill at 103K: the op
# table of one extra, untimed prefill that waits around every op), then decode at 1K and 103K.
#   examples/bench/device-prefill.sh OUT_DIR [SECONDS] [PLANS] [DECODE=yes|no] [HARNESS_OPS=all|op,op,...]
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$1 limit=${2:-600} plans=${3:-linear,hybrid,teacher} decode=${4:-yes} harness=${5:-all}
. examples/bench/device-common.sh
device_build mmmamba || exit 1
bin=build/cuda/bin/mmmamba
if [ "$harness" = all ]; then
  timeout 150 $bin selftest --device cuda --full > "$out/selftest.txt" 2>&1
else
  for op in ${harness//,/ }; do timeout 60 $bin selftest --device cuda --full --op "$op"; done > "$out/selftest.txt" 2>&1
fi
stamp "selftest rc=$?"
grep -E "FAIL|error|prefill\)|passed," "$out/selftest.txt" | head -30
timeout $(left) $bin bench --arch hovle-2.6b --plans $plans --lengths 103k --mode prefill --repeats 2 --op-times \
  --json "$out/prefill-ops.json" 2>&1 | tee "$out/prefill-ops.txt"
stamp "prefill bench rc=${PIPESTATUS[0]}, $(left) s left"
[ "$decode" = yes ] || exit 0
timeout $(left) $bin bench --arch hovle-2.6b --plans $plans --lengths 1k,103k --mode decode --repeats 2 \
  --json "$out/decode.json" 2>&1 | tee "$out/decode.txt"
stamp "decode bench rc=${PIPESTATUS[0]}"
