/*
 * The baseline relay for bench/relay.py: plain C, one thread, level-triggered epoll,
 * non-blocking sockets with TCP_NODELAY. It speaks arsock's message framing (8-byte header:
 * 0xA5, version 1, kind 1, flags 0, 32-bit little-endian length; see docs/PROTOCOL.md), so
 * the same load generator drives it and the arsock relay (examples/relay.c).
 *
 * Every whole message a connection sends is forwarded to every other connection: written at
 * once when that connection's output queue is empty (one send() per message and receiver,
 * as the arsock relay's send_msg), else appended to the queue; when the queue would exceed
 * --queue-limit the message is dropped for that receiver (and the receiver disconnected after
 * --max-drops drops in a row; 0 = never). The rest of a partly written frame is always queued.
 *
 *   relay_epoll [--queue-limit BYTES] [--max-drops N]
 *
 * Prints "PORT <n>" once listening on 127.0.0.1; on SIGTERM/SIGINT prints one JSON line of
 * counters and exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 8192
#define HDR 8
#define MAX_MSG (1u << 20)

typedef struct {
    int fd;         /* -1: free slot */
    int pos;        /* index in g_live */
    int want_out;   /* EPOLLOUT registered */
    uint8_t *in;    /* partial input */
    size_t in_len, in_cap;
    uint8_t *out;   /* queued output: out[out_off..out_len) */
    size_t out_off, out_len, out_cap;
    uint64_t drops_in_row;
    int dead;
} conn;

static conn g_conns[MAX_CONNS];
static int g_live[MAX_CONNS], g_nlive;
static int g_ep, g_lfd;
static size_t g_queue_limit = 1024 * 1024;
static uint64_t g_max_drops;
static volatile sig_atomic_t g_stop;
static uint64_t g_messages, g_deliveries, g_dropped, g_disconnected, g_accepted;

static void on_signal(int sig) { (void)sig; g_stop = 1; }

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void set_events(conn *c, int slot, int out) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)slot};
    if (epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl MOD");
    c->want_out = out;
}

