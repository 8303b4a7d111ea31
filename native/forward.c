#include "forward.h"

#include <unistd.h>

void forward_init(int epfd) { (void)epfd; }
void forward_event(struct watch *w, uint32_t events) { (void)w, (void)events; }
void forward_publish(uint32_t reqid, const char *id, int ctl, const uint8_t *body, size_t len) {
  (void)id, (void)ctl, (void)body, (void)len;
  reply_error(reqid, "publish: not implemented", ENOSYS);
}
void forward_unpublish(uint32_t reqid, const uint8_t *body, size_t len) {
  (void)body, (void)len;
  reply_error(reqid, "unpublish: not implemented", ENOSYS);
}
void forward_socket_reply(const char *id, const struct init_msg *m, int fd) {
  (void)id, (void)m;
  if (fd >= 0) close(fd);
}
void forward_container_gone(const char *id) { (void)id; }
void forward_shutdown(void) {}
