#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# test_sdk_install.sh SOURCE_ROOT BUILD_ROOT
#
# The installed SDK works for a third party: build and install mpimap into a
# temporary prefix (a separate build, not BUILD_ROOT), build
# sdk/examples/hello-strategy against that install through pkg-config
# only, and check that the INSTALLED mpimap command lists the example
# plugin, both from MPIMAP_PLUGIN_PATH and once installed into the
# plugindir that pkg-config names. Skips (77) only without pkg-config.
set -euo pipefail

src=${1:?usage: test_sdk_install.sh SOURCE_ROOT BUILD_ROOT}
src=$(cd "$src" && pwd)

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Run a step quietly; on failure show its output and what failed.
step() {
    local what=$1
    shift
    echo "== $what"
    if ! "$@" >"$tmp/step.log" 2>&1; then
        cat "$tmp/step.log" >&2
        fail "$what: '$*' exited non-zero"
    fi
}

if ! command -v pkg-config >/dev/null 2>&1; then
    echo "SKIP: pkg-config not found"
    exit 77
fi
command -v meson >/dev/null 2>&1 || fail "meson not found on PATH"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

# 1. A separate build of mpimap, installed into the temporary prefix.
step "configure mpimap with --prefix=$prefix" \
    meson setup "$tmp/build" "$src" --prefix="$prefix" -Dtests=false
step "build mpimap" meson compile -C "$tmp/build"
step "install mpimap" meson install -C "$tmp/build"

mpimap=$prefix/bin/mpimap
[ -x "$mpimap" ] || fail "no installed command at $mpimap"

pc=$(find "$prefix" -name mpimap.pc -print -quit)
[ -n "$pc" ] || fail "no mpimap.pc installed under $prefix"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
echo "== pkg-config file: $pc"

plugindir=$(pkg-config --variable=plugindir mpimap) ||
    fail "pkg-config --variable=plugindir mpimap failed"
case $plugindir in
"$prefix"/*) ;;
*) fail "plugindir '$plugindir' is not inside the prefix $prefix" ;;
esac
echo "== plugindir: $plugindir"

# The installed command must run without help from the build tree: no
# LD_LIBRARY_PATH (its rpath finds libmpimap), no plugin path overrides.
run_installed() {
    env -u LD_LIBRARY_PATH -u MPIMAP_PLUGIN_PATH -u MPIMAP_PLUGIN_SYSTEM_PATH \
        "$@"
}

version=$(run_installed "$mpimap" version) || fail "installed '$mpimap version' failed"
case $version in
"mpimap "*" (plugin ABI "*")") ;;
*) fail "unexpected 'mpimap version' output: $version" ;;
esac

# 2. The example, copied out of the source tree, built against the install.
cp -R "$src/sdk/examples/hello-strategy" "$tmp/example"
step "configure the example against the installed SDK" \
    meson setup "$tmp/example-build" "$tmp/example" --werror
step "build the example" meson compile -C "$tmp/example-build"
so=$tmp/example-build/mpimap_strategy_example.so
[ -f "$so" ] || fail "the example did not build $so"

# 3. The installed command finds it through MPIMAP_PLUGIN_PATH (and nothing
#    from a system plugin directory leaks in).
out=$(run_installed env MPIMAP_PLUGIN_PATH="$tmp/example-build" \
    MPIMAP_PLUGIN_SYSTEM_PATH= "$mpimap" plugins --all) ||
    fail "installed 'mpimap plugins --all' failed"
echo "$out"
grep -Eq "^strategy +example +ok +.* $so( |\$)" <<<"$out" ||
    fail "'mpimap plugins --all' with MPIMAP_PLUGIN_PATH does not list strategy example as ok at $so"
out=$(run_installed env MPIMAP_PLUGIN_PATH="$tmp/example-build" \
    MPIMAP_PLUGIN_SYSTEM_PATH= "$mpimap" plugins) ||
    fail "installed 'mpimap plugins' failed"
grep -Eq '^strategy +example ' <<<"$out" ||
    fail "'mpimap plugins' with MPIMAP_PLUGIN_PATH does not list strategy example"

# 4. Installed into plugindir, the compiled-in plugin directory finds it, and
#    every installed plugin loads.
step "install the example" meson install -C "$tmp/example-build"
[ -f "$plugindir/mpimap_strategy_example.so" ] ||
    fail "the example was not installed into $plugindir"
out=$(run_installed "$mpimap" plugins --all) ||
    fail "installed 'mpimap plugins --all' failed"
echo "$out"
grep -Eq "^strategy +example +ok +.* $plugindir/mpimap_strategy_example\\.so( |\$)" <<<"$out" ||
    fail "the installed mpimap does not find the example in its plugin directory $plugindir"
if grep -E '^[a-z?]+ +[^ ]+ +(rejected|not loaded) ' <<<"$out"; then
    fail "an installed plugin is not usable (above)"
fi

echo "PASS: the installed SDK builds a third-party plugin that the installed mpimap loads"
