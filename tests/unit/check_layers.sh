#!/bin/sh
# check_layers.sh ROOT: layers only point down (docs: DESIGN.md's layout). Fails naming every include of a
# layer above: common/ includes no other layer, hooks/ only common/, parallel/ only hooks/ kernels/ common/,
# cache/ only hooks/ parallel/ kernels/ common/ (never src/ or launch/).
cd "$1" || exit 2
status=0
check() {  # folder, the layers it must not include
  folder=$1
  shift
  for above in "$@"; do
    if grep -rn "#include \"$above/" "$folder"; then
      echo "$folder/ includes $above/ (a layer above it)" >&2
      status=1
    fi
  done
}
check common hooks parallel cache kernels src launch
check hooks parallel cache kernels src launch
check parallel cache src launch
check cache src launch
[ $status -eq 0 ] && echo "layers point down"
exit $status
