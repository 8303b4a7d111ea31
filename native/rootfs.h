/* The container's file-system view: overlay, /proc, /dev, /sys, masks, spec mounts, pivot_root. */
#pragma once
#include "spec.h"

/* Runs in the container init (new mount/pid/uts/net namespaces). On success the process is
 * pivoted into the new root, hostname is set, lo is up and the cwd exists. */
int rootfs_setup(const struct container_spec *s, sw_error *e);

/* Reads SLIPWAY_ROOTFS (overlay | fuse-overlayfs | copy | auto; unset = auto) once, at keeper
 * start; an unknown value stops the keeper with a message naming the accepted ones. */
void rootfs_init(void);
