/*
 * Raw TCP baseline: blocking sockets, TCP_NODELAY, 4-byte little-endian length prefix.
 *
 * Send: prefix + payload in one writev (one syscall per message); the vectored variant
 * packs 64 framed messages into one buffer and writes it with one send.
 * Receive, ping-pong: read exactly the 4-byte prefix, then exactly the payload.
 * Receive, streaming: read in 256 KiB chunks and parse frames from the chunk buffer; a large
 * frame's remainder is read straight into the caller's buffer (no double copy).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *t_name = "raw";
static int lfd = -1, fd = -1, streaming = 0;

#define CHUNK (256 * 1024)
static uint8_t *chunk;
static size_t c_start, c_end;
static uint8_t *vbuf;
static size_t vcap;

static void set_nodelay(int s) {
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int t_listen(int *port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 16) < 0) return -1;
    socklen_t l = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return 0;
}

static int t_accept(void) {
    fd = accept(lfd, NULL, NULL);
    if (fd < 0) return -1;
    set_nodelay(fd);
    return 0;
}

static int t_connect(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    set_nodelay(fd);
    return 0;
}

static void t_mode(int s) {
    streaming = s;
    chunk = malloc(CHUNK);
}

static int write_all(const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int t_send(const uint8_t *p, size_t n) {
    uint32_t len = (uint32_t)n;
    struct iovec iov[2] = {{&len, 4}, {(void *)p, n}};
    size_t total = 4 + n;
    ssize_t w = writev(fd, iov, 2);
    if (w < 0) return -1;
    if ((size_t)w == total) return 0;
    /* Partial write (socket buffer full): finish the rest. */
    if (w < 4) {
        if (write_all((const uint8_t *)&len + w, 4 - (size_t)w) < 0) return -1;
        return write_all(p, n);
    }
    return write_all(p + (w - 4), total - (size_t)w);
}

#define HAVE_SENDV 1
static int t_sendv(uint8_t *const *p, const size_t *n, int k) {
    size_t total = 0;
    for (int i = 0; i < k; i++) total += 4 + n[i];
    if (total > vcap) {
        vbuf = realloc(vbuf, total);
        vcap = total;
    }
    uint8_t *o = vbuf;
    for (int i = 0; i < k; i++) {
        uint32_t len = (uint32_t)n[i];
        memcpy(o, &len, 4);
        memcpy(o + 4, p[i], n[i]);
        o += 4 + n[i];
    }
    return write_all(vbuf, total);
}

static int wait_readable(int timeout_ms) {
    if (timeout_ms < 0) return 0;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int r = poll(&pf, 1, timeout_ms);
    return r == 0 ? -2 : r < 0 ? -1 : 0;
}

static long read_exact(uint8_t *p, size_t n, int timeout_ms) {
    while (n) {
        int w = wait_readable(timeout_ms);
        if (w < 0) return w;
        ssize_t r = recv(fd, p, n, 0);
        if (r == 0) return -1;
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* One read into the chunk buffer. */
static long fill(int timeout_ms) {
    if (c_start == c_end) c_start = c_end = 0;
    if (CHUNK - c_end < 64 * 1024 && c_start > 0) {
        memmove(chunk, chunk + c_start, c_end - c_start);
        c_end -= c_start;
        c_start = 0;
    }
    for (;;) {
        int w = wait_readable(timeout_ms);
        if (w < 0) return w;
        ssize_t r = recv(fd, chunk + c_end, CHUNK - c_end, 0);
        if (r == 0) return -1;
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c_end += (size_t)r;
        return 0;
    }
}

static long t_recv(uint8_t *buf, size_t cap, int timeout_ms) {
    uint32_t len;
    if (!streaming) {
        long r = read_exact((uint8_t *)&len, 4, timeout_ms);
        if (r < 0) return r;
        if (len > cap) return -1;
        r = read_exact(buf, len, timeout_ms);
        return r < 0 ? r : (long)len;
    }
    while (c_end - c_start < 4) {
        long r = fill(timeout_ms);
        if (r < 0) return r;
    }
    memcpy(&len, chunk + c_start, 4);
    if (len > cap) return -1;
    size_t have = c_end - c_start - 4;
    if (have >= len) {
        memcpy(buf, chunk + c_start + 4, len);
        c_start += 4 + len;
        return (long)len;
    }
    if (len < 16 * 1024) {
        while (c_end - c_start - 4 < len) {
            long r = fill(timeout_ms);
            if (r < 0) return r;
        }
        memcpy(buf, chunk + c_start + 4, len);
        c_start += 4 + len;
        return (long)len;
    }
    /* Large frame: copy what is buffered, read the rest straight into buf. */
    memcpy(buf, chunk + c_start + 4, have);
    c_start = c_end = 0;
    long r = read_exact(buf + have, len - have, timeout_ms);
    return r < 0 ? r : (long)len;
}

static void t_close(void) {
    if (fd >= 0) close(fd);
    if (lfd >= 0) close(lfd);
}

#include "driver.h"
