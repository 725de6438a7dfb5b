/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The two halves of systemd's service protocol our programs speak, without
 * libsystemd: sd_notify(3) messages (with an fd for the fd store) and the
 * fds systemd passes at start (sd_listen_fds(3), LISTEN_FDNAMES). Compiled
 * into liveupdatectl, liveupdated and liveupdate-vm; not a library.
 */
#ifndef LIVEUPDATE_SD_NOTIFY_H
#define LIVEUPDATE_SD_NOTIFY_H

#include <stddef.h>

/* The first fd systemd passes (sd_listen_fds(3)). */
#define LU_LISTEN_FDS_START 3

int lu_notify(const char *msg, int fd);
int lu_listen_fds(void);
void lu_listen_fd_name(int i, char *buf, size_t len);
void lu_listen_fds_done(void);

#endif
