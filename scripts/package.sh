#!/usr/bin/env bash
# Build every library this machine can build into dist/, with a manifest, then the Unity
# package (bindings/unity) and its tarball.
#
#   bash scripts/package.sh
#
# dist/<platform>/...        the libraries (release builds), dist/include/arsock.h
# dist/manifest.tsv          platform, target, file, size, sha256, stripped size
# dist/not-built.tsv         platform, target, why it could not be built here
# dist/com.arsock.unity-<version>.tgz and dist/unity/com.arsock.unity (the staged package)
#
# Platforms (set ARSOCK_PACKAGE_SKIP to a space-separated list of group names to skip some):
#   linux     x86_64 and aarch64 (aarch64-linux-gnu-gcc): libarsock.so, libarsock.a
#   windows   x86_64 (MinGW): arsock.dll, libarsock.dll.a, libarsock.a, once the source is portable
#   apple     macOS arm64 + x86_64 libarsock.dylib (cargo-zigbuild + ziglang from PyPI);
#             iOS device (and simulator, if rustup has it) libarsock.a via --crate-type staticlib
#   android   arm64-v8a, armeabi-v7a, x86_64: libarsock.so with 16 KB pages if an Android NDK is
#             set (ANDROID_NDK_HOME), else the static libraries (no offline NDK here)
#   unity     stage bindings/unity with the binding and the libraries above, then the tarball
# Each artifact is checked: every function of the header exported; shared libraries depend only
# on system libraries; 16 KB LOAD alignment (Android, Linux ARM64); macOS install name. A group
# that cannot run here is listed in not-built.tsv with the reason; a check that fails makes the
# script exit non-zero. Last line: "package: N passed, N failed, N skipped".
set -uo pipefail
source "$(dirname "$0")/platforms/lib.sh"
cd "$ROOT"
DIST="$ROOT/dist"
rm -rf "$DIST"
mkdir -p "$DIST/include"
cp include/arsock.h "$DIST/include/"
printf 'platform\ttarget\tfile\tsize\tsha256\tstripped_size\n' >"$DIST/manifest.tsv"
printf 'platform\ttarget\treason\n' >"$DIST/not-built.tsv"

skipped_group() { case " ${ARSOCK_PACKAGE_SKIP:-} " in *" $1 "*) return 0 ;; esac; return 1; }

not_built() { # PLATFORM TARGET REASON
    printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$DIST/not-built.tsv"
    skip "$1 ($2)" "$3"
}

# stripped_size FILE: size after removing what a shipped build drops (debug info and local
# symbols; exported functions stay). "-" if llvm-strip cannot process the file.
stripped_size() {
    local tmp args
    tmp=$(mktemp)
    case "$1" in
        *.a | *.lib) args=(--strip-debug) ;;
        *.dylib) args=(-x) ;;
        *) args=(--strip-all) ;;
    esac
    if "$STRIP" "${args[@]}" -o "$tmp" "$1" 2>/dev/null; then stat -c %s "$tmp"; else echo -; fi
    rm -f "$tmp"
}

# ship PLATFORM TARGET SRC [NAME]: copy SRC to dist/PLATFORM/NAME, check its exports, add it
# to the manifest.
ship() {
    local platform=$1 target=$2 src=$3 name=${4:-$(basename "$3")} dst
    dst="$DIST/$platform/$name"
    if [ ! -f "$src" ]; then
        fail "$platform $name" "$src was not built"
        return 1
    fi
    mkdir -p "$DIST/$platform"
    cp "$src" "$dst"
    case "$name" in
        *.dll.a) ;; # import library: only stubs
        *) check_exports "$platform/$name" "$dst" || return 1 ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$platform" "$target" "$platform/$name" "$(stat -c %s "$dst")" \
        "$(sha256sum "$dst" | cut -d' ' -f1)" "$(stripped_size "$dst")" >>"$DIST/manifest.tsv"
}

