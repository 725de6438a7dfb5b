// SPDX-License-Identifier: GPL-2.0
/*
 * libliveupdate against the module in one boot: the device open and its
 * bounded EBUSY retry, sessions, preserve helpers, the manifest write, and
 * errors passed through unchanged. Retrieving is in tests/kexec/libkx.c.
 */
#include "harness.h"
#include "libliveupdate.h"

#include <sys/wait.h>

static void open_busy_retry(void)
{
	int dev = CHECK_OK(liveupdate_open(0));
	int status;
	pid_t pid;

	EXPECT_EQ(lu_cloexec(dev), 1);
	EXPECT_EQ(liveupdate_available(), 1);
	/* held by us: a plain open is EBUSY at once */
	EXPECT_EQ(liveupdate_open(0), -EBUSY);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		usleep(300000);
		_exit(0);	/* closes the inherited device fd */
	}
	close(dev);
	/* the child still holds it for 0.3 s: WAIT gets it after that */
	dev = liveupdate_open(LIVEUPDATE_OPEN_WAIT);
	EXPECT(dev >= 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	if (dev >= 0)
		close(dev);
	/* held for longer than the bound: EBUSY after ~5 s, not forever */
	dev = CHECK_OK(liveupdate_open(0));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		double t0 = lu_now();
		int r = liveupdate_open(LIVEUPDATE_OPEN_WAIT);

		_exit(r == -EBUSY && lu_now() - t0 > 4.5 && lu_now() - t0 < 10 ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(dev);
}

static void sessions_and_errors(void)
{
	int dev = CHECK_OK(liveupdate_open(0));
	int s = CHECK_OK(liveupdate_create_session(dev, "lib-s"));
	char name[LIVEUPDATE_NAME_MAX + 1];
	char n63[64];

	EXPECT_EQ(lu_cloexec(s), 1);
	CHECK_EQ(liveupdate_session_name(s, name), 0);
	EXPECT_STR(name, "lib-s");
	/* the kernel's errors come back as they are */
	EXPECT_EQ(liveupdate_create_session(dev, "lib-s"), -EEXIST);
	EXPECT_EQ(liveupdate_create_session(dev, ""), -EINVAL);
	EXPECT_EQ(liveupdate_retrieve_session(dev, "lib-s"), -ENOENT);
	EXPECT_EQ(liveupdate_retrieve_fd(s, 1), -EINVAL);	/* outgoing */
	EXPECT_EQ(liveupdate_finish(s), -EINVAL);
	EXPECT_EQ(liveupdate_preserve_fd(s, 1, -1), -EBADF);
	memset(n63, 'q', 63);
	n63[63] = 0;
	close(CHECK_OK(liveupdate_create_session(dev, n63)));
	close(s);
	close(dev);
}

static void preserve_helpers(void)
{
	int dev = CHECK_OK(liveupdate_open(0));
	int s = CHECK_OK(liveupdate_create_session(dev, "lib-p"));
	int src = CHECK_OK(lu_memfd("lib-src", 0, 10000, 3));
	struct liveupdate_manifest_entry e[2] = { { 1, "buf" }, { 2, "file" } };

	EXPECT_EQ(liveupdate_preserve_buffer(s, 1, "hello", 5), 0);
	EXPECT_EQ(liveupdate_preserve_file(s, 2, src), 0);
	EXPECT_EQ(liveupdate_preserve_buffer(s, 1, "again", 5), -EEXIST);
	/* the source is copied, not preserved itself: it can be preserved too */
	EXPECT_EQ(liveupdate_preserve_fd(s, 3, src), 0);
	EXPECT_EQ(liveupdate_manifest_write(s, e, 2), 0);
	EXPECT_EQ(liveupdate_manifest_write(s, e, 2), -EEXIST);	/* token 0 taken */
	close(s);
	/* bad manifests are refused before anything is preserved */
	s = CHECK_OK(liveupdate_create_session(dev, "lib-p"));
	e[1].token = 1;
	EXPECT_EQ(liveupdate_manifest_write(s, e, 2), -EINVAL);
	e[1].token = 0;
	EXPECT_EQ(liveupdate_manifest_write(s, e, 2), -EINVAL);
	e[1].token = 2;
	strcpy(e[1].name, "has space");
	EXPECT_EQ(liveupdate_manifest_write(s, e, 2), -EINVAL);
	/* token 0 is still free */
	EXPECT_EQ(liveupdate_preserve_buffer(s, 0, "x", 1), 0);
	close(s);
	close(src);
	close(dev);
}

static const struct lu_test tests[] = {
	LU_TEST_D(open_busy_retry,
		  "liveupdate_open: FD_CLOEXEC; EBUSY at once while held; WAIT gets it after the holder's 0.3 s; EBUSY after 4.5-10 s when held longer"),
	LU_TEST_D(sessions_and_errors,
		  "library sessions: FD_CLOEXEC, the name; the kernel's EEXIST, EINVAL, ENOENT, EBADF come back unchanged; a 63-byte name works"),
	LU_TEST_D(preserve_helpers,
		  "preserve_buffer, preserve_file (source copied, still preservable), manifest_write (once: token 0 EEXIST); bad manifests EINVAL before anything is preserved"),
};

int main(int argc, char **argv)
{
	return lu_main("module/lib", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
