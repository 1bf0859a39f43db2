# shellcheck shell=bash
# Sourced by scripts/gpu_check.sh: points the build and Open MPI at an unpacked device bundle
# (scripts/device_bundle.sh) wherever the bundle was unpacked.
#   source scripts/bundle_env.sh && bundle_activate /path/to/unpacked/bundle
# exports PATH, LD_LIBRARY_PATH and Open MPI's/PMIx's relocation variables, and sets BUNDLE_CMAKE_ARGS (an array)
# for cmake's configure. Debian built Open MPI for prefix /usr; OPAL_PREFIX relocates the folders defined from
# the prefix (libraries, components, help files) but not sysconfdir (/etc/openmpi, absolute in Debian's build),
# hence OPAL_SYSCONFDIR; PMIx is a separate package with its own prefix and an absolute component path.

# The machine's own copies of the fallback libraries (libz, libudev) are preferred; the bundle's are added only
# for the sonames the machine lacks.
bundle_fallback_path() {  # bundle_fallback_path FALLBACK_DIR: prints FALLBACK_DIR if the machine lacks any of them
  local dir="$1" lib
  for lib in "$dir"/*.so.[0-9]; do
    [ -e "$lib" ] || continue
    if ! /sbin/ldconfig -p 2>/dev/null | grep -q "^[[:space:]]*$(basename "$lib") "; then
      echo "$dir"
      return
    fi
  done
}

bundle_activate() {  # bundle_activate BUNDLE_ROOT
  local root="$1"
  local libdir="$root/usr/lib/x86_64-linux-gnu"
  local fallback
  fallback="$(bundle_fallback_path "$libdir/tessera-fallback")"
  export PATH="$root/usr/bin:$PATH"
  export LD_LIBRARY_PATH="$libdir:$libdir/openmpi/lib:$libdir/pmix2/lib${fallback:+:$fallback}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export OPAL_PREFIX="$root/usr"
  export OPAL_SYSCONFDIR="$root/etc/openmpi"
  export PMIX_PREFIX="$libdir/pmix2"
  export PMIX_MCA_mca_base_component_path="$libdir/pmix2/lib/pmix"
  # shellcheck disable=SC2034  # read by the caller
  BUNDLE_CMAKE_ARGS=(
    -DCMAKE_PREFIX_PATH="$root/usr;$libdir/cmake"
    -DCMAKE_LIBRARY_PATH="$libdir"
    -DCMAKE_INCLUDE_PATH="$root/usr/include"
    -DMPI_C_COMPILER="$root/usr/bin/mpicc"
    -DMPI_C_HEADER_DIR="$libdir/openmpi/include"
    -DMPI_C_LIB_NAMES=mpi
    -DMPI_mpi_LIBRARY="$libdir/openmpi/lib/libmpi.so"
    -DMPIEXEC_EXECUTABLE="$root/usr/bin/mpirun"
    # Without this, pkg-config would find the machine's .pc files but compile against the bundle's headers.
    -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON
  )
}

# Transports Open MPI may use in the check, whichever Open MPI runs it: shared memory and TCP through ob1.
# Debian's defaults file (lost to the relocation) excluded UCX and OFI; the bundle carries neither, and a
# machine's own Open MPI might pick UCX and touch CUDA memory in ways the host-staged tests do not expect.
openmpi_pin_transports() {
  export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_mtl='^ofi,psm,psm2' OMPI_MCA_osc='^ucx,pt2pt'
  export OMPI_MCA_btl_base_warn_component_unused=0 OMPI_MCA_btl_vader_single_copy_mechanism=none
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
}
