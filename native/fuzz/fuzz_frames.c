/*
 * libFuzzer target: the keeper's input path without the side effects. Bytes from the fuzzer are an
 * arbitrary stream from Node, fed to the frame reader in chunks of fuzzer-chosen sizes; every frame
 * it yields goes through the same parsers the keeper's dispatch uses (container and process specs,
 * single-field lookups, nested TLVs). Any crash, sanitizer report or leak is a finding.
 *
 *   make -C native fuzz && native/build/fuzz-frames -max_total_time=60 native/fuzz/corpus
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../protocol.h"
#include "../spec.h"

/* util.c's process-title storage lives in main.c, which is not linked here. */
char *sw_argv_area;
size_t sw_argv_len;

static void parse_frame(const sw_frame_view *f) {
  sw_error e;
  switch (f->type) {
  case FR_CREATE: {
    struct container_spec s;
    spec_parse_container(f->body, f->body_len, &s, &e);
    spec_free_container(&s);
    break;
  }
  case FR_EXEC: {
    struct proc_spec p;
    spec_parse_proc(f->body, f->body_len, &p, &e);
    spec_free_proc(&p);
    break;
  }
  default: {
    uint64_t v;
    char *id = spec_get_str(f->body, f->body_len, T_ID);
    char *path = spec_get_str(f->body, f->body_len, T_PATH);
    spec_get_uint(f->body, f->body_len, T_PORT, &v);
    spec_get_uint(f->body, f->body_len, T_EOF, &v);
    free(id);
    free(path);
    sw_tlv_iter it;
    sw_tlv t;
    tlv_iter_init(&it, f->body, f->body_len);
    while (tlv_next(&it, &t) > 0) (void)tlv_uint(&t);
  }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  /* First byte: chunk size of the simulated reads (1..256 bytes, 0 = all at once). */
  size_t step = data[0] ? data[0] : size;
  data++;
  size--;
  sw_reader r = {0};
  size_t off = 0;
  while (off < size) {
    size_t room;
    uint8_t *p = reader_space(&r, &room);
    size_t n = size - off < step ? size - off : step;
    if (n > room) n = room;
    memcpy(p, data + off, n);
    reader_commit(&r, n);
    off += n;
    sw_frame_view f;
    int rc;
    while ((rc = reader_next(&r, &f)) != 0)
      if (rc > 0) parse_frame(&f);
  }
  reader_free(&r);
  return 0;
}
