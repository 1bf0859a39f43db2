#!/usr/bin/env bash
# Prepares device_bundle/ (git-ignored) for the GPU machine, which has no network and no package installs:
# the Debian packages tessera builds and runs against there (Open MPI and what its libraries load, GoogleTest,
# spdlog/fmt, cxxopts, nlohmann-json, Google Benchmark, libpng, libjpeg, SentencePiece, ICU), unpacked with dpkg -x,
# pruned of what the GPU check never loads, and packed as ONE compressed archive:
#   device_bundle/bundle.tar.xz   the pruned tree (scripts/gpu_check.sh unpacks it there, scripts/bundle_env.sh
#                                 points the build and Open MPI at it)
#   device_bundle/manifest.json   packages and versions, what was pruned, sizes, the glibc it needs
# It travels with the device tool's carry=["device_bundle"]. Everything that travels (the repository's files
# plus device_bundle/) must stay under the tool's 64 MiB; this script fails, with the numbers, above 60 MiB.
#   scripts/device_bundle.sh           build the bundle, verify it, check the travel size
#   scripts/device_bundle.sh --check   only measure and check what would travel now
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUNDLE="$ROOT/device_bundle"
ARCHIVE="$BUNDLE/bundle.tar.xz"
LIMIT_MIB="${TESSERA_TRAVEL_LIMIT_MIB:-60}"
LIBDIR=usr/lib/x86_64-linux-gnu

PACKAGES=(
  # Open MPI (C only) and the libraries its programs and components load: PMIx, hwloc, libevent, munge (PMIx's
  # credentials), libnl (the netlink "reachable" component the TCP BTL asks). No UCX, libfabric, PSM or verbs:
  # the check pins pml=ob1 and btl=self,vader,tcp (scripts/bundle_env.sh), so their components are pruned below.
  openmpi-bin openmpi-common libopenmpi3 libopenmpi-dev
  libpmix2 libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7 libmunge2 libnl-3-200 libnl-route-3-200
  # build and test dependencies (GoogleTest is static only in Debian: libgtest.a and libgmock.a stay)
  libgtest-dev libgmock-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libcxxopts-dev
  nlohmann-json3-dev libbenchmark-dev libbenchmark1debian
  # PNG output (FFmpeg is optional and left out: its dependency tree would not fit)
  libpng-dev libpng16-16 zlib1g-dev
  # JPEG input images (image-to-video)
  libjpeg62-turbo-dev libjpeg62-turbo
  # the UMT5/T5 tokenizer (SentencePiece: libsentencepiece.so needs no protobuf) and the prompt cleaning (ICU uc)
  libsentencepiece-dev libsentencepiece0 libicu-dev libicu72
)
# Libraries every Linux system has in practice (hwloc needs libudev, libpng and Open MPI need libz). They go to a
# separate folder that scripts/bundle_env.sh adds to the library path only where the machine lacks them, so the
# machine's own (maybe newer) copies are never shadowed.
FALLBACK_PACKAGES=(zlib1g libudev1)
FALLBACK_DIR="$LIBDIR/tessera-fallback"

