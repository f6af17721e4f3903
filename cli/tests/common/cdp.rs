//! Headless Chromium (Debian's `chromium` package) driven through the DevTools protocol: one
//! page, navigate, evaluate JavaScript, take screenshots. Every wait is bounded.

use base64::Engine;
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

const START_LIMIT: Duration = Duration::from_secs(60);
const CALL_LIMIT: Duration = Duration::from_secs(30);

/// The browser binary: $ARSOCK_CHROMIUM, else `chromium` from Debian's package.
fn chromium_path() -> PathBuf {
    if let Some(p) = std::env::var_os("ARSOCK_CHROMIUM") {
        return PathBuf::from(p);
    }
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "this test needs a real browser: install Debian's chromium (apt-get install chromium) \
         or set ARSOCK_CHROMIUM to a Chromium binary"
    );
}

/// The browser process and its profile directory: killed and removed on drop.
struct Process {
    child: Child,
    profile: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

pub struct Browser {
    ws: WebSocket<TcpStream>,
    next_id: u64,
    _process: Process,
}

impl Browser {
    /// Start headless Chromium with a fresh profile and attach to its first page.
    pub fn launch(width: u32, height: u32) -> Browser {
        let profile = std::env::temp_dir().join(format!(
            "arsock-chromium-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let child = Command::new(chromium_path())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.display()),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let mut process = Process { child, profile };
        let ws = attach_first_page(&mut process);
        Browser {
            ws,
            next_id: 0,
            _process: process,
        }
    }

    /// Call a DevTools method and return its result (events in between are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::text(msg)).expect("send to DevTools");
        let deadline = Instant::now() + CALL_LIMIT;
        loop {
            assert!(
                Instant::now() < deadline,
                "{method}: no answer within {CALL_LIMIT:?}"
            );
            let m = match self.ws.read() {
                Ok(m) => m,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => panic!("{method}: DevTools connection failed: {e}"),
            };
            let Message::Text(text) = m else { continue };
            let v: Value = serde_json::from_str(text.as_str()).unwrap();
            if v["id"] == id {
                if let Some(err) = v.get("error") {
                    panic!("{method} failed: {err}");
                }
                return v["result"].clone();
            }
        }
    }

    pub fn navigate(&mut self, url: &str) {
        let r = self.call("Page.navigate", json!({"url": url}));
        assert!(
            r.get("errorText").is_none(),
            "navigation to {url} failed: {r}"
        );
    }

    /// Evaluate a JavaScript expression in the page and return its value (as JSON).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("JavaScript failed: {ex}\n{expr}");
        }
        r["result"]["value"].clone()
    }

    /// Evaluate `expr` until it is true, for at most `limit`.
    pub fn wait_for(&mut self, expr: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.eval(expr) == json!(true) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// A PNG screenshot of the page.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
    }
}

/// Wait for the DevTools port, find the first page and open its websocket.
fn attach_first_page(process: &mut Process) -> WebSocket<TcpStream> {
    let deadline = Instant::now() + START_LIMIT;
    let port_file = process.profile.join("DevToolsActivePort");
    let port: u16 = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            if let Some(Ok(p)) = text.lines().next().map(str::parse) {
                break p;
            }
        }
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!("chromium exited at start: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "chromium did not open its DevTools port"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let url = loop {
        let list: Value =
            serde_json::from_slice(&super::http::get(addr, "/json/list").body).unwrap();
        let page = list
            .as_array()
            .and_then(|a| a.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .map(str::to_string);
        if let Some(u) = page {
            break u;
        }
        assert!(Instant::now() < deadline, "chromium has no page target");
        std::thread::sleep(Duration::from_millis(50));
    };
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(CALL_LIMIT)).unwrap();
    let (ws, _) = tungstenite::client(url.as_str(), stream).expect("DevTools websocket");
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    ws
}
