// arsock.hpp: header-only C++17 RAII wrapper over the C API in arsock.h.
//
// Error style: EXCEPTIONS. Every failing call throws arsock::Error (a std::runtime_error)
// carrying the arsock_status (status()) and the text of arsock_last_error_message() read
// right after the failing call (message()). Chosen because the C API reports every failure
// the same way and most callers cannot do anything useful locally except on a timeout; the
// timeout cases that are part of normal control flow have non-throwing forms instead:
// try_accept(), try_recv_msg() and try_recv_msgs() return std::nullopt when nothing is ready.
// Destructors and move operations never throw (a failing close in a destructor is ignored;
// call close() yourself to see its error).
//
// Ownership: arsock::Server, arsock::Client and arsock::Poller each own one arsock_handle. They are
// move-only: copying is deleted, a moved-from object is empty (handle 0, operator bool
// false), and the destructor closes the handle. Calls on an empty object throw
// arsock::Error with ARSOCK_ERR_INVALID_HANDLE (the C library reports it).
//
// Timeouts are int32_t milliseconds as in the C API: arsock::kForever (-1), arsock::kPoll
// (0) or > 0. Threads: every call may be made from any thread (see arsock.h).
//
// Call arsock::check_abi() once at start-up: it throws if the loaded library was built
// with another ABI version than the header this program was compiled with.
//
// Build: g++ -std=c++17 -I<include dir> app.cpp -larsock   (or `pkg-config --cflags --libs
// arsock` after scripts/install.sh); static: add -lpthread -ldl -lm.

#ifndef ARSOCK_HPP
#define ARSOCK_HPP

#include "arsock.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace arsock {

/// `timeout_ms` that waits as long as it takes.
inline constexpr int32_t kForever = ARSOCK_WAIT_FOREVER;
/// `timeout_ms` that does not wait at all.
inline constexpr int32_t kPoll = 0;
/// Most messages one recv_msgs() call returns (the limit of arsock_client_recv_msgs).
inline constexpr size_t kMaxMsgsPerRecv = 256;
/// Size a recv_msgs() buffer starts with when the caller's vector has no capacity yet.
inline constexpr size_t kRecvMsgsBufferSize = 64 * 1024;

/// A failed arsock call: the status and the library's last-error text.
class Error : public std::runtime_error {
public:
    Error(arsock_status status, std::string message)
        : std::runtime_error(describe(status, message)),
          status_(status),
          message_(std::move(message)) {}

    /// The arsock_status of the failed call (negative).
    arsock_status status() const noexcept { return status_; }
    /// arsock_last_error_message() as it was right after the failed call.
    const std::string& message() const noexcept { return message_; }
    bool is_timeout() const noexcept { return status_ == ARSOCK_ERR_TIMEOUT; }
    bool is_closed() const noexcept { return status_ == ARSOCK_ERR_CLOSED; }

private:
    static std::string describe(arsock_status status, const std::string& message) {
        std::string s = arsock_status_str(static_cast<int32_t>(status));
        s += " (";
        s += std::to_string(static_cast<int>(status));
        s += ")";
        if (!message.empty()) {
            s += ": ";
            s += message;
        }
        return s;
    }

    arsock_status status_;
    std::string message_;
};

namespace detail {

/// Throw arsock::Error unless `status` is ARSOCK_OK.
inline void check(arsock_status status) {
    if (status != ARSOCK_OK) {
        throw Error(status, arsock_last_error_message());
    }
}

/// One owned handle: the shared part of Server and Client.
class Handle {
public:
    Handle() noexcept = default;
    explicit Handle(arsock_handle h) noexcept : h_(h) {}
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle(Handle&& other) noexcept : h_(std::exchange(other.h_, 0)) {}
    Handle& operator=(Handle&& other) noexcept {
        if (this != &other) {
            reset();
            h_ = std::exchange(other.h_, 0);
        }
        return *this;
    }
    ~Handle() { reset(); }

    /// The raw handle (0 when empty), for calling the C API directly.
    arsock_handle get() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != 0; }

