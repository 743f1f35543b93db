#!/usr/bin/env bash
# Installs, from Debian's packages, whatever lifeline needs that this machine lacks.
# Runs `apt-get update` once and only when something is missing; does nothing otherwise.
set -euo pipefail

packages=(
  # toolchain
  cmake g++ make clang libclang-rt-14-dev
  # libraries (headers and CMake packages)
  libasio-dev libflatbuffers-dev flatbuffers-compiler libbenchmark-dev doctest-dev
  libcli11-dev nlohmann-json3-dev
  libsodium-dev
  # fault injection for the integration tests and the detection benchmark
  nftables iproute2
  # plots of the detection benchmark
  gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or install them) first" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
