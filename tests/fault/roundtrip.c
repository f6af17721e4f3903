/*
 * Client for tests/syscalls.rs: connects to 127.0.0.1:PORT and does COUNT round trips of a
 * 64-byte message, each receive with a 1000 ms timeout (the reply is not there yet when the
 * receive starts: the peer answers after a pause).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arsock.h"

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    unsigned count = (unsigned)atoi(argv[2]);
    arsock_handle c = 0;
    if (arsock_client_connect("127.0.0.1", (uint16_t)atoi(argv[1]), 5000, &c) != ARSOCK_OK) return 3;
    uint8_t msg[64];
    memset(msg, 7, sizeof msg);
    uint8_t buf[64];
    for (unsigned i = 0; i < count; i++) {
        if (arsock_client_send_msg(c, msg, sizeof msg) != ARSOCK_OK) return 4;
        size_t got = 0;
        arsock_status st = arsock_client_recv_msg(c, buf, sizeof buf, 1000, &got);
        if (st != ARSOCK_OK || got != sizeof msg) {
            fprintf(stderr, "receive %u: %s\n", i, arsock_status_str(st));
            return 5;
        }
    }
    arsock_close(c);
    return 0;
}
