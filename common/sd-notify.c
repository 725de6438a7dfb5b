// SPDX-License-Identifier: GPL-2.0
/*
 * systemd's service protocol through libsystemd: see sd-notify.h.
 */
#include <stdlib.h>

#include "sd-notify.h"

/*
 * Sends @msg to $NOTIFY_SOCKET, with @fd as SCM_RIGHTS if @fd >= 0 (for
 * FDSTORE=1): sd_pid_notify_with_fds(3). Returns 1 if sent, 0 if not
 * running under systemd (no $NOTIFY_SOCKET), -errno if it is not a socket
 * address (-EINVAL) or sending failed.
 */
int lu_notify(const char *msg, int fd)
{
	int r = sd_pid_notify_with_fds(0, 0, msg, &fd, fd >= 0 ? 1 : 0);

	return r > 0 ? 1 : r;
}

/*
 * The fds systemd passed to this process (from LU_LISTEN_FDS_START on),
 * their names (LISTEN_FDNAMES; "unknown" without it) into *@names, a
 * NULL-terminated array to free with lu_listen_names_free(): the count,
 * 0 (and *@names NULL) if none, if they were meant for another process
 * ($LISTEN_PID) or if the variables do not hold (a closed fd, more or
 * fewer names than fds). The fds are close-on-exec and the variables gone
 * (children do not see them) afterwards.
 */
int lu_listen_fds(char ***names)
{
	int n;

	*names = NULL;
	n = sd_listen_fds_with_names(1, names);
	if (n > 0 && *names)
		return n;
	lu_listen_names_free(*names);
	*names = NULL;
	return 0;
}

void lu_listen_names_free(char **names)
{
	for (char **p = names; p && *p; p++)
		free(*p);
	free(names);
}
