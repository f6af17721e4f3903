// A server and a client in one process (two threads) on 127.0.0.1, port 0:
//   1. a raw exchange (plain TCP bytes): the client sends a request, the server answers;
//   2. a message exchange on a second connection: single messages, a batch, a large one,
//      then a batch of many small messages received with recv_msgs (several per call), and
//      a message too large for a fixed recv_msgs buffer.
// Prints what it got; exits 0 only if every byte matched.
//
// Build and run (bindings/cpp/run_tests.sh does this against the shared and static library):
//   g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -Ibindings/cpp
//       bindings/cpp/example.cpp -Ltarget/release -larsock -Wl,-rpath,target/release -pthread

#include "arsock.hpp"

#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

static_assert(!std::is_copy_constructible_v<arsock::Client>, "Client is move-only");
static_assert(!std::is_copy_assignable_v<arsock::Client>, "Client is move-only");
static_assert(std::is_nothrow_move_constructible_v<arsock::Client>, "moves never throw");
static_assert(std::is_nothrow_move_assignable_v<arsock::Server>, "moves never throw");
static_assert(std::is_nothrow_destructible_v<arsock::Server>, "destructor never throws");
static_assert(std::is_base_of_v<std::runtime_error, arsock::Error>, "Error style");

namespace {

constexpr int32_t kWait = 10000;  // every wait is bounded: 10 s

int failures = 0;

void expect(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok:  " : "FAIL:", what.c_str());
    if (!ok) {
        ++failures;
    }
}

std::string text(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

std::vector<uint8_t> pattern(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) {
        v[i] = static_cast<uint8_t>((i * 31 + 7) % 251);
    }
    return v;
}

const std::string kRequest = "GET /anchor/42";
const std::string kReply = "anchor 42 at (1.0, 2.0, 3.0)";
const size_t kLarge = 1024 * 1024 + 3;
const size_t kBatch = 600;      // more than kMaxMsgsPerRecv: takes several recv_msgs calls
const size_t kTooBig = 100000;  // larger than the fixed buffer of the BUFFER_TOO_SMALL check

// Message i of the batch: (i % 50) bytes, each one derived from i (empty for i % 50 == 0).
std::vector<uint8_t> batch_msg(size_t i) {
    std::vector<uint8_t> v(i % 50);
    for (size_t k = 0; k < v.size(); ++k) {
        v[k] = static_cast<uint8_t>(i * 7 + k);
    }
    return v;
}

// The server side: one raw connection, then one message connection.
void serve(arsock::Server& server) {
    {
        arsock::Client raw = server.accept(kWait);
        raw.set_send_timeout(kWait);
        std::string request(kRequest.size(), '\0');
        raw.recv_exact(request.data(), request.size(), kWait);
        std::printf("server got raw:     \"%s\"\n", request.c_str());
        raw.send(request == kRequest ? kReply : std::string("bad request"));
    }
    arsock::Client conn = server.accept(kWait);
    conn.set_send_timeout(kWait);
    std::vector<uint8_t> msg;  // reused across calls
    for (int i = 0; i < 4; ++i) {
        conn.recv_msg(msg, kWait);
        std::printf("server got message: %zu bytes\n", msg.size());
        conn.send_msg(msg);  // echo
    }
    // A batch of small messages, received with the reusable recv_msgs form (64 per call at
    // most) and echoed in one send_msgs; then one message too large for a small buffer.
    std::vector<uint8_t> buf;
    std::vector<arsock_buf> msgs;
    std::vector<std::vector<uint8_t>> all;
    size_t calls = 0;
    while (all.size() < kBatch) {
        conn.recv_msgs(buf, msgs, kWait, 64);
        ++calls;
        for (const arsock_buf& m : msgs) {
            // (an empty message's data pointer is not read)
            all.push_back(m.len == 0 ? std::vector<uint8_t>()
                                     : std::vector<uint8_t>(m.data, m.data + m.len));
        }
    }
    std::printf("server got %zu messages in %zu recv_msgs calls\n", all.size(), calls);
    conn.send_msgs(all);
    conn.send_msg(pattern(kTooBig));
}

void run() {
    arsock::check_abi();
    std::printf("arsock %s, ABI %u\n", arsock::version().c_str(),
                static_cast<unsigned>(arsock_abi_version()));

    arsock::Server server = arsock::Server::open("127.0.0.1", 0);
    const uint16_t port = server.local_port();
    std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(port));

    std::exception_ptr server_error;
    std::thread server_thread([&] {
        try {
            serve(server);
        } catch (...) {
            server_error = std::current_exception();
        }
    });