# check_page_align WHAT SO MIN: every LOAD segment of SO is aligned to at least MIN bytes.
check_page_align() {
    local what=$1 so=$2 min=$3 aligns bad
    aligns=$(readelf -lW "$so" | awk '$1 == "LOAD" { print $NF }')
    bad=$(for a in $aligns; do [ $((a)) -lt $((min)) ] && echo "$a"; done)
    if [ -z "$aligns" ]; then
        fail "$what page alignment" "readelf -l found no LOAD segments"
    elif [ -n "$bad" ]; then
        fail "$what page alignment" "LOAD segments aligned to $(echo $aligns), need >= $min"
    else
        pass "$what LOAD segments aligned to $(echo $aligns | tr ' ' '\n' | sort -u | tr '\n' ' ')(>= $min)"
    fi
}

release() { echo "$TARGET_DIR/$1/release"; }

# check_needed WHAT SO ALLOWED...: the shared libraries SO needs (DT_NEEDED) are all in ALLOWED
# (C library parts every system of that kind has).
check_needed() {
    local what=$1 so=$2 needed bad=()
    shift 2
    needed=$(readelf -dW "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    for n in $needed; do
        case " $* " in *" $n "*) ;; *) bad+=("$n") ;; esac
    done
    if [ ${#bad[@]} -gt 0 ]; then
        fail "$what dependencies" "not part of the system: ${bad[*]}"
    else
        pass "$what needs only $(echo $needed)"
    fi
}
LINUX_LIBS="libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2 librt.so.1 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1"
ANDROID_LIBS="libc.so libm.so libdl.so liblog.so"

# check_ios_objects WHAT ARCHIVE: every object is built for iOS (LC_VERSION_MIN_IPHONEOS or
# LC_BUILD_VERSION platform ios), none for macOS, so Xcode links it for a device.
check_ios_objects() {
    local what=$1 a=$2 headers ios other
    headers=$("$(llvm_tool llvm-objdump)" --macho --private-headers "$a" 2>/dev/null)
    ios=$(echo "$headers" | grep -cE 'LC_VERSION_MIN_IPHONEOS|^ +platform (ios|2)$')
    other=$(echo "$headers" | grep -cE 'LC_VERSION_MIN_MACOSX|^ +platform (macos|1)$')
    if [ "$ios" -gt 0 ] && [ "$other" -eq 0 ]; then
        pass "$what: $ios objects built for iOS, none for macOS"
    else
        fail "$what platform" "$ios objects for iOS, $other for macOS"
    fi
}

# check_dylib WHAT DYLIB: install name @rpath/libarsock.dylib and only system libraries used.
check_dylib() {
    local what=$1 dylib=$2 objdump id deps bad
    objdump=$(llvm_tool llvm-objdump)
    id=$("$objdump" --macho --dylib-id "$dylib" | sed -n 2p | tr -d '[:space:]')
    deps=$("$objdump" --macho --dylibs-used "$dylib" | tail -n +2 | awk '{ print $1 }' | grep -vx "$id")
    bad=$(echo "$deps" | grep -vE '^(/usr/lib/|/System/Library/)')
    if [ "$id" != "@rpath/libarsock.dylib" ]; then
        fail "$what install name" "is $id, want @rpath/libarsock.dylib"
    elif [ -n "$bad" ]; then
        fail "$what libraries" "not part of macOS: $(echo $bad)"
    else
        pass "$what: install name $id; uses only $(echo $deps)"
    fi
}

# ------------------------------------------------------------------------------------ linux
build_linux() {
    echo "== linux x86_64"
    if cargo build -q -p arsock --release --lib; then
        ship linux-x86_64 x86_64-unknown-linux-gnu "$TARGET_DIR/release/libarsock.so" &&
            check_needed linux-x86_64/libarsock.so "$DIST/linux-x86_64/libarsock.so" $LINUX_LIBS
        ship linux-x86_64 x86_64-unknown-linux-gnu "$TARGET_DIR/release/libarsock.a"
    else
        fail "linux-x86_64" "cargo build --release --lib failed"
    fi
    echo "== linux aarch64"
    local t=aarch64-unknown-linux-gnu
    if ! have_target $t; then
        not_built linux-aarch64 $t "rustup cannot install the $t standard library"
    elif ! have aarch64-linux-gnu-gcc; then
        not_built linux-aarch64 $t "no aarch64-linux-gnu-gcc (apt: gcc-aarch64-linux-gnu)"
    elif cargo build -q -p arsock --release --lib --target $t; then
        ship linux-aarch64 $t "$(release $t)/libarsock.so" &&
            check_page_align linux-aarch64/libarsock.so "$DIST/linux-aarch64/libarsock.so" 0x4000 &&
            check_needed linux-aarch64/libarsock.so "$DIST/linux-aarch64/libarsock.so" $LINUX_LIBS
        ship linux-aarch64 $t "$(release $t)/libarsock.a"
    else
        fail "linux-aarch64" "cargo build --release --lib --target $t failed"
    fi
}

# ---------------------------------------------------------------------------------- windows
build_windows() {
    echo "== windows x86_64"
    local t=x86_64-pc-windows-gnu log="$TARGET_DIR/platforms/package-windows.log"
    mkdir -p "$(dirname "$log")"
    if ! have_target $t; then
        not_built windows-x86_64 $t "rustup cannot install the $t standard library"
    elif ! have x86_64-w64-mingw32-gcc; then
        not_built windows-x86_64 $t "no x86_64-w64-mingw32-gcc (apt: gcc-mingw-w64-x86-64)"
    elif cargo build -q -p arsock --release --lib --target $t >"$log" 2>&1; then
        ship windows-x86_64 $t "$(release $t)/arsock.dll"
        ship windows-x86_64 $t "$(release $t)/libarsock.dll.a"
        ship windows-x86_64 $t "$(release $t)/libarsock.a"
    elif windows_declared_unsupported; then
        not_built windows-x86_64 $t "Windows: source not yet portable (src/ has compile_error! for non-Unix targets; errors in scripts/platforms/windows.sh output)"
    else
        fail "windows-x86_64" "cargo build --release --lib --target $t failed (log: $log)"
    fi
}

# ------------------------------------------------------------------------------------ apple
# quiet LOG CMD...: run CMD with its output in LOG; show LOG's errors and warnings except
# rustc's note that it found no Apple SDK (xcrun), which only matters for SDK version stamps.
quiet() {
    local log=$1 rc
    shift
    mkdir -p "$(dirname "$log")"
    "$@" >"$log" 2>&1
    rc=$?
    grep -E '^(error|warning)' "$log" | grep -v -e 'xcrun' -e 'generated 1 warning' | head -20
    return $rc
}
LOGS="$TARGET_DIR/platforms/package"

# Static libraries need no linker: rustc writes the archive itself.
staticlib() { # TARGET
    quiet "$LOGS/$1-staticlib.log" cargo rustc -p arsock --release --lib --target "$1" --crate-type staticlib
}

build_apple() {
    echo "== macOS (cargo-zigbuild)"
    local t platform
    if ! zig_env; then
        for t in aarch64-apple-darwin x86_64-apple-darwin; do
            not_built "macos" $t "cargo-zigbuild/ziglang could not be installed from PyPI"
        done
    else
        for t in aarch64-apple-darwin x86_64-apple-darwin; do
            platform=macos-${t%%-*}
            platform=${platform/aarch64/arm64}
            if ! have_target $t; then
                not_built "$platform" $t "rustup cannot install the $t standard library"
            # Install name @rpath/libarsock.dylib, not the build path, so an app that embeds
            # the library finds it through its own rpath.
            elif quiet "$LOGS/$t.log" env "CARGO_TARGET_$(echo $t | tr 'a-z-' 'A-Z_')_RUSTFLAGS=-C link-arg=-Wl,-install_name,@rpath/libarsock.dylib" \
                cargo zigbuild -p arsock --release --lib --target $t; then
                ship "$platform" $t "$(release $t)/libarsock.dylib" && check_dylib "$platform/libarsock.dylib" "$DIST/$platform/libarsock.dylib"
                ship "$platform" $t "$(release $t)/libarsock.a"
            else
                fail "$platform" "cargo zigbuild --release --lib --target $t failed"
            fi
        done
    fi
    echo "== iOS (static libraries)"
    for t in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
        case $t in
            aarch64-apple-ios) platform=ios-arm64 ;;
            aarch64-apple-ios-sim) platform=ios-simulator-arm64 ;;
            x86_64-apple-ios) platform=ios-simulator-x86_64 ;;
        esac
        if ! have_target $t; then
            not_built "$platform" $t "rustup cannot install the $t standard library here"
        elif staticlib $t; then
            ship "$platform" $t "$(release $t)/libarsock.a" && [ $t = aarch64-apple-ios ] &&
                check_ios_objects "$platform/libarsock.a" "$DIST/$platform/libarsock.a"
        else
            fail "$platform" "cargo rustc --crate-type staticlib --target $t failed"
        fi
    done
}

