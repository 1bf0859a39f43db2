# Sourced by the batch scripts with their arguments (TESSERA MPIRUN...): sets `tessera`, the `mpirun` command as an
# array, and `dir`, a scratch directory removed on exit.
set -u
tessera=$1
shift
mpirun=("$@")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
