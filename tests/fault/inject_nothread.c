/*
 * LD_PRELOAD shim for tests/fault_injection.rs: every pthread_create() fails with EAGAIN, as
 * when a process has hit its thread limit, so arsock cannot start its background flusher.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    (void)thread;
    (void)attr;
    (void)start;
    (void)arg;
    fprintf(stderr, "inject_nothread: pthread_create refused\n");
    return EAGAIN;
}
