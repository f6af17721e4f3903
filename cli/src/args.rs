//! Command-line arguments of `arsock` (clap derive) and the value parsers that check them, so
//! that every bad value is refused before anything starts, with a message that says what is
//! expected.

use clap::{Args, Parser, Subcommand};
use std::fmt;

/// Largest room the hub accepts (issue 10: up to 256 peers per room).
pub const MAX_PEERS_LIMIT: u32 = 256;
/// Longest room name, in bytes of UTF-8 (issue 10).
pub const MAX_ROOM_LEN: usize = 64;
/// Highest pose rate a bot may send.
pub const MAX_HZ: f64 = 1000.0;
/// Most simulated devices one `bots` process runs.
pub const MAX_DEVICES: u32 = 1024;

/// arsock: message sockets for real-time AR apps. Run a hub, simulate devices, watch them live.
#[derive(Debug, Parser)]
#[command(name = "arsock", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a hub that devices join in rooms; optionally serve the live viewer page.
    Hub(HubArgs),
    /// Simulated devices that walk around a room and send head poses to a hub.
    Bots(BotsArgs),
    /// An embedded hub and 8 walking devices in one process, with the viewer page.
    Demo(DemoArgs),
    /// Send stdin over one connection (connect to HOST:PORT, or accept one with --listen).
    #[command(long_about = SEND_HELP)]
    Send(SendArgs),
    /// Write what one connection receives to stdout (connect to HOST:PORT, or --listen).
    #[command(long_about = RECV_HELP)]
    Recv(RecvArgs),
}

const SEND_HELP: &str = "Send stdin over one connection (connect to HOST:PORT, or accept one \
    with --listen PORT).\n\n\
    Raw mode (default): the bytes of stdin, as they are. Message mode (--msg): each line of \
    stdin, without its trailing \"\\n\", is one whole arsock message (an empty line is an \
    empty message). Anything the peer sends back is written to stdout (one line per message \
    in --msg mode). At the end of stdin everything queued is delivered, replies are read for \
    --wait-ms more, then the connection is closed. If the peer closes first, send ends there \
    (what is left of stdin is not read).\n\n\
    Exit status: 0 done (or the peer closed cleanly), 1 network or I/O error (refused, reset, \
    protocol error), 2 bad arguments, 130 Ctrl-C.";

const RECV_HELP: &str = "Write what one connection receives to stdout, until the peer closes \
    (connect to HOST:PORT, or accept one with --listen PORT).\n\n\
    Raw mode (default): the bytes, as they arrive. Message mode (--msg): each whole arsock \
    message followed by \"\\n\".\n\n\
    Exit status: 0 the peer closed cleanly, 1 network or I/O error (refused, reset, protocol \
    error), 2 bad arguments, 130 Ctrl-C (what was received is written out first).";

#[derive(Debug, Args)]
pub struct HubArgs {
    /// Address to bind (IPv4 or IPv6 literal, or a name).
    #[arg(long, default_value = "0.0.0.0")]
    pub host: String,
    /// Port devices connect to (0 = any free port, printed at start).
    #[arg(long, default_value_t = 7700)]
    pub port: u16,
    /// Shared secret: devices that do not present it are rejected.
    #[arg(long)]
    pub token: Option<String>,
    /// Most peers in one room (1-256).
    #[arg(long, default_value_t = 32, value_parser = parse_max_peers, allow_negative_numbers = true)]
    pub max_peers: u32,
    /// Serve the viewer page and /stats.json on this port (0 = any free port).
    #[arg(long, value_name = "PORT")]
    pub http: Option<u16>,
    /// Print events and summaries as JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BotsArgs {
    /// The hub to join, as HOST:PORT (e.g. 127.0.0.1:7700 or [::1]:7700).
    #[arg(long, value_parser = parse_host_port)]
    pub hub: HostPort,
    /// Room to join (1-64 bytes of UTF-8).
    #[arg(long, value_parser = parse_room)]
    pub room: String,
    /// Number of simulated devices (1-1024).
    #[arg(long, default_value_t = 8, value_parser = parse_devices)]
    pub devices: u32,
    /// Head poses per second per device (greater than 0, at most 1000).
    #[arg(long, default_value_t = 30.0, value_parser = parse_hz, allow_negative_numbers = true)]
    pub hz: f64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_parser = parse_seconds, allow_negative_numbers = true)]
    pub seconds: Option<f64>,
    /// Token the hub expects, if any.
    #[arg(long)]
    pub token: Option<String>,
    /// Print the final report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_parser = parse_seconds, allow_negative_numbers = true)]
    pub seconds: Option<f64>,
    /// Port of the viewer page on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 7780)]
    pub http: u16,
    /// Print the final report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where a send/recv connection comes from: an address to connect to, or a port to listen on.
#[derive(Debug, Args)]
pub struct ConnArgs {
    /// Connect to HOST:PORT (e.g. 127.0.0.1:7700 or [::1]:7700).
    #[arg(value_name = "HOST:PORT", value_parser = parse_host_port,
          required_unless_present = "listen", conflicts_with = "listen")]
    pub target: Option<HostPort>,
    /// Listen on PORT instead and serve the first connection (0 = any free port; the address
    /// is printed on stderr as "listening on ADDR").
    #[arg(short, long, value_name = "PORT")]
    pub listen: Option<u16>,
    /// Address to listen on with --listen [default: 0.0.0.0, every interface].
    #[arg(long)]
    pub host: Option<String>,
    /// Message mode: whole arsock messages, one per line of text (see `arsock send --help`).
    #[arg(long)]
    pub msg: bool,
    /// Give up connecting after this many milliseconds.
    #[arg(long, default_value_t = 5000, value_name = "MS",
          value_parser = clap::value_parser!(u32).range(1..=3_600_000))]
    pub connect_timeout_ms: u32,
    /// Largest message accepted or sent in --msg mode, in bytes (1 to 16777216).
    #[arg(long, default_value_t = arsock::DEFAULT_MAX_MESSAGE as u32, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(1..=arsock::DEFAULT_MAX_MESSAGE as i64))]
    pub max_message: u32,
}

