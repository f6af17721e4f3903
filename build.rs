//! Generates include/arsock.h with cbindgen: into OUT_DIR, then copied to include/ only when
//! the content changed (so a clean tree stays clean and CI can check for drift).
//! On Linux (not Android) it also gives the shared library its SONAME; see `soname`.

use std::{env, fs, path::PathBuf};

fn main() {
    soname();
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let v = |k: &str| env::var(k).expect("cargo sets the package version");
    config.after_includes = Some(format!(
        "\n#define ARSOCK_VERSION_MAJOR {}\n#define ARSOCK_VERSION_MINOR {}\n#define ARSOCK_VERSION_PATCH {}\n#define ARSOCK_VERSION_STRING \"{}\"",
        v("CARGO_PKG_VERSION_MAJOR"),
        v("CARGO_PKG_VERSION_MINOR"),
        v("CARGO_PKG_VERSION_PATCH"),
        v("CARGO_PKG_VERSION"),
    ));
    let header = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/arsock.h");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("arsock.h");
    header.write_to_file(&out);
    let fresh = fs::read(&out).expect("generated header is readable");
    let committed = dir.join("include").join("arsock.h");
    if fs::read(&committed).ok().as_deref() != Some(fresh.as_slice()) {
        fs::create_dir_all(dir.join("include")).expect("include/ can be created");
        fs::write(&committed, &fresh).expect("include/arsock.h is writable");
    }
}

/// SONAME of the shared library on Linux (GNU and musl; not Android, whose loader and app
/// packaging expect a plain `libarsock.so`). Programs linked with `-larsock` then record
/// `libarsock.so.0`, the name scripts/install.sh installs, so a later `libarsock.so.0.x` can
/// replace the library without relinking them. The major number changes when the ABI does.
///
/// So that such programs also run straight from the build tree (`-Ltarget/release -larsock
/// -Wl,-rpath,...`, as the README shows and the tests do), a symlink
/// `libarsock.so.0 -> libarsock.so` is put next to the library cargo builds.
fn soname() {
    const SONAME: &str = "libarsock.so.0";
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}");
    // OUT_DIR is <target>/<profile>/build/arsock-<hash>/out; the library lands in
    // <target>/<profile>.
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let Some(profile_dir) = out.ancestors().nth(3) else {
        return;
    };
    let link = profile_dir.join(SONAME);
    if fs::read_link(&link).ok().as_deref() == Some(std::path::Path::new("libarsock.so")) {
        return;
    }
    let _ = fs::remove_file(&link);
    #[cfg(unix)]
    if let Err(e) = std::os::unix::fs::symlink("libarsock.so", &link) {
        println!(
            "cargo:warning=could not create {}: {e} (programs linked against this build tree need it at run time)",
            link.display()
        );
    }
}
