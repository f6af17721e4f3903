/*
 * LD_PRELOAD shim for tests/fault_injection.rs: makes some sendmsg() calls fail with ENOBUFS,
 * the transient "no kernel buffer space" error TCP sends can return (routinely on Apple
 * platforms). ARSOCK_FAULT_EVERY=N fails every N-th call (default 3), at most
 * ARSOCK_FAULT_MAX times (default 50). The failures are counted on stderr at exit.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static atomic_long calls, failed;

static long env_or(const char *name, long dflt) {
    const char *v = getenv(name);
    return v ? atol(v) : dflt;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
    static ssize_t (*real)(int, const struct msghdr *, int);
    if (!real) real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
    long n = atomic_fetch_add(&calls, 1) + 1;
    if (n % env_or("ARSOCK_FAULT_EVERY", 3) == 0 && atomic_load(&failed) < env_or("ARSOCK_FAULT_MAX", 50)) {
        atomic_fetch_add(&failed, 1);
        errno = ENOBUFS;
        return -1;
    }
    return real(fd, msg, flags);
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "inject_enobufs: %ld sendmsg calls, %ld failed with ENOBUFS\n",
            (long)atomic_load(&calls), (long)atomic_load(&failed));
}
