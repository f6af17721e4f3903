/*
 * Load generator for bench/relay.py: devices of an AR room talking through a relay on
 * 127.0.0.1, all in this one process (one thread, epoll, plain sockets speaking arsock's
 * framing: 8-byte header 0xA5 1 1 0 + 32-bit little-endian length).
 *
 *   relay_load <port> <senders> <receivers> <hz> <size> <warm_s> <measure_s> <relay_pid> [stalled [prefill_kib]]
 *
 * Every 1/hz s all senders send one <size>-byte message at the same moment (synchronised
 * senders: the relay sees bursts). A message carries its sender, its sequence number and the
 * CLOCK_MONOTONIC time it was sent; every device that reads (senders too) checks the
 * per-sender sequence (gaps are counted as lost) and records now - sent time.
 * [stalled] extra devices connect with a 4 KiB receive buffer and never read. [prefill_kib]: during
 * the warm-up, sender 0 sends 60 KiB messages instead (one per tick) until that much is sent, so
 * the stalled devices' socket buffers are full when the measurement starts (every message to
 * them is then refused by the relay's queue limit).
 *
 * Measured over <measure_s> s after <warm_s> s of warm-up: deliveries to the reading devices,
 * their rate, the lowest per-device rate, latency p50/p99 (1 µs histogram up to 2 s), lost
 * messages, and the relay's CPU time (sum of /proc/<relay_pid>/task/<tid>/schedstat run
 * times, all threads; the relay is never this process). Prints one JSON line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define HDR 8
#define HIST_US 2000000 /* latency histogram range: 1 µs buckets up to 2 s */
#define MAX_SENDERS 64

typedef struct {
    int fd;
    uint8_t *in;
    size_t in_len, in_cap;
    uint64_t next_seq[MAX_SENDERS]; /* expected sequence per sender */
    uint64_t got;                   /* deliveries in the window */
} dev;

static uint32_t *g_hist;
static uint64_t g_over, g_lost, g_window_deliveries, g_all_deliveries;
static int g_in_window;
static int g_senders;

static void die(const char *what) {
    fprintf(stderr, "relay_load: %s: %s\n", what, strerror(errno));
    exit(2);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of every thread of pid, in ns (schedstat), or from /proc/pid/stat ticks. */
static uint64_t proc_cpu_ns(int pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    uint64_t total = 0;
    int any = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p2[320];
            snprintf(p2, sizeof p2, "/proc/%d/task/%s/schedstat", pid, e->d_name);
            FILE *f = fopen(p2, "r");
            if (!f) continue;
            unsigned long long run = 0;
            if (fscanf(f, "%llu", &run) == 1) {
                total += run;
                any = 1;
            }
            fclose(f);
        }
        closedir(d);
    }
    if (any) return total;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
        return (ut + st) * 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
    return 0;
}

