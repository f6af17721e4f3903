/*
 * ZeroMQ: one ZMQ_PAIR socket per end over tcp://127.0.0.1, zmq_send / zmq_recv with
 * default options (high-water marks, buffers), as an application would use it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <zmq.h>

static const char *t_name = "zeromq";
static void *ctx, *sock;
static int cur_timeout = -1;

static int t_listen(int *port) {
    ctx = zmq_ctx_new();
    sock = zmq_socket(ctx, ZMQ_PAIR);
    if (!sock || zmq_bind(sock, "tcp://127.0.0.1:*") != 0) return -1;
    char ep[256];
    size_t l = sizeof ep;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &l) != 0) return -1;
    char *c = strrchr(ep, ':');
    if (!c) return -1;
    *port = atoi(c + 1);
    return 0;
}

static int t_accept(void) { return 0; } /* PAIR: the first message waits for the peer */

static int t_connect(int port) {
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    ctx = zmq_ctx_new();
    sock = zmq_socket(ctx, ZMQ_PAIR);
    return sock && zmq_connect(sock, ep) == 0 ? 0 : -1;
}

static void t_mode(int streaming) { (void)streaming; }

static int t_send(const uint8_t *p, size_t n) {
    for (;;) {
        if (zmq_send(sock, p, n, 0) >= 0) return 0;
        if (zmq_errno() != EINTR) return -1;
    }
}

static long t_recv(uint8_t *buf, size_t cap, int timeout_ms) {
    if (timeout_ms != cur_timeout) {
        zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
        cur_timeout = timeout_ms;
    }
    for (;;) {
        int n = zmq_recv(sock, buf, cap, 0);
        if (n >= 0) return (size_t)n > cap ? -1 : n;
        if (zmq_errno() == EAGAIN) return -2;
        if (zmq_errno() != EINTR) return -1;
    }
}

static void t_close(void) {
    int linger = 2000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(sock);
    zmq_ctx_term(ctx);
}

#include "driver.h"
