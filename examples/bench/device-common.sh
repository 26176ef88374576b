# Sourced by the examples/bench/device-*.sh drivers, from the repository root, after $out and $limit are
# set: stamp MESSAGE (seconds since start), left (seconds left of the call, 10 in reserve), and
# device_build TARGET... (the cuda preset; on failure the errors, and the caller should exit 1; on success
# $card is h200 or h100, for the result files' names).
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
left() { echo $(( limit - ($(date +%s) - t0) - 10 )); }
device_build() {
  export TORCH_CMAKE_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
  # The tool re-sends the tree with this machine's modification times, which can be older than objects a
  # warm machine built from sources edited in place (a reversed patch): touch every file whose content
  # differs from the last build's, so ninja rebuilds what changed.
  local sums=build/cuda/.source-sums
  if [ -f "$sums" ]; then
    sha1sum -c --quiet "$sums" 2>/dev/null | sed -n 's/: FAILED.*$//p' | xargs -r touch -c
  fi
  mkdir -p build/cuda
  find app core kernels tests -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name '*.txt' \) \
    -print0 | xargs -0 sha1sum > "$sums"
  if ! { cmake --preset cuda && cmake --build build/cuda -j16 --target "$@"; } > "$out/build.txt" 2>&1; then
    grep -B2 -A12 -E "error" "$out/build.txt" | head -80
    return 1
  fi
  stamp "build done"
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  card=$(nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200 && echo h200 || echo h100)  # for file names
}
