//! The C sessions example (examples/c_session.c), compiled with -Wall -Wextra -Werror -pedantic
//! against the shared library, and again with -fsanitize=address,undefined; both runs must
//! succeed.

mod common;
use common::native::{build_artifacts, compile_c, shared_link, ROOT};
use std::process::Command;

fn run(name: &str, extra: &[&str]) {
    let dir = build_artifacts();
    let exe = compile_c(
        name,
        &format!("{ROOT}/examples/c_session.c"),
        extra,
        &shared_link(dir),
    );
    let out = Command::new(&exe)
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.ends_with("ok\n"),
        "{name}: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_c_session_example_joins_exchanges_shares_state_and_leaves() {
    run("c_session", &[]);
}

#[test]
fn the_c_session_example_is_clean_under_address_and_undefined_sanitizers() {
    run(
        "c_session_asan",
        &["-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
    );
}
