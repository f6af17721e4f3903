/*
 * Resource use of arsock with many connections, for bench/relay.py (one process, loopback).
 *
 *   res_idle <conns> <idle_s> <wake_reps>
 *
 * 1. An arsock server accepts <conns> connections from plain sockets of this process; each
 *    exchanges a burst (the peer sends 20 messages of 1 KiB, arsock receives them and sends 20
 *    back, the peer reads them), then everything settles for 2 s (wake-ups in that time are
 *    reported apart: one-shot timers after activity).
 *    Reported: threads arsock started (tasks of this process minus the ones this program
 *    made), RSS per idle connection (RSS growth since before the first connection / conns),
 *    and wake-ups per second of every thread but main over <idle_s> s (sum of voluntary and
 *    involuntary context switches, /proc/self/task/<tid>/status), once plain idle and once
 *    with a thread of this program blocked in arsock_server_accept(-1) (its switches count).
 * 2. Every connection is given undelivered data (the peer, with a 4 KiB receive buffer, never
 *    reads; arsock sends 8 KiB messages with send timeout 0 until the queue is full), then all
 *    are closed. Reported: the time the closes took, the process's CPU seconds from the first
 *    close until 2.5 s later (the linger period, ARSOCK_CLOSE_LINGER_MS, is 2 s), and the most
 *    threads seen meanwhile.
 * 3. Close wakes a blocked call: a thread blocks in accept (server), recv_msg, send_msg (full
 *    queue) or arsock_poller_wait, all with timeout -1; the main thread closes the handle and
 *    the time from just before arsock_close until the blocked call returned is taken,
 *    <wake_reps> times per kind (median and max).
 * Prints one JSON line. Every wait is bounded (alarm).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arsock.h"

#define BURST 20
#define MSG 1024
#define HDR 8

static int g_our_threads = 1; /* main */

static void die(const char *what, arsock_status s) {
    fprintf(stderr, "res_idle: %s: %s (%d): %s\n", what, arsock_status_str(s), (int)s, arsock_last_error_message());
    exit(2);
}

static void die_errno(const char *what) {
    fprintf(stderr, "res_idle: %s: %s\n", what, strerror(errno));
    exit(2);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int count_tasks(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

/* Sum of context switches of every thread except `skip`. */
static uint64_t switches_except(pid_t skip) {
    DIR *d = opendir("/proc/self/task");
    uint64_t total = 0;
    struct dirent *e;
    if (!d) return 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == (int)skip) continue;
        char path[320], line[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f)) {
            unsigned long long v;
            if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
                sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
                total += v;
        }
        fclose(f);
    }
    closedir(d);
    return total;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int raw_connect(uint16_t port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die_errno("socket");
    if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die_errno("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void read_exact(int fd, uint8_t *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0) die_errno("peer read");
        got += (size_t)r;
    }
}

/* ---------------------------------------------------------------- close wakes a blocked call */

typedef struct {
    int kind; /* 0 accept, 1 recv, 2 send, 3 poller wait */
    arsock_handle h;
    volatile uint64_t returned_ns;
    volatile int blocked; /* set just before the call that is expected to block */
    arsock_status status;
} waker;

