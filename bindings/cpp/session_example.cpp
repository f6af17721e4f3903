// Sessions from C++ (arsock_session.hpp), all in one process on 127.0.0.1, port 0:
//   1. a hub; three devices join room "demo" and see JOINED then each other (PEER_JOINED);
//   2. a message to one peer and a broadcast arrive with the sender's id and bytes, never
//      echoed to the sender;
//   3. shared state: set -> STATE_CHANGED at everyone -> get_state; a late joiner's snapshot;
//      delete -> STATE_CHANGED(deleted) -> NOT_FOUND;
//   4. a device closes -> PEER_LEFT(REMOTE_CLOSE) at the others;
//   5. misuse: unknown peer -> NOT_FOUND, 300-byte room -> INVALID_ARGUMENT, a payload id not
//      from the last poll -> NOT_FOUND, a moved-from session -> INVALID_HANDLE; a wrong token ->
//      REJECTED(AUTH) and then CLOSED; closing the hub -> DISCONNECTED(HUB_SHUTDOWN);
//   6. a device in a child process (this program run as `session_example child PORT`) killed
//      with SIGKILL -> PEER_STALE, then PEER_LEFT(TIMEOUT) when the hub's short grace ends.
// Exits 0 only if every check passed. Every wait is bounded (kWait).
//
// Build (bindings/cpp/run_tests.sh does this against the shared and static library):
//   g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -Ibindings/cpp
//       bindings/cpp/session_example.cpp -Ltarget/release -larsock -Wl,-rpath,target/release

#include "arsock_session.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

static_assert(!std::is_copy_constructible_v<arsock::Session>, "Session is move-only");
static_assert(!std::is_copy_assignable_v<arsock::Hub>, "Hub is move-only");
static_assert(std::is_nothrow_move_constructible_v<arsock::Session>, "moves never throw");
static_assert(std::is_nothrow_move_assignable_v<arsock::Hub>, "moves never throw");
static_assert(std::is_nothrow_destructible_v<arsock::Session>, "destructor never throws");
static_assert(sizeof(arsock::Event) == 40, "arsock_event is 40 bytes");

namespace {

constexpr int32_t kWait = 10000;  // ms

int failures = 0;

void expect(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok:  " : "FAIL:", what.c_str());
    if (!ok) {
        ++failures;
    }
}

/// An event with its payload read at once (payloads are readable until the next poll only).
struct Seen {
    arsock::Event ev;
    std::vector<uint8_t> data;
    std::string text() const { return std::string(data.begin(), data.end()); }
};

/// A session plus every event it polled.
struct Device {
    arsock::Session s;
    std::vector<Seen> log;
    size_t cursor = 0;
    uint32_t id = 0;
    std::vector<arsock::Event> events;  // reused by every poll

    void poll_once(int32_t timeout_ms) {
        s.poll(events, timeout_ms, 16);
        for (const arsock::Event& e : events) {
            Seen seen{e, {}};
            if (e.payload != 0) {
                s.read(e, seen.data);
            }
            log.push_back(std::move(seen));
        }
    }

    /// The next logged event matching `pred`, polling at most kWait ms; throws otherwise.
    Seen wait_for(const std::function<bool(const Seen&)>& pred, const std::string& what) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWait);
        for (;;) {
            while (cursor < log.size()) {
                const Seen& x = log[cursor++];
                if (pred(x)) {
                    return x;
                }
            }
            if (std::chrono::steady_clock::now() > deadline) {
                throw std::runtime_error("timed out waiting for " + what);
            }
            poll_once(100);
        }
    }
    Seen wait_for(arsock::EventKind kind, uint32_t peer) {
        return wait_for([&](const Seen& x) { return x.ev == kind && x.ev.peer == peer; },
                        std::string(arsock::to_string(kind)) + " of peer " + std::to_string(peer));
    }
    Seen wait_for(arsock::EventKind kind) {
        return wait_for([&](const Seen& x) { return x.ev == kind; }, arsock::to_string(kind));
    }
};

Device join(uint16_t port, const std::string& room, const std::string& name) {
    arsock::SessionOptions o;
    o.name = name;
    Device d{arsock::Session::open("127.0.0.1", port, room, o), {}, 0, 0, {}};
    d.id = d.wait_for(arsock::EventKind::joined).ev.peer;
    return d;
}

