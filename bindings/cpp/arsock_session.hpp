// arsock_session.hpp: header-only C++17 RAII wrapper over arsock's sessions (hubs, rooms,
// presence, reliable relay, shared state). Include it instead of / after arsock.hpp.
//
// Same conventions as arsock.hpp: failures throw arsock::Error (status() + the library's
// last-error text); the cases that are normal control flow have non-throwing forms (poll()
// returns 0 events on a timeout, try_get_state() returns std::nullopt for an absent key,
// try_send() returns false when the send queue is full). Hub and Session are move-only and
// close their handle in the destructor. Every call may be made from any thread.
//
//   arsock::Hub hub = arsock::Hub::start("127.0.0.1", 0);
//   arsock::Session s = arsock::Session::open("127.0.0.1", hub.local_port(), "room");
//   std::vector<arsock::Event> events;
//   s.poll(events, 16);                      // once per frame; 16 ms at most
//   for (const arsock::Event& e : events) {
//       if (e.kind == ARSOCK_EVENT_MESSAGE) { std::vector<uint8_t> m = s.read(e); ... }
//   }
//
// The payload of an event (a message's bytes, a STATE_CHANGED key) is readable with read()
// until the next poll.

#ifndef ARSOCK_SESSION_HPP
#define ARSOCK_SESSION_HPP

#include "arsock.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arsock {

/// One event of Session::poll: exactly struct arsock_event (kind, peer, reason, flags,
/// payload, size, time_us); compare `kind` with EventKind or the ARSOCK_EVENT_* constants.
using Event = arsock_event;

/// arsock_event::kind.
enum class EventKind : uint32_t {
    joined = ARSOCK_EVENT_JOINED,
    rejected = ARSOCK_EVENT_REJECTED,
    peer_joined = ARSOCK_EVENT_PEER_JOINED,
    peer_stale = ARSOCK_EVENT_PEER_STALE,
    peer_resumed = ARSOCK_EVENT_PEER_RESUMED,
    peer_left = ARSOCK_EVENT_PEER_LEFT,
    message = ARSOCK_EVENT_MESSAGE,
    state_changed = ARSOCK_EVENT_STATE_CHANGED,
    disconnected = ARSOCK_EVENT_DISCONNECTED,
    reconnected = ARSOCK_EVENT_RECONNECTED,
    blob_available = ARSOCK_EVENT_BLOB_AVAILABLE,
};

/// arsock_event::reason (REJECTED, PEER_LEFT, DISCONNECTED); ARSOCK_REASON_APP_MIN to
/// ARSOCK_REASON_APP_MAX (1000-1999) are the application's own.
enum class Reason : int32_t {
    none = ARSOCK_REASON_NONE,
    local_close = ARSOCK_REASON_LOCAL_CLOSE,
    remote_close = ARSOCK_REASON_REMOTE_CLOSE,
    timeout = ARSOCK_REASON_TIMEOUT,
    kicked = ARSOCK_REASON_KICKED,
    room_full = ARSOCK_REASON_ROOM_FULL,
    version = ARSOCK_REASON_VERSION,
    auth = ARSOCK_REASON_AUTH,
    protocol = ARSOCK_REASON_PROTOCOL,
    network = ARSOCK_REASON_NETWORK,
    hub_shutdown = ARSOCK_REASON_HUB_SHUTDOWN,
    slow_peer = ARSOCK_REASON_SLOW_PEER,
};

inline EventKind kind_of(const Event& e) noexcept { return static_cast<EventKind>(e.kind); }
inline Reason reason_of(const Event& e) noexcept { return static_cast<Reason>(e.reason); }
/// A STATE_CHANGED event for a key that was deleted.
inline bool is_state_deleted(const Event& e) noexcept {
    return (e.flags & ARSOCK_STATE_DELETED) != 0;
}
/// A DISCONNECTED event after which the session reconnects on its own.
inline bool is_resuming(const Event& e) noexcept {
    return (e.flags & ARSOCK_DISCONNECTED_RESUMING) != 0;
}
/// A MESSAGE sent to this peer alone (not to everyone).
inline bool is_direct(const Event& e) noexcept { return (e.flags & ARSOCK_MESSAGE_DIRECT) != 0; }
inline bool operator==(const Event& e, EventKind k) noexcept { return kind_of(e) == k; }
inline bool operator!=(const Event& e, EventKind k) noexcept { return kind_of(e) != k; }