static void *blocker(void *arg) {
    waker *w = arg;
    arsock_status s = ARSOCK_OK;
    uint8_t buf[64];
    if (w->kind == 0) {
        arsock_handle c;
        w->blocked = 1;
        s = arsock_server_accept(w->h, -1, &c);
    } else if (w->kind == 1) {
        size_t n;
        w->blocked = 1;
        s = arsock_client_recv_msg(w->h, buf, sizeof buf, -1, &n);
    } else if (w->kind == 2) {
        static uint8_t chunk[8192];
        w->blocked = 1;
        for (int i = 0; i < 100000 && s == ARSOCK_OK; i++) s = arsock_client_send_msg(w->h, chunk, sizeof chunk);
    } else {
#ifndef RES_NO_POLLER
        arsock_poll_event ev[4];
        size_t n = 0;
        w->blocked = 1;
        s = arsock_poller_wait(w->h, ev, 4, -1, &n);
#endif
    }
    w->returned_ns = now_ns();
    w->status = s;
    return NULL;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median and max (µs) of the close-to-return latency of `kind`, over reps. */
static void wake_latency(int kind, int reps, double *med, double *max, int *bad) {
    double *lat = calloc((size_t)reps, sizeof *lat);
    *bad = 0;
    for (int r = 0; r < reps; r++) {
        arsock_handle server = 0, client = 0, accepted = 0, target = 0;
        arsock_status s;
        if ((s = arsock_server_bind("127.0.0.1", 0, &server)) != ARSOCK_OK) die("bind", s);
        if ((s = arsock_server_listen(server, 0)) != ARSOCK_OK) die("listen", s);
        uint16_t port = 0;
        arsock_server_local_port(server, &port);
        int peer = -1;
        if (kind == 0) {
            target = server;
        } else if (kind == 3) {
#ifndef RES_NO_POLLER
            if ((s = arsock_poller_new(&target)) != ARSOCK_OK) die("poller_new", s);
            if ((s = arsock_poller_add(target, server, ARSOCK_POLL_IN)) != ARSOCK_OK) die("poller_add", s);
#endif
        } else {
            peer = raw_connect(port, kind == 2 ? 4096 : 0);
            if ((s = arsock_server_accept(server, 5000, &accepted)) != ARSOCK_OK) die("accept", s);
            if (kind == 2 && (s = arsock_client_set_send_queue_limit(accepted, 16384)) != ARSOCK_OK)
                die("set_send_queue_limit", s);
            target = accepted;
            (void)client;
        }
        waker w = {.kind = kind, .h = target};
        pthread_t t;
        if (pthread_create(&t, NULL, blocker, &w) != 0) die_errno("pthread_create");
        while (!w.blocked) sleep_ms(1);
        sleep_ms(kind == 2 ? 200 : 30); /* let it block (send: fill the socket and the queue) */
        uint64_t t0 = now_ns();
        arsock_close(target);
        pthread_join(t, NULL);
        lat[r] = (double)(w.returned_ns - t0) / 1e3;
        if (w.returned_ns < t0 || w.status != ARSOCK_ERR_CLOSED) (*bad)++;
        if (kind != 0) arsock_close(server);
        if (peer >= 0) close(peer);
    }
    qsort(lat, (size_t)reps, sizeof *lat, cmp_d);
    *med = lat[reps / 2];
    *max = lat[reps - 1];
    free(lat);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s <conns> <idle_s> <wake_reps>\n", argv[0]);
        return 1;
    }
    int n = atoi(argv[1]);
    int idle_s = atoi(argv[2]);
    int reps = atoi(argv[3]);
    if (n < 1 || n > 5000 || idle_s < 1 || reps < 1) {
        fprintf(stderr, "res_idle: bad arguments\n");
        return 1;
    }
    alarm((unsigned)(60 + 3 * idle_s + reps));
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    pid_t main_tid = (pid_t)syscall(SYS_gettid);
    int *peers = calloc((size_t)n, sizeof *peers);
    arsock_handle *conns = calloc((size_t)n, sizeof *conns);
    uint8_t *burst = calloc(BURST, HDR + MSG);
    uint8_t *rbuf = malloc(BURST * (HDR + MSG));
    arsock_buf *msgs = calloc(BURST, sizeof *msgs);
    if (!peers || !conns || !burst || !rbuf || !msgs) die_errno("calloc");
    for (int i = 0; i < BURST; i++) {
        uint8_t *h = burst + i * (HDR + MSG);
        h[0] = 0xA5, h[1] = 1, h[2] = 1, h[3] = 0, h[4] = 0, h[5] = MSG >> 8, h[6] = 0, h[7] = 0;
        memset(h + HDR, i, MSG);
    }

    arsock_handle server;
    arsock_status s;
    if ((s = arsock_server_bind("127.0.0.1", 0, &server)) != ARSOCK_OK) die("bind", s);
    if ((s = arsock_server_listen(server, 1024)) != ARSOCK_OK) die("listen", s);
    uint16_t port = 0;
    arsock_server_local_port(server, &port);
    sleep_ms(100);
    long rss0 = rss_bytes();

    /* 1. connections, one burst each way, then idle */
    for (int i = 0; i < n; i++) {
        peers[i] = raw_connect(port, 0);
        if ((s = arsock_server_accept(server, 5000, &conns[i])) != ARSOCK_OK) die("accept", s);
        if ((s = arsock_client_set_send_timeout(conns[i], 5000)) != ARSOCK_OK) die("set_send_timeout", s);
    }
    for (int i = 0; i < n; i++) {
        if (send(peers[i], burst, BURST * (HDR + MSG), MSG_NOSIGNAL) != BURST * (HDR + MSG)) die_errno("peer send");
        size_t got = 0;
        while (got < BURST) {
            size_t k = 0;
            if ((s = arsock_client_recv_msgs(conns[i], rbuf, BURST * (HDR + MSG), msgs, BURST - got, 5000, &k)) != ARSOCK_OK)
                die("recv_msgs", s);
            got += k;
        }
        for (int j = 0; j < BURST; j++)
            if ((s = arsock_client_send_msg(conns[i], burst + j * (HDR + MSG) + HDR, MSG)) != ARSOCK_OK) die("send_msg", s);
        read_exact(peers[i], rbuf, BURST * (HDR + MSG));
    }
    uint64_t s0 = switches_except(main_tid);
    sleep_ms(2000); /* settle: one-shot timers after the bursts (e.g. trimming drained queues) */
    uint64_t s1 = switches_except(main_tid);
    int tasks_idle = count_tasks();
    long rss1 = rss_bytes();
    uint64_t w0 = switches_except(main_tid);
    sleep_ms(idle_s * 1000L);
    uint64_t w1 = switches_except(main_tid);

    waker acc = {.kind = 0, .h = server};
    pthread_t acc_thread;
    if (pthread_create(&acc_thread, NULL, blocker, &acc) != 0) die_errno("pthread_create");
    g_our_threads++;
    while (!acc.blocked) sleep_ms(1);
    sleep_ms(200);
    uint64_t a0 = switches_except(main_tid);
    sleep_ms(idle_s * 1000L);
    uint64_t a1 = switches_except(main_tid);
    int tasks_accept = count_tasks();

    /* 2. undelivered data on every connection, then close them all */
    static uint8_t chunk[8192];
    uint64_t queued_msgs = 0;
    for (int i = 0; i < n; i++) {
        int sz = 4096;
        setsockopt(peers[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        arsock_client_set_send_timeout(conns[i], 0);
        arsock_client_set_send_queue_limit(conns[i], 65536);
        for (int k = 0; k < 64; k++) {
            s = arsock_client_send_msg(conns[i], chunk, sizeof chunk);
            if (s == ARSOCK_ERR_WOULD_BLOCK) break;
            if (s != ARSOCK_OK) die("send_msg (fill)", s);
            queued_msgs++;
        }
    }
    size_t pending_total = 0;
    for (int i = 0; i < n; i++) {
        size_t q = 0;
        if (arsock_client_send_queue_len(conns[i], &q) == ARSOCK_OK) pending_total += q;
    }
    int max_tasks = count_tasks();
    double c0 = cpu_s();
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) arsock_close(conns[i]);
    uint64_t t1 = now_ns();
    for (int k = 0; k < 50; k++) { /* 2.5 s */
        int t = count_tasks();
        if (t > max_tasks) max_tasks = t;
        sleep_ms(50);
    }
    double close_cpu = cpu_s() - c0;
    for (int i = 0; i < n; i++) close(peers[i]);

    /* 3. close wakes a blocked call */
    arsock_close(server);
    pthread_join(acc_thread, NULL);
    g_our_threads--;
    const char *kinds[4] = {"accept", "recv", "send", "poller_wait"};
    double med[4], mx[4];
    int bad[4];
#ifdef RES_NO_POLLER /* built against a library without the poller (for a before/after comparison) */
    const int nkinds = 3;
#else
    const int nkinds = 4;
#endif
    for (int k = 0; k < nkinds; k++) wake_latency(k, reps, &med[k], &mx[k], &bad[k]);

    printf("{\"ok\":true,\"conns\":%d,\"idle_s\":%d,\"arsock_threads_idle\":%d,\"arsock_threads_with_accept\":%d,"
           "\"rss_per_conn_kib\":%.2f,\"rss_growth_mib\":%.2f,\"wakeups_per_s_idle\":%.2f,"
           "\"wakeups_per_s_blocked_accept\":%.2f,\"wakeups_settle_2s\":%llu,\"close_queued_msgs\":%llu,\"close_queued_bytes\":%zu,"
           "\"close_calls_ms\":%.2f,\"close_cpu_s\":%.3f,\"close_max_arsock_threads\":%d",
           n, idle_s, tasks_idle - 1, tasks_accept - 2, (double)(rss1 - rss0) / 1024.0 / n,
           (double)(rss1 - rss0) / 1048576.0, (double)(w1 - w0) / idle_s, (double)(a1 - a0) / idle_s, (unsigned long long)(s1 - s0),
           (unsigned long long)queued_msgs, pending_total, (double)(t1 - t0) / 1e6, close_cpu, max_tasks - 2);
    for (int k = 0; k < nkinds; k++)
        printf(",\"wake_%s_p50_us\":%.1f,\"wake_%s_max_us\":%.1f,\"wake_%s_bad\":%d", kinds[k], med[k], kinds[k], mx[k],
               kinds[k], bad[k]);
    printf("}\n");
    fflush(stdout);
    (void)g_our_threads;
    return 0;
}