    /// Give up ownership: the caller must arsock_close() the returned handle.
    arsock_handle release() noexcept { return std::exchange(h_, 0); }

    /// Close now and report a failure; closing an empty object does nothing.
    void close() {
        if (h_ != 0) {
            check(arsock_close(std::exchange(h_, 0)));
        }
    }

protected:
    /// Close, ignoring errors (destructor and move assignment).
    void reset() noexcept {
        if (h_ != 0) {
            (void)arsock_close(std::exchange(h_, 0));
        }
    }

    arsock_handle h_ = 0;
};

}  // namespace detail

/// A connection (from Client::connect or Server::accept): raw or message mode, fixed by its
/// first send/receive (mixing throws ARSOCK_ERR_STATE).
class Client : public detail::Handle {
public:
    Client() noexcept = default;
    /// Adopt a handle returned by the C API (closed by this object).
    explicit Client(arsock_handle adopt) noexcept : Handle(adopt) {}

    /// Connect to host:port (IPv4/IPv6 literal or name) within `timeout_ms`.
    static Client connect(const char* host, uint16_t port, int32_t timeout_ms = kForever) {
        arsock_handle h = 0;
        detail::check(arsock_client_connect(host, port, timeout_ms, &h));
        return Client(h);
    }
    static Client connect(const std::string& host, uint16_t port,
                          int32_t timeout_ms = kForever) {
        return connect(host.c_str(), port, timeout_ms);
    }

    // --- raw mode: plain TCP bytes --------------------------------------------------------

    /// Send all `len` bytes (like sendall), per the send timeout.
    void send(const void* data, size_t len) {
        detail::check(arsock_client_send(h_, static_cast<const uint8_t*>(data), len));
    }
    void send(std::string_view data) { send(data.data(), data.size()); }
    void send(const std::vector<uint8_t>& data) { send(data.data(), data.size()); }

    /// Receive 1 to `cap` bytes into `buf`; returns the count. Throws on timeout or when the
    /// peer closed (ARSOCK_ERR_CLOSED).
    size_t recv(void* buf, size_t cap, int32_t timeout_ms = kForever) {
        size_t n = 0;
        detail::check(
            arsock_client_recv(h_, static_cast<uint8_t*>(buf), cap, timeout_ms, &n));
        return n;
    }
    /// Receive 1 to `max` bytes into a new vector.
    std::vector<uint8_t> recv_bytes(size_t max, int32_t timeout_ms = kForever) {
        std::vector<uint8_t> out(max);
        out.resize(recv(out.data(), out.size(), timeout_ms));
        return out;
    }
    /// Receive exactly `len` bytes into `buf` (each wait bounded by `timeout_ms`).
    void recv_exact(void* buf, size_t len, int32_t timeout_ms = kForever) {
        auto* p = static_cast<uint8_t*>(buf);
        size_t got = 0;
        while (got < len) {
            got += recv(p + got, len - got, timeout_ms);
        }
    }

    // --- message mode: whole messages -----------------------------------------------------

    /// Send one whole message (empty is fine).
    void send_msg(const void* data, size_t len) {
        detail::check(arsock_client_send_msg(h_, static_cast<const uint8_t*>(data), len));
    }
    void send_msg(std::string_view data) { send_msg(data.data(), data.size()); }
    void send_msg(const std::vector<uint8_t>& data) { send_msg(data.data(), data.size()); }

    /// Send several messages at once, all or nothing.
    void send_msgs(const arsock_buf* msgs, size_t count) {
        detail::check(arsock_client_send_msgs(h_, msgs, count));
    }
    void send_msgs(std::initializer_list<std::string_view> msgs) {
        std::vector<arsock_buf> bufs;
        bufs.reserve(msgs.size());
        for (std::string_view m : msgs) {
            bufs.push_back(arsock_buf{reinterpret_cast<const uint8_t*>(m.data()), m.size()});
        }
        send_msgs(bufs.data(), bufs.size());
    }
    void send_msgs(const std::vector<std::vector<uint8_t>>& msgs) {
        std::vector<arsock_buf> bufs;
        bufs.reserve(msgs.size());
        for (const auto& m : msgs) {
            bufs.push_back(arsock_buf{m.data(), m.size()});
        }
        send_msgs(bufs.data(), bufs.size());
    }

