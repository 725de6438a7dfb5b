// SPDX-License-Identifier: GPL-2.0
/*
 * lu-connect: who may reach the broker (liveupdated.socket: root and group
 * liveupdate, mode 0660). Connects to /run/liveupdated.sock with the
 * caller's credentials (the driver runs it through setpriv as a uid in or
 * outside the group), asks "LU1 PING" and prints the answer, or
 * "connect: ERRNO-NAME". Exit 0 if answered, 1 if not.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/liveupdated.sock" };
	struct timeval tv = { .tv_sec = 120 };	/* the first request starts the broker */
	char reply[128];
	ssize_t n;
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		printf("socket: %s\n", strerror(errno));
		return 1;
	}
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("connect: %s\n", errno == EACCES ? "EACCES" : strerror(errno));
		return 1;
	}
	if (send(s, "LU1 PING", 8, 0) != 8 || (n = recv(s, reply, sizeof(reply) - 1, 0)) < 0) {
		printf("ping: %s\n", strerror(errno));
		return 1;
	}
	reply[n] = 0;
	printf("%s\n", reply);
	return 0;
}
