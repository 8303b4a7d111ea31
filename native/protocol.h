/*
 * Node <-> keeper wire protocol. Must match src/runtime/keeper/protocol.ts.
 *
 * Frame (all integers little-endian):
 *   u32 length   (bytes that follow this field: 5 + TLV bytes)
 *   u8  type     (enum sw_frame)
 *   u32 reqid    (request id chosen by Node; replies echo it; events use 0)
 *   TLVs         (u16 tag, u32 len, len bytes) repeated; lists repeat the tag; a nested
 *                record (MOUNT, RLIMIT) is a TLV whose value is itself a TLV sequence.
 * Strings are UTF-8 without a terminating NUL.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SW_PROTOCOL_VERSION 11
/* Largest frame either side accepts. Node never sends a bigger one: payloads above SW_CHUNK go as
 * DATA frames. A bigger one from Node fails only its request: the keeper answers ERROR (EMSGSIZE)
 * for its reqid and skips its declared length, which keeps the stream in sync. */
#define SW_MAX_FRAME (64u << 20)
/* Payload bytes per DATA frame that Node sends (and the most it keeps unacknowledged: SW_WINDOW). */
#define SW_CHUNK (1u << 20)
#define SW_WINDOW 4
#define SW_HEADER 9

enum sw_frame {
  /* Node -> keeper */
  FR_MAPPED = 0x01,
  FR_CREATE = 0x10,
  FR_START = 0x11, /* ID -> OK once the process runs; may follow CREATE before its answer (protocol 10);
                    * with IF_PREPARED only when that CREATE joined a prepared network namespace (protocol 11) */
  FR_KILL = 0x12,
  FR_REMOVE = 0x13,
  FR_EXEC = 0x14,
  FR_CHOWN_LIST = 0x15,
  FR_RMTREE = 0x16,
  FR_PUT = 0x17,
  FR_GET = 0x18,
  FR_PUBLISH = 0x19,
  FR_UNPUBLISH = 0x1a,
  FR_NET_CREATE = 0x1b, /* NET_ID [SUBNET] -> OK */
  FR_NET_REMOVE = 0x1c, /* NET_ID -> OK (unknown ids too) */
  FR_NET_ATTACH = 0x1d, /* ID NET_ID IP PREFIX UNREACHABLE* -> OK IFNAME */
  FR_DATA = 0x1e,       /* reqid of a PUT/EXEC sent with CHUNKED: [DATA] [EOF]; answered by DATA_ACK.
                         * For a GET sent with CHUNKED: credits, one byte per GET_ENTRY/GET_DATA frame Node has taken; EOF cancels. */
  FR_HOST_FORWARD = 0x1f, /* ID PORT -> OK: the container's SW_HOST_ALIAS_IP:PORT reaches the host's 127.0.0.1:PORT */
  FR_OUTBOUND = 0x20,      /* ID ARG|ARG_PID... -> OK PID once ready (outbound.h); may follow CREATE before its answer */
  FR_OUTBOUND_STOP = 0x21, /* ID -> OK once the container's outbound helpers are reaped */
  /* keeper -> Node */
  FR_NEED_MAP = 0x80,
  FR_HELLO = 0x81,
  FR_OK = 0x82,
  FR_ERROR = 0x83,
  FR_EXIT = 0x84,        /* event: container's main process exited (ID, STATUS) */
  FR_EXEC_OUTPUT = 0x85, /* reqid of the EXEC; STREAM, DATA */
  FR_GET_ENTRY = 0x86,   /* reqid of the GET; one file-system entry */
  FR_DATA_ACK = 0x87,    /* reqid of the PUT/EXEC: one DATA frame's bytes were handed on */
  FR_GET_DATA = 0x88,    /* reqid of the GET: the next <= SW_CHUNK bytes of the entry sent with CHUNKED (DATA) */
};

