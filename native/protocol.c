#include "protocol.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void buf_reserve(sw_buf *b, size_t more) {
  if (b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + more) cap *= 2;
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
}

void buf_begin(sw_buf *b, uint8_t type, uint32_t reqid) {
  b->len = 0;
  buf_reserve(b, SW_HEADER);
  put_le(b->data + 4, type, 1);
  put_le(b->data + 5, reqid, 4);
  b->len = SW_HEADER;
}

void buf_put(sw_buf *b, uint16_t tag, const void *val, uint32_t len) {
  buf_reserve(b, 6 + (size_t)len);
  put_le(b->data + b->len, tag, 2);
  put_le(b->data + b->len + 2, len, 4);
  if (len) memcpy(b->data + b->len + 6, val, len);
  b->len += 6 + (size_t)len;
}

void buf_put_str(sw_buf *b, uint16_t tag, const char *s) { buf_put(b, tag, s, (uint32_t)strlen(s)); }
void buf_put_u8(sw_buf *b, uint16_t tag, uint8_t v) { buf_put(b, tag, &v, 1); }
void buf_put_u32(sw_buf *b, uint16_t tag, uint32_t v) {
  uint8_t t[4];
  put_le(t, v, 4);
  buf_put(b, tag, t, 4);
}
void buf_put_u64(sw_buf *b, uint16_t tag, uint64_t v) {
  uint8_t t[8];
  put_le(t, v, 8);
  buf_put(b, tag, t, 8);
}
void buf_finish(sw_buf *b) { put_le(b->data, b->len - 4, 4); }
void buf_free(sw_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int tlv_next(sw_tlv_iter *it, sw_tlv *out) {
  if (it->left == 0) return 0;
  if (it->left < 6) return -EBADMSG;
  out->tag = (uint16_t)(it->p[0] | it->p[1] << 8);
  out->len = get_le32(it->p + 2);
  if (out->len > it->left - 6) return -EBADMSG;
  out->val = it->p + 6;
  it->p += 6 + (size_t)out->len;
  it->left -= 6 + (size_t)out->len;
  return 1;
}

uint64_t tlv_uint(const sw_tlv *t) {
  uint64_t v = 0;
  uint32_t n = t->len > 8 ? 8 : t->len;
  for (uint32_t i = 0; i < n; i++) v |= (uint64_t)t->val[i] << (8 * i);
  return v;
}

char *tlv_strdup(const sw_tlv *t) {
  if (memchr(t->val, 0, t->len)) return NULL;
  char *s = xmalloc((size_t)t->len + 1);
  memcpy(s, t->val, t->len);
  s[t->len] = 0;
  return s;
}

uint8_t *reader_space(sw_reader *r, size_t *room) {
  if (r->off > 0 && r->off == r->len) r->off = r->len = 0;
  /* A big frame (PUT of a large file) grew the buffer: give the memory back once it is consumed, so
   * the keeper and every container init forked from it later do not carry it. */
  if (r->len == 0 && r->cap > 262144) {
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
  }
  if (r->off > 0 && r->cap - r->len < 65536) {
    memmove(r->buf, r->buf + r->off, r->len - r->off);
    r->len -= r->off;
    r->off = 0;
  }
  if (r->cap - r->len < 65536) {
    r->cap = r->cap ? r->cap * 2 : 131072;
    r->buf = xrealloc(r->buf, r->cap);
  }
  *room = r->cap - r->len;
  return r->buf + r->len;
}

void reader_commit(sw_reader *r, size_t n) { r->len += n; }

long reader_fill(sw_reader *r, int fd) {
  size_t room;
  uint8_t *p = reader_space(r, &room);
  ssize_t n = read(fd, p, room);
  if (n < 0) return -errno;
  reader_commit(r, (size_t)n);
  return n;
}

int reader_next(sw_reader *r, sw_frame_view *f) {
  if (r->skip) {
    size_t n = r->len - r->off < r->skip ? r->len - r->off : (size_t)r->skip;
    r->off += n;
    r->skip -= n;
    if (r->skip) return 0;
  }
  size_t avail = r->len - r->off;
  if (avail < 4) return 0;
  uint32_t flen = get_le32(r->buf + r->off);
  if (flen < 5) {
    /* No room for a type and a reqid: nobody to answer, but the length still says where the next
     * frame starts. */
    *f = (sw_frame_view){0};
    r->off += 4;
    r->skip = flen;
    return -EBADMSG;
  }
  if (flen > SW_MAX_FRAME) {
    if (avail < SW_HEADER) return 0;
    const uint8_t *p = r->buf + r->off;
    *f = (sw_frame_view){.type = p[4], .reqid = get_le32(p + 5)};
    r->off += SW_HEADER;
    r->skip = flen - 5;
    return -EMSGSIZE;
  }
  if (avail < 4 + (size_t)flen) {
    if (r->cap < r->off + 4 + (size_t)flen) {
      /* make room for the whole frame */
      memmove(r->buf, r->buf + r->off, avail);
      r->len = avail;
      r->off = 0;
      if (r->cap < 4 + (size_t)flen + 65536) {
        r->cap = 4 + (size_t)flen + 65536;
        r->buf = xrealloc(r->buf, r->cap);
      }
    }
    return 0;
  }
  const uint8_t *p = r->buf + r->off;
  f->type = p[4];
  f->reqid = get_le32(p + 5);
  f->body = p + SW_HEADER;
  f->body_len = flen - 5;
  r->off += 4 + (size_t)flen;
  return 1;
}

void reader_free(sw_reader *r) {
  free(r->buf);
  r->buf = NULL;
  r->len = r->cap = r->off = 0;
}
