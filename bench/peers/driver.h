/*
 * Shared benchmark driver for the peer programs in bench/peers/.
 *
 * Each contender file (peer_raw.c, peer_arsock.c, ...) defines the transport functions below
 * and then includes this header, which provides main() and the three measurements:
 *
 *   peer_X server <test> <size> <count> <warm>          prints "PORT <n>", then serves
 *   peer_X client <test> <size> <count> <warm> <port>   runs the measurement, prints JSON
 *
 * <test>: rtt     ping-pong: the client sends a message, the server echoes it back.
 *         stream  one-way: the client sends <count> messages with one call each.
 *         vec     one-way: the client sends <count> messages, 64 per call.
 *
 * Message i carries i in its first 8 bytes and a check byte at its end; the receiver verifies
 * every message's size, sequence number and check byte, so lost, reordered, duplicated or
 * truncated messages fail the run (exit status 3). Control messages are 3 bytes: "ACK"
 * (server -> client: all messages so far received) and "BYE" (client -> server: done).
 *
 * One-way tests are timed by the client from its first measured send until the server's ACK
 * for the last message arrives, so the figure counts both ends. The server also reports the
 * time from the first to the last measured message it received (recv_s).
 *
 * Every process arms alarm(BENCH_PEER_TIMEOUT seconds, default 120) so it never hangs, even if
 * the harness is killed.
 *
 * Transport interface (all return < 0 on failure unless noted):
 *   int  t_listen(int *port);               bind 127.0.0.1 on a free port, start listening
 *   int  t_accept(void);                    wait for the client
 *   int  t_connect(int port);               connect to 127.0.0.1:port
 *   void t_mode(int streaming);             hint: the receiver will see a stream (1) or
 *                                           ping-pong (0); called before any message
 *   void t_test(const char *test);          (only if the file defines HAVE_TEST_HOOK) the
 *                                           test about to run, before any other call
 *   int  t_send(const uint8_t *p, size_t n);                    one message
 *   int  t_sendv(uint8_t *const *p, const size_t *n, int k);    k messages in one call
 *                                           (only if the file defines HAVE_SENDV)
 *   long t_recv(uint8_t *buf, size_t cap, int timeout_ms);      next message; its length,
 *                                           -1 error/closed, -2 timeout (-1 ms: forever)
 *   void t_close(void);                     graceful shutdown
 *   const char *t_name;
 */
#ifndef BENCH_DRIVER_H
#define BENCH_DRIVER_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define CTRL_LEN 3

static const char *g_role = "?";

static void fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
#include <stdarg.h>
static void fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s %s] ", t_name, g_role);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    _exit(code);
}

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint8_t check_byte(uint64_t seq) { return (uint8_t)((seq * 131u) ^ 0x5a); }

static inline void stamp(uint8_t *p, size_t size, uint64_t seq) {
    memcpy(p, &seq, 8);
    p[size - 1] = check_byte(seq);
}

static inline void verify(const uint8_t *p, long len, size_t size, uint64_t seq) {
    uint64_t got;
    if (len != (long)size)
        fail(3, "message %llu: got %ld bytes, expected %zu", (unsigned long long)seq, len, size);
    memcpy(&got, p, 8);
    if (got != seq)
        fail(3, "message %llu: got sequence number %llu", (unsigned long long)seq,
             (unsigned long long)got);
    if (p[size - 1] != check_byte(seq))
        fail(3, "message %llu: bad check byte", (unsigned long long)seq);
}

static void send_ctrl(const char *what) {
    if (t_send((const uint8_t *)what, CTRL_LEN) < 0) fail(2, "sending %s failed", what);
}

