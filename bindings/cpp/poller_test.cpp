// Tests of arsock::Poller (arsock.hpp) against the real library, on 127.0.0.1: server and
// client handles, level-triggered IN, OUT, CLOSED with an empty mask, modify/remove, one
// poller per handle, unknown bits, fairness beyond the buffer size, close waking a blocked
// wait in another thread. Prints one line per check; exits 0 only if all passed.
//
// bindings/cpp/run_tests.sh builds it with -std=c++17 -Wall -Wextra -Werror -pedantic.

#include "arsock.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

static_assert(!std::is_copy_constructible_v<arsock::Poller>, "Poller is move-only");
static_assert(std::is_nothrow_move_constructible_v<arsock::Poller>, "moves never throw");
static_assert(sizeof(arsock::PollEvent) == 16, "arsock_poll_event is 16 bytes");

namespace {

constexpr int32_t kWait = 10000;  // every wait is bounded
int failures = 0;

void expect(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok:  " : "FAIL:", what.c_str());
    if (!ok) {
        ++failures;
    }
}

/// The status a call throws, or ARSOCK_OK if it does not throw.
template <class F>
arsock_status status_of(F f) {
    try {
        f();
    } catch (const arsock::Error& e) {
        return e.status();
    }
    return ARSOCK_OK;
}

/// Wait (bounded) until `h` is reported with every bit of `want`; its events, or 0.
uint32_t wait_for(arsock::Poller& p, arsock_handle h, uint32_t want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWait);
    std::vector<arsock::PollEvent> evs;
    while (std::chrono::steady_clock::now() < deadline) {
        p.wait(evs, 16, 100);
        for (const auto& e : evs) {
            if (e.handle == h && (e.events & want) == want) {
                return e.events;
            }
        }
    }
    return 0;
}

struct Pair {
    arsock::Server server = arsock::Server::open("127.0.0.1", 0);
    arsock::Client client = arsock::Client::connect("127.0.0.1", server.local_port(), kWait);
    arsock::Client peer = server.accept(kWait);
};

}  // namespace

int main() {
    try {
        arsock::check_abi();
        arsock::PollEvent evs[8] = {};

        {
            auto p = arsock::Poller::create();
            evs[0].handle = 99;
            expect(p.wait(evs, 8, 0) == 0 && evs[0].handle == 99, "empty poller: wait(0) gives 0, buffer untouched");
            expect(status_of([&] { p.wait(evs, 0, 0); }) == ARSOCK_ERR_INVALID_ARGUMENT, "cap 0 is INVALID_ARGUMENT");
        }
        {
            auto server = arsock::Server::open("127.0.0.1", 0);
            auto p = arsock::Poller::create();
            p.add(server, arsock::kPollIn);
            expect(p.wait(evs, 8, 0) == 0, "server: nothing to accept yet");
            auto c = arsock::Client::connect("127.0.0.1", server.local_port(), kWait);
            expect(wait_for(p, server.get(), arsock::kPollIn) != 0, "server: IN once a connection waits");
            expect(static_cast<bool>(server.try_accept()), "server: the connection is accepted without waiting");
        }
        {
            Pair x;
            auto p = arsock::Poller::create();
            p.add(x.peer, arsock::kPollIn);
            x.client.send_msg("anchor");
            expect(wait_for(p, x.peer.get(), arsock::kPollIn) != 0, "client: IN for a message");
            size_t n = p.wait(evs, 8, 0);
            expect(n == 1 && evs[0].handle == x.peer.get(), "level-triggered: still IN while unread");
            auto msg = x.peer.recv_msg(0);
            expect(std::string(msg.begin(), msg.end()) == "anchor", "the message is received without waiting");
            expect(p.wait(evs, 8, 0) == 0, "nothing left: no event");

            expect(status_of([&] { p.add(x.peer, arsock::kPollIn); }) == ARSOCK_ERR_STATE, "adding twice is STATE");
            auto other = arsock::Poller::create();
            expect(status_of([&] { other.add(x.peer, arsock::kPollIn); }) == ARSOCK_ERR_STATE,
                   "a handle is in one poller only");
            expect(status_of([&] { p.modify(x.peer, 0x40); }) == ARSOCK_ERR_INVALID_ARGUMENT,
                   "unknown bits are INVALID_ARGUMENT");
            p.modify(x.peer, arsock::kPollOut);
            expect(wait_for(p, x.peer.get(), arsock::kPollOut) != 0, "modify: OUT while the queue has room");
            p.remove(x.peer);
            expect(p.wait(evs, 8, 0) == 0, "remove: no more events");
            other.add(x.peer, 0);
            x.client.close();
            uint32_t ev = wait_for(other, x.peer.get(), arsock::kPollClosed);
            expect(ev != 0 && (ev & arsock::kPollIn) == 0, "CLOSED is reported with an empty mask");
        }
        {
            auto server = arsock::Server::open("127.0.0.1", 0);
            auto p = arsock::Poller::create();
            std::vector<arsock::Client> clients, peers;
            for (int i = 0; i < 4; ++i) {
                clients.push_back(arsock::Client::connect("127.0.0.1", server.local_port(), kWait));
                peers.push_back(server.accept(kWait));
                p.add(peers.back(), arsock::kPollIn);
                clients.back().send_msg("x");
            }
            bool all = true;
            for (auto& peer : peers) {
                all = all && wait_for(p, peer.get(), arsock::kPollIn) != 0;
            }
            std::set<arsock_handle> seen;
            for (int i = 0; i < 4; ++i) {
                if (p.wait(evs, 1, kWait) == 1) {
                    seen.insert(evs[0].handle);
                }
            }
            expect(all && seen.size() == 4, "four ready, room for one: four waits name all four");
        }
        {
            auto p = arsock::Poller::create();
            arsock_status got = ARSOCK_OK;
            std::thread t([&] {
                got = status_of([&] {
                    arsock::PollEvent e[2];
                    p.wait(e, 2, arsock::kForever);
                });
            });
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            arsock_close(p.get());  // the object still owns the (now stale) handle
            t.join();
            expect(got == ARSOCK_ERR_CLOSED, "closing the poller wakes a blocked wait with CLOSED");
        }
    } catch (const std::exception& e) {
        std::printf("FAIL: unexpected exception: %s\n", e.what());
        return 1;
    }
    std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "all poller checks passed", failures);
    return failures ? 1 : 0;
}
