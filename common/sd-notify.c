// SPDX-License-Identifier: GPL-2.0
/*
 * systemd's service protocol without libsystemd: see sd-notify.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sd-notify.h"

/*
 * Sends @msg to $NOTIFY_SOCKET, with @fd as SCM_RIGHTS if @fd >= 0 (for
 * FDSTORE=1). Returns 1 if sent, 0 if not running under systemd (no or an
 * unusable $NOTIFY_SOCKET), -errno if sending failed.
 */
int lu_notify(const char *msg, int fd)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)msg, strlen(msg) };
	struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };
	size_t len;
	int s, r = 1;

	if (!sock || (sock[0] != '/' && sock[0] != '@'))
		return 0;
	len = strlen(sock);
	if (len >= sizeof(sa.sun_path))
		return 0;
	memcpy(sa.sun_path, sock, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;	/* an abstract socket */
	mh.msg_namelen = offsetof(struct sockaddr_un, sun_path) + len;
	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
		r = -errno;
	close(s);
	return r;
}

/*
 * How many fds systemd passed to this process (from LU_LISTEN_FDS_START
 * on), 0 if none or if they were meant for another process ($LISTEN_PID).
 */
int lu_listen_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	long n;

	if (!pid || !nfds || atol(pid) != (long)getpid())
		return 0;
	n = atol(nfds);
	return n > 0 && n <= 4096 ? (int)n : 0;
}

/* The name of passed fd @i (0-based) from $LISTEN_FDNAMES, "" if none. */
void lu_listen_fd_name(int i, char *buf, size_t len)
{
	const char *p = getenv("LISTEN_FDNAMES");

	for (int k = 0; p && k < i; k++) {
		p = strchr(p, ':');
		if (p)
			p++;
	}
	snprintf(buf, len, "%.*s", p ? (int)strcspn(p, ":") : 0, p ? p : "");
}

/* Forgets the passed fds' variables, so that children do not see them. */
void lu_listen_fds_done(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}
