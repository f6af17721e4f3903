/*
 * ENet: reliable packets on one channel over UDP 127.0.0.1, driven by the usual service loop.
 *
 * Send: enet_peer_send (ENET_PACKET_FLAG_RELIABLE) followed by one non-blocking
 * enet_host_service call, which transmits it (one API round per message). ENet has no send
 * back-pressure of its own, so the sender keeps at most OUTSTANDING_LIMIT commands queued
 * (checked every 64 sends) by servicing the host until acknowledgements drain the queue.
 * Receive: enet_host_service with a timeout until a RECEIVE event; packets that arrive while
 * sending are kept in arrival order for the next receive.
 */
#include <enet/enet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *t_name = "enet";
static ENetHost *host;
static ENetPeer *peer;
static unsigned long sends;

#define OUTSTANDING_LIMIT 4096

/* Packets received while doing something else, oldest first (a growable ring). */
static ENetPacket **pending;
static size_t p_cap, p_head, p_count;
static int disconnected;

static uint64_t enet_now_ms(void);

static int stash(ENetPacket *pk) {
    if (p_count == p_cap) {
        size_t ncap = p_cap ? p_cap * 2 : 256;
        ENetPacket **n = malloc(ncap * sizeof *n);
        if (!n) return -1;
        for (size_t i = 0; i < p_count; i++) n[i] = pending[(p_head + i) % p_cap];
        free(pending);
        pending = n;
        p_cap = ncap;
        p_head = 0;
    }
    pending[(p_head + p_count++) % p_cap] = pk;
    return 0;
}

static int handle(ENetEvent *ev) {
    switch (ev->type) {
    case ENET_EVENT_TYPE_RECEIVE:
        return stash(ev->packet) < 0 ? -1 : 1;
    case ENET_EVENT_TYPE_CONNECT:
        if (!peer) peer = ev->peer;
        return 0;
    case ENET_EVENT_TYPE_DISCONNECT:
        disconnected = 1; /* packets received before it stay readable */
        return 0;
    default:
        return 0;
    }
}

/* Service once, waiting up to timeout_ms, and take every event ENet has ready.
 * Returns 1 if a packet arrived, 0 if not, -1 on a socket error. */
static int service(uint32_t timeout_ms) {
    ENetEvent ev;
    int r = enet_host_service(host, &ev, timeout_ms);
    if (r < 0) return -1;
    int got = 0;
    while (r > 0) {
        int h = handle(&ev);
        if (h < 0) return -1;
        got |= h;
        r = enet_host_check_events(host, &ev);
        if (r < 0) return -1;
    }
    return got;
}

static int t_listen(int *port) {
    if (enet_initialize() != 0) return -1;
    ENetAddress a;
    enet_address_set_host_ip(&a, "127.0.0.1");
    a.port = 0;
    host = enet_host_create(&a, 1, 1, 0, 0);
    if (!host) return -1;
    ENetAddress bound;
    if (enet_socket_get_address(host->socket, &bound) != 0) return -1;
    *port = bound.port;
    return 0;
}

static int t_accept(void) {
    uint64_t until = enet_now_ms() + 10000;
    while (!peer) {
        if (service(100) < 0 || enet_now_ms() > until) return -1;
    }
    return 0;
}

static int t_connect(int port) {
    if (enet_initialize() != 0) return -1;
    host = enet_host_create(NULL, 1, 1, 0, 0);
    if (!host) return -1;
    ENetAddress a;
    enet_address_set_host_ip(&a, "127.0.0.1");
    a.port = (enet_uint16)port;
    ENetPeer *p = enet_host_connect(host, &a, 1, 0);
    if (!p) return -1;
    uint64_t until = enet_now_ms() + 10000;
    while (!peer) {
        if (service(100) < 0 || enet_now_ms() > until) return -1;
    }
    return 0;
}

static void t_mode(int streaming) { (void)streaming; }

static int t_send(const uint8_t *p, size_t n) {
    if (disconnected) return -1;
    ENetPacket *pk = enet_packet_create(p, n, ENET_PACKET_FLAG_RELIABLE);
    if (!pk || enet_peer_send(peer, 0, pk) != 0) return -1;
    if (service(0) < 0) return -1;
    if ((++sends & 63) == 0) {
        while (enet_list_size(&peer->outgoingCommands) > OUTSTANDING_LIMIT)
            if (service(1) < 0) return -1;
    }
    return 0;
}

static long t_recv(uint8_t *buf, size_t cap, int timeout_ms) {
    uint64_t until = timeout_ms < 0 ? UINT64_MAX : enet_now_ms() + (uint64_t)timeout_ms;
    while (p_count == 0) {
        if (disconnected) return -1;
        uint64_t now = enet_now_ms();
        if (now >= until) return -2;
        uint64_t wait = until - now;
        if (service(wait > 1000 ? 1000 : (uint32_t)wait) < 0) return -1;
    }
    ENetPacket *pk = pending[p_head];
    p_head = (p_head + 1) % p_cap;
    p_count--;
    long n = (long)pk->dataLength;
    if ((size_t)n > cap) n = -1;
    else memcpy(buf, pk->data, pk->dataLength);
    enet_packet_destroy(pk);
    return n;
}

static void t_close(void) {
    enet_host_flush(host);
    if (peer && !disconnected) {
        enet_peer_disconnect_later(peer, 0);
        uint64_t until = enet_now_ms() + 1000;
        ENetEvent ev;
        while (enet_now_ms() < until) {
            int r = enet_host_service(host, &ev, 50);
            if (r < 0 || (r > 0 && ev.type == ENET_EVENT_TYPE_DISCONNECT)) break;
            if (r > 0 && ev.type == ENET_EVENT_TYPE_RECEIVE) enet_packet_destroy(ev.packet);
        }
    }
    enet_host_destroy(host);
    enet_deinitialize();
}

#include "driver.h"

static uint64_t enet_now_ms(void) { return now_ns() / 1000000u; }