static int connect_to(int port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void on_message(dev *d, const uint8_t *p, uint32_t len, uint64_t now) {
    if (len < 24) {
        fprintf(stderr, "relay_load: short message (%u bytes)\n", len);
        exit(3);
    }
    uint64_t seq, sent;
    uint32_t sender;
    memcpy(&seq, p, 8);
    memcpy(&sender, p + 8, 4);
    memcpy(&sent, p + 16, 8);
    if (sender >= (uint32_t)g_senders) {
        fprintf(stderr, "relay_load: bad sender %u\n", sender);
        exit(3);
    }
    if (seq < d->next_seq[sender]) {
        fprintf(stderr, "relay_load: duplicate or reordered message %llu from sender %u\n",
                (unsigned long long)seq, sender);
        exit(3);
    }
    if (g_in_window) g_lost += seq - d->next_seq[sender];
    d->next_seq[sender] = seq + 1;
    g_all_deliveries++;
    if (!g_in_window) return;
    d->got++;
    g_window_deliveries++;
    uint64_t us = (now - sent) / 1000;
    if (us < HIST_US) g_hist[us]++;
    else g_over++;
}

static void on_readable(dev *d) {
    for (;;) {
        if (d->in_cap - d->in_len < 4096) {
            size_t cap = d->in_cap ? d->in_cap * 2 : 16384;
            uint8_t *q = realloc(d->in, cap);
            if (!q) die("realloc");
            d->in = q;
            d->in_cap = cap;
        }
        ssize_t r = recv(d->fd, d->in + d->in_len, d->in_cap - d->in_len, MSG_DONTWAIT);
        if (r == 0) {
            fprintf(stderr, "relay_load: the relay closed a reading device\n");
            exit(2);
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            die("recv");
        }
        d->in_len += (size_t)r;
        uint64_t now = now_ns();
        size_t off = 0;
        while (d->in_len - off >= HDR) {
            const uint8_t *h = d->in + off;
            uint32_t len = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
            if (h[0] != 0xA5 || h[1] != 1 || h[2] != 1) {
                fprintf(stderr, "relay_load: bad frame header\n");
                exit(3);
            }
            if (d->in_len - off < HDR + (size_t)len) break;
            on_message(d, h + HDR, len, now);
            off += HDR + len;
        }
        memmove(d->in, d->in + off, d->in_len - off);
        d->in_len -= off;
        if (d->in_len == 0 && d->in_cap > 65536) {
            free(d->in);
            d->in = NULL;
            d->in_cap = 0;
        }
        if ((size_t)r < 4096) return;
    }
}

static double pct(double p) {
    uint64_t total = g_window_deliveries, want = (uint64_t)(p * (double)total), acc = 0;
    if (total == 0) return 0;
    for (int i = 0; i < HIST_US; i++) {
        acc += g_hist[i];
        if (acc > want) return (double)i + 0.5;
    }
    return (double)HIST_US;
}

int main(int argc, char **argv) {
    if (argc < 9) {
        fprintf(stderr, "usage: %s <port> <senders> <receivers> <hz> <size> <warm_s> <measure_s> <relay_pid> [stalled]\n",
                argv[0]);
        return 1;
    }
    int port = atoi(argv[1]);
    g_senders = atoi(argv[2]);
    int receivers = atoi(argv[3]);
    double hz = atof(argv[4]);
    size_t size = strtoull(argv[5], NULL, 10);
    double warm_s = atof(argv[6]), measure_s = atof(argv[7]);
    int relay_pid = atoi(argv[8]);
    int stalled = argc > 9 ? atoi(argv[9]) : 0;
    uint64_t prefill = argc > 10 ? strtoull(argv[10], NULL, 10) * 1024 : 0;
    if (g_senders < 1 || g_senders > MAX_SENDERS || receivers < 0 || hz <= 0 || size < 24 || size > 65536 ||
        measure_s <= 0 || stalled < 0) {
        fprintf(stderr, "relay_load: bad arguments\n");
        return 1;
    }
    alarm((unsigned)(warm_s + measure_s + 60));
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    g_hist = calloc(HIST_US, sizeof *g_hist);
    int ndev = g_senders + receivers;
    dev *devs = calloc((size_t)ndev, sizeof *devs);
    int *stalled_fds = calloc((size_t)stalled + 1, sizeof(int));
    uint8_t *msg = calloc(1, HDR + size);
    const size_t big_size = 60 * 1024;
    uint8_t *big = calloc(1, HDR + big_size);
    if (!g_hist || !devs || !stalled_fds || !msg || !big) die("calloc");

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < ndev; i++) {
        devs[i].fd = connect_to(port, 0);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, devs[i].fd, &ev) < 0) die("epoll_ctl");
    }
    for (int i = 0; i < stalled; i++) stalled_fds[i] = connect_to(port, 4096);
    /* let the relay accept everyone before the first message */
    usleep(300000 + (useconds_t)(ndev + stalled) * 2000);

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (tfd < 0) die("timerfd_create");
    long period_ns = (long)(1e9 / hz);
    struct itimerspec its = {.it_interval = {period_ns / 1000000000L, period_ns % 1000000000L},
                             .it_value = {0, 1000}};
    if (timerfd_settime(tfd, 0, &its, NULL) < 0) die("timerfd_settime");
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev) < 0) die("epoll_ctl timer");

    msg[0] = 0xA5;
    msg[1] = 1;
    msg[2] = 1;
    msg[3] = 0;
    msg[4] = (uint8_t)size;
    msg[5] = (uint8_t)(size >> 8);
    msg[6] = (uint8_t)(size >> 16);
    msg[7] = 0;
    memcpy(big, msg, 4);
    big[4] = (uint8_t)big_size;
    big[5] = (uint8_t)(big_size >> 8);
    big[6] = (uint8_t)(big_size >> 16);
    big[7] = 0;
    uint64_t seq = 0, send_blocked = 0, sent_window = 0;
    uint64_t t_start = now_ns();
    uint64_t t_window = t_start + (uint64_t)(warm_s * 1e9);
    uint64_t t_end = t_window + (uint64_t)(measure_s * 1e9);
    uint64_t cpu0 = 0, cpu1 = 0, t0 = 0, t1 = 0;
    struct rusage ru0, ru1;
    struct epoll_event evs[512];
    for (;;) {
        uint64_t now = now_ns();
        if (!g_in_window && now >= t_window) {
            g_in_window = 1;
            cpu0 = proc_cpu_ns(relay_pid);
            getrusage(RUSAGE_SELF, &ru0);
            t0 = now_ns();
        }
        if (now >= t_end) break;
        int n = epoll_wait(ep, evs, 512, 100);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            uint32_t k = evs[i].data.u32;
            if (k == UINT32_MAX) {
                uint64_t ticks;
                if (read(tfd, &ticks, sizeof ticks) != sizeof ticks) continue;
                uint64_t ts = now_ns();
                if (ts >= t_end) continue;
                for (int s = 0; s < g_senders; s++) {
                    uint32_t sender = (uint32_t)s;
                    int fill = s == 0 && prefill > 0 && !g_in_window;
                    uint8_t *m = fill ? big : msg;
                    size_t n = HDR + (fill ? big_size : size);
                    memcpy(m + HDR, &seq, 8);
                    memcpy(m + HDR + 8, &sender, 4);
                    memcpy(m + HDR + 16, &ts, 8);
                    /* a fill message may block the loop briefly (blocking socket): it must go whole */
                    ssize_t w = send(devs[s].fd, m, n, MSG_NOSIGNAL | (fill ? 0 : MSG_DONTWAIT));
                    if (fill && w == (ssize_t)n) prefill = prefill > big_size ? prefill - big_size : 0;
                    if (w != (ssize_t)n) {
                        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                            send_blocked++;
                            continue; /* the message is not sent at all: a gap the receivers see */
                        }
                        fprintf(stderr, "relay_load: partial or failed send (%zd)\n", w);
                        exit(2);
                    }
                    if (g_in_window) sent_window++;
                }
                seq++;
            } else {
                on_readable(&devs[k]);
            }
        }
    }
    t1 = now_ns();
    cpu1 = proc_cpu_ns(relay_pid);
    getrusage(RUSAGE_SELF, &ru1);
    /* a short drain so late deliveries are not counted as lost by a later run */
    double secs = (double)(t1 - t0) / 1e9;
    uint64_t min_got = UINT64_MAX;
    for (int i = 0; i < ndev; i++) {
        /* senders also receive (from the other senders); normalise per sender seen */
        uint64_t per = devs[i].got;
        if (i < g_senders && g_senders > 1) per = per * (uint64_t)g_senders / (uint64_t)(g_senders - 1);
        if (per < min_got) min_got = per;
    }
    double load_cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                      (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    double relay_cpu = (double)(cpu1 - cpu0) / 1e9;
    uint64_t expected = sent_window * (uint64_t)(ndev - 1);
    printf("{\"ok\":true,\"senders\":%d,\"receivers\":%d,\"stalled\":%d,\"hz\":%.1f,\"size\":%zu,"
           "\"seconds\":%.3f,\"sent\":%llu,\"send_blocked\":%llu,\"deliveries\":%llu,\"expected\":%llu,"
           "\"lost\":%llu,\"rate\":%.1f,\"min_device_rate\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"over_2s\":%llu,\"relay_cpu_s\":%.6f,\"cpu_per_delivery_us\":%.4f,\"load_cpu_s\":%.3f}\n",
           g_senders, receivers, stalled, hz, size, secs, (unsigned long long)sent_window,
           (unsigned long long)send_blocked, (unsigned long long)g_window_deliveries, (unsigned long long)expected,
           (unsigned long long)g_lost, (double)g_window_deliveries / secs, (double)min_got / secs, pct(0.50),
           pct(0.99), (unsigned long long)g_over, relay_cpu,
           g_window_deliveries ? relay_cpu * 1e6 / (double)g_window_deliveries : 0.0, load_cpu);
    fflush(stdout);
    for (int i = 0; i < ndev; i++) close(devs[i].fd);
    for (int i = 0; i < stalled; i++) close(stalled_fds[i]);
    return 0;
}
