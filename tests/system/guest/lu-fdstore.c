// SPDX-License-Identifier: GPL-2.0
/*
 * lu-fdstore: the system test's service (lu-fdstore.service, Type=notify,
 * FileDescriptorStorePreserve=yes).
 *
 * Started with fds from its fd store (LISTEN_FDS, LISTEN_FDNAMES), it writes
 * "NAME BYTES" per fd to /run/lu-sys/restored (the bytes as the file holds
 * them, up to 4096) and stores nothing new. Started without, it puts the
 * contents of /run/lu-sys/nonce into a memfd and hands it to systemd's fd
 * store under the name "nonce" (FDSTORE=1 with SCM_RIGHTS). Then READY=1,
 * and it waits to be stopped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int notify(const char *msg, int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c = {};
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1 };
	socklen_t len;
	int s, r;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	if (path[0] == '@')
		sa.sun_path[0] = 0;
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	mh.msg_namelen = len;
	if (fd >= 0) {
		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		c.h.cmsg_level = SOL_SOCKET;
		c.h.cmsg_type = SCM_RIGHTS;
		c.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&c.h), &fd, sizeof(int));
	}
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	r = sendmsg(s, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
	close(s);
	return r;
}

static int report_restored(int n, const char *names)
{
	FILE *out = fopen("/run/lu-sys/restored", "w");
	char *list = strdup(names ? names : ""), *save = NULL, *name;
	char buf[4097];

	if (!out || !list)
		return -1;
	name = strtok_r(list, ":", &save);
	for (int i = 0; i < n; i++) {
		ssize_t k = pread(3 + i, buf, sizeof(buf) - 1, 0);

		buf[k > 0 ? k : 0] = 0;
		buf[strcspn(buf, "\n")] = 0;
		fprintf(out, "%s %s\n", name ? name : "?", k >= 0 ? buf : "(unreadable)");
		printf("lu-fdstore: restored fd '%s' holding '%s'\n", name ? name : "?", buf);
		name = strtok_r(NULL, ":", &save);
	}
	fclose(out);
	free(list);
	return 0;
}

static int store_nonce(void)
{
	char buf[4096];
	int in = open("/run/lu-sys/nonce", O_RDONLY | O_CLOEXEC), fd, r;
	ssize_t k;

	if (in < 0) {
		printf("lu-fdstore: no /run/lu-sys/nonce: storing nothing\n");
		return 0;
	}
	k = read(in, buf, sizeof(buf));
	close(in);
	fd = memfd_create("lu-sys-nonce", MFD_CLOEXEC);
	if (k < 0 || fd < 0 || write(fd, buf, k) != k) {
		perror("lu-fdstore: memfd");
		return -1;
	}
	r = notify("FDSTORE=1\nFDNAME=nonce", fd);
	if (r < 0) {
		fprintf(stderr, "lu-fdstore: FDSTORE=1: %s\n", strerror(-r));
		return -1;
	}
	printf("lu-fdstore: stored a memfd of %zd bytes as 'nonce'\n", k);
	close(fd);
	return 0;
}

int main(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int n = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pid && fds && atol(pid) == getpid())
		n = atoi(fds);
	if (n > 0 ? report_restored(n, getenv("LISTEN_FDNAMES")) : store_nonce())
		return 1;
	if (notify("READY=1", -1) < 0)
		return 1;
	for (;;)
		pause();
}
