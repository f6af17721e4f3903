/*
 * arsock through its C API, the way applications call it: arsock_client_send_msg /
 * arsock_client_send_msgs / arsock_client_recv_msg with blocking timeouts (-1), default
 * options. Linked against the release libarsock.so.
 *
 * In the vectored test both ends batch, as raw TCP's do (64 frames per write; the raw
 * receiver parses frames out of large reads): the sender uses arsock_client_send_msgs and
 * the receiver arsock_client_recv_msgs, handing the batch out one message per t_recv.
 * The other tests use one arsock call per message on both ends.
 *
 * BENCH_ARSOCK_RECV_TIMEOUT_MS=<ms> (bench/relay.py) makes every receive that the driver
 * asks to wait forever wait at most that long instead (the "finite timeout" round trip).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arsock.h"

static const char *t_name = "arsock";
static arsock_handle srv, cli;

static int check(arsock_status s, const char *what) {
    if (s != ARSOCK_OK) {
        fprintf(stderr, "[arsock] %s: %s (%d): %s\n", what, arsock_status_str(s), (int)s,
                arsock_last_error_message());
        return -1;
    }
    return 0;
}

static int t_listen(int *port) {
    uint16_t p = 0;
    if (check(arsock_server_bind("127.0.0.1", 0, &srv), "bind") < 0) return -1;
    if (check(arsock_server_listen(srv, 0), "listen") < 0) return -1;
    if (check(arsock_server_local_port(srv, &p), "local_port") < 0) return -1;
    *port = p;
    return 0;
}

static int t_accept(void) { return check(arsock_server_accept(srv, -1, &cli), "accept"); }

static int t_connect(int port) {
    return check(arsock_client_connect("127.0.0.1", (uint16_t)port, 5000, &cli), "connect");
}

static void t_mode(int streaming) { (void)streaming; }

static int t_send(const uint8_t *p, size_t n) {
    return check(arsock_client_send_msg(cli, p, n), "send_msg");
}

#define HAVE_SENDV 1
static int t_sendv(uint8_t *const *p, const size_t *n, int k) {
    arsock_buf b[64];
    for (int i = 0; i < k; i++) {
        b[i].data = p[i];
        b[i].len = n[i];
    }
    return check(arsock_client_send_msgs(cli, b, (size_t)k), "send_msgs");
}

#define HAVE_TEST_HOOK 1
static int g_batch;
static void t_test(const char *test) { g_batch = strcmp(test, "vec") == 0; }

/* Batch receive state: messages packed in b_buf, described by b_msgs[b_next..b_count). */
static uint8_t b_buf[256 * 1024];
static arsock_buf b_msgs[256];
static size_t b_next, b_count;

static long recv_batched(uint8_t *buf, size_t cap, int timeout_ms) {
    if (b_next == b_count) {
        size_t n = 0;
        arsock_status s = arsock_client_recv_msgs(cli, b_buf, sizeof b_buf, b_msgs, 256, timeout_ms, &n);
        if (s == ARSOCK_ERR_TIMEOUT) return -2;
        if (s == ARSOCK_ERR_CLOSED) return -1;
        if (check(s, "recv_msgs") < 0) return -1;
        b_next = 0;
        b_count = n;
    }
    const arsock_buf *m = &b_msgs[b_next++];
    if (m->len > cap) return -1;
    memcpy(buf, m->data, m->len);
    return (long)m->len;
}

static int g_forever = -2; /* what timeout -1 becomes; -2: not read from the environment yet */

static long t_recv(uint8_t *buf, size_t cap, int timeout_ms) {
    if (g_forever == -2) {
        const char *e = getenv("BENCH_ARSOCK_RECV_TIMEOUT_MS");
        g_forever = e ? atoi(e) : -1;
    }
    if (timeout_ms == -1) timeout_ms = g_forever;
    if (g_batch) return recv_batched(buf, cap, timeout_ms);
    size_t len = 0;
    arsock_status s = arsock_client_recv_msg(cli, buf, cap, timeout_ms, &len);
    if (s == ARSOCK_ERR_TIMEOUT) return -2;
    if (s == ARSOCK_ERR_CLOSED) return -1;
    if (check(s, "recv_msg") < 0) return -1;
    return (long)len;
}

static void t_close(void) {
    if (cli) arsock_close(cli);
    if (srv) arsock_close(srv);
}

#include "driver.h"