static void close_conn(int slot) {
    conn *c = &g_conns[slot];
    if (c->fd < 0) return;
    epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    free(c->in);
    free(c->out);
    int last = g_live[--g_nlive];
    g_live[c->pos] = last;
    g_conns[last].pos = c->pos;
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* Append bytes to the output queue (the caller checked the limit where it applies). */
static int enqueue(conn *c, const uint8_t *p, size_t n) {
    if (c->out_off > 0 && c->out_off == c->out_len) c->out_off = c->out_len = 0;
    if (c->out_len + n > c->out_cap) {
        if (c->out_off > 0) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if (c->out_len + n > c->out_cap) {
            size_t cap = c->out_cap ? c->out_cap : 4096;
            while (cap < c->out_len + n) cap *= 2;
            uint8_t *q = realloc(c->out, cap);
            if (!q) return -1;
            c->out = q;
            c->out_cap = cap;
        }
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

static void deliver(int slot, const uint8_t *frame, size_t n) {
    conn *c = &g_conns[slot];
    if (c->dead) return;
    size_t queued = c->out_len - c->out_off;
    if (queued == 0) {
        ssize_t w = send(c->fd, frame, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w == (ssize_t)n) {
            g_deliveries++;
            c->drops_in_row = 0;
            return;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            c->dead = 1;
            return;
        }
        size_t done = w > 0 ? (size_t)w : 0;
        if (enqueue(c, frame + done, n - done) < 0) {
            c->dead = 1;
            return;
        }
        g_deliveries++;
        c->drops_in_row = 0;
        set_events(c, slot, 1);
        return;
    }
    if (queued + n > g_queue_limit) {
        g_dropped++;
        if (g_max_drops && ++c->drops_in_row >= g_max_drops) c->dead = 1;
        return;
    }
    if (enqueue(c, frame, n) < 0) {
        c->dead = 1;
        return;
    }
    g_deliveries++;
    c->drops_in_row = 0;
}

static void flush_out(int slot) {
    conn *c = &g_conns[slot];
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            c->dead = 1;
            return;
        }
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    if (c->out_cap > 65536) { /* give memory back once drained */
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    set_events(c, slot, 0);
}

/* Read what is there and forward every whole frame. */
static void on_readable(int slot) {
    conn *c = &g_conns[slot];
    for (int round = 0; round < 4; round++) {
        if (c->in_cap - c->in_len < 16384) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 65536;
            if (cap > MAX_MSG + HDR + 65536) cap = MAX_MSG + HDR + 65536;
            if (cap <= c->in_len) {
                c->dead = 1;
                return;
            }
            uint8_t *q = realloc(c->in, cap);
            if (!q) {
                c->dead = 1;
                return;
            }
            c->in = q;
            c->in_cap = cap;
        }
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            c->dead = 1;
            return;
        }
        if (r < 0) return;
        c->in_len += (size_t)r;
        size_t off = 0;
        while (c->in_len - off >= HDR) {
            const uint8_t *h = c->in + off;
            uint32_t len = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
            if (h[0] != 0xA5 || h[1] != 1 || h[3] != 0 || len > MAX_MSG) {
                c->dead = 1;
                return;
            }
            if (c->in_len - off < HDR + (size_t)len) break;
            if (h[2] == 1) {
                g_messages++;
                for (int i = 0; i < g_nlive; i++)
                    if (g_live[i] != slot) deliver(g_live[i], h, HDR + len);
            }
            off += HDR + len;
        }
        if (off > 0) {
            memmove(c->in, c->in + off, c->in_len - off);
            c->in_len -= off;
        }
        if ((size_t)r < 16384) return; /* drained */
    }
}

static void accept_all(void) {
    for (;;) {
        int fd = accept4(g_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int slot = -1;
        for (int i = 0; i < MAX_CONNS; i++)
            if (g_conns[i].fd < 0) {
                slot = i;
                break;
            }
        if (slot < 0) {
            close(fd);
            continue;
        }
        conn *c = &g_conns[slot];
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->pos = g_nlive;
        g_live[g_nlive++] = slot;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)slot};
        if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl ADD");
        g_accepted++;
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--queue-limit") && i + 1 < argc)
            g_queue_limit = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--max-drops") && i + 1 < argc)
            g_max_drops = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--queue-limit BYTES] [--max-drops N]\n", argv[0]);
            return 1;
        }
    }
    for (int i = 0; i < MAX_CONNS; i++) g_conns[i].fd = -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    g_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (g_lfd < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(g_lfd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(g_lfd, 1024) < 0) die("listen");
    socklen_t al = sizeof a;
    getsockname(g_lfd, (struct sockaddr *)&a, &al);
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    if (g_ep < 0) die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, g_lfd, &lev) < 0) die("epoll_ctl listen");
    printf("PORT %d\n", ntohs(a.sin_port));
    fflush(stdout);

    struct epoll_event evs[256];
    while (!g_stop) {
        int n = epoll_wait(g_ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            uint32_t slot = evs[i].data.u32;
            if (slot == UINT32_MAX) {
                accept_all();
                continue;
            }
            conn *c = &g_conns[slot];
            if (c->fd < 0) continue;
            if (evs[i].events & EPOLLOUT) flush_out((int)slot);
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable((int)slot);
        }
        /* close the connections that failed or stopped reading (not while iterating) */
        for (int i = 0; i < g_nlive;) {
            int s = g_live[i];
            if (g_conns[s].dead) {
                if (g_max_drops && g_conns[s].drops_in_row >= g_max_drops) g_disconnected++;
                close_conn(s);
            } else {
                i++;
            }
        }
    }
    printf("{\"relay\":\"epoll\",\"accepted\":%llu,\"messages\":%llu,\"deliveries\":%llu,\"dropped\":%llu,"
           "\"disconnected\":%llu}\n",
           (unsigned long long)g_accepted, (unsigned long long)g_messages, (unsigned long long)g_deliveries,
           (unsigned long long)g_dropped, (unsigned long long)g_disconnected);
    fflush(stdout);
    return 0;
}
