// A server and a client in one process (two threads) on 127.0.0.1, port 0:
//   1. a raw exchange (plain TCP bytes): the client sends a request, the server answers;
//   2. a message exchange on a second connection: single messages, a batch, a large one.
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
