#!/usr/bin/env bash
# Prepares device_bundle/ (git-ignored): the Debian packages that the GPU machine lacks (Open MPI and its
# runtime libraries, GoogleTest, spdlog/fmt, cxxopts, nlohmann-json, Google Benchmark, bc, libpng), unpacked with
# dpkg -x so nothing is installed there. It travels with the device tool's `carry: ["device_bundle"]` and
# scripts/gpu_check.sh builds against it. Must stay under 64 MiB with the working tree.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUNDLE="$ROOT/device_bundle"
PACKAGES=(
  # Open MPI and what its libraries load at run time
  openmpi-bin openmpi-common libopenmpi3 libopenmpi-dev
  libpmix2 libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7 libfabric1 libucx0 libibverbs1 librdmacm1
  libpsm2-2 libpsm-infinipath1 libnl-3-200 libnl-route-3-200 libnuma1 libmunge2 libpciaccess0 libltdl7
  libxnvctrl0 libx11-6 libxext6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0
  # build and test dependencies
  libgtest-dev libgmock-dev googletest libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libcxxopts-dev
  nlohmann-json3-dev libbenchmark-dev libbenchmark1debian bc
  # PNG output (FFmpeg is optional and left out: its dependency tree would not fit the bundle)
  libpng-dev libpng16-16 zlib1g-dev
  # the UMT5 tokenizer (SentencePiece) and its prompt cleaning (ICU's normalization)
  libsentencepiece-dev libsentencepiece0 libprotobuf-lite32 libicu-dev libicu72
)
rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/debs" "$BUNDLE/root"
(cd "$BUNDLE/debs" && apt-get download -q "${PACKAGES[@]}" >/dev/null)
for deb in "$BUNDLE"/debs/*.deb; do dpkg -x "$deb" "$BUNDLE/root"; done
rm -rf "$BUNDLE/debs" "$BUNDLE/root/usr/share/doc" "$BUNDLE/root/usr/share/man" "$BUNDLE/root/usr/share/locale" \
       "$BUNDLE/root/usr/src/googletest/googletest/docs"
# ICU's static archives (40 MB) are never linked: the shared libraries are.
find "$BUNDLE/root" -name 'libicu*.a' -delete
# Debian points some links (mpicc, mpirun, libmpi.so) through /etc/alternatives; make them relative to the bundle.
for link in $(find "$BUNDLE/root" -type l); do
  target="$(readlink "$link")"
  case "$target" in
    /etc/alternatives/*)
      resolved="$(readlink -f "$target" 2>/dev/null || true)"
      [ -n "$resolved" ] && ln -sfn "$BUNDLE/root$resolved" "$link" ;;
    /*) ln -sfn "$BUNDLE/root$target" "$link" ;;
  esac
done
# Links must be relative to survive the copy to the device machine.
for link in $(find "$BUNDLE/root" -type l); do
  target="$(readlink "$link")"
  case "$target" in "$BUNDLE"/*) ln -sfn "$(realpath --relative-to="$(dirname "$link")" -m "$target")" "$link" ;; esac
done
du -sh "$BUNDLE"