static void expect_ctrl(uint8_t *buf, size_t cap, const char *what) {
    long n = t_recv(buf, cap, -1);
    if (n < 0) fail(2, "waiting for %s: receive failed (%ld)", what, n);
    if (n != CTRL_LEN || memcmp(buf, what, CTRL_LEN) != 0)
        fail(3, "expected %s, got a %ld-byte message", what, n);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---------------------------------------------------------------- server (receiver/echo) */

static int run_server(const char *test, size_t size, uint64_t count, uint64_t warm) {
    int port = 0;
    if (t_listen(&port) < 0) fail(2, "listen failed");
    printf("PORT %d\n", port);
    fflush(stdout);
    int streaming = strcmp(test, "rtt") != 0;
    t_mode(streaming);
    if (t_accept() < 0) fail(2, "accept failed");
    size_t cap = size > 64 ? size : 64;
    uint8_t *buf = malloc(cap);
    if (!buf) fail(2, "out of memory");
    uint64_t total = warm + count, t_first = 0, t_last = 0;

    if (!streaming) {
        for (uint64_t i = 0; i < total; i++) {
            long n = t_recv(buf, cap, -1);
            if (n < 0) fail(2, "receive %llu failed (%ld)", (unsigned long long)i, n);
            verify(buf, n, size, i);
            if (t_send(buf, (size_t)n) < 0) fail(2, "echo %llu failed", (unsigned long long)i);
        }
    } else {
        for (uint64_t i = 0; i < total; i++) {
            long n = t_recv(buf, cap, -1);
            if (n < 0) fail(2, "receive %llu failed (%ld)", (unsigned long long)i, n);
            if (i == warm) t_first = now_ns();
            verify(buf, n, size, i);
            if (i + 1 == warm) send_ctrl("ACK");
        }
        t_last = now_ns();
        send_ctrl("ACK");
    }
    /* Wait (bounded) for the client's BYE so our last message is not cut off by our exit. */
    long n = t_recv(buf, cap, 5000);
    int bye = n == CTRL_LEN && memcmp(buf, "BYE", CTRL_LEN) == 0;
    printf("{\"role\":\"server\",\"ok\":true,\"received\":%llu,\"bye\":%s,\"recv_s\":%.9f}\n",
           (unsigned long long)total, bye ? "true" : "false",
           streaming && count ? (double)(t_last - t_first) / 1e9 : 0.0);
    fflush(stdout);
    t_close();
    free(buf);
    return 0;
}

/* ---------------------------------------------------------------- client (sender/pinger) */

static void send_range(const char *test, uint8_t **bufs, size_t *lens, size_t size,
                       uint64_t from, uint64_t to) {
    if (strcmp(test, "vec") == 0) {
#ifdef HAVE_SENDV
        for (uint64_t i = from; i < to; i += BATCH) {
            int k = (int)((to - i) < BATCH ? (to - i) : BATCH);
            for (int j = 0; j < k; j++) stamp(bufs[j], size, i + (uint64_t)j);
            if (t_sendv(bufs, lens, k) < 0) fail(2, "vectored send at %llu failed", (unsigned long long)i);
        }
        return;
#else
        (void)lens;
        fail(4, "vectored send not supported by this contender");
#endif
    }
    for (uint64_t i = from; i < to; i++) {
        stamp(bufs[0], size, i);
        if (t_send(bufs[0], size) < 0) fail(2, "send %llu failed", (unsigned long long)i);
    }
}

static int run_client(const char *test, size_t size, uint64_t count, uint64_t warm, int port) {
    int streaming = strcmp(test, "rtt") != 0;
    t_mode(streaming);
    if (t_connect(port) < 0) fail(2, "connect to port %d failed", port);
    size_t cap = size > 64 ? size : 64;
    uint8_t *bufs[BATCH];
    size_t lens[BATCH];
    for (int j = 0; j < BATCH; j++) {
        bufs[j] = malloc(cap);
        if (!bufs[j]) fail(2, "out of memory");
        memset(bufs[j], 0xab, cap);
        lens[j] = size;
    }
    uint8_t *rbuf = malloc(cap);
    if (!rbuf) fail(2, "out of memory");

    if (!streaming) {
        uint64_t *lat = malloc(sizeof(uint64_t) * (count ? count : 1));
        if (!lat) fail(2, "out of memory");
        uint64_t total = warm + count;
        uint64_t t_begin = 0;
        for (uint64_t i = 0; i < total; i++) {
            if (i == warm) t_begin = now_ns();
            stamp(bufs[0], size, i);
            uint64_t t0 = now_ns();
            if (t_send(bufs[0], size) < 0) fail(2, "send %llu failed", (unsigned long long)i);
            long n = t_recv(rbuf, cap, -1);
            uint64_t t1 = now_ns();
            if (n < 0) fail(2, "receive of echo %llu failed (%ld)", (unsigned long long)i, n);
            verify(rbuf, n, size, i);
            if (i >= warm) lat[i - warm] = t1 - t0;
        }
        double wall = (double)(now_ns() - t_begin) / 1e9;
        send_ctrl("BYE");
        qsort(lat, count, sizeof(uint64_t), cmp_u64);
        double sum = 0;
        for (uint64_t i = 0; i < count; i++) sum += (double)lat[i];
        printf("{\"role\":\"client\",\"ok\":true,\"test\":\"rtt\",\"count\":%llu,"
               "\"p50_us\":%.3f,\"p99_us\":%.3f,\"min_us\":%.3f,\"max_us\":%.3f,\"mean_us\":%.3f,"
               "\"wall_s\":%.6f}\n",
               (unsigned long long)count, lat[count / 2] / 1e3, lat[(count * 99) / 100] / 1e3,
               lat[0] / 1e3, lat[count - 1] / 1e3, sum / (double)count / 1e3, wall);
        free(lat);
    } else {
        send_range(test, bufs, lens, size, 0, warm);
        expect_ctrl(rbuf, cap, "ACK");
        uint64_t t0 = now_ns();
        send_range(test, bufs, lens, size, warm, warm + count);
        uint64_t t_sent = now_ns();
        expect_ctrl(rbuf, cap, "ACK");
        uint64_t t1 = now_ns();
        send_ctrl("BYE");
        double s = (double)(t1 - t0) / 1e9;
        printf("{\"role\":\"client\",\"ok\":true,\"test\":\"%s\",\"count\":%llu,\"size\":%zu,"
               "\"seconds\":%.9f,\"send_s\":%.9f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f}\n",
               test, (unsigned long long)count, size, s, (double)(t_sent - t0) / 1e9,
               (double)count / s, (double)count * (double)size / s / 1e6);
    }
    fflush(stdout);
    t_close();
    for (int j = 0; j < BATCH; j++) free(bufs[j]);
    free(rbuf);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr,
                "usage: %s server <rtt|stream|vec> <size> <count> <warm>\n"
                "       %s client <rtt|stream|vec> <size> <count> <warm> <port>\n",
                argv[0], argv[0]);
        return 1;
    }
    g_role = argv[1];
    const char *test = argv[2];
    size_t size = strtoull(argv[3], NULL, 10);
    uint64_t count = strtoull(argv[4], NULL, 10);
    uint64_t warm = strtoull(argv[5], NULL, 10);
    if (size < 16) fail(1, "size must be at least 16");
    if (strcmp(test, "rtt") && strcmp(test, "stream") && strcmp(test, "vec")) fail(1, "bad test %s", test);
    if (strcmp(test, "rtt") == 0 && count == 0) fail(1, "rtt needs count > 0");
    if (strcmp(test, "rtt") != 0 && warm == 0) fail(1, "streaming tests need warm > 0");
    const char *to = getenv("BENCH_PEER_TIMEOUT");
    alarm(to ? (unsigned)atoi(to) : 120u);
#ifdef HAVE_TEST_HOOK
    t_test(test);
#endif
    if (strcmp(argv[1], "server") == 0) return run_server(test, size, count, warm);
    if (strcmp(argv[1], "client") == 0 && argc >= 7) return run_client(test, size, count, warm, atoi(argv[6]));
    fail(1, "bad arguments");
}

#endif
