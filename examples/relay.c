/*
 * A relay server for an AR room, on ONE thread with the arsock poller: every message a
 * device sends is forwarded to every other connected device.
 *
 * A device that stops reading must not stall the room. Each connection's send timeout is 0,
 * so arsock_client_send_msg never waits: when that device's send queue is full the call
 * returns ARSOCK_ERR_WOULD_BLOCK and the message is dropped for that device only. After
 * --max-drops drops in a row (default 100; 0 = never) the device is disconnected.
 *
 *   relay [--host H] [--port P] [--queue-limit BYTES] [--max-drops N] [--max-peers N] [-v]
 *
 * Prints "PORT <n>" once listening (port 0, the default, picks a free one). SIGINT or
 * SIGTERM stops it: a second thread waits for the signal and closes the poller, which wakes
 * the blocked arsock_poller_wait with ARSOCK_ERR_CLOSED; the relay then prints one JSON line
 * of counters and exits 0. The poll loop itself has no timeout: an idle relay sleeps.
 *
 * Build (tests/relay_example.rs does this, with -Wall -Wextra -Werror -pedantic):
 *   cc -std=c11 -Iinclude examples/relay.c -Ltarget/release -larsock -lpthread -o relay
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arsock.h"

#define EVENTS 256          /* events per wait */
#define BATCH 64            /* messages per receive call */
#define ROUNDS 4            /* receive calls per ready device per wake-up (fairness) */
#define BUF_SIZE (1 << 20)  /* receive buffer; larger messages are skipped with a warning */

typedef struct {
    arsock_handle h;        /* 0: free */
    size_t pos;             /* index in g_order */
    uint64_t drops_in_row;  /* consecutive WOULD_BLOCK */
    uint64_t dropped;
    int dead;               /* to close after the current broadcast */
} peer;

static peer *g_peers;            /* slots */
static size_t *g_order, g_n;     /* live slots, dense */
static size_t *g_free, g_nfree;  /* free slots */
static size_t g_max_peers = 1024;
static int64_t *g_index;         /* open addressing: handle -> slot (-1 empty) */
static arsock_handle *g_keys;
static size_t g_index_cap;

static uint64_t g_max_drops = 100;
static size_t g_queue_limit;     /* 0: the library's default */
static int g_verbose;
static uint64_t g_messages, g_deliveries, g_dropped, g_disconnected, g_accepted;
static arsock_handle g_poller;

static void fail(const char *what, arsock_status s) {
    fprintf(stderr, "relay: %s: %s (%d): %s\n", what, arsock_status_str(s), (int)s,
            arsock_last_error_message());
    exit(2);
}

/* ---------------------------------------------------------------- handle -> slot */

static size_t hash(arsock_handle h) { return (size_t)((h * 0x9E3779B97F4A7C15ull) >> 7) & (g_index_cap - 1); }

static int64_t find(arsock_handle h) {
    for (size_t i = hash(h);; i = (i + 1) & (g_index_cap - 1)) {
        if (g_index[i] < 0) return -1;
        if (g_keys[i] == h) return g_index[i];
    }
}

static void insert(arsock_handle h, size_t slot) {
    size_t i = hash(h);
    while (g_index[i] >= 0) i = (i + 1) & (g_index_cap - 1);
    g_keys[i] = h;
    g_index[i] = (int64_t)slot;
}

static void erase(arsock_handle h) {
    size_t i = hash(h);
    while (g_keys[i] != h || g_index[i] < 0) i = (i + 1) & (g_index_cap - 1);
    g_index[i] = -1;
    /* backward-shift the entries after it so lookups never stop early */
    for (size_t j = (i + 1) & (g_index_cap - 1); g_index[j] >= 0; j = (j + 1) & (g_index_cap - 1)) {
        size_t home = hash(g_keys[j]);
        int between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            g_keys[i] = g_keys[j];
            g_index[i] = g_index[j];
            g_index[j] = -1;
            i = j;
        }
    }
}

/* ---------------------------------------------------------------- peers */