    /// Receive the next message into `buf`; returns its length. A message larger than `cap`
    /// throws ARSOCK_ERR_BUFFER_TOO_SMALL and stays queued (use the vector forms to grow).
    size_t recv_msg(void* buf, size_t cap, int32_t timeout_ms = kForever) {
        size_t n = 0;
        detail::check(
            arsock_client_recv_msg(h_, static_cast<uint8_t*>(buf), cap, timeout_ms, &n));
        return n;
    }

    /// Receive the next message into `out`, reusing its capacity and growing it as needed
    /// (so a vector kept across calls stops allocating). `out` holds the message after.
    void recv_msg(std::vector<uint8_t>& out, int32_t timeout_ms = kForever) {
        out.resize(out.capacity());
        for (;;) {
            size_t n = 0;
            arsock_status st = arsock_client_recv_msg(h_, out.empty() ? nullptr : out.data(),
                                                      out.size(), timeout_ms, &n);
            if (st == ARSOCK_OK) {
                out.resize(n);
                return;
            }
            if (st != ARSOCK_ERR_BUFFER_TOO_SMALL) {
                out.clear();
                detail::check(st);
            }
            out.resize(n);  // the size needed; the message is still queued
        }
    }
    /// Receive the next message into a new vector.
    std::vector<uint8_t> recv_msg(int32_t timeout_ms = kForever) {
        std::vector<uint8_t> out;
        recv_msg(out, timeout_ms);
        return out;
    }
    /// Poll for a message: std::nullopt if none is ready (timeout 0); other errors throw.
    std::optional<std::vector<uint8_t>> try_recv_msg() {
        std::vector<uint8_t> out;
        try {
            recv_msg(out, kPoll);
        } catch (const Error& e) {
            if (e.is_timeout()) {
                return std::nullopt;
            }
            throw;
        }
        return out;
    }

    // --- message mode: batch receive (a frame's worth of messages per call) ----------------

    /// Receive a batch into caller storage: waits up to `timeout_ms` for the next message,
    /// then also takes every further message that has already arrived whole while `buf`
    /// (`cap` bytes) and `out_msgs` (`max_msgs` entries, at most kMaxMsgsPerRecv used) have
    /// room. The payloads are packed into `buf`; `out_msgs[0..returned count)` point into it
    /// (an empty message's `data` must not be read). Returns the count (>= 1); the rest stays
    /// queued. If even the first message is larger than `cap`, throws
    /// ARSOCK_ERR_BUFFER_TOO_SMALL with `out_msgs[0] = {nullptr, size needed}`, and the
    /// message stays queued (the vector forms grow instead).
    size_t recv_msgs(void* buf, size_t cap, arsock_buf* out_msgs, size_t max_msgs,
                     int32_t timeout_ms = kForever) {
        size_t n = 0;
        detail::check(arsock_client_recv_msgs(h_, static_cast<uint8_t*>(buf), cap, out_msgs,
                                              max_msgs, timeout_ms, &n));
        return n;
    }

    /// Receive a batch into reusable vectors (no allocation once they are big enough): `buf`
    /// is used up to its capacity (kRecvMsgsBufferSize if it has none) and grown when the
    /// first message does not fit; afterwards `msgs` holds one entry per message (at most
    /// `max_count`, at most kMaxMsgsPerRecv) pointing into `buf`, valid until `buf` is
    /// changed or reused. The size of `buf` afterwards is the capacity used, not the payload.
    void recv_msgs(std::vector<uint8_t>& buf, std::vector<arsock_buf>& msgs,
                   int32_t timeout_ms = kForever, size_t max_count = kMaxMsgsPerRecv) {
        if (buf.capacity() == 0) {
            buf.reserve(kRecvMsgsBufferSize);
        }
        buf.resize(buf.capacity());
        msgs.resize(std::min(max_count, kMaxMsgsPerRecv));  // 0: the library rejects it
        for (;;) {
            size_t n = 0;
            arsock_status st = arsock_client_recv_msgs(
                h_, buf.empty() ? nullptr : buf.data(), buf.size(),
                msgs.empty() ? nullptr : msgs.data(), msgs.size(), timeout_ms, &n);
            if (st == ARSOCK_OK) {
                msgs.resize(n);
                return;
            }
            if (st != ARSOCK_ERR_BUFFER_TOO_SMALL || msgs.empty()) {
                msgs.clear();
                detail::check(st);
            }
            // The first message is still queued: grow (at least double, since the buffer
            // holds whole batches) and try again.
            buf.resize(std::max(msgs[0].len, 2 * buf.size()));
        }
    }

