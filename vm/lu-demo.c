// SPDX-License-Identifier: GPL-2.0
/*
 * lu-demo: carries one file's bytes across a kexec in a memfd, through
 * /dev/liveupdate and libliveupdate (run by vm/demo inside the VM).
 *
 *   lu-demo save FILE    before the kexec: preserve a sealed copy of FILE
 *                        (session "demo", token 1, named "data" in the
 *                        session's manifest); a child process keeps the
 *                        session open until the kexec.
 *   lu-demo restore OUT  after the kexec: find "data" in the manifest,
 *                        write its bytes to OUT and finish the session.
 *
 * Every failure prints the call and the error and exits 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libliveupdate.h"

#define SESSION "demo"
#define TOKEN 1

static int check(int r, const char *call)
{
	if (r < 0) {
		fprintf(stderr, "lu-demo: %s: %s\n", call, strerror(-r));
		exit(1);
	}
	return r;
}

/* Keeps @session open in a detached child, so the kernel carries it over. */
static void hold_session(int session)
{
	pid_t pid = fork();
	int null;

	check(pid < 0 ? -errno : 0, "fork");
	if (pid > 0) {
		printf("lu-demo: session kept open by pid %d\n", (int)pid);
		return;
	}
	/* Child: never hold the console (the caller waits for its output). */
	null = open("/dev/null", O_RDWR);
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
	static const struct liveupdate_manifest_entry manifest[] = { { TOKEN, "data" } };
	int dev = check(liveupdate_open(LIVEUPDATE_OPEN_WAIT), "open " LIVEUPDATE_DEVICE);
	int s = check(liveupdate_create_session(dev, SESSION), "create session \"" SESSION "\"");
	int in = open(path, O_RDONLY | O_CLOEXEC);
	off_t size;

	check(in < 0 ? -errno : 0, "open input file");
	size = lseek(in, 0, SEEK_END);
	lseek(in, 0, SEEK_SET);
	check(liveupdate_preserve_file(s, TOKEN, in), "preserve the file");
	check(liveupdate_manifest_write(s, manifest, 1), "write the manifest");
	close(in);
	printf("lu-demo: preserved %lld bytes of %s (session \"%s\", token %d)\n",
	       (long long)size, path, SESSION, TOKEN);
	close(dev);	/* sessions outlive /dev/liveupdate */
	fflush(stdout);
	hold_session(s);
	return 0;
}

static int cmd_restore(const char *path)
{
	struct liveupdate_manifest_entry *m = NULL;
	int dev = check(liveupdate_open(LIVEUPDATE_OPEN_WAIT), "open " LIVEUPDATE_DEVICE);
	int s = check(liveupdate_retrieve_session(dev, SESSION), "retrieve session \"" SESSION "\"");
	uint64_t token = 0;
	size_t n = 0, len = 0, done = 0;
	void *buf = NULL;
	FILE *out;

	check(liveupdate_manifest_read(s, &m, &n), "read the manifest");
	check(liveupdate_manifest_find(m, n, "data", &token), "find \"data\" in the manifest");
	check(liveupdate_retrieve_buffer(s, token, &buf, &len), "retrieve the file");
	out = fopen(path, "wb");
	check(out ? 0 : -errno, "open output file");
	if (len)
		done = fwrite(buf, 1, len, out);
	check(fclose(out) || done != len ? -EIO : 0, "write output file");
	check(liveupdate_finish(s), "finish the session");
	printf("lu-demo: restored %zu bytes into %s (session \"%s\", token %llu)\n",
	       len, path, SESSION, (unsigned long long)token);
	free(buf);
	free(m);
	close(s);
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