    try {
        // 1. raw exchange
        {
            arsock::Client client = arsock::Client::connect("127.0.0.1", port, kWait);
            client.set_send_timeout(kWait);
            client.send(kRequest);
            std::string reply(kReply.size(), '\0');
            client.recv_exact(reply.data(), reply.size(), kWait);
            std::printf("client got raw:     \"%s\"\n", reply.c_str());
            expect(reply == kReply, "raw reply matches");
            try {
                client.send_msg("mixing modes");
                expect(false, "message call on a raw connection throws");
            } catch (const arsock::Error& e) {
                expect(e.status() == ARSOCK_ERR_STATE && !e.message().empty(),
                       std::string("mixing modes throws ARSOCK_ERR_STATE: ") + e.what());
            }
        }

        // 2. message exchange
        arsock::Client client = arsock::Client::connect("127.0.0.1", port, kWait);
        client.set_send_timeout(kWait);
        expect(!client.try_recv_msg().has_value(), "try_recv_msg with nothing sent: nullopt");
        expect(!client.try_recv_msgs().has_value(), "try_recv_msgs with nothing sent: nullopt");
        try {
            client.recv_msgs(50);
            expect(false, "recv_msgs with nothing sent times out");
        } catch (const arsock::Error& e) {
            expect(e.is_timeout(), "recv_msgs with nothing sent: ARSOCK_ERR_TIMEOUT");
        }

        client.send_msg("hello");
        std::vector<uint8_t> got = client.recv_msg(kWait);
        std::printf("client got message: \"%s\"\n", text(got).c_str());
        expect(text(got) == "hello", "message echo matches");

        client.send_msgs({"", "pose"});
        expect(client.recv_msg(kWait).empty(), "empty message from a batch");
        expect(text(client.recv_msg(kWait)) == "pose", "second message of a batch");

        const std::vector<uint8_t> large = pattern(kLarge);
        client.send_msg(large);
        std::vector<uint8_t> back = client.recv_msg(kWait);
        std::printf("client got message: %zu bytes\n", back.size());
        expect(back == large, "1 MiB + 3 bytes message matches byte for byte");

        // Batch receive: many small messages come back in order, several per call.
        std::vector<std::vector<uint8_t>> batch;
        for (size_t i = 0; i < kBatch; ++i) {
            batch.push_back(batch_msg(i));
        }
        client.send_msgs(batch);
        std::vector<std::vector<uint8_t>> echoed;
        size_t calls = 0;
        bool sizes_ok = true;
        while (echoed.size() < kBatch) {
            std::vector<std::vector<uint8_t>> part = client.recv_msgs(kWait);
            ++calls;
            sizes_ok = sizes_ok && !part.empty() && part.size() <= arsock::kMaxMsgsPerRecv;
            for (auto& m : part) {
                echoed.push_back(std::move(m));
            }
        }
        std::printf("client got %zu messages in %zu recv_msgs calls\n", echoed.size(), calls);
        expect(sizes_ok, "each recv_msgs call returns 1..256 messages");
        expect(calls >= kBatch / arsock::kMaxMsgsPerRecv, "the batch took several calls");
        expect(echoed == batch, "batch echo matches message for message, in order");

        // A message larger than a fixed buffer: ARSOCK_ERR_BUFFER_TOO_SMALL with the size
        // needed in out[0], and it stays queued for a growing receive.
        uint8_t small[16];
        arsock_buf out[4] = {};
        try {
            client.recv_msgs(small, sizeof small, out, 4, kWait);
            expect(false, "recv_msgs into 16 bytes throws for a larger message");
        } catch (const arsock::Error& e) {
            expect(e.status() == ARSOCK_ERR_BUFFER_TOO_SMALL && out[0].data == nullptr &&
                       out[0].len == kTooBig,
                   std::string("too small: ARSOCK_ERR_BUFFER_TOO_SMALL, size in out[0]: ") +
                       e.what());
        }
        std::vector<uint8_t> rbuf(16);
        rbuf.shrink_to_fit();
        std::vector<arsock_buf> rmsgs;
        client.recv_msgs(rbuf, rmsgs, kWait);
        const bool whole =
            rmsgs.size() == 1 && rmsgs[0].len == kTooBig && rbuf.size() >= kTooBig &&
            std::vector<uint8_t>(rmsgs[0].data, rmsgs[0].data + rmsgs[0].len) == pattern(kTooBig);
        expect(whole, "the growing recv_msgs form then gets it whole");

        // Move semantics: the source is left empty, the target owns the handle.
        arsock::Client moved = std::move(client);
        expect(!client && moved && moved.get() != 0, "moved-from client is empty");
        try {
            client.send_msg("x");
            expect(false, "using a moved-from client throws");
        } catch (const arsock::Error& e) {
            expect(e.status() == ARSOCK_ERR_INVALID_HANDLE, "moved-from: ARSOCK_ERR_INVALID_HANDLE");
        }
        moved.close();
        moved.close();  // closing an empty object does nothing
        expect(!moved, "closed client is empty");
    } catch (...) {
        server_thread.join();
        throw;
    }
    server_thread.join();
    if (server_error) {
        std::rethrow_exception(server_error);
    }

    std::optional<arsock::Client> none = server.try_accept();
    expect(!none.has_value(), "try_accept with nobody connecting: nullopt");
}

}  // namespace

int main() {
    try {
        run();
    } catch (const std::exception& e) {
        std::printf("FAIL: exception: %s\n", e.what());
        return 1;
    }
    if (failures != 0) {
        std::printf("%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all bytes matched\n");
    return 0;
}
