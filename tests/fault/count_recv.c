/*
 * LD_PRELOAD shim for tests/syscalls.rs: counts recv() and poll() calls of the process and
 * prints the counts to stderr at exit ("count_recv: recv R poll P").
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

static atomic_long recvs, polls;

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    static ssize_t (*real)(int, void *, size_t, int);
    if (!real) real = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
    atomic_fetch_add(&recvs, 1);
    return real(fd, buf, len, flags);
}

int poll(struct pollfd *fds, nfds_t n, int timeout) {
    static int (*real)(struct pollfd *, nfds_t, int);
    if (!real) real = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
    atomic_fetch_add(&polls, 1);
    return real(fds, n, timeout);
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "count_recv: recv %ld poll %ld\n", atomic_load(&recvs), atomic_load(&polls));
}