static void add_peer(arsock_handle c) {
    arsock_status s;
    if (g_nfree == 0) {
        fprintf(stderr, "relay: room full (%zu devices): refusing a connection\n", g_max_peers);
        arsock_close(c);
        return;
    }
    if ((s = arsock_client_set_send_timeout(c, 0)) != ARSOCK_OK) fail("set_send_timeout", s);
    if (g_queue_limit && (s = arsock_client_set_send_queue_limit(c, g_queue_limit)) != ARSOCK_OK)
        fail("set_send_queue_limit", s);
    if ((s = arsock_poller_add(g_poller, c, ARSOCK_POLL_IN)) != ARSOCK_OK) fail("poller_add", s);
    size_t slot = g_free[--g_nfree];
    peer *p = &g_peers[slot];
    memset(p, 0, sizeof *p);
    p->h = c;
    p->pos = g_n;
    g_order[g_n++] = slot;
    insert(c, slot);
    g_accepted++;
    if (g_verbose) printf("device %llu joined (%zu in the room)\n", (unsigned long long)c, g_n);
}

static void remove_peer(size_t slot) {
    peer *p = &g_peers[slot];
    if (g_max_drops && p->drops_in_row >= g_max_drops) {
        g_disconnected++;
        printf("device %llu disconnected: it stopped reading (%llu messages dropped in a row)\n",
               (unsigned long long)p->h, (unsigned long long)p->drops_in_row);
    } else if (g_verbose) {
        printf("device %llu left\n", (unsigned long long)p->h);
    }
    fflush(stdout);
    erase(p->h);
    arsock_close(p->h); /* also removes it from the poller */
    size_t last = g_order[--g_n];
    g_order[p->pos] = last;
    g_peers[last].pos = p->pos;
    p->h = 0;
    g_free[g_nfree++] = slot;
}

static void reap(void) {
    for (size_t i = 0; i < g_n;) {
        size_t slot = g_order[i];
        if (g_peers[slot].dead)
            remove_peer(slot); /* moves another slot to position i */
        else
            i++;
    }
}

/* Forward one message to every device but its sender, never waiting. */
static void broadcast(size_t from, const uint8_t *data, size_t len) {
    g_messages++;
    for (size_t i = 0; i < g_n; i++) {
        size_t slot = g_order[i];
        peer *p = &g_peers[slot];
        if (slot == from || p->dead) continue;
        arsock_status s = arsock_client_send_msg(p->h, data, len);
        if (s == ARSOCK_OK) {
            g_deliveries++;
            p->drops_in_row = 0;
        } else if (s == ARSOCK_ERR_WOULD_BLOCK || s == ARSOCK_ERR_TIMEOUT) {
            g_dropped++;
            p->dropped++;
            if (g_max_drops && ++p->drops_in_row >= g_max_drops) p->dead = 1;
        } else {
            p->dead = 1; /* closed, reset or broken: gone */
        }
    }
}

/* The device in `slot` is readable (or closed): forward what it sent. */
static void on_device(size_t slot, uint32_t events, uint8_t *buf, arsock_buf *msgs) {
    peer *p = &g_peers[slot];
    for (int round = 0; round < ROUNDS && !p->dead; round++) {
        size_t n = 0;
        arsock_status s = arsock_client_recv_msgs(p->h, buf, BUF_SIZE, msgs, BATCH, 0, &n);
        if (s == ARSOCK_ERR_TIMEOUT) break; /* nothing more now */
        if (s == ARSOCK_ERR_BUFFER_TOO_SMALL) {
            fprintf(stderr, "relay: device %llu sent a message of %zu bytes (more than %d): disconnecting it\n",
                    (unsigned long long)p->h, msgs[0].len, BUF_SIZE);
            p->dead = 1;
            break;
        }
        if (s != ARSOCK_OK) { /* closed, reset, protocol error */
            p->dead = 1;
            break;
        }
        for (size_t i = 0; i < n; i++) broadcast(slot, msgs[i].data, msgs[i].len);
        if (n < BATCH) break;
    }
    if ((events & ARSOCK_POLL_CLOSED) && !(events & ARSOCK_POLL_IN)) p->dead = 1;
}

/* ---------------------------------------------------------------- shutdown */

