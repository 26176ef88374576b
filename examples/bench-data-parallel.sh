#!/usr/bin/env bash
# Step time of the demo distillation (the embedded demo teacher, 64 training scenes, batch 8, 8 steps a
# stage) in one process and in --nproc 2 workers, each configuration twice, side by side in one run.
# usage: examples/bench-data-parallel.sh [path/to/mmmamba]   (default build/dev/bin/mmmamba)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mm="${1:-$root/build/dev/bin/mmmamba}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$mm" make-data --out "$work/data" --split train --count 64 > /dev/null 2>&1
cat > "$work/recipe.json" <<JSON
{"name": "demo-linear-dp", "teacher": "$root/resources/models/demo-teacher", "train_data": "$work/data/train.jsonl",
 "init": "mimic", "seed": 0, "max_length": 512, "plan": "linear",
 "stages": [{"stage": 1, "steps": 8, "lr": 0.001, "batch": 8}, {"stage": 2, "steps": 8, "lr": 0.0005, "batch": 8},
            {"stage": 3, "steps": 8, "lr": 0.0005, "batch": 8}]}
JSON
for rep in 1 2; do
  for cfg in "1 1" "2 1" "1 2"; do  # processes, OpenMP threads each
    set -- $cfg
    run="$work/run-$1-$2-$rep"
    load=$(cut -d' ' -f1 /proc/loadavg)
    if [ "$1" = 1 ]; then OMP_NUM_THREADS=$2 "$mm" distill --recipe "$work/recipe.json" --run "$run" > /dev/null 2>&1
    else OMP_NUM_THREADS=$2 "$mm" distill --nproc "$1" --recipe "$work/recipe.json" --run "$run" > /dev/null 2>&1; fi
    python3 - "$run" "$1" "$2" "$rep" "$load" <<'PY'
import json, sys
run, n, t, rep, load = sys.argv[1:]
m = [json.loads(line) for line in open(run + "/metrics.jsonl")]
cols = []
for st in ("stage1", "stage2", "stage3"):
    w = [x["wall_s"] for x in m if x["stage"] == st]
    cols.append("%s %.3f s/step" % (st, (w[-1] - w[0]) / (len(w) - 1)))  # steps 2..8: the first warms up
print("processes %s x threads %s, repeat %s (load %s): %s" % (n, t, rep, load, ", ".join(cols)))
PY
  done
done
