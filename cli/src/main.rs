//! `arsock`: see `arsock --help` and the crate docs (cli/src/lib.rs).

use arsock_cli::{args::Cli, run, EXIT_OK};
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    if let Err(e) = arsock_cli::interrupt::install() {
        eprintln!("arsock: cannot handle Ctrl-C: {e}");
    }
    let code = match run(cli) {
        Ok(()) => EXIT_OK,
        Err(failure) => {
            eprintln!("arsock: {failure}");
            failure.code
        }
    };
    std::process::exit(code);
}
