#!/usr/bin/env bash
# Installs the Debian packages that building ratiomatch's tests, benchmarks and examples needs.
# Usage: bash scripts/install_deps.sh [--example] [extra-package...]
#   --example: only what the example programs need (scripts/run_example.sh)
set -euo pipefail
sudo_cmd=()
if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi
# Extra packages can be named on the command line (the PyTorch comparison adds its own).
packages=(cmake g++ make libeigen3-dev libcli11-dev nlohmann-json3-dev libstb-dev zlib1g-dev libxtensor-dev)
if [ "${1:-}" = --example ]; then
  shift
else
  packages+=(catch2 libbenchmark-dev dataset-fashion-mnist libopenmpi-dev openmpi-bin pybind11-dev python3-dev
    python3-numpy python3-pytest python3-matplotlib)
fi
packages+=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
