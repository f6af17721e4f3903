//! C functions of the session hub (`arsock_hub_*`): rooms, presence, relay and shared state
//! for sessions opened with `arsock_session_open` (docs/PROTOCOL.md, "Sessions").

use super::{arsock_handle, arsock_status, boundary, handles, invalid, out_ptr, str_arg, FfiError};
use crate::session::hub_core::HubConfig;
use crate::session::{limits, Hub};
use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

/// Default `max_peers_per_room`.
pub const ARSOCK_HUB_DEFAULT_MAX_PEERS: u32 = 32;
/// Largest `max_peers_per_room`.
pub const ARSOCK_HUB_MAX_PEERS: u32 = 256;
/// Default `heartbeat_ms`.
pub const ARSOCK_HUB_DEFAULT_HEARTBEAT_MS: i32 = 500;
/// Default `stale_after_ms`.
pub const ARSOCK_HUB_DEFAULT_STALE_AFTER_MS: i32 = 2500;
/// Default `resume_grace_ms`.
pub const ARSOCK_HUB_DEFAULT_RESUME_GRACE_MS: i32 = 30000;

/// Settings of `arsock_hub_start`. Zeroed fields mean defaults, so
/// `arsock_hub_config cfg = { sizeof cfg };` is a valid default config.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct arsock_hub_config {
    /// sizeof(arsock_hub_config), so the struct can grow.
    pub struct_size: u32,
    /// Bind address; NULL = "0.0.0.0".
    pub host: *const c_char,
    /// 0 = any free port (see `arsock_hub_local_port`).
    pub port: u16,
    /// 0 = 32; at most 256.
    pub max_peers_per_room: u32,
    /// Heartbeat interval on an idle link; 0 = 500.
    pub heartbeat_ms: i32,
    /// Silence after which a peer is announced PEER_STALE; 0 = 2500; must exceed heartbeat_ms.
    pub stale_after_ms: i32,
    /// How long a peer that lost its link may resume; 0 = 30000; -1 = no grace: leave at once.
    pub resume_grace_ms: i32,
    /// Sessions must present this token (NUL-terminated); NULL = no auth.
    pub token: *const c_char,
}

/// Fill `cfg` with `struct_size` and the documented defaults (host NULL, port 0, 32 peers,
/// 500 / 2500 / 30000 ms, no token). NULL is ignored. Never blocks; any thread.
///
/// # Safety
/// `cfg` is NULL or points to writable memory for one `arsock_hub_config`.
#[no_mangle]
pub unsafe extern "C" fn arsock_hub_config_init(cfg: *mut arsock_hub_config) {
    let _ = boundary(|| {
        let cfg = out_ptr(cfg, "cfg")?;
        *cfg = arsock_hub_config {
            struct_size: std::mem::size_of::<arsock_hub_config>() as u32,
            host: std::ptr::null(),
            port: 0,
            max_peers_per_room: ARSOCK_HUB_DEFAULT_MAX_PEERS,
            heartbeat_ms: ARSOCK_HUB_DEFAULT_HEARTBEAT_MS,
            stale_after_ms: ARSOCK_HUB_DEFAULT_STALE_AFTER_MS,
            resume_grace_ms: ARSOCK_HUB_DEFAULT_RESUME_GRACE_MS,
            token: std::ptr::null(),
        };
        Ok(())
    });
}

fn ms_or(v: i32, default: i32, name: &str) -> Result<Duration, FfiError> {
    match v {
        0 => Ok(Duration::from_millis(default as u64)),
        v if v > 0 => Ok(Duration::from_millis(v as u64)),
        v => Err(invalid(format!(
            "{name} must be 0 (default) or positive, got {v}"
        ))),
    }
}

