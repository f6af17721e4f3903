/*
 * The arsock C client of the demo: an AR device that connects to the AR content server
 * (examples/server.rs), sends device updates and prints the AR content it receives.
 *
 *   1. raw mode, exactly like a textbook socket client: one update line, read the reply
 *      until the server closes;
 *   2. message mode: three pose updates one at a time, then two in one vectored call;
 *      every reply arrives as one whole message.
 *
 * Usage: c_client HOST RAW_PORT MESSAGE_PORT
 * Build: cc -Wall -Wextra -Werror -pedantic -Iinclude examples/c_client.c -Ltarget/release -larsock
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arsock.h"

#define CHECK(call)                                                                   \
    do {                                                                              \
        arsock_status st_ = (call);                                                   \
        if (st_ != ARSOCK_OK) {                                                       \
            fprintf(stderr, "%s failed: %s (%d): %s\n", #call, arsock_status_str(st_), \
                    (int)st_, arsock_last_error_message());                           \
            return 1;                                                                 \
        }                                                                             \
    } while (0)

static int raw_exchange(const char *host, uint16_t port) {
    arsock_handle c = 0;
    const char *update = "DEVICE phone-1 pose 0.10 1.50 -0.30\n";
    char reply[512];
    size_t used = 0;
    CHECK(arsock_client_connect(host, port, 5000, &c));
    CHECK(arsock_client_send(c, (const uint8_t *)update, strlen(update)));
    for (;;) {
        size_t n = 0;
        arsock_status st = arsock_client_recv(c, (uint8_t *)reply + used, sizeof reply - 1 - used, 5000, &n);
        if (st == ARSOCK_ERR_CLOSED) break; /* the server closed after its reply */
        CHECK(st);
        used += n;
        if (used == sizeof reply - 1) break;
    }
    reply[used] = '\0';
    printf("raw reply: %s", reply);
    CHECK(arsock_close(c));
    return used > 0 ? 0 : 1;
}

static int recv_reply(arsock_handle c, int i) {
    uint8_t buf[256];
    size_t n = 0;
    arsock_status st = arsock_client_recv_msg(c, buf, sizeof buf, 5000, &n);
    if (st == ARSOCK_ERR_BUFFER_TOO_SMALL) {
        /* n is the size needed; the message is still queued. */
        uint8_t *big = malloc(n);
        size_t m = 0;
        if (big == NULL) return 1;
        st = arsock_client_recv_msg(c, big, n, 5000, &m);
        if (st == ARSOCK_OK) printf("message reply %d (%zu bytes): %.*s\n", i, m, (int)m, (const char *)big);
        free(big);
        CHECK(st);
        return 0;
    }
    CHECK(st);
    printf("message reply %d: %.*s\n", i, (int)n, (const char *)buf);
    return 0;
}

static int message_exchange(const char *host, uint16_t port) {
    arsock_handle c = 0;
    char update[128];
    int i;
    CHECK(arsock_client_connect(host, port, 5000, &c));
    for (i = 1; i <= 3; i++) {
        int len = snprintf(update, sizeof update, "pose phone-1 %d: %.2f 1.50 -0.30", i, 0.1 * i);
        CHECK(arsock_client_send_msg(c, (const uint8_t *)update, (size_t)len));
        if (recv_reply(c, i) != 0) return 1;
    }
    {
        const char *a = "pose phone-1 4: 0.40 1.50 -0.30";
        const char *b = "anchor-hit phone-1: table-1";
        arsock_buf batch[2];
        batch[0].data = (const uint8_t *)a;
        batch[0].len = strlen(a);
        batch[1].data = (const uint8_t *)b;
        batch[1].len = strlen(b);
        CHECK(arsock_client_send_msgs(c, batch, 2));
        if (recv_reply(c, 4) != 0 || recv_reply(c, 5) != 0) return 1;
    }
    CHECK(arsock_close(c));
    return 0;
}

int main(int argc, char **argv) {
    long raw_port, msg_port;
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOST RAW_PORT MESSAGE_PORT\n", argv[0]);
        return 2;
    }
    raw_port = strtol(argv[2], NULL, 10);
    msg_port = strtol(argv[3], NULL, 10);
    if (raw_port <= 0 || raw_port > 65535 || msg_port <= 0 || msg_port > 65535) {
        fprintf(stderr, "bad port\n");
        return 2;
    }
    if (arsock_abi_version() != ARSOCK_ABI_VERSION) {
        fprintf(stderr, "libarsock ABI %u, header ABI %u\n", arsock_abi_version(), ARSOCK_ABI_VERSION);
        return 1;
    }
    printf("arsock %s C client\n", arsock_version());
    if (raw_exchange(argv[1], (uint16_t)raw_port) != 0) return 1;
    if (message_exchange(argv[1], (uint16_t)msg_port) != 0) return 1;
    printf("done\n");
    return 0;
}