static void *signal_thread(void *arg) {
    sigset_t *set = arg;
    int sig = 0;
    sigwait(set, &sig);
    arsock_close(g_poller); /* wakes the blocked arsock_poller_wait with ARSOCK_ERR_CLOSED */
    return NULL;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    unsigned port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--queue-limit") && i + 1 < argc) g_queue_limit = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--max-drops") && i + 1 < argc) g_max_drops = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--max-peers") && i + 1 < argc) g_max_peers = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-v")) g_verbose = 1;
        else {
            fprintf(stderr, "usage: %s [--host H] [--port P] [--queue-limit BYTES] [--max-drops N] "
                            "[--max-peers N] [-v]\n", argv[0]);
            return 1;
        }
    }
    if (port > 65535 || g_max_peers == 0 || g_max_peers > 65536) {
        fprintf(stderr, "relay: bad --port or --max-peers\n");
        return 1;
    }

    /* SIGINT/SIGTERM go to the signal thread only (blocked here before it starts). */
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    g_peers = calloc(g_max_peers, sizeof *g_peers);
    g_order = calloc(g_max_peers, sizeof *g_order);
    g_free = calloc(g_max_peers, sizeof *g_free);
    for (g_index_cap = 16; g_index_cap < 2 * g_max_peers;) g_index_cap *= 2;
    g_index = malloc(g_index_cap * sizeof *g_index);
    g_keys = calloc(g_index_cap, sizeof *g_keys);
    uint8_t *buf = malloc(BUF_SIZE);
    arsock_buf *msgs = calloc(BATCH, sizeof *msgs);
    arsock_poll_event *events = calloc(EVENTS, sizeof *events);
    if (!g_peers || !g_order || !g_free || !g_index || !g_keys || !buf || !msgs || !events) {
        fprintf(stderr, "relay: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < g_index_cap; i++) g_index[i] = -1;
    for (size_t i = 0; i < g_max_peers; i++) g_free[g_nfree++] = g_max_peers - 1 - i;

    arsock_handle server = 0;
    uint16_t bound = 0;
    arsock_status s;
    if ((s = arsock_server_bind(host, (uint16_t)port, &server)) != ARSOCK_OK) fail("bind", s);
    if ((s = arsock_server_listen(server, 1024)) != ARSOCK_OK) fail("listen", s);
    if ((s = arsock_server_local_port(server, &bound)) != ARSOCK_OK) fail("local_port", s);
    if ((s = arsock_poller_new(&g_poller)) != ARSOCK_OK) fail("poller_new", s);
    if ((s = arsock_poller_add(g_poller, server, ARSOCK_POLL_IN)) != ARSOCK_OK) fail("poller_add", s);
    pthread_t sig_thread;
    if (pthread_create(&sig_thread, NULL, signal_thread, &set) != 0) {
        fprintf(stderr, "relay: cannot start the signal thread\n");
        return 2;
    }
    printf("PORT %u\n", (unsigned)bound);
    fflush(stdout);

    for (;;) {
        size_t n = 0;
        s = arsock_poller_wait(g_poller, events, EVENTS, -1, &n);
        if (s == ARSOCK_ERR_TIMEOUT) continue;
        if (s == ARSOCK_ERR_CLOSED || s == ARSOCK_ERR_INVALID_HANDLE) break; /* shut down */
        if (s != ARSOCK_OK) fail("poller_wait", s);
        for (size_t i = 0; i < n; i++) {
            if (events[i].handle == server) {
                arsock_handle c;
                while (arsock_server_accept(server, 0, &c) == ARSOCK_OK) add_peer(c);
                continue;
            }
            int64_t slot = find(events[i].handle);
            if (slot >= 0) on_device((size_t)slot, events[i].events, buf, msgs);
        }
        reap();
    }

    pthread_join(sig_thread, NULL);
    while (g_n > 0) remove_peer(g_order[g_n - 1]);
    arsock_close(server);
    printf("{\"relay\":\"arsock\",\"accepted\":%llu,\"messages\":%llu,\"deliveries\":%llu,\"dropped\":%llu,"
           "\"disconnected\":%llu}\n",
           (unsigned long long)g_accepted, (unsigned long long)g_messages, (unsigned long long)g_deliveries,
           (unsigned long long)g_dropped, (unsigned long long)g_disconnected);
    fflush(stdout);
    free(events);
    free(msgs);
    free(buf);
    free(g_keys);
    free(g_index);
    free(g_free);
    free(g_order);
    free(g_peers);
    return 0;
}