/// Name of an event kind ("joined", "message", ...; "unknown" for others).
inline const char* to_string(EventKind k) noexcept {
    switch (k) {
        case EventKind::joined: return "joined";
        case EventKind::rejected: return "rejected";
        case EventKind::peer_joined: return "peer_joined";
        case EventKind::peer_stale: return "peer_stale";
        case EventKind::peer_resumed: return "peer_resumed";
        case EventKind::peer_left: return "peer_left";
        case EventKind::message: return "message";
        case EventKind::state_changed: return "state_changed";
        case EventKind::disconnected: return "disconnected";
        case EventKind::reconnected: return "reconnected";
        case EventKind::blob_available: return "blob_available";
    }
    return "unknown";
}

/// `to_peer` of Session::send that reaches every other peer in the room.
inline constexpr uint32_t kEveryone = 0;

/// Settings of Hub::start; empty / zero members keep the library's defaults.
struct HubOptions {
    std::string host;               ///< bind address; "" = "0.0.0.0"
    uint16_t port = 0;              ///< 0 = any free port
    uint32_t max_peers_per_room = 0;  ///< 0 = 32 (at most 256)
    int32_t heartbeat_ms = 0;       ///< 0 = 500
    int32_t stale_after_ms = 0;     ///< 0 = 2500
    int32_t resume_grace_ms = 0;    ///< 0 = 30000; -1 = no grace (leave at once)
    std::optional<std::string> token;  ///< sessions must present it; nullopt = no auth
};

/// Settings of Session::open; empty / zero members keep the library's defaults.
struct SessionOptions {
    std::optional<std::string> token;  ///< the hub's token
    std::string name;                  ///< shown to other peers (at most 64 bytes)
    int32_t connect_timeout_ms = 0;    ///< 0 = 5000
};

/// A session hub (arsock_hub_start): rooms, presence, relay and shared state on the library's
/// I/O thread. Destroying / closing it disconnects every peer with HUB_SHUTDOWN.
class Hub : public detail::Handle {
public:
    Hub() noexcept = default;
    /// Adopt a handle returned by the C API (closed by this object).
    explicit Hub(arsock_handle adopt) noexcept : Handle(adopt) {}

    /// The library's defaults (arsock_hub_config_init).
    static arsock_hub_config default_config() noexcept {
        arsock_hub_config cfg;
        arsock_hub_config_init(&cfg);
        return cfg;
    }

    /// Start from a raw config (strings owned by the caller for the duration of the call).
    static Hub start(const arsock_hub_config& cfg) {
        arsock_handle h = 0;
        detail::check(arsock_hub_start(&cfg, &h));
        return Hub(h);
    }
    static Hub start(const HubOptions& o) {
        arsock_hub_config cfg = default_config();
        cfg.host = o.host.empty() ? nullptr : o.host.c_str();
        cfg.port = o.port;
        if (o.max_peers_per_room != 0) cfg.max_peers_per_room = o.max_peers_per_room;
        if (o.heartbeat_ms != 0) cfg.heartbeat_ms = o.heartbeat_ms;
        if (o.stale_after_ms != 0) cfg.stale_after_ms = o.stale_after_ms;
        if (o.resume_grace_ms != 0) cfg.resume_grace_ms = o.resume_grace_ms;
        cfg.token = o.token ? o.token->c_str() : nullptr;
        return start(cfg);
    }
    /// Listen on host:port with every other setting at its default.
    static Hub start(const std::string& host, uint16_t port) {
        HubOptions o;
        o.host = host;
        o.port = port;
        return start(o);
    }

    /// The port the hub listens on (the chosen one after port 0).
    uint16_t local_port() const {
        uint16_t port = 0;
        detail::check(arsock_hub_local_port(h_, &port));
        return port;
    }
};

/// One device in one room (arsock_session_open). open() returns at once; JOINED, REJECTED or
/// DISCONNECTED arrives through poll(). Destroying / closing it leaves the room (the others
/// see PEER_LEFT with REMOTE_CLOSE).
class Session : public detail::Handle {
public:
    Session() noexcept = default;
    explicit Session(arsock_handle adopt) noexcept : Handle(adopt) {}