# ---------------------------------------------------------------------------------- android
android_abi() {
    case $1 in
        aarch64-linux-android) echo arm64-v8a ;;
        armv7-linux-androideabi) echo armeabi-v7a ;;
        x86_64-linux-android) echo x86_64 ;;
    esac
}

# NDK clang for TARGET at API level 21, or nothing.
ndk_clang() {
    local ndk=${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}} triple=$1
    [ -n "$ndk" ] || return 1
    [ "$triple" = armv7-linux-androideabi ] && triple=armv7a-linux-androideabi
    local cc="$ndk/toolchains/llvm/prebuilt/linux-x86_64/bin/${triple}21-clang"
    [ -x "$cc" ] && echo "$cc"
}

build_android() {
    echo "== Android"
    local t abi platform cc var
    for t in aarch64-linux-android armv7-linux-androideabi x86_64-linux-android; do
        abi=$(android_abi $t)
        platform=android-$abi
        if ! have_target $t; then
            not_built "$platform" $t "rustup cannot install the $t standard library"
            continue
        fi
        if cc=$(ndk_clang $t); then
            var=$(echo "$t" | tr 'a-z-' 'A-Z_')
            if env "CARGO_TARGET_${var}_LINKER=$cc" \
                "CARGO_TARGET_${var}_RUSTFLAGS=-C link-arg=-Wl,-z,max-page-size=16384" \
                cargo build -q -p arsock --release --lib --target $t; then
                ship "$platform" $t "$(release $t)/libarsock.so" &&
                    check_page_align "$platform/libarsock.so" "$DIST/$platform/libarsock.so" 0x4000 &&
                    check_needed "$platform/libarsock.so" "$DIST/$platform/libarsock.so" $ANDROID_LIBS
            else
                fail "$platform" "cargo build with the NDK linker $cc failed"
            fi
        else
            not_built "$platform" "$t (libarsock.so)" "no Android NDK here (none in Debian or PyPI; set ANDROID_NDK_HOME): cargo ndk -t $abi --platform 21 build --release, with RUSTFLAGS='-C link-arg=-Wl,-z,max-page-size=16384'"
        fi
        if staticlib $t; then
            ship "$platform" $t "$(release $t)/libarsock.a"
        else
            fail "$platform" "cargo rustc --crate-type staticlib --target $t failed"
        fi
    done
}

started=$SECONDS
for group in linux windows apple android; do
    if skipped_group $group; then
        skip "$group" "ARSOCK_PACKAGE_SKIP"
        printf '%s\t-\t%s\n' "$group" "skipped (ARSOCK_PACKAGE_SKIP)" >>"$DIST/not-built.tsv"
    else
        "build_$group"
    fi
done
if skipped_group unity; then
    skip unity "ARSOCK_PACKAGE_SKIP"
elif python3 "$PLAT/unity_package.py" --dist "$DIST"; then
    pass "unity package: $(cd "$DIST" && ls com.arsock.unity-*.tgz)"
else
    fail "unity package" "scripts/platforms/unity_package.py failed"
fi

echo
echo "== dist/manifest.tsv"
column -t -s $'\t' "$DIST/manifest.tsv" 2>/dev/null || cat "$DIST/manifest.tsv"
echo "== dist/not-built.tsv"
column -t -s $'\t' "$DIST/not-built.tsv" 2>/dev/null || cat "$DIST/not-built.tsv"
echo "package took $((SECONDS - started)) s"
summary package
