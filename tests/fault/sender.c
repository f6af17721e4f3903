/*
 * Sender for tests/fault_injection.rs: connects to 127.0.0.1:PORT, sends COUNT messages whose
 * sizes cycle through small and large (so writes go straight through, coalesce, and queue
 * partial frames), each filled with a pattern derived from its index, then "END", and waits
 * for the receiver's "ACK" so nothing is cut off by exiting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arsock.h"

static size_t size_of(unsigned i) {
    static const size_t sizes[] = {0, 1, 64, 700, 20000, 300000, 13, 5000};
    return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    unsigned count = (unsigned)atoi(argv[2]);
    arsock_handle c = 0;
    if (arsock_client_connect("127.0.0.1", (uint16_t)atoi(argv[1]), 5000, &c) != ARSOCK_OK) return 3;
    uint8_t *buf = malloc(300000);
    if (!buf) return 4;
    for (unsigned i = 0; i < count; i++) {
        size_t n = size_of(i);
        for (size_t k = 0; k < n; k++) buf[k] = (uint8_t)(i * 31u + k * 7u);
        arsock_status st = arsock_client_send_msg(c, buf, n);
        if (st != ARSOCK_OK) {
            fprintf(stderr, "send %u failed: %s: %s\n", i, arsock_status_str(st), arsock_last_error_message());
            return 5;
        }
    }
    if (arsock_client_send_msg(c, (const uint8_t *)"END", 3) != ARSOCK_OK) return 6;
    size_t got = 0;
    arsock_status st = arsock_client_recv_msg(c, buf, 16, 30000, &got);
    if (st != ARSOCK_OK || got != 3 || memcmp(buf, "ACK", 3) != 0) return 7;
    free(buf);
    arsock_close(c);
    return 0;
}
