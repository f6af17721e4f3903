/* A program built against an installed arsock (tests/install/run_tests.sh): a server and a
 * client in one process exchange one message on 127.0.0.1. Prints the library it got. */
#include <arsock.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    arsock_handle server = 0, client = 0, peer = 0;
    uint16_t port = 0;
    uint8_t buf[64];
    size_t n = 0;
    if (arsock_abi_version() != ARSOCK_ABI_VERSION) {
        fprintf(stderr, "library ABI %u, header ABI %u\n", arsock_abi_version(), ARSOCK_ABI_VERSION);
        return 1;
    }
    if (arsock_server_bind("127.0.0.1", 0, &server) != ARSOCK_OK ||
        arsock_server_listen(server, 0) != ARSOCK_OK ||
        arsock_server_local_port(server, &port) != ARSOCK_OK ||
        arsock_client_connect("127.0.0.1", port, 5000, &client) != ARSOCK_OK ||
        arsock_server_accept(server, 5000, &peer) != ARSOCK_OK ||
        arsock_client_send_msg(client, (const uint8_t *)"installed", 9) != ARSOCK_OK ||
        arsock_client_recv_msg(peer, buf, sizeof buf, 5000, &n) != ARSOCK_OK) {
        fprintf(stderr, "arsock: %s\n", arsock_last_error_message());
        return 1;
    }
    if (n != 9 || memcmp(buf, "installed", 9) != 0) {
        fprintf(stderr, "wrong message: %.*s\n", (int)n, (const char *)buf);
        return 1;
    }
    printf("arsock %s (ABI %u): got \"%.*s\"\n", arsock_version(), arsock_abi_version(), (int)n,
           (const char *)buf);
    arsock_close(peer);
    arsock_close(client);
    arsock_close(server);
    return 0;
}