    /// Receive a batch (1 to `max_count` messages, at most kMaxMsgsPerRecv) as new vectors,
    /// oldest first, waiting up to `timeout_ms` for the first.
    std::vector<std::vector<uint8_t>> recv_msgs(int32_t timeout_ms = kForever,
                                                size_t max_count = kMaxMsgsPerRecv) {
        std::vector<uint8_t> buf;
        std::vector<arsock_buf> msgs;
        recv_msgs(buf, msgs, timeout_ms, max_count);
        std::vector<std::vector<uint8_t>> out;
        out.reserve(msgs.size());
        for (const arsock_buf& m : msgs) {
            if (m.len == 0) {
                out.emplace_back();
            } else {
                out.emplace_back(m.data, m.data + m.len);
            }
        }
        return out;
    }
    /// Poll for a batch: std::nullopt if no message is ready (timeout 0); other errors throw.
    std::optional<std::vector<std::vector<uint8_t>>> try_recv_msgs(
        size_t max_count = kMaxMsgsPerRecv) {
        try {
            return recv_msgs(kPoll, max_count);
        } catch (const Error& e) {
            if (e.is_timeout()) {
                return std::nullopt;
            }
            throw;
        }
    }

    // --- options ----------------------------------------------------------------------------

    void set_max_message(size_t max_len) {
        detail::check(arsock_client_set_max_message(h_, max_len));
    }
    void set_send_timeout(int32_t timeout_ms) {
        detail::check(arsock_client_set_send_timeout(h_, timeout_ms));
    }
    void set_send_queue_limit(size_t max_bytes) {
        detail::check(arsock_client_set_send_queue_limit(h_, max_bytes));
    }
    void set_frame_timeout(int32_t timeout_ms) {
        detail::check(arsock_client_set_frame_timeout(h_, timeout_ms));
    }
    size_t send_queue_len() const {
        size_t n = 0;
        detail::check(arsock_client_send_queue_len(h_, &n));
        return n;
    }
};

/// A listening TCP server.
class Server : public detail::Handle {
public:
    Server() noexcept = default;
    explicit Server(arsock_handle adopt) noexcept : Handle(adopt) {}

    /// Bind to host:port (port 0 picks a free one); call listen() next.
    static Server bind(const char* host, uint16_t port) {
        arsock_handle h = 0;
        detail::check(arsock_server_bind(host, port, &h));
        return Server(h);
    }
    static Server bind(const std::string& host, uint16_t port) {
        return bind(host.c_str(), port);
    }
    /// Bind and listen in one step.
    static Server open(const std::string& host, uint16_t port, int32_t backlog = 0) {
        Server s = bind(host, port);
        s.listen(backlog);
        return s;
    }

    /// Start accepting (`backlog` 0 means 128).
    void listen(int32_t backlog = 0) { detail::check(arsock_server_listen(h_, backlog)); }

    /// The local port (the chosen one after binding port 0).
    uint16_t local_port() const {
        uint16_t port = 0;
        detail::check(arsock_server_local_port(h_, &port));
        return port;
    }

    /// Accept one connection within `timeout_ms`; throws ARSOCK_ERR_TIMEOUT when none came.
    Client accept(int32_t timeout_ms = kForever) {
        arsock_handle h = 0;
        detail::check(arsock_server_accept(h_, timeout_ms, &h));
        return Client(h);
    }
    /// Poll: a connection if one is waiting, else std::nullopt.
    std::optional<Client> try_accept() {
        arsock_handle h = 0;
        arsock_status st = arsock_server_accept(h_, kPoll, &h);
        if (st == ARSOCK_ERR_TIMEOUT) {
            return std::nullopt;
        }
        detail::check(st);
        return Client(h);
    }
};