/// `arsock send`: stdin to the connection, replies to stdout (see [`SEND_HELP`]).
#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// After the end of stdin, keep printing replies for this long (or until the peer closes).
    #[arg(long, default_value_t = 0, value_name = "MS",
          value_parser = clap::value_parser!(u32).range(0..=3_600_000))]
    pub wait_ms: u32,
}

/// `arsock recv`: what the connection receives goes to stdout until the peer closes.
#[derive(Debug, Args)]
pub struct RecvArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// A host and a port given as one `HOST:PORT` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// The host without brackets: a name, an IPv4 or an IPv6 literal.
    pub host: String,
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parse `HOST:PORT`, `[IPV6]:PORT`; the port must be 1-65535.
pub fn parse_host_port(s: &str) -> Result<HostPort, String> {
    let example = "expected HOST:PORT, e.g. 127.0.0.1:7700, localhost:7700 or [::1]:7700";
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{s}': missing ']' after the IPv6 address; {example}"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| format!("'{s}': missing ':PORT' after ']'; {example}"))?;
        (host, port)
    } else {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}': no port; {example}"))?;
        if host.contains(':') {
            return Err(format!(
                "'{s}': an IPv6 address needs brackets, as in [::1]:7700"
            ));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(format!("'{s}': empty host; {example}"));
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "'{s}': the host contains spaces or control characters"
        ));
    }
    let port = match port.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => p as u16,
        Ok(_) => return Err(format!("'{s}': port must be 1-65535, got {port}")),
        Err(_) => return Err(format!("'{s}': port '{port}' is not a number (1-65535)")),
    };
    Ok(HostPort {
        host: host.to_string(),
        port,
    })
}

fn parse_in_range(s: &str, what: &str, lo: u32, hi: u32) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{what} must be {lo}-{hi}, got {n}")),
        Err(_) => Err(format!(
            "{what} must be a whole number {lo}-{hi}, got '{s}'"
        )),
    }
}

/// `--max-peers`: 1-256 (issue 10's limit per room).
pub fn parse_max_peers(s: &str) -> Result<u32, String> {
    parse_in_range(s, "max peers per room", 1, MAX_PEERS_LIMIT)
}

/// `--devices`: 1-1024.
pub fn parse_devices(s: &str) -> Result<u32, String> {
    parse_in_range(s, "number of devices", 1, MAX_DEVICES)
}

/// `--room`: 1-64 bytes of UTF-8 without control characters.
pub fn parse_room(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("room name must not be empty".into());
    }
    if s.len() > MAX_ROOM_LEN {
        return Err(format!(
            "room name is {} bytes; at most {MAX_ROOM_LEN} bytes of UTF-8",
            s.len()
        ));
    }
    if s.chars().any(char::is_control) {
        return Err("room name must not contain control characters".into());
    }
    Ok(s.to_string())
}

fn parse_positive(s: &str, what: &str, max: f64) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{what} must be a number, got '{s}'"))?;
    if !v.is_finite() || v <= 0.0 || v > max {
        return Err(format!(
            "{what} must be greater than 0 and at most {max}, got {s}"
        ));
    }
    Ok(v)
}

/// `--hz`: greater than 0, at most 1000.
pub fn parse_hz(s: &str) -> Result<f64, String> {
    parse_positive(s, "pose rate (Hz)", MAX_HZ)
}

/// `--seconds`: greater than 0, at most one week.
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    parse_positive(s, "seconds", 7.0 * 24.0 * 3600.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn host_port_accepts_ipv4_names_and_bracketed_ipv6() {
        let hp = parse_host_port("127.0.0.1:7700").unwrap();
        assert_eq!((hp.host.as_str(), hp.port), ("127.0.0.1", 7700));
        let hp = parse_host_port("[::1]:1").unwrap();
        assert_eq!((hp.host.as_str(), hp.port), ("::1", 1));
        assert_eq!(hp.to_string(), "[::1]:1");
        let hp = parse_host_port("localhost:65535").unwrap();
        assert_eq!(hp.port, 65535);
    }

    #[test]
    fn host_port_refuses_missing_bad_or_out_of_range_ports() {
        for bad in [
            "127.0.0.1",
            "127.0.0.1:",
            ":7700",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "127.0.0.1:http",
            "::1:7700",
            "[::1]7700",
            "[::1:7700",
            "a b:1",
        ] {
            assert!(parse_host_port(bad).is_err(), "{bad} was accepted");
        }
        assert!(parse_host_port("h:70000").unwrap_err().contains("1-65535"));
    }

    #[test]
    fn ranges_refuse_zero_and_too_many() {
        assert!(parse_max_peers("0").is_err());
        assert!(parse_max_peers("257").is_err());
        assert_eq!(parse_max_peers("256"), Ok(256));
        assert!(parse_devices("0").is_err());
        assert!(parse_hz("0").is_err());
        assert!(parse_hz("NaN").is_err());
        assert!(parse_hz("inf").is_err());
        assert!(parse_hz("1001").is_err());
        assert_eq!(parse_hz("90"), Ok(90.0));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_room("").is_err());
        assert!(parse_room(&"r".repeat(65)).is_err());
        assert!(parse_room("a\nb").is_err());
        assert_eq!(parse_room("lobby").as_deref(), Ok("lobby"));
    }
}
