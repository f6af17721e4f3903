/*
 * nng: pair1 over tcp://127.0.0.1, nng_send / nng_recv (copying API), with the socket's send
 * and receive queues raised via NNG_OPT_SENDBUF / NNG_OPT_RECVBUF.
 */
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static const char *t_name = "nng";
static nng_socket sock;
static int cur_timeout = -1;

#define QUEUE_MSGS 1024

static int open_sock(void) {
    if (nng_pair1_open(&sock) != 0) return -1;
    nng_socket_set_int(sock, NNG_OPT_SENDBUF, QUEUE_MSGS);
    nng_socket_set_int(sock, NNG_OPT_RECVBUF, QUEUE_MSGS);
    nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 64 << 20);
    return 0;
}

static int t_listen(int *port) {
    nng_listener l;
    if (open_sock() < 0) return -1;
    if (nng_listen(sock, "tcp://127.0.0.1:0", &l, 0) != 0) return -1;
    return nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, port) == 0 ? 0 : -1;
}

static int t_accept(void) { return 0; } /* the first receive waits for the peer */

static int t_connect(int port) {
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    if (open_sock() < 0) return -1;
    return nng_dial(sock, url, NULL, 0) == 0 ? 0 : -1;
}

static void t_mode(int streaming) { (void)streaming; }

static int t_send(const uint8_t *p, size_t n) { return nng_send(sock, (void *)p, n, 0) == 0 ? 0 : -1; }

static long t_recv(uint8_t *buf, size_t cap, int timeout_ms) {
    if (timeout_ms != cur_timeout) {
        nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
        cur_timeout = timeout_ms;
    }
    size_t sz = cap;
    int rv = nng_recv(sock, buf, &sz, 0);
    if (rv == NNG_ETIMEDOUT) return -2;
    if (rv != 0) return -1;
    return (long)sz;
}

static void t_close(void) { nng_close(sock); }

#include "driver.h"
