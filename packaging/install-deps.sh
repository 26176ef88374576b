#!/usr/bin/env bash
# Installs the Debian 12 packages that build and test mmMamba Studio (about 720 MB, a minute).
# Skips apt when everything is already present. Uses sudo when not run as root.
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config qt6-base-dev libqcustomplot-dev libtorch-dev
          libopencv-imgcodecs-dev libspdlog-dev nlohmann-json3-dev libsentencepiece-dev
          libopenblas0-openmp libgloo-dev xvfb xauth qt6-svg-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
