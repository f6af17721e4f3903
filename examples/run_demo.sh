#!/usr/bin/env bash
# The main job, end to end: build libarsock and the Rust AR content server, compile the C
# client against the library, run both on loopback, and print what was exchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in cargo cc; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "run_demo.sh: '$tool' not found: it needs a Rust toolchain (https://rustup.rs) and a C" \
            "compiler (Debian: apt-get install gcc)" >&2
        exit 1
    }
done
cargo build --release --lib --example server
out=target/release/demo
mkdir -p "$out"
cc -Wall -Wextra -Werror -pedantic -Iinclude examples/c_client.c \
   -Ltarget/release -larsock -Wl,-rpath,"$PWD/target/release" -o "$out/c_client"

target/release/examples/server --clients 2 > "$out/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$out/server.log" ] && break; sleep 0.1; done
ports=($(head -1 "$out/server.log" | grep -oE ':[0-9]+' | tr -d :))
raw=${ports[0]}
msg=${ports[1]}
echo "== C client (examples/c_client.c) =="
timeout 30 "$out/c_client" 127.0.0.1 "$raw" "$msg"
timeout 10 tail --pid="$server" -f /dev/null || true
echo "== Rust server (examples/server.rs) =="
cat "$out/server.log"
