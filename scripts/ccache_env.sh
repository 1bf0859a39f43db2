# Sourced by build.sh and fuzz.sh: ccache settings that let a fresh clone (CI) reuse what earlier builds compiled.
# Paths relative to the checkout in ccache keys.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/tessera/ccache}"
# RelWithDebInfo builds pass -g, and ccache then keys on the build directory unless told not to; a clone in
# another place would miss every entry.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
