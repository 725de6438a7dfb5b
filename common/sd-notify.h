/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The two halves of systemd's service protocol our programs speak, through
 * libsystemd (libsystemd-dev; libsystemd0 is on every system that runs
 * these units): sd_notify(3) messages, with an fd for the fd store, and the
 * fds systemd passes at start (sd_listen_fds_with_names(3)). Compiled into
 * liveupdatectl, liveupdated and liveupdate-vm.
 */
#ifndef LIVEUPDATE_SD_NOTIFY_H
#define LIVEUPDATE_SD_NOTIFY_H

#include <systemd/sd-daemon.h>

/* The first fd systemd passes (sd_listen_fds(3)). */
#define LU_LISTEN_FDS_START SD_LISTEN_FDS_START

int lu_notify(const char *msg, int fd);
int lu_listen_fds(char ***names);
void lu_listen_names_free(char **names);

#endif