    /// Join `room` (1-64 bytes of UTF-8) at host:port. Throws INVALID_ARGUMENT for a bad room.
    static Session open(const std::string& host, uint16_t port, const std::string& room,
                        const SessionOptions& o = SessionOptions()) {
        arsock_session_config cfg;
        arsock_session_config_init(&cfg);
        cfg.token = o.token ? o.token->c_str() : nullptr;
        cfg.name = o.name.empty() ? nullptr : o.name.c_str();
        if (o.connect_timeout_ms != 0) cfg.connect_timeout_ms = o.connect_timeout_ms;
        arsock_handle h = 0;
        detail::check(arsock_session_open(host.c_str(), port, room.c_str(), &cfg, &h));
        return Session(h);
    }

    // --- events -------------------------------------------------------------------------------

    /// Wait up to `timeout_ms` for the first event, then take what else is there, at most
    /// `cap`; returns the count, 0 if nothing came in time. No allocation.
    size_t poll(Event* out, size_t cap, int32_t timeout_ms = kPoll) {
        size_t n = 0;
        arsock_status st = arsock_session_poll(h_, out, cap, timeout_ms, &n);
        if (st == ARSOCK_ERR_TIMEOUT) {
            return 0;
        }
        detail::check(st);
        return n;
    }
    /// poll() into `out`, reusing its capacity (at least `max_events`, default 64): no
    /// allocation once it is big enough. `out` holds the events after (empty on timeout).
    void poll(std::vector<Event>& out, int32_t timeout_ms = kPoll, size_t max_events = 64) {
        out.resize(max_events == 0 ? 1 : max_events);
        size_t n = 0;
        try {
            n = poll(out.data(), out.size(), timeout_ms);
        } catch (...) {
            out.clear();
            throw;
        }
        out.resize(n);
    }
    /// The events of one poll as a new vector.
    std::vector<Event> poll(int32_t timeout_ms, size_t max_events = 64) {
        std::vector<Event> out;
        poll(out, timeout_ms, max_events);
        return out;
    }

    /// Copy the payload of `e` (from the last poll) into buf; returns its length. Throws
    /// BUFFER_TOO_SMALL (still readable) or NOT_FOUND (not from the last poll).
    size_t read(const Event& e, void* buf, size_t cap) {
        size_t n = 0;
        detail::check(arsock_session_read(h_, e.payload, static_cast<uint8_t*>(buf), cap, &n));
        return n;
    }
    /// The payload of `e` into `out` (resized to it; capacity reused).
    void read(const Event& e, std::vector<uint8_t>& out) {
        // BLOB_AVAILABLE: the payload is the key (at most 255 bytes); `size` is the blob's size.
        out.resize(e.kind == ARSOCK_EVENT_BLOB_AVAILABLE ? 255 : static_cast<size_t>(e.size));
        for (;;) {
            size_t n = 0;
            arsock_status st = arsock_session_read(h_, e.payload, out.empty() ? nullptr : out.data(),
                                                   out.size(), &n);
            if (st == ARSOCK_OK) {
                out.resize(n);
                return;
            }
            if (st != ARSOCK_ERR_BUFFER_TOO_SMALL) {
                out.clear();
                detail::check(st);
            }
            out.resize(n);
        }
    }
    std::vector<uint8_t> read(const Event& e) {
        std::vector<uint8_t> out;
        read(e, out);
        return out;
    }
    /// The payload as a string (a STATE_CHANGED key, a text message).
    std::string read_string(const Event& e) {
        std::vector<uint8_t> v = read(e);
        return std::string(v.begin(), v.end());
    }

    // --- messages -----------------------------------------------------------------------------

    /// One reliable, ordered message to `to_peer` (kEveryone = every other peer). Throws
    /// NOT_FOUND for a peer not in the room, WOULD_BLOCK when the queue is full.
    void send(uint32_t to_peer, const void* data, size_t len) {
        detail::check(arsock_session_send(h_, to_peer, static_cast<const uint8_t*>(data), len));
    }
    void send(uint32_t to_peer, std::string_view data) { send(to_peer, data.data(), data.size()); }
    void send(uint32_t to_peer, const std::vector<uint8_t>& data) {
        send(to_peer, data.data(), data.size());
    }
    /// Like send(), but false instead of throwing when the send queue is full.
    bool try_send(uint32_t to_peer, const void* data, size_t len) {
        arsock_status st =
            arsock_session_send(h_, to_peer, static_cast<const uint8_t*>(data), len);
        if (st == ARSOCK_ERR_WOULD_BLOCK) {
            return false;
        }
        detail::check(st);
        return true;
    }

