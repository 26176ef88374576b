#!/bin/sh
# Decode ms/token of the embedded models with 1 and 2 CPU threads, on an idle machine and with one core
# taken by a busy loop (a laptop with a browser open), side by side in one run, as a table.
# usage: examples/bench/threads-under-load.sh MMMAMBA [MODELS_DIR] [LENGTHS] [OUT_DIR]
# Needs taskset (util-linux) and at least 2 cores. Each cell is the fastest of the given repeats.
set -eu
cli=${1:?usage: threads-under-load.sh path/to/mmmamba [models dir] [lengths] [out dir]}
models=${2:-$(dirname "$0")/../../resources/models}
lengths=${3:-128,1k,4k}
out=${4:-$(mktemp -d)}
repeats=${REPEATS:-3}
mkdir -p "$out"
busy_pid=
stop_busy() { [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null; busy_pid=; }
trap stop_busy EXIT INT TERM

run() {  # run LOAD THREADS: one CSV per (load, threads) with every model's decode rows
  for m in demo-teacher demo-linear demo-hybrid; do
    OMP_NUM_THREADS="$2" "$cli" bench "$models/$m" --device cpu --mode decode --lengths "$lengths" \
      --tokens 16 --repeats "$repeats" --csv "$out/$1-t$2-$m.csv" >/dev/null 2>&1
  done
}

echo "uptime before: $(uptime)" >&2
for t in 1 2; do run idle "$t"; done
taskset -c 1 sh -c 'while :; do :; done' &
busy_pid=$!
for t in 1 2; do run loaded "$t"; done
stop_busy
echo "uptime after: $(uptime)" >&2

# model,length,phase,seconds,stddev,min,... -> one row per (model, length): min ms/token per setting.
printf '%-14s %7s %10s %10s %12s %12s %8s %8s\n' model length "idle 1t" "idle 2t" "loaded 1t" "loaded 2t" "x 1t" "x 2t"
for m in demo-teacher demo-linear demo-hybrid; do
  for L in $(tail -n +2 "$out/idle-t1-$m.csv" | cut -d, -f2); do
    cell() { awk -F, -v L="$L" '$2 == L && $3 == "decode" { printf "%.3f", $6 * 1000 }' "$out/$1-$m.csv"; }
    i1=$(cell idle-t1) i2=$(cell idle-t2) l1=$(cell loaded-t1) l2=$(cell loaded-t2)
    printf '%-14s %7s %10s %10s %12s %12s %8.2f %8.2f\n' "$m" "$L" "$i1" "$i2" "$l1" "$l2" \
      "$(awk "BEGIN { print $l1 / $i1 }")" "$(awk "BEGIN { print $l2 / $i2 }")"
  done
done
echo "(ms per decoded token, fastest of $repeats repeats of 16 tokens; x = loaded / idle; CSVs in $out)"
