//! `arsock`: see `arsock --help` and the crate docs (cli/src/lib.rs).

use arsock_cli::{args::Cli, run, EXIT_OK};
use clap::Parser;

fn main() {
    let code = match run(Cli::parse()) {
        Ok(()) => EXIT_OK,
        Err(failure) => {
            eprintln!("arsock: {failure}");
            failure.code
        }
    };
    std::process::exit(code);
}
