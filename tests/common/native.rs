//! Building native pieces for the tests that run C programs: the library (shared and
//! static) plus the server example, and C files compiled against the header.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::OnceLock;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// target/debug, where the test binary lives (target/debug/deps/<test>-*).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// Why `cmd` could not start, naming its program and, when the program is missing, the Debian
/// package that has it (`bash scripts/test.sh` installs them; the list is scripts/packages.txt).
fn cannot_start(cmd: &Command, package: &str, e: std::io::Error) -> String {
    let program = cmd.get_program().to_string_lossy().into_owned();
    if e.kind() == ErrorKind::NotFound {
        format!(
            "`{program}` is not installed (Debian package `{package}`): {e}. \
             `bash scripts/test.sh` run as root installs it; see scripts/packages.txt"
        )
    } else {
        format!("could not start `{program}`: {e}")
    }
}

/// Start `cmd`; if its program is missing, panic with its name and Debian package.
#[track_caller]
pub fn spawn_tool(cmd: &mut Command, package: &str) -> Child {
    match cmd.spawn() {
        Ok(child) => child,
        Err(e) => panic!("{}", cannot_start(cmd, package, e)),
    }
}

/// Run `cmd` to completion, capturing its output; if its program is missing, panic with its
/// name and Debian package.
#[track_caller]
pub fn output_tool(cmd: &mut Command, package: &str) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!("{}", cannot_start(cmd, package, e)),
    }
}

/// Build the shared + static library and the server example (once per test binary).
pub fn build_artifacts() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(&cargo)
            .args(["build", "--lib", "--example", "server"])
            .current_dir(ROOT)
            .status()
            .unwrap_or_else(|e| panic!("could not start `{cargo}`: {e}"));
        assert!(
            status.success(),
            "building the library and the server example failed"
        );
        let dir = profile_dir();
        assert!(dir.join("libarsock.so").exists() && dir.join("libarsock.a").exists());
        dir
    })
}

/// Compile `source` (C11, warnings are errors) against include/arsock.h into
/// target/debug/`name`.
pub fn compile_c(name: &str, source: &str, extra: &[&str], link: &[String]) -> PathBuf {
    let out = profile_dir().join(name);
    let output = output_tool(
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
            .args(extra)
            .arg(format!("-I{ROOT}/include"))
            .arg(source)
            .arg("-o")
            .arg(&out)
            .args(link),
        "gcc",
    );
    assert!(
        output.status.success(),
        "compiling {source} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Link flags for the shared library in `dir`, found at run time through an rpath.
pub fn shared_link(dir: &Path) -> Vec<String> {
    vec![
        format!("-L{}", dir.display()),
        "-larsock".into(),
        format!("-Wl,-rpath,{}", dir.display()),
    ]
}