/// Poller event bits (ARSOCK_POLL_*), and one reported event.
inline constexpr uint32_t kPollIn = ARSOCK_POLL_IN;
inline constexpr uint32_t kPollOut = ARSOCK_POLL_OUT;
inline constexpr uint32_t kPollClosed = ARSOCK_POLL_CLOSED;
using PollEvent = arsock_poll_event;

/// Waits on many servers and clients from one thread (arsock_poller_*). Level-triggered:
/// wait() reports the handles that are ready now, rotating so none starves when more are
/// ready than fit. A handle is in at most one poller (ARSOCK_ERR_STATE otherwise, also when
/// added twice: use modify()); closing it removes it; closing the poller (close(), the
/// destructor, or arsock_close from another thread) wakes a blocked wait(), which throws
/// arsock::Error with ARSOCK_ERR_CLOSED. One thread waits at a time (a second concurrent wait
/// throws ARSOCK_ERR_STATE). Move-only like Client and Server.
class Poller : public detail::Handle {
public:
    Poller() noexcept = default;
    /// Take ownership of a poller handle from the C API.
    explicit Poller(arsock_handle adopt) noexcept : Handle(adopt) {}

    /// A new, empty poller.
    static Poller create() {
        arsock_handle h = 0;
        detail::check(arsock_poller_new(&h));
        return Poller(h);
    }

    /// Watch `h` (a Server or Client) for `events` (0: only kPollClosed is reported).
    void add(const detail::Handle& h, uint32_t events = kPollIn) { add(h.get(), events); }
    void add(arsock_handle h, uint32_t events = kPollIn) {
        detail::check(arsock_poller_add(h_, h, events));
    }
    /// Replace the events `h` is watched for.
    void modify(const detail::Handle& h, uint32_t events) { modify(h.get(), events); }
    void modify(arsock_handle h, uint32_t events) {
        detail::check(arsock_poller_modify(h_, h, events));
    }
    /// Stop watching `h`.
    void remove(const detail::Handle& h) { remove(h.get()); }
    void remove(arsock_handle h) { detail::check(arsock_poller_remove(h_, h)); }

    /// Wait at most `timeout_ms` for ready handles; writes up to `cap` events to `out` and
    /// returns how many (0: none became ready in time; `out` is then untouched). No allocation.
    size_t wait(PollEvent* out, size_t cap, int32_t timeout_ms = kForever) {
        size_t n = 0;
        arsock_status st = arsock_poller_wait(h_, out, cap, timeout_ms, &n);
        if (st == ARSOCK_ERR_TIMEOUT) {
            return 0;
        }
        detail::check(st);
        return n;
    }
    /// Like wait(out, cap, ...) into `out`, resized to the events reported (empty on timeout);
    /// reuses the vector's capacity, at least `max_events` entries.
    void wait(std::vector<PollEvent>& out, size_t max_events, int32_t timeout_ms = kForever) {
        out.resize(std::max<size_t>(max_events, 1));
        out.resize(wait(out.data(), out.size(), timeout_ms));
    }
};

/// The loaded library's version ("MAJOR.MINOR.PATCH").
inline std::string version() { return arsock_version(); }

/// True if the loaded library speaks the ABI this header was compiled against.
inline bool abi_compatible() noexcept { return arsock_abi_version() == ARSOCK_ABI_VERSION; }

/// Throw std::runtime_error naming both versions unless abi_compatible().
inline void check_abi() {
    const uint32_t found = arsock_abi_version();
    if (found != static_cast<uint32_t>(ARSOCK_ABI_VERSION)) {
        throw std::runtime_error("arsock: ABI version mismatch: the loaded library has ABI " +
                                 std::to_string(found) + ", this program was compiled for ABI " +
                                 std::to_string(ARSOCK_ABI_VERSION));
    }
}

}  // namespace arsock

#endif  // ARSOCK_HPP
