//! The `arsock` command as a library: argument definitions ([`args`]), `send`/`recv`
//! ([`netcat`]), `hub` ([`hub`], fed by the library's hub observation through [`feed`]),
//! `bots` and `demo` ([`bots`], [`demo`]), the viewer's model ([`view`]) and its HTTP server
//! ([`viewer`]). The binary
//! (`src/main.rs`) only parses arguments and calls [`run`].

pub mod args;
pub mod bots;
pub mod demo;
pub mod feed;
pub mod hub;
pub mod interrupt;
pub mod netcat;
pub mod report;
pub mod sim;
pub mod view;
pub mod viewer;

use args::{Cli, Command};
use std::fmt;

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: a network, I/O or runtime error.
pub const EXIT_FAILURE: i32 = 1;
/// Exit status: bad arguments (clap uses the same).
pub const EXIT_USAGE: i32 = 2;

/// Why a command failed: the message printed after "arsock: " and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_FAILURE,
        }
    }

    /// Ctrl-C or SIGTERM ended the command.
    pub fn interrupted() -> Failure {
        Failure {
            message: "interrupted".into(),
            code: interrupt::EXIT_INTERRUPTED,
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Hub(a) => hub::run(&a),
        Command::Bots(a) => demo::run_bots(&a),
        Command::Demo(a) => demo::run_demo(&a),
        Command::Send(a) => netcat::send(&a),
        Command::Recv(a) => netcat::recv(&a),
    }
}
