// The C++ wrapper (arsock.hpp) from an installed arsock, built by CMake (tests/install).
#include <arsock.hpp>
#include <cstdio>
#include <string>

int main() try {
    arsock::check_abi();
    auto server = arsock::Server::open("127.0.0.1", 0);
    auto client = arsock::Client::connect("127.0.0.1", server.local_port(), 5000);
    auto peer = server.accept(5000);
    client.send_msg("installed");
    std::vector<uint8_t> msg = peer.recv_msg(5000);
    std::string text(msg.begin(), msg.end());
    if (text != "installed") {
        std::fprintf(stderr, "wrong message: %s\n", text.c_str());
        return 1;
    }
    std::printf("arsock.hpp: got \"%s\"\n", text.c_str());
    return 0;
} catch (const arsock::Error& e) {
    std::fprintf(stderr, "arsock error %d: %s\n", static_cast<int>(e.status()), e.message().c_str());
    return 1;
}
