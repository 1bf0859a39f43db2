# Sourced by build.sh and fuzz.sh: ccache settings that let a fresh clone (CI) reuse what earlier builds compiled.
# Paths relative to the checkout in ccache keys.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}"
# A new directory (was .../ccache): the old one holds entries that a source edited in the middle of a build
# stored under the file's previous content (the mtime sloppiness below turns off ccache's check for that race),
# so a clone linked an object of code it did not have. Do not edit a checkout while its build runs.
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/tessera/ccache-v2}"
# RelWithDebInfo builds pass -g, and ccache then keys on the build directory unless told not to; a clone in
# another place would miss every entry.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
