/* The container's file-system view: overlay, /proc, /dev, /sys, masks, spec mounts, pivot_root. */
#pragma once
#include "spec.h"

/* Created in the container's state dir when its root is a copy of the layers (no overlay): its
 * upper dir then holds the whole image, which commit() must refuse (runtime/container-handle.ts). */
#define ROOTFS_COPY_MARKER "rootfs-copy"

/* Runs in the container init (new mount/pid/uts/net namespaces). On success the process is
 * pivoted into the new root, hostname is set, lo is up and the cwd exists. */
int rootfs_setup(const struct container_spec *s, sw_error *e);

/* Reads SLIPWAY_ROOTFS (overlay | fuse-overlayfs | copy | auto; unset = auto) once, at keeper
 * start; an unknown value stops the keeper with a message naming the accepted ones. */
void rootfs_init(void);

/* Keeper side, before the container's clone: when the root will be served by fuse-overlayfs (forced,
 * or auto past the kernel overlay's limits), opens /dev/fuse and starts fuse-overlayfs in the
 * keeper's pid namespace, waiting for init's go; sets s->fuse_fd/fuse_go (else -1) and s->fuse_pid. The keeper kills
 * that pid once the container's init is reaped (it would also exit on its own when the mount goes). */
int rootfs_prepare(struct container_spec *s, sw_error *e);
/* Keeper side, after the clone (or on failure): closes the keeper's copies of the prepared fds. */
void rootfs_prepared_close(struct container_spec *s);
/* In the cloned child before it closes its fds: moves the prepared fds to first, first+1, ...;
 * returns the next free fd number or -errno. */
int rootfs_child_fds(struct container_spec *s, int first);