enum sw_tag {
  T_ID = 1,
  T_STATE_DIR = 2,
  T_LOWER = 3, /* repeated, top layer first */
  T_UPPER = 4,
  T_WORK = 5,
  T_ROOTFS = 6,
  T_ARG = 7, /* repeated */
  T_ENV = 8, /* repeated KEY=VALUE */
  T_CWD = 9,
  T_UID = 10,
  T_GID = 11,
  T_GROUP = 12, /* repeated u32 */
  T_HOSTNAME = 13,
  T_MOUNT = 14, /* nested: T_MOUNT_TYPE, T_SRC, T_DST, T_READONLY, T_OPTIONS */
  T_SHM_SIZE = 15,
  T_NET = 16, /* u8: 0 isolated, 1 none, 2 host */
  T_LOG_PATH = 18,
  T_LOG_MAX = 19,
  T_NO_NEW_PRIVS = 20,
  T_CAPS = 21,   /* u64 bitmask */
  T_RLIMIT = 22, /* nested: T_RESOURCE, T_SOFT, T_HARD */
  T_SIGNAL = 23,
  T_STATUS = 24, /* u32 raw wait status */
  T_PID = 25,
  T_PATH = 26,
  T_LIST_FILE = 27,
  T_STAGE = 28,
  T_ERRNO = 29,
  T_MESSAGE = 30,
  T_VERSION = 31,
  T_BUILD_ID = 32,
  T_STREAM = 33, /* u8: 1 stdout, 2 stderr */
  T_DATA = 34,
  T_STDIN = 35,
  T_TYPE = 36, /* u8: 1 file, 2 dir, 3 symlink */
  T_MODE = 37,
  T_MTIME = 38, /* u64 seconds since the epoch */
  T_SIZE = 39,
  T_LINK = 40,
  T_HOST_IP = 41,
  T_PORT = 42,
  T_PROTO = 43, /* u8: 1 tcp, 2 udp */
  T_MOUNT_TYPE = 44, /* u8: 1 bind, 2 tmpfs */
  T_SRC = 45,
  T_DST = 46,
  T_READONLY = 47,
  T_OPTIONS = 48,
  T_RESOURCE = 49,
  T_SOFT = 50,
  T_HARD = 51,
  T_CONTAINER_PORT = 52,
  T_RELPATH = 53,
  T_KEEP = 54, /* REMOVE: forget the container but keep its state dir (restart) */
  T_NET_ID = 55,  /* user network id (string) */
  T_SUBNET = 56,  /* u32 subnet index chosen by Node (10.89.<n>.0/24); unique among live networks */
  T_IP = 57,      /* dotted IPv4 address */
  T_PREFIX = 58,  /* u8 prefix length */
  T_IFNAME = 59,  /* interface name inside the container (NET_ATTACH reply) */
  T_UNREACHABLE = 60, /* repeated IPv4 CIDR: NET_ATTACH adds an unreachable route for it */
  T_TAP = 61,         /* CREATE (isolated net): name of a persistent tap init makes for slirp4netns/pasta */
  T_CHUNKED = 62,     /* PUT (file content) / EXEC (stdin): the bytes follow as DATA frames */
  T_EOF = 63,         /* DATA: the last one of its request */
  T_SECCOMP = 64,     /* CREATE: u8 0 unconfined, 1 Docker's default profile (also when absent); execs inherit it */
  T_KIND = 65,        /* ERROR: u32 enum sw_err_kind */
  T_TOP_ONLY = 66,    /* GET: u8 1 = only the entry itself, never a directory's contents */
  T_CANCEL = 67,      /* DATA: u8 1 = Node gave the request up: its worker gets SIGUSR1 (an exec kills its process group) */
  T_ARG_PID = 68,     /* OUTBOUND: an argument (empty value), among the ARGs, that the keeper replaces with the container init's host pid */
  T_POOL_ARG = 69,    /* CREATE (isolated net, repeated): the command line of a prepared namespace's outbound helper (netpool.h) */
  T_POOL_ARG_NETNS = 70, /* CREATE: among the POOL_ARGs (empty value), the path of the namespace's fd the keeper writes in */
  T_IF_PREPARED = 71,    /* START: u8 1 = only if the container joined a prepared network namespace whose helper is ready
                          * (else ERROR NOT_PREPARED, nothing done): isolated, sent right behind CREATE and OUTBOUND */
};

/*
 * What failed, in an ERROR frame (T_KIND), for Node to branch on; STAGE is the detail for people and
 * is never parsed. Numbers are stable (src/runtime/keeper/keeper-error.ts mirrors them).
 */
