//! The C client example (examples/c_client.c) compiled with -Wall -Wextra -Werror -pedantic,
//! linked once against the shared and once against the static library, and once more with
//! -fsanitize=address,undefined, and once under valgrind memcheck; each build runs against the
//! Rust server example.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::native::{
    build_artifacts, compile_c, output_tool, profile_dir, shared_link, spawn_tool, ROOT,
};

fn compile(name: &str, extra: &[&str], link: &[String]) -> PathBuf {
    compile_c(
        &format!("c_client_{name}"),
        &format!("{ROOT}/examples/c_client.c"),
        extra,
        link,
    )
}

struct ServerProc(Child);
impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the Rust server example; returns it and its raw and message ports.
fn start_server(dir: &Path) -> (ServerProc, String, String) {
    let server = dir.join("examples/server");
    let mut child = Command::new(&server)
        .args(["--clients", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", server.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ports: Vec<String> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| s.len() >= 4)
        .map(str::to_string)
        .collect();
    assert_eq!(
        ports.len(),
        2,
        "server's first line names its ports: {line}"
    );
    (ServerProc(child), ports[0].clone(), ports[1].clone())
}

fn run_client(exe: &Path, env: &[(&str, &str)]) -> String {
    run_client_under(&[], exe, env)
}

/// Run the client, optionally under a wrapper command (valgrind ...).
fn run_client_under(wrapper: &[&str], exe: &Path, env: &[(&str, &str)]) -> String {
    let dir = build_artifacts();
    let (_server, raw, msg) = start_server(dir);
    // The wrapper's Debian package has its name (valgrind is the only wrapper used).
    let (mut cmd, package) = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(exe);
            (c, Some(*program))
        }
        None => (Command::new(exe), None),
    };
    cmd.args(["127.0.0.1", &raw, &msg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = match package {
        Some(package) => spawn_tool(&mut cmd, package),
        None => cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", exe.display())),
    };
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("c_client hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "c_client failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("ERROR: AddressSanitizer") && !stderr.contains("runtime error"),
        "{stderr}"
    );
    stdout
}

fn assert_exchange(stdout: &str) {
    assert!(
        stdout.contains("raw reply: AR content for [DEVICE phone-1 pose 0.10 1.50 -0.30]"),
        "{stdout}"
    );
    for i in 1..=5 {
        assert!(
            stdout.contains(&format!("message reply {i}: {{\"update\":{i},")),
            "reply {i}: {stdout}"
        );
    }
    assert!(
        stdout.contains("\"echo\":\"anchor-hit phone-1: table-1\""),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("done"), "{stdout}");
}

#[test]
fn c_client_linked_against_the_shared_library_talks_to_the_rust_server() {
    let dir = build_artifacts();
    let exe = compile("shared", &[], &shared_link(dir));
    assert_exchange(&run_client(&exe, &[]));
}

#[test]
fn c_client_linked_against_the_static_library_talks_to_the_rust_server() {
    let dir = build_artifacts();
    let link = vec![
        dir.join("libarsock.a").display().to_string(),
        "-lpthread".into(),
        "-ldl".into(),
        "-lm".into(),
    ];
    let exe = compile("static", &[], &link);
    let ldd = Command::new("ldd")
        .arg(&exe)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if let Ok(ldd) = ldd {
        assert!(
            !ldd.contains("libarsock.so"),
            "static build must not load libarsock.so:\n{ldd}"
        );
    }
    assert_exchange(&run_client(&exe, &[]));
}

#[test]
fn c_client_runs_clean_under_address_and_undefined_behaviour_sanitizers() {
    let dir = build_artifacts();
    let exe = compile(
        "asan",
        &["-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
        &shared_link(dir),
    );
    let out = run_client(
        &exe,
        &[
            ("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1"),
            ("UBSAN_OPTIONS", "halt_on_error=1"),
        ],
    );
    assert_exchange(&out);
}

#[test]
fn the_header_compiles_as_c99_c11_and_cpp_and_names_only_arsock_symbols() {
    let header = std::fs::read_to_string(format!("{ROOT}/include/arsock.h")).unwrap();
    for line in header.lines() {
        let l = line.trim_start();
        for prefix in ["#define ", "typedef ", "enum ", "struct "] {
            if let Some(rest) = l.strip_prefix(prefix) {
                let name = rest
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .find(|s| !s.is_empty());
                let name = name.unwrap_or("");
                let skip = [
                    "uint8_t", "uint16_t", "uint32_t", "uint64_t", "int32_t", "size_t",
                ];
                if !skip.contains(&name) && prefix != "typedef " {
                    assert!(
                        name.to_ascii_lowercase().starts_with("arsock"),
                        "unprefixed name in header: {line}"
                    );
                }
            }
        }
        if l.contains('(')
            && l.starts_with(|c: char| c.is_alphabetic())
            && !l.starts_with("typedef")
        {
            assert!(
                l.contains(" arsock_") || l.contains("*arsock_"),
                "unprefixed function: {line}"
            );
        }
    }
    let probe = profile_dir().join("header_probe.c");
    std::fs::write(&probe, "#include \"arsock.h\"\nint main(void) { return (int)sizeof(arsock_buf) - (int)sizeof(arsock_buf); }\n").unwrap();
    for (compiler, std) in [
        ("cc", "-std=c99"),
        ("cc", "-std=c11"),
        ("c++", "-std=c++11"),
        ("c++", "-std=c++17"),
    ] {
        let lang: &[&str] = if compiler == "c++" {
            &["-x", "c++"]
        } else {
            &[]
        };
        let package = if compiler == "c++" { "g++" } else { "gcc" };
        let out = output_tool(
            Command::new(compiler)
                .args(lang)
                .args([
                    std,
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-pedantic",
                    "-fsyntax-only",
                ])
                .arg(format!("-I{ROOT}/include"))
                .arg(&probe),
            package,
        );
        assert!(
            out.status.success(),
            "{compiler} {std}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn c_client_runs_clean_under_valgrind_memcheck() {
    let dir = build_artifacts();
    let exe = compile("valgrind", &[], &shared_link(dir));
    // Errors (invalid reads/writes, uses of uninitialised memory, definite leaks) fail the run.
    // A linger thread still running at exit shows up as "possibly lost" TLS, which is fine.
    let out = run_client_under(
        &[
            "valgrind",
            "-q",
            "--error-exitcode=9",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
        ],
        &exe,
        &[],
    );
    assert_exchange(&out);
}
