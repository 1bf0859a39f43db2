#!/bin/sh
# check_layers.sh ROOT: the layers of the build point down (docs/architecture.md). Each line below is a folder and the
# folders it may include besides its own; any other include of the repository's folders fails, naming the file.
# The build enforces the same by linking each layer's library only to the layers below it.
cd "$1" || exit 2
status=0
folders="common hooks kernels parallel cache src/io src/models src/schedulers src/pipelines src/shapes src/train src/tiny
measure launch benchmarks tests scripts"
allowed() {  # FOLDER: the folders it may include
  case "$1" in
    common) echo "" ;;
    hooks) echo "common" ;;
    kernels) echo "common" ;;
    parallel) echo "common hooks kernels" ;;
    cache) echo "common hooks kernels parallel" ;;
    src/io | src/models | src/schedulers) echo "common hooks kernels parallel src/io src/models src/schedulers" ;;
    src/pipelines) echo "common hooks kernels parallel cache src/io src/models src/schedulers" ;;
    src/shapes | src/train | src/tiny)
      echo "common hooks kernels parallel cache src/io src/models src/schedulers src/pipelines src/shapes src/train src/tiny" ;;
    measure) echo "common hooks kernels parallel cache src/io src/models src/schedulers src/pipelines src/shapes src/train src/tiny" ;;
    launch) echo "common hooks kernels parallel cache src/io src/models src/schedulers src/pipelines src/shapes src/train src/tiny measure" ;;
  esac
}
for folder in common hooks kernels parallel cache src/io src/models src/schedulers src/pipelines src/shapes src/train \
              src/tiny measure launch; do
  [ -d "$folder" ] || continue
  permitted=$(allowed "$folder")
  for other in $folders; do
    [ "$other" = "$folder" ] && continue
    case " $permitted " in *" $other "*) continue ;; esac
    # src/models includes its own subfolders (src/models/wan/...): a prefix of another folder is not that folder.
    if grep -rnE "#include \"$other/" "$folder" --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh'; then
      echo "$folder/ includes $other/, which it may not (a layer above it, or outside the library)" >&2
      status=1
    fi
  done
done
[ $status -eq 0 ] && echo "layers point down"
exit $status