/// Read and check a hub config (NULL = defaults); returns host, port and core settings.
unsafe fn hub_config(p: *const arsock_hub_config) -> Result<(String, u16, HubConfig), FfiError> {
    let want = std::mem::size_of::<arsock_hub_config>() as u32;
    let Some(first) = (p as *const u32).as_ref() else {
        return Ok(("0.0.0.0".into(), 0, HubConfig::default()));
    };
    if *first != want {
        return Err(invalid(format!(
            "cfg->struct_size is {} but this library's arsock_hub_config has {want} bytes \
             (use arsock_hub_config_init)",
            *first
        )));
    }
    // SAFETY: non-NULL and the caller's struct_size says it is a whole config.
    let c = *p;
    let host = if c.host.is_null() {
        "0.0.0.0".to_string()
    } else {
        str_arg(c.host, "cfg->host")?.to_string()
    };
    let max_peers = match c.max_peers_per_room {
        0 => ARSOCK_HUB_DEFAULT_MAX_PEERS,
        n if n <= limits::MAX_PEERS => n,
        n => {
            return Err(invalid(format!(
                "max_peers_per_room is {n}; the limit is {}",
                limits::MAX_PEERS
            )))
        }
    };
    let heartbeat = ms_or(
        c.heartbeat_ms,
        ARSOCK_HUB_DEFAULT_HEARTBEAT_MS,
        "heartbeat_ms",
    )?;
    let stale_after = ms_or(
        c.stale_after_ms,
        ARSOCK_HUB_DEFAULT_STALE_AFTER_MS,
        "stale_after_ms",
    )?;
    if stale_after <= heartbeat {
        return Err(invalid(format!(
            "stale_after_ms ({} ms) must exceed heartbeat_ms ({} ms)",
            stale_after.as_millis(),
            heartbeat.as_millis()
        )));
    }
    let grace = match c.resume_grace_ms {
        -1 => None,
        v => Some(ms_or(
            v,
            ARSOCK_HUB_DEFAULT_RESUME_GRACE_MS,
            "resume_grace_ms (or -1)",
        )?),
    };
    let token = if c.token.is_null() {
        None
    } else {
        let t = str_arg(c.token, "cfg->token")?;
        if t.len() > limits::MAX_TOKEN {
            return Err(invalid(format!(
                "token longer than {} bytes",
                limits::MAX_TOKEN
            )));
        }
        (!t.is_empty()).then(|| t.as_bytes().to_vec())
    };
    let cfg = HubConfig {
        max_peers,
        heartbeat,
        stale_after,
        grace,
        token,
        ..HubConfig::default()
    };
    Ok((host, c.port, cfg))
}

/// Start a session hub: listening on return, serving on arsock's I/O thread.
///
/// `cfg` may be NULL (defaults: all addresses, any free port). Rooms are created on first
/// join and removed 30 s after their last peer left. Close with `arsock_close(hub)`: every
/// peer gets DISCONNECTED(HUB_SHUTDOWN). Never blocks beyond binding. Any thread.
///
/// Returns ARSOCK_OK and `*out_hub`; ARSOCK_ERR_INVALID_ARGUMENT (NULL `out_hub`, wrong
/// `struct_size`, out-of-range values: more than 256 peers, negative times, grace below -1,
/// stale_after_ms not above heartbeat_ms, bad UTF-8); ARSOCK_ERR_ADDRESS;
/// ARSOCK_ERR_ADDRESS_IN_USE; ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `cfg` is NULL or a valid config whose strings are NUL-terminated; `out_hub` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_hub_start(
    cfg: *const arsock_hub_config,
    out_hub: *mut arsock_handle,
) -> arsock_status {
    boundary(|| {
        let out = out_ptr(out_hub, "out_hub")?;
        let (host, port, cfg) = hub_config(cfg)?;
        let hub = Hub::start(&host, port, cfg)?;
        *out = handles::insert(handles::Object::Hub(Arc::new(hub)))?;
        Ok(())
    })
}

/// The port the hub listens on (the one chosen for port 0).
///
/// Never blocks; any thread. Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL
/// `out_port`); ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `out_port` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_hub_local_port(
    hub: arsock_handle,
    out_port: *mut u16,
) -> arsock_status {
    boundary(|| {
        let out = out_ptr(out_port, "out_port")?;
        *out = handles::hub(hub)?.local_addr().port();
        Ok(())
    })
}
