//! The `arsock` command as a library: argument definitions ([`args`]), `send`/`recv`
//! ([`netcat`]), the viewer's model ([`view`]) and its HTTP server ([`viewer`]). The binary
//! (`src/main.rs`) only parses arguments and calls [`run`].

pub mod args;
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
/// Exit status: the command is not available in this build (sysexits' EX_UNAVAILABLE).
pub const EXIT_UNAVAILABLE: i32 = 69;

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

    /// A command whose arguments are valid but whose engine is not in this build.
    pub fn unavailable(command: &str) -> Failure {
        Failure {
            message: format!(
                "`arsock {command}` is not available in this build: it needs sessions (issue 10), \
                 which this arsock library does not have yet. `arsock send`/`recv` work."
            ),
            code: EXIT_UNAVAILABLE,
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
        // Arguments were validated by clap; the hub, bots and demo bodies are wired in with
        // sessions (issue 10) and poses (issue 11).
        Command::Hub(_) => Err(Failure::unavailable("hub")),
        Command::Bots(_) => Err(Failure::unavailable("bots")),
        Command::Demo(_) => Err(Failure::unavailable("demo")),
        Command::Send(a) => netcat::send(&a),
        Command::Recv(a) => netcat::recv(&a),
    }
}
