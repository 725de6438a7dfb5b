// SPDX-License-Identifier: GPL-2.0
/*
 * lu-demo: carries one file's bytes across a kexec in a memfd, through
 * /dev/liveupdate (run by vm/demo inside the VM).
 *
 *   lu-demo save FILE    before the kexec: preserve FILE's bytes in a memfd
 *                        (session "demo", token 1); a child process keeps the
 *                        session open until the kexec.
 *   lu-demo restore OUT  after the kexec: retrieve the memfd, copy its bytes
 *                        to OUT and finish the session.
 *
 * Every failure prints the call and strerror and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux/liveupdate.h"

#define DEV "/dev/liveupdate"
#define SESSION "demo"
#define TOKEN 1

static void die(const char *call)
{
	fprintf(stderr, "lu-demo: %s: %s\n", call, strerror(errno));
	exit(1);
}

static void write_all(int fd, const char *buf, size_t len, const char *what)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(what);
		buf += n;
		len -= (size_t)n;
	}
}

/* Copies all of @in (from offset 0, whatever its file position) to @out. */
static size_t copy_fd(int in, int out, const char *rd, const char *wr)
{
	static char buf[1 << 16];
	size_t total = 0;

	for (;;) {
		ssize_t n = pread(in, buf, sizeof(buf), (off_t)total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(rd);
		if (n == 0)
			return total;
		write_all(out, buf, (size_t)n, wr);
		total += (size_t)n;
	}
}

/* Keeps @session open in a detached child, so the kernel carries it over. */
static void hold_session(int session)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid > 0) {
		printf("lu-demo: session kept open by pid %d\n", (int)pid);
		return;
	}
	/* Child: never hold the console (the caller waits for its output). */
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	setsid();
	(void)session;	/* stays open: closing it would drop the preserved memfd */
	for (;;)
		pause();
}

static int cmd_save(const char *path)
{
	struct liveupdate_ioctl_create_session cs = { .size = sizeof(cs) };
	struct liveupdate_session_preserve_fd pf = { .size = sizeof(pf) };
	int dev, in, mfd;
	size_t size;

	dev = open(DEV, O_RDWR);
	if (dev < 0)
		die("open " DEV);
	strcpy((char *)cs.name, SESSION);
	if (ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &cs) < 0)
		die("ioctl LIVEUPDATE_IOCTL_CREATE_SESSION \"" SESSION "\"");

	mfd = memfd_create("lu-demo", 0);
	if (mfd < 0)
		die("memfd_create");
	in = open(path, O_RDONLY);
	if (in < 0)
		die("open input file");
	size = copy_fd(in, mfd, "read input file", "write memfd");
	close(in);

	pf.fd = mfd;
	pf.token = TOKEN;
	if (ioctl(cs.fd, LIVEUPDATE_SESSION_PRESERVE_FD, &pf) < 0)
		die("ioctl LIVEUPDATE_SESSION_PRESERVE_FD");
	printf("lu-demo: preserved %zu bytes of %s (session \"%s\", token %d)\n",
	       size, path, SESSION, TOKEN);

	close(mfd);	/* the session holds its own reference */
	close(dev);	/* sessions outlive /dev/liveupdate */
	fflush(stdout);
	hold_session(cs.fd);
	return 0;
}

static int cmd_restore(const char *path)
{
	struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs) };
	struct liveupdate_session_retrieve_fd rf = { .size = sizeof(rf) };
	struct liveupdate_session_finish fin = { .size = sizeof(fin) };
	struct stat st;
	int dev, out;
	size_t size;

	dev = open(DEV, O_RDWR);
	if (dev < 0)
		die("open " DEV);
	strcpy((char *)rs.name, SESSION);
	if (ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs) < 0)
		die("ioctl LIVEUPDATE_IOCTL_RETRIEVE_SESSION \"" SESSION "\"");

	rf.token = TOKEN;
	if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) < 0)
		die("ioctl LIVEUPDATE_SESSION_RETRIEVE_FD");
	if (fstat(rf.fd, &st) < 0)
		die("fstat retrieved fd");

	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		die("open output file");
	size = copy_fd(rf.fd, out, "read retrieved memfd", "write output file");
	if (close(out) < 0)
		die("close output file");
	if ((off_t)size != st.st_size) {
		errno = EIO;
		die("read retrieved memfd (short)");
	}

	if (ioctl(rs.fd, LIVEUPDATE_SESSION_FINISH, &fin) < 0)
		die("ioctl LIVEUPDATE_SESSION_FINISH");
	printf("lu-demo: restored %zu bytes into %s (session \"%s\", token %d)\n",
	       size, path, SESSION, TOKEN);
	close(rf.fd);
	close(rs.fd);
	close(dev);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "save"))
		return cmd_save(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "restore"))
		return cmd_restore(argv[2]);
	fprintf(stderr, "usage: lu-demo save FILE | lu-demo restore OUT\n");
	return 2;
}