# What the GPU check never loads, as `find -path` patterns relative to the unpacked root.
PRUNE=(
  # SentencePiece's trainer
  "./$LIBDIR/libsentencepiece_train*"
  # Open MPI's Fortran, Java and C++ bindings, its tracing library and profiling tools
  "./$LIBDIR/libmpi_mpifh*" "./$LIBDIR/libmpi_usempi*" "./$LIBDIR/libmpi_java*" "./$LIBDIR/libmpi_cxx*"
  "./$LIBDIR/libompitrace*" "./$LIBDIR/openmpi/lib/libmpi_mpifh*" "./$LIBDIR/openmpi/lib/libmpi_usempi*"
  "./$LIBDIR/openmpi/lib/libmpi_java*" "./$LIBDIR/openmpi/lib/libmpi_cxx*" "./$LIBDIR/openmpi/lib/libompitrace*"
  "./$LIBDIR/openmpi/lib/*.jar" "./$LIBDIR/fortran" "./usr/bin/mpif*" "./usr/bin/mpijavac*"
  "./usr/bin/aggregate_profile" "./usr/bin/profile2mat" "./usr/share/openmpi/mpif*" "./usr/share/openmpi/mpijavac*"
  # OpenSHMEM
  "./$LIBDIR/liboshmem*" "./$LIBDIR/openmpi/lib/liboshmem*" "./usr/bin/osh*" "./usr/bin/shmem*"
  "./$LIBDIR/openmpi/lib/openmpi3/mca_spml_*" "./$LIBDIR/openmpi/lib/openmpi3/mca_sshmem_*"
  "./$LIBDIR/openmpi/lib/openmpi3/mca_scoll_*" "./$LIBDIR/openmpi/lib/openmpi3/mca_atomic_*"
  "./$LIBDIR/openmpi/lib/openmpi3/mca_memheap_*" "./usr/share/openmpi/help-oshmem*"
  "./usr/share/openmpi/help-shmem*" "./usr/share/openmpi/*shmem*-wrapper-data.txt"
  # UCX, libfabric (OFI), PSM/PSM2 and InfiniBand verbs components (their libraries are not downloaded)
  "./$LIBDIR/openmpi/lib/openmpi3/mca_*_ucx.so" "./$LIBDIR/openmpi/lib/openmpi3/mca_*_ofi.so"
  "./$LIBDIR/openmpi/lib/openmpi3/mca_mtl_psm*.so" "./$LIBDIR/openmpi/lib/openmpi3/mca_btl_openib.so"
  "./$LIBDIR/libmca_common_ucx*" "./$LIBDIR/libmca_common_ofi*" "./$LIBDIR/libmca_common_verbs*"
  "./$LIBDIR/openmpi/lib/libmca_common_ucx*" "./$LIBDIR/openmpi/lib/libmca_common_ofi*"
  "./$LIBDIR/openmpi/lib/libmca_common_verbs*"
  # ICU beyond the "uc" component the build links (i18n, io, the test and tool libraries) and its tools
  "./$LIBDIR/libicui18n*" "./$LIBDIR/libicuio*" "./$LIBDIR/libicutu*" "./$LIBDIR/libicutest*"
  # GoogleTest's sources (Debian's googletest package; libgtest-dev links /usr/src/gtest to them)
  "./usr/src"
  # documentation
  "./usr/share/doc" "./usr/share/doc-base" "./usr/share/man" "./usr/share/info" "./usr/share/locale"
  "./usr/share/lintian" "./usr/share/menu"
)
# Libraries the base system provides on any machine the check runs on (glibc, the C++ runtime); any other
# library a bundled file needs must be in the bundle.
BASE_SYSTEM_LIBS="linux-vdso.so.1 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 ld-linux-x86-64.so.2 \
libstdc++.so.6 libgcc_s.so.1"

mib() { awk -v bytes="$1" 'BEGIN { printf "%.1f", bytes / 1048576 }'; }

# Bytes of what the device tool copies from the repository: tracked files and untracked files git does not
# ignore (the carried device_bundle/ is counted apart).
tree_bytes() {
  if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null) |
      awk '{ total += $1 } END { print total + 0 }'
  else  # not a checkout (an unpacked archive): every file but the build folders and the bundle
    du -sb --apparent-size --exclude='./build*' --exclude=./device_bundle --exclude=./.git "$ROOT" | cut -f1
  fi
}

carried_bytes() {
  if [ -d "$BUNDLE" ]; then du -sb --apparent-size "$BUNDLE" | cut -f1; else echo 0; fi
}

