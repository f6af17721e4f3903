//! Generates include/arsock.h with cbindgen: into OUT_DIR, then copied to include/ only when
//! the content changed (so a clean tree stays clean and CI can check for drift).

use std::{env, fs, path::PathBuf};

fn main() {
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