    // --- shared state -------------------------------------------------------------------------

    /// Set `key` (1-255 bytes of UTF-8) to `value` (at most 64 KiB); every peer, this one
    /// included, sees STATE_CHANGED once the hub applied it.
    void set_state(const std::string& key, const void* value, size_t len) {
        detail::check(
            arsock_session_set_state(h_, key.c_str(), static_cast<const uint8_t*>(value), len));
    }
    void set_state(const std::string& key, std::string_view value) {
        set_state(key, value.data(), value.size());
    }
    void set_state(const std::string& key, const std::vector<uint8_t>& value) {
        set_state(key, value.data(), value.size());
    }
    /// Remove `key` (STATE_CHANGED with ARSOCK_STATE_DELETED at every peer).
    void delete_state(const std::string& key) {
        detail::check(arsock_session_delete_state(h_, key.c_str()));
    }
    /// Copy the value of `key` into buf; returns its length. Throws NOT_FOUND if absent,
    /// BUFFER_TOO_SMALL if it does not fit.
    size_t get_state(const std::string& key, void* buf, size_t cap) {
        size_t n = 0;
        detail::check(
            arsock_session_get_state(h_, key.c_str(), static_cast<uint8_t*>(buf), cap, &n));
        return n;
    }
    /// The value of `key` into `out` (capacity reused); false if the key is absent.
    bool try_get_state(const std::string& key, std::vector<uint8_t>& out) {
        arsock_status st = get_state_into(key, out);
        if (st == ARSOCK_ERR_NOT_FOUND) {
            return false;
        }
        detail::check(st);
        return true;
    }
    std::optional<std::vector<uint8_t>> try_get_state(const std::string& key) {
        std::vector<uint8_t> out;
        if (!try_get_state(key, out)) {
            return std::nullopt;
        }
        return out;
    }
    /// The value of `key`; throws NOT_FOUND if absent.
    std::vector<uint8_t> get_state(const std::string& key) {
        std::vector<uint8_t> out;
        detail::check(get_state_into(key, out));
        return out;
    }

    // --- peers --------------------------------------------------------------------------------

    /// This session's peer id; throws ARSOCK_ERR_STATE until JOINED.
    uint32_t peer_id() const {
        uint32_t id = 0;
        detail::check(arsock_session_peer_id(h_, &id));
        return id;
    }
    /// This session's peer id, or std::nullopt before JOINED.
    std::optional<uint32_t> try_peer_id() const {
        uint32_t id = 0;
        arsock_status st = arsock_session_peer_id(h_, &id);
        if (st == ARSOCK_ERR_STATE) {
            return std::nullopt;
        }
        detail::check(st);
        return id;
    }
    /// The name `peer` joined with; throws NOT_FOUND if it is not in the room.
    std::string peer_name(uint32_t peer) const {
        std::vector<uint8_t> buf(256);  // names are at most 64 bytes
        for (;;) {
            size_t n = 0;
            arsock_status st = arsock_session_peer_name(h_, peer, buf.data(), buf.size(), &n);
            if (st == ARSOCK_OK) {
                return std::string(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
            }
            if (st != ARSOCK_ERR_BUFFER_TOO_SMALL) {
                detail::check(st);
            }
            buf.resize(n == 0 ? 1 : n);
        }
    }

private:
    // The value of `key` into `out`, grown as needed; the status of the last call otherwise
    // (its last-error text still unread, for detail::check).
    arsock_status get_state_into(const std::string& key, std::vector<uint8_t>& out) {
        out.resize(out.capacity());
        for (;;) {
            size_t n = 0;
            arsock_status st = arsock_session_get_state(
                h_, key.c_str(), out.empty() ? nullptr : out.data(), out.size(), &n);
            if (st == ARSOCK_OK) {
                out.resize(n);
                return st;
            }
            if (st != ARSOCK_ERR_BUFFER_TOO_SMALL) {
                out.clear();
                return st;
            }
            out.resize(n);  // the size needed (another writer may change it: then ask again)
        }
    }
};

}  // namespace arsock

#endif  // ARSOCK_SESSION_HPP
