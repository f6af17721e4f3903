#!/usr/bin/env bash
# The Debian/Ubuntu packages listed in scripts/packages.txt (the one list that the tests,
# the benchmarks and CI use).
#
#   bash scripts/deps.sh           install the missing ones: as root with apt-get (one
#                                  `apt-get update`, only if something is missing); otherwise
#                                  print the exact install command and exit 1 at once
#   bash scripts/deps.sh --check   only list the missing ones (exit 1 if any)
#   bash scripts/deps.sh --list    print the list
#
# ARSOCK_SKIP_DEPS=1 skips the check (a machine without dpkg that has the tools anyway).
set -euo pipefail
LIST="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/packages.txt"
[ -r "$LIST" ] || { echo "deps: cannot read $LIST" >&2; exit 1; }
mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$LIST")

case "${1:-}" in
    --list) printf '%s\n' "${packages[@]}"; exit 0 ;;
    --check | "") ;;
    *) echo "usage: $0 [--check | --list]" >&2; exit 2 ;;
esac
if [ "${ARSOCK_SKIP_DEPS:-0}" = 1 ]; then
    echo "deps: ARSOCK_SKIP_DEPS=1, not checking packages"
    exit 0
fi

command_line() { # the install command for the missing packages, as the user would type it
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo "
    echo "${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends $*"
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: this is not a Debian/Ubuntu system (no dpkg-query/apt-get), so the packages" >&2
    echo "deps: cannot be checked. On Debian/Ubuntu the command would be:" >&2
    echo "    $(command_line "${packages[@]}")" >&2
    echo "deps: install the equivalents, then rerun with ARSOCK_SKIP_DEPS=1." >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#packages[@]} packages of scripts/packages.txt are installed"
    exit 0
fi
if [ "${1:-}" = --check ]; then
    echo "deps: missing: ${missing[*]}"
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: install them (needs root), then run this again:" >&2
    echo "    $(command_line "${missing[@]}")" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run to finish instead of failing on its lock.
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
apt-get "${apt_opts[@]}" update -qq
apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
still=()
for p in "${missing[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    [ "$status" = "install ok installed" ] || still+=("$p")
done
if [ ${#still[@]} -gt 0 ]; then
    echo "deps: apt-get did not install: ${still[*]}" >&2
    exit 1
fi
echo "deps: installed ${#missing[@]} package(s)"
