/* Sessions from C: a hub and two devices in one room, all in this process.
 * Device A joins, device B joins and gets A in its snapshot; A sends B a message, B sets a
 * state key that both see; B leaves and A sees PEER_LEFT(REMOTE_CLOSE).
 * Exit status 0 on success; every step is printed. Built by tests/session_c.rs with
 * -Wall -Wextra -Werror -pedantic, once with -fsanitize=address,undefined. */
#include <stdio.h>
#include <string.h>
#include "arsock.h"

#define CHECK(call)                                                                   \
  do {                                                                                \
    arsock_status st_ = (call);                                                       \
    if (st_ != ARSOCK_OK) {                                                           \
      fprintf(stderr, "%s:%d %s -> %s: %s\n", __FILE__, __LINE__, #call,              \
              arsock_status_str(st_), arsock_last_error_message());                   \
      return 1;                                                                       \
    }                                                                                 \
  } while (0)

/* Wait up to 10 s for an event of `kind` on `s`, skipping others; returns 0 and the event,
 * or 1. One event per poll, so that none after the wanted one is skipped (a real app would
 * handle every event of a batch). */
static int wait_for(arsock_handle s, uint32_t kind, arsock_event *out) {
  for (int i = 0; i < 1000; i++) {
    size_t n = 0;
    arsock_status st = arsock_session_poll(s, out, 1, 10, &n);
    if (st == ARSOCK_ERR_TIMEOUT) continue;
    if (st != ARSOCK_OK) return 1;
    if (n == 1 && out->kind == kind) return 0;
  }
  return 1;
}

int main(void) {
  arsock_hub_config hc;
  arsock_hub_config_init(&hc);
  hc.host = "127.0.0.1";
  arsock_handle hub = 0;
  CHECK(arsock_hub_start(&hc, &hub));
  uint16_t port = 0;
  CHECK(arsock_hub_local_port(hub, &port));
  printf("hub on port %u\n", (unsigned)port);

  arsock_session_config sc;
  arsock_session_config_init(&sc);
  sc.name = "alice";
  arsock_handle a = 0, b = 0;
  arsock_event ev;
  CHECK(arsock_session_open("127.0.0.1", port, "lab", &sc, &a));
  if (wait_for(a, ARSOCK_EVENT_JOINED, &ev)) return 2;
  uint32_t ida = ev.peer;
  sc.name = "bob";
  CHECK(arsock_session_open("127.0.0.1", port, "lab", &sc, &b));
  if (wait_for(b, ARSOCK_EVENT_JOINED, &ev)) return 3;
  uint32_t idb = ev.peer;
  if (wait_for(b, ARSOCK_EVENT_PEER_JOINED, &ev) || ev.peer != ida) return 4;
  if (wait_for(a, ARSOCK_EVENT_PEER_JOINED, &ev) || ev.peer != idb) return 5;
  printf("alice is peer %u, bob is peer %u\n", (unsigned)ida, (unsigned)idb);

  const char *hello = "anchor placed";
  CHECK(arsock_session_send(a, idb, (const uint8_t *)hello, strlen(hello)));
  if (wait_for(b, ARSOCK_EVENT_MESSAGE, &ev) || ev.peer != ida) return 6;
  char buf[64];
  size_t len = 0;
  CHECK(arsock_session_read(b, ev.payload, (uint8_t *)buf, sizeof buf, &len));
  printf("bob got %zu bytes from %u: %.*s\n", len, (unsigned)ev.peer, (int)len, buf);
  if (len != strlen(hello) || memcmp(buf, hello, len) != 0) return 7;

  const uint8_t pose[7] = {1, 2, 3, 4, 5, 6, 7};
  CHECK(arsock_session_set_state(b, "anchor/1", pose, sizeof pose));
  if (wait_for(a, ARSOCK_EVENT_STATE_CHANGED, &ev) || ev.peer != idb) return 8;
  CHECK(arsock_session_read(a, ev.payload, (uint8_t *)buf, sizeof buf, &len));
  printf("alice sees key %.*s\n", (int)len, buf);
  uint8_t value[16];
  CHECK(arsock_session_get_state(a, "anchor/1", value, sizeof value, &len));
  if (len != sizeof pose || memcmp(value, pose, len) != 0) return 9;
  if (arsock_session_get_state(a, "missing", value, sizeof value, &len) != ARSOCK_ERR_NOT_FOUND) return 10;

  CHECK(arsock_close(b));
  if (wait_for(a, ARSOCK_EVENT_PEER_LEFT, &ev) || ev.peer != idb || ev.reason != ARSOCK_REASON_REMOTE_CLOSE)
    return 11;
  printf("bob left: reason %d\n", ev.reason);
  CHECK(arsock_close(a));
  CHECK(arsock_close(hub));
  printf("ok\n");
  return 0;
}