# Prints the sizes and fails when the repository plus device_bundle/ exceed LIMIT_MIB.
check_travel_size() {
  local tree carried total
  tree=$(tree_bytes)
  carried=$(carried_bytes)
  total=$((tree + carried))
  echo "travel size: tree $(mib "$tree") MiB + device_bundle/ $(mib "$carried") MiB = $(mib "$total") MiB" \
       "(limit $LIMIT_MIB MiB of the tool's 64)"
  if [ "$total" -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "device_bundle.sh: too big to travel: tree $(mib "$tree") MiB + bundle $(mib "$carried") MiB =" \
         "$(mib "$total") MiB > $LIMIT_MIB MiB" >&2
    return 1
  fi
}

download_and_unpack() {  # download_and_unpack WORK
  local work="$1" deb
  mkdir -p "$work/debs" "$work/fallback-debs" "$work/root" "$work/fallback-root"
  (cd "$work/debs" && apt-get download -q "${PACKAGES[@]}" >/dev/null 2>"$work/apt.log") ||
    { cat "$work/apt.log" >&2; echo "apt-get download failed (run apt-get update?)" >&2; return 1; }
  (cd "$work/fallback-debs" && apt-get download -q "${FALLBACK_PACKAGES[@]}" >/dev/null 2>>"$work/apt.log")
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
  for deb in "$work"/fallback-debs/*.deb; do dpkg -x "$deb" "$work/fallback-root"; done
}

# The fallback libraries' shared objects go to FALLBACK_DIR; their development links (libz.so) point there.
place_fallback_libs() {  # place_fallback_libs WORK
  local work="$1" file
  mkdir -p "$work/root/$FALLBACK_DIR"
  while IFS= read -r file; do
    cp -a "$file" "$work/root/$FALLBACK_DIR/"
  done < <(find "$work/fallback-root" -name '*.so.*' \( -type f -o -type l \))
  # zlib1g-dev's libz.so points at /lib/x86_64-linux-gnu/libz.so.1.2.13 (zlib1g): the bundled copy instead.
  ln -sfn "tessera-fallback/$(basename "$(readlink "$work/root/$LIBDIR/libz.so")")" "$work/root/$LIBDIR/libz.so"
}

# Removes PRUNE and the static archives no CMake package file names (ICU's alone are 40 MB; GTest's and
# benchmark_main's are referenced by their CMake targets, which fail to import when the file is missing).
prune() {  # prune ROOTDIR: prints the removed paths' count
  local root="$1" pattern archive
  for pattern in "${PRUNE[@]}"; do
    find "$root" -path "$root/${pattern#./}" -prune -exec rm -rf {} +
  done
  while IFS= read -r archive; do
    if ! grep -rqF "$(basename "$archive")" --include='*.cmake' "$root"; then rm -f "$archive"; fi
  done < <(find "$root" -name '*.a')
}

# Debian's Open MPI programs are *.openmpi behind /etc/alternatives; give them their usual names. Absolute
# links would point outside the bundle once unpacked elsewhere: make every link relative.
fix_links() {  # fix_links ROOTDIR
  local root="$1" tool link target
  for tool in mpirun mpiexec mpicc mpicxx; do ln -sfn "$tool.openmpi" "$root/usr/bin/$tool"; done
  while IFS= read -r link; do
    target="$(readlink "$link")"
    case "$target" in
      /*) ln -sfn "$(realpath --relative-to="$(dirname "$link")" -m "$root$target")" "$link" ;;
    esac
  done < <(find "$root" -type l)
  local dangling
  dangling="$(find "$root" -xtype l -printf '%P -> %l\n')"
  if [ -n "$dangling" ]; then
    echo "device_bundle.sh: links left pointing at nothing after pruning:" >&2
    echo "$dangling" >&2
    return 1
  fi
}

# Open MPI reads its defaults from its sysconfdir, /etc/openmpi in Debian's build, which OPAL_PREFIX does not
# relocate; scripts/bundle_env.sh points OPAL_SYSCONFDIR here. Debian's own settings plus the transports the
# check pins (the same values are also exported as OMPI_MCA_* variables, which win over any file).
write_openmpi_params() {  # write_openmpi_params ROOTDIR
  cat >"$1/etc/openmpi/openmpi-mca-params.conf" <<'EOF'
# tessera's device bundle: Debian's defaults, and only the transports the bundle carries (no UCX, OFI, PSM, verbs)
btl_base_warn_component_unused = 0
pml = ob1
btl = self,vader,tcp
mtl = ^ofi,psm,psm2
osc = ^ucx,pt2pt
btl_vader_single_copy_mechanism = none
EOF
}

# Every shared object and program left must find each library it needs in the bundle or in the base system;
# none may need a library that was pruned or never bundled. ldd resolves them with the bundle's folders first;
# this machine still has the pruned libraries installed, so a name check catches what ldd would quietly find.
verify_libraries() {  # verify_libraries ROOTDIR
  local root="$1" path="" dir file line name resolved problems=""
  for dir in "$LIBDIR" "$LIBDIR/openmpi/lib" "$LIBDIR/pmix2/lib" "$FALLBACK_DIR"; do path="$path:$root/$dir"; done
  local files
  files="$(find "$root" -type f \( -name '*.so' -o -name '*.so.*' -o -path "$root/usr/bin/*" \) \
             -exec sh -c 'head -c 4 "$1" | grep -q ELF' _ {} \; -print)"
  for file in $files; do
    while IFS= read -r line; do
      name="$(echo "$line" | awk '{print $1}')"
      resolved="$(echo "$line" | awk '$2 == "=>" {print $3}')"
      case "$line" in
        *"not found"*) problems+="${file#"$root"/} needs $name: not found"$'\n'; continue ;;
      esac
      [ -z "$resolved" ] && continue                       # the loader itself
      case "$resolved" in "$root"/*) continue ;; esac     # in the bundle
      case " $BASE_SYSTEM_LIBS " in *" $name "*) continue ;; esac
      problems+="${file#"$root"/} needs $name, which the bundle lacks (found here at $resolved)"$'\n'
    done < <(LD_LIBRARY_PATH="${path#:}" ldd "$file" 2>/dev/null | sed 1d)
  done
  if [ -n "$problems" ]; then
    echo "device_bundle.sh: the bundle would not load on the GPU machine:" >&2
    printf '%s' "$problems" | sort -u >&2
    return 1
  fi
  echo "libraries: every bundled library and program ($(echo "$files" | wc -l) files) resolves within the bundle" \
       "and the base system ($BASE_SYSTEM_LIBS)"
}

# The newest glibc and libstdc++ symbol versions the bundled binaries need: the GPU machine's must be as new.
max_symbol_version() {  # max_symbol_version ROOTDIR PREFIX
  find "$1" -type f \( -name '*.so*' -o -path "$1/usr/bin/*" \) -exec objdump -T {} + 2>/dev/null |
    grep -o "$2_[0-9][0-9.]*" | sed "s/^$2_//" | sort -u -V | tail -n 1
}

write_manifest() {  # write_manifest WORK ROOTDIR UNPACKED_BYTES
  local work="$1" root="$2" unpacked="$3"
  python3 - "$work" "$ARCHIVE" "$BUNDLE/manifest.json" "$unpacked" \
      "$(max_symbol_version "$root" GLIBC)" "$(max_symbol_version "$root" GLIBCXX)" \
      "$FALLBACK_DIR" "${PRUNE[@]}" <<'EOF'
import hashlib, json, pathlib, subprocess, sys, time
work, archive, manifest, unpacked, glibc, glibcxx, fallback = sys.argv[1:8]
def versions(folder):
    found = {}
    for deb in sorted(pathlib.Path(work, folder).glob("*.deb")):
        fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version"], capture_output=True,
                                text=True, check=True).stdout.split("\n")
        found[fields[0].split(": ", 1)[1]] = fields[1].split(": ", 1)[1]
    return found
document = {
    "archive": pathlib.Path(archive).name,
    "sha256": hashlib.sha256(pathlib.Path(archive).read_bytes()).hexdigest(),
    "compressed_bytes": pathlib.Path(archive).stat().st_size,
    "unpacked_bytes": int(unpacked),
    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "needs": {"glibc": glibc, "glibcxx": glibcxx},
    "packages": versions("debs"),
    "fallback_packages": versions("fallback-debs"),
    "fallback_dir": fallback,
    "pruned": sys.argv[8:] + ["static archives no CMake package file names"],
}
pathlib.Path(manifest).write_text(json.dumps(document, indent=1) + "\n")
EOF
}

# Debian 12 splits libraries between /lib and /usr/lib (libnl-3 is in /lib); one folder is simpler to point at.
merge_lib_into_usr() {  # merge_lib_into_usr ROOTDIR
  if [ -d "$1/lib" ]; then cp -a "$1/lib/." "$1/usr/lib/" && rm -rf "${1:?}/lib"; fi
}

WORK=""
build_bundle() {
  local root unpacked
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
  local work="$WORK"
  root="$work/root"
  download_and_unpack "$work"
  merge_lib_into_usr "$root"
  merge_lib_into_usr "$work/fallback-root"
  place_fallback_libs "$work"
  prune "$root"
  fix_links "$root"
  write_openmpi_params "$root"
  verify_libraries "$root"
  unpacked=$(du -sb --apparent-size "$root" | cut -f1)
  # Only the archive and its manifest may be in device_bundle/: everything in it travels.
  rm -rf "$BUNDLE"
  mkdir -p "$BUNDLE"
  tar --owner=0 --group=0 --numeric-owner --sort=name -C "$root" -cf - . |
    xz -9 -T"${TESSERA_JOBS:-1}" >"$ARCHIVE.tmp"
  mv "$ARCHIVE.tmp" "$ARCHIVE"
  write_manifest "$work" "$root" "$unpacked"
  echo "bundle: $(mib "$(stat -c %s "$ARCHIVE")") MiB compressed ($ARCHIVE), $(mib "$unpacked") MiB unpacked;" \
       "needs glibc >= $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["needs"]["glibc"])' \
       "$BUNDLE/manifest.json")"
}

case "${1:-}" in
  --check) check_travel_size ;;
  "") build_bundle; check_travel_size ;;  # separate commands: errexit is off inside an && list
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