template <typename F>
void expect_status(arsock_status want, F&& f, const std::string& what) {
    try {
        f();
        expect(false, what + " throws");
    } catch (const arsock::Error& e) {
        expect(e.status() == want && !e.message().empty(), what + ": " + e.what());
    }
}

// The child of the liveness check: join "kill" as "doomed", print the peer id, poll until
// killed (at most 60 s).
int child_main(uint16_t port) {
    arsock::SessionOptions o;
    o.name = "doomed";
    arsock::Session s = arsock::Session::open("127.0.0.1", port, "kill", o);
    std::vector<arsock::Event> events;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        s.poll(events, 100);
        for (const arsock::Event& e : events) {
            if (e == arsock::EventKind::joined) {
                std::printf("%u\n", static_cast<unsigned>(e.peer));
                std::fflush(stdout);
            }
        }
    }
    return 1;
}

// 6. A device killed with SIGKILL: stale at once (its connection ended without goodbye), then
// gone when the grace ends. The short hub settings prove HubOptions reach the library: with
// the default 30 s grace the wait would time out.
void check_killed_device(const char* self) {
    arsock::HubOptions o;
    o.host = "127.0.0.1";
    o.heartbeat_ms = 100;
    o.stale_after_ms = 300;
    o.resume_grace_ms = 1000;
    arsock::Hub hub = arsock::Hub::start(o);
    Device a{arsock::Session::open("127.0.0.1", hub.local_port(), "kill"), {}, 0, 0, {}};
    a.wait_for(arsock::EventKind::joined);

    const std::string port = std::to_string(hub.local_port());  // prepared before fork
    int fds[2];
    if (pipe(fds) != 0) {
        throw std::runtime_error("pipe failed");
    }
    const pid_t pid = fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {  // only async-signal-safe calls until exec
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(self, self, "child", port.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(fds[1]);
    struct Reaper {  // the child never outlives this check, even when it throws
        pid_t pid;
        ~Reaper() {
            if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, nullptr, 0);
            }
        }
        void kill_now() {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
            pid = 0;
        }
    } reaper{pid};
    std::string line;
    char c = 0;
    pollfd pfd{fds[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && poll(&pfd, 1, kWait) == 1 && read(fds[0], &c, 1) == 1) {
        line += c;
    }
    close(fds[0]);
    const uint32_t peer = static_cast<uint32_t>(std::strtoul(line.c_str(), nullptr, 10));
    bool ok = peer != 0;
    expect(ok, "the child process joined as peer " + std::to_string(peer));
    if (ok) {
        a.wait_for(arsock::EventKind::peer_joined, peer);
        expect(a.s.peer_name(peer) == "doomed", "the child's name");
    }
    reaper.kill_now();  // SIGKILL: no goodbye
    if (ok) {
        a.wait_for(arsock::EventKind::peer_stale, peer);
        Seen left = a.wait_for(arsock::EventKind::peer_left, peer);
        expect(arsock::reason_of(left.ev) == arsock::Reason::timeout,
               "SIGKILLed device: PEER_STALE, then PEER_LEFT(TIMEOUT) after the grace");
    }
}

void run(const char* self) {
    arsock::check_abi();
    const arsock_hub_config defaults = arsock::Hub::default_config();
    expect(defaults.struct_size == sizeof(arsock_hub_config) && defaults.max_peers_per_room == 32 &&
               defaults.heartbeat_ms == 500 && defaults.stale_after_ms == 2500 &&
               defaults.resume_grace_ms == 30000,
           "hub defaults are the documented ones");

    arsock::Hub hub = arsock::Hub::start("127.0.0.1", 0);
    const uint16_t port = hub.local_port();
    std::printf("hub on 127.0.0.1:%u\n", static_cast<unsigned>(port));

    // 1. presence
    Device a = join(port, "demo", "alice");
    Device b = join(port, "demo", "bob");
    Device c = join(port, "demo", "carol");
    expect(a.id != 0 && b.id != 0 && c.id != 0 && a.id != b.id && b.id != c.id && a.id != c.id,
           "peer ids are >= 1 and distinct");
    expect(a.s.peer_id() == a.id && a.s.try_peer_id() == a.id, "peer_id() is the JOINED id");
    a.wait_for(arsock::EventKind::peer_joined, b.id);
    a.wait_for(arsock::EventKind::peer_joined, c.id);
    b.wait_for(arsock::EventKind::peer_joined, c.id);
    expect(c.log.size() >= 3 && c.log[0].ev == arsock::EventKind::joined &&
               c.log[1].ev == arsock::EventKind::peer_joined &&
               c.log[2].ev == arsock::EventKind::peer_joined,
           "joiner sees JOINED, then one PEER_JOINED per peer present");
    expect(c.s.peer_name(a.id) == "alice" && a.s.peer_name(c.id) == "carol",
           "peer names are visible to the others");

    // 2. relay
    std::vector<uint8_t> blob(5000);
    for (size_t i = 0; i < blob.size(); ++i) {
        blob[i] = static_cast<uint8_t>(i * 13 + 1);
    }
    a.s.send(b.id, blob);
    Seen m = b.wait_for(arsock::EventKind::message, a.id);
    expect(m.data == blob && m.ev.size == blob.size() && arsock::is_direct(m.ev),
           "message to one peer: sender id, bytes, ARSOCK_MESSAGE_DIRECT");
    b.s.send(arsock::kEveryone, std::string_view("to all"));
    expect(a.wait_for(arsock::EventKind::message, b.id).text() == "to all" &&
               c.wait_for(arsock::EventKind::message, b.id).text() == "to all",
           "broadcast reaches every other peer");
    a.s.send(b.id, std::string_view("done"));
    b.wait_for([](const Seen& x) { return x.ev == arsock::EventKind::message && x.text() == "done"; },
               "a's done");
    bool echoed = false;
    for (const Seen& x : b.log) {
        echoed = echoed || (x.ev == arsock::EventKind::message && x.ev.peer == b.id);
    }
    expect(!echoed, "a broadcast is never echoed to its sender");

    // 3. shared state
    a.s.set_state("anchor/1", std::string_view("pose-1"));
    for (Device* d : {&a, &b, &c}) {
        Seen ch = d->wait_for(arsock::EventKind::state_changed);
        std::vector<uint8_t> v = d->s.get_state("anchor/1");
        expect(ch.text() == "anchor/1" && !arsock::is_state_deleted(ch.ev) &&
                   std::string(v.begin(), v.end()) == "pose-1",
               "STATE_CHANGED(anchor/1) at every peer, value readable");
    }
    char small[2];
    expect_status(ARSOCK_ERR_BUFFER_TOO_SMALL, [&] { b.s.get_state("anchor/1", small, sizeof small); },
                  "get_state into 2 bytes");
    Device late = join(port, "demo", "dave");
    Seen snap = late.wait_for(arsock::EventKind::state_changed);
    expect(snap.text() == "anchor/1" && late.cursor == 5 &&
               late.s.try_get_state("anchor/1").value_or(std::vector<uint8_t>()).size() == 6,
           "late joiner: JOINED, 3 PEER_JOINED, then the state snapshot");
    c.s.delete_state("anchor/1");
    for (Device* d : {&a, &b, &c, &late}) {
        Seen ch = d->wait_for(arsock::EventKind::state_changed);
        expect(ch.text() == "anchor/1" && arsock::is_state_deleted(ch.ev) &&
                   !d->s.try_get_state("anchor/1").has_value(),
               "delete: STATE_CHANGED with ARSOCK_STATE_DELETED, then absent");
    }
    expect_status(ARSOCK_ERR_NOT_FOUND, [&] { a.s.get_state("anchor/1"); }, "get_state of an absent key");

    // 4. close -> PEER_LEFT(REMOTE_CLOSE)
    const uint32_t late_id = late.id;
    late.s.close();
    Seen left = a.wait_for(arsock::EventKind::peer_left, late_id);
    expect(arsock::reason_of(left.ev) == arsock::Reason::remote_close, "close: PEER_LEFT(REMOTE_CLOSE)");

    // 5. misuse
    expect_status(ARSOCK_ERR_NOT_FOUND, [&] { a.s.send(late_id, std::string_view("x")); },
                  "send to a peer that left");
    expect_status(ARSOCK_ERR_NOT_FOUND, [&] { a.s.send(9999, std::string_view("x")); },
                  "send to an unknown peer");
    expect_status(ARSOCK_ERR_NOT_FOUND, [&] { a.s.peer_name(9999); }, "peer_name of an unknown peer");
    expect_status(ARSOCK_ERR_MESSAGE_TOO_LARGE,
                  [&] { a.s.send(arsock::kEveryone, std::vector<uint8_t>(ARSOCK_SESSION_MAX_MESSAGE + 1)); },
                  "message over ARSOCK_SESSION_MAX_MESSAGE");
    expect_status(ARSOCK_ERR_INVALID_ARGUMENT,
                  [&] { a.s.set_state("big", std::vector<uint8_t>(ARSOCK_SESSION_MAX_VALUE + 1)); },
                  "state value over ARSOCK_SESSION_MAX_VALUE");
    expect_status(ARSOCK_ERR_INVALID_ARGUMENT,
                  [&] { arsock::Session::open("127.0.0.1", port, std::string(300, 'r')); },
                  "300-byte room name");
    arsock::Event bogus{};
    bogus.payload = 0xDEADBEEF;
    expect_status(ARSOCK_ERR_NOT_FOUND, [&] { a.s.read(bogus); }, "payload id not from the last poll");
    expect(a.s.poll(0).empty(), "poll with nothing pending returns no events");
    arsock::Session moved = std::move(b.s);
    expect(!b.s && moved, "moved-from session is empty");
    expect_status(ARSOCK_ERR_INVALID_HANDLE, [&] { b.s.send(a.id, std::string_view("x")); },
                  "moved-from session");

    {
        // a plain server takes the connection but never answers: the session stays unjoined
        arsock::Server plain = arsock::Server::open("127.0.0.1", 0);
        arsock::Session waiting = arsock::Session::open("127.0.0.1", plain.local_port(), "wait");
        expect(!waiting.try_peer_id().has_value(), "try_peer_id before JOINED: nullopt");
        expect_status(ARSOCK_ERR_STATE, [&] { waiting.peer_id(); }, "peer_id before JOINED");
        expect_status(ARSOCK_ERR_STATE, [&] { waiting.send(arsock::kEveryone, std::string_view("x")); },
                      "send before JOINED");
        expect(waiting.poll(50).empty(), "no event while the hub does not answer");
    }
    {
        arsock::HubOptions o;
        o.host = "127.0.0.1";
        o.token = "s3cret";
        arsock::Hub guarded = arsock::Hub::start(o);
        arsock::SessionOptions so;
        so.token = "guess";
        Device bad{arsock::Session::open("127.0.0.1", guarded.local_port(), "r", so), {}, 0, 0, {}};
        Seen rej = bad.wait_for(arsock::EventKind::rejected);
        expect(arsock::reason_of(rej.ev) == arsock::Reason::auth, "wrong token: REJECTED(AUTH)");
        expect_status(ARSOCK_ERR_CLOSED, [&] { bad.s.set_state("k", std::string_view("v")); },
                      "a rejected session");
        arsock::HubOptions big;
        big.host = "127.0.0.1";
        big.max_peers_per_room = 257;
        expect_status(ARSOCK_ERR_INVALID_ARGUMENT, [&] { arsock::Hub::start(big); },
                      "257 peers per room");
    }

    hub.close();
    Seen down = a.wait_for(arsock::EventKind::disconnected);
    expect(arsock::reason_of(down.ev) == arsock::Reason::hub_shutdown,
           "hub closed: DISCONNECTED(HUB_SHUTDOWN)");

    check_killed_device(self);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "child") {
        try {
            return child_main(static_cast<uint16_t>(std::atoi(argv[2])));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: %s\n", e.what());
            return 2;
        }
    }
    try {
        run("/proc/self/exe");
    } catch (const std::exception& e) {
        std::printf("FAIL: exception: %s\n", e.what());
        return 1;
    }
    if (failures != 0) {
        std::printf("%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all session checks passed\n");
    return 0;
}