enum sw_err_kind {
  EK_UNSPECIFIED = 0,
  EK_BAD_REQUEST = 1,      /* malformed or invalid request fields, unknown request type */
  EK_FRAME = 2,            /* a frame above the limit or shorter than its header */
  EK_NO_CONTAINER = 3,
  EK_CONTAINER_STATE = 4,  /* not created / not running / being removed */
  EK_ID_IN_USE = 5,        /* container or network id */
  EK_USERNS = 6,           /* the keeper's own user namespace */
  EK_SETUP = 7,            /* container setup in init or a worker (namespaces, mounts, devices) */
  EK_ROOTFS = 8,           /* mounting the root file system (overlay, fuse-overlayfs, copy) */
  EK_IDS = 9,              /* setgroups / setresgid / setresuid for the process */
  EK_CWD = 10,             /* the working directory */
  EK_EXEC = 11,            /* execve of argv[0] */
  EK_FILES = 12,           /* PUT / GET / CHOWN_LIST / RMTREE */
  EK_PUBLISH_BIND = 13,    /* socket / bind / listen of a published host port */
  EK_PUBLISH_ADDRESS = 14, /* the host address is not an IP address */
  EK_NETWORK = 15,         /* user network create / attach */
  EK_SUBNET_IN_USE = 16,
  EK_ADDRESS_IN_USE = 17,  /* NET_ATTACH: the container already has this address */
  EK_WORKER = 18,          /* a worker died without an answer or sent garbage */
  EK_RESOURCES = 19,       /* fork, pipes, epoll: the keeper's own resources */
  EK_HOST_ACCESS = 20,     /* HOST_FORWARD: a host port made reachable from the container */
  EK_NOT_FOUND = 21,       /* GET: the path asked for is not there (ENOENT / ENOTDIR) */
  EK_SECCOMP = 22,         /* building or loading the seccomp filter */
  EK_KEYRING = 23,         /* the process's own session keyring */
  EK_NOT_PREPARED = 24,    /* START with IF_PREPARED: no prepared network namespace; send START again once the network is */
};

typedef struct {
  uint8_t *data;
  size_t len, cap;
} sw_buf;

void buf_begin(sw_buf *b, uint8_t type, uint32_t reqid);
void buf_put(sw_buf *b, uint16_t tag, const void *val, uint32_t len);
void buf_put_str(sw_buf *b, uint16_t tag, const char *s);
void buf_put_u8(sw_buf *b, uint16_t tag, uint8_t v);
void buf_put_u32(sw_buf *b, uint16_t tag, uint32_t v);
void buf_put_u64(sw_buf *b, uint16_t tag, uint64_t v);
void buf_finish(sw_buf *b); /* writes the length prefix */
void buf_free(sw_buf *b);

typedef struct {
  uint16_t tag;
  uint32_t len;
  const uint8_t *val;
} sw_tlv;

typedef struct {
  const uint8_t *p;
  size_t left;
} sw_tlv_iter;

static inline void tlv_iter_init(sw_tlv_iter *it, const uint8_t *p, size_t len) {
  it->p = p;
  it->left = len;
}
int tlv_next(sw_tlv_iter *it, sw_tlv *out); /* 1 = got one, 0 = end, -EBADMSG = malformed */
uint64_t tlv_uint(const sw_tlv *t);         /* 1, 2, 4 or 8 byte little-endian integer */
char *tlv_strdup(const sw_tlv *t);          /* NUL-terminated copy; NULs inside are rejected */

typedef struct {
  uint8_t type;
  uint32_t reqid;
  const uint8_t *body;
  size_t body_len;
} sw_frame_view;

/* Incremental reader for a byte stream of frames. */
typedef struct {
  uint8_t *buf;
  size_t len, cap, off;
  uint64_t skip; /* bytes of an oversized or malformed frame still to discard */
} sw_reader;

/* Reads what is available on fd (non-blocking or blocking): >0 bytes, 0 EOF, -errno. */
long reader_fill(sw_reader *r, int fd);
/* reader_fill in two steps (the fuzzer feeds bytes without an fd): room for at least 64 KiB, then
 * how many bytes were put there. */
uint8_t *reader_space(sw_reader *r, size_t *room);
void reader_commit(sw_reader *r, size_t n);
/* 1 = a complete frame in *f (valid until the next call), 0 = need more. Errors keep the reader in
 * sync (the frame's declared length is skipped) and the caller may go on:
 * -EMSGSIZE = a frame above SW_MAX_FRAME; f->type and f->reqid are set, f->body_len is 0.
 * -EBADMSG = a length below the header's; f->reqid is 0. */
int reader_next(sw_reader *r, sw_frame_view *f);
void reader_free(sw_reader *r);

static inline uint32_t get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
