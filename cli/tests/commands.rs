//! `arsock hub|bots|demo`: bad arguments are refused with clear messages (status 2). What the
//! commands do when they run is in `hub_bots_demo.rs`.

mod common;

use common::run;

#[test]
fn bad_hub_bots_and_demo_arguments_are_refused_with_a_clear_message() {
    let long_room = "r".repeat(65);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["hub", "--max-peers", "0"], "1-256"),
        (vec!["hub", "--max-peers", "257"], "1-256"),
        (vec!["hub", "--max-peers", "many"], "whole number"),
        (vec!["hub", "--max-peers", "-1"], "whole number"),
        (
            vec!["bots", "--hub", "h:1", "--room", "r", "--hz", "-30"],
            "greater than 0",
        ),
        (vec!["hub", "--port", "65536"], "65536"),
        (vec!["hub", "--http", "99999"], "99999"),
        (vec!["bots", "--room", "r"], "--hub"),
        (vec!["bots", "--hub", "127.0.0.1", "--room", "r"], "no port"),
        (
            vec!["bots", "--hub", "127.0.0.1:0", "--room", "r"],
            "1-65535",
        ),
        (vec!["bots", "--hub", "::1:7700", "--room", "r"], "brackets"),
        (vec!["bots", "--hub", "127.0.0.1:7700"], "--room"),
        (
            vec!["bots", "--hub", "127.0.0.1:7700", "--room", ""],
            "empty",
        ),
        (
            vec!["bots", "--hub", "127.0.0.1:7700", "--room", &long_room],
            "64 bytes",
        ),
        (
            vec!["bots", "--hub", "h:1", "--room", "r", "--devices", "0"],
            "1-1024",
        ),
        (
            vec!["bots", "--hub", "h:1", "--room", "r", "--hz", "0"],
            "greater than 0",
        ),
        (
            vec!["bots", "--hub", "h:1", "--room", "r", "--hz", "NaN"],
            "greater than 0",
        ),
        (
            vec!["bots", "--hub", "h:1", "--room", "r", "--hz", "5000"],
            "at most 1000",
        ),
        (
            vec!["bots", "--hub", "h:1", "--room", "r", "--seconds", "-3"],
            "seconds",
        ),
        (vec!["demo", "--seconds", "0"], "greater than 0"),
        (vec!["demo", "--http", "port"], "--http"),
        (vec!["demo", "--bogus"], "--bogus"),
        (vec!["nonsense"], "nonsense"),
    ];
    for (args, says) in cases {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(says),
            "{args:?} should mention {says:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn help_lists_every_command() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in ["hub", "bots", "demo", "send", "recv"] {
        assert!(
            text.contains(&format!("  {cmd} ")),
            "{cmd} missing from:\n{text}"
        );
    }
}
