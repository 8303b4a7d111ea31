/* Leftover cgroups: Node lists the cgroups it made for a container in <container state dir>/cgroups. */
#pragma once

/* For every container dir below a keeper's state dir (an open directory fd), removes the cgroups
 * listed in its `cgroups` file (rmdir: a cgroup that still holds processes stays). Only paths below
 * /sys/fs/cgroup/ inside a slipway or slipway.slice parent are touched. */
void cgroups_remove_below(int keeper_dirfd);
