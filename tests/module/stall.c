// SPDX-License-Identifier: GPL-2.0
/*
 * A caller whose ioctl reply cannot be written (its argument is on a page
 * userfaultfd keeps write-protected) stalls only itself: meanwhile other
 * sessions' ioctls, CREATE_SESSION, closing a session and reading
 * handover_status all finish (lu_stalled_ioctl()). RETRIEVE_SESSION and
 * RETRIEVE_FD get the same test in the kexec chain (tests/kexec/stall.c).
 * And a PRESERVE_FD that waits for its memfd's inode lock, held by a write
 * stalled on a missing userfaultfd page, holds up nobody else either.
 */
#include "harness.h"

#include <pthread.h>

static void get_name_stalled(void)
{
	struct liveupdate_session_get_name a = { .size = sizeof(a) };
	struct liveupdate_session_get_name *reply;
	struct lu_stall st;
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, "stall-get-name"));

	EXPECT_EQ(lu_stalled_ioctl(&st, dev, s, LIVEUPDATE_SESSION_GET_NAME, &a,
				   sizeof(a), "GET_NAME"), 0);
	reply = st.page;
	EXPECT_STR((char *)reply->name, "stall-get-name");
	close(s);
	close(dev);
}

static void create_session_stalled(void)
{
	struct liveupdate_ioctl_create_session a = { .size = sizeof(a), .fd = -1 };
	struct liveupdate_ioctl_create_session *reply;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct lu_stall st;
	int dev = CHECK_OK(lu_open_dev());

	strcpy((char *)a.name, "stall-create");
	EXPECT_EQ(lu_stalled_ioctl(&st, dev, dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &a,
				   sizeof(a), "CREATE_SESSION"), 0);
	reply = st.page;
	/* the stalled call still made its session */
	CHECK(reply->fd >= 0);
	CHECK_EQ(lu_get_name(reply->fd, name), 0);
	EXPECT_STR(name, "stall-create");
	EXPECT_EQ(lu_create_session(dev, "stall-create"), -EEXIST);
	close(reply->fd);
	close(dev);
}

/* write(2) of the (missing) page into the memfd: stalls holding its i_rwsem */
static int write_missing_page(struct lu_stall *st)
{
	ssize_t n = write(st->fd, st->page, 4096);

	return n < 0 ? -errno : (int)n;
}

struct preserver {
	int s, m, ret;
	volatile int tid;
};

static void *preserve_thread(void *p)
{
	struct preserver *pr = p;

	pr->tid = gettid();
	pr->ret = lu_preserve_fd(pr->s, pr->m, 1);
	return NULL;
}

/* the state letter of one of our threads ('D': waiting uninterruptibly) */
static char thread_state(int tid)
{
	char buf[512], *p;
	FILE *f = fopen(lu_fmt("/proc/self/task/%d/stat", tid), "r");
	size_t n;

	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

static void preserve_fd_inode_stalled(void)
{
	struct preserver pr = { .ret = 1 };
	struct lu_stall st;
	pthread_t t;
	double end;
	pid_t pid;
	int dev = CHECK_OK(lu_open_dev()), r;

	pr.s = CHECK_OK(lu_create_session(dev, "stall-preserve"));
	pr.m = CHECK_OK(lu_memfd("stall-preserve", 0, 4096, 5));
	r = lu_stall_missing_start(&st, pr.m, write_missing_page, 10);
	if (r == -EOPNOTSUPP) {
		lu_stall_end(&st);
		SKIP("userfaultfd is not available");
	}
	if (r) {
		lu_diag("the write did not stall: %s", lu_val(r));
		EXPECT_EQ(r, 0);
		lu_stall_end(&st);
		return;
	}
	/* PRESERVE_FD now waits for the inode lock the write holds */
	CHECK_EQ(pthread_create(&t, NULL, preserve_thread, &pr), 0);
	end = lu_now() + 10;
	while ((!pr.tid || thread_state(pr.tid) != 'D') && lu_now() < end)
		usleep(10000);
	if (!pr.tid || thread_state(pr.tid) != 'D')
		lu_diag("PRESERVE_FD did not block on the inode lock (state %c)",
			pr.tid ? thread_state(pr.tid) : '?');
	/* else the preserve did not wait for the write and this tests nothing */
	EXPECT(pr.tid && thread_state(pr.tid) == 'D');
	EXPECT_EQ(lu_others_finish(dev, "PRESERVE_FD (waiting for the inode lock)", &pid), 0);
	EXPECT_EQ(lu_stall_end(&st), 4096);
	pthread_join(t, NULL);
	lu_child_reap(pid);
	/* once the write is through, the preserve is too */
	EXPECT_EQ(pr.ret, 0);
	EXPECT_EQ(lu_ftruncate(pr.m, 1), -EPERM);
	close(pr.s);
	EXPECT_EQ(lu_ftruncate(pr.m, 1), 0);
	close(pr.m);
	close(dev);
}

struct closer {
	int s;
	volatile int done;
};

static void *close_thread(void *p)
{
	struct closer *c = p;

	close(c->s);
	c->done = 1;
	return NULL;
}

/*
 * Closing the session of a preserved memfd while a write into it stalls
 * holding its inode lock: close() returns at once (old: it waited in D
 * state for the lock until the write went through). The memfd is let go
 * once the write is through, meanwhile PRESERVE_FD of it gives EBUSY; then
 * it is shmem's again: truncatable, preservable.
 */
static void close_session_inode_stalled(void)
{
	struct closer c = { 0 };
	struct lu_stall st;
	pthread_t t;
	double end;
	int dev = CHECK_OK(lu_open_dev()), m, s2, r;

	c.s = CHECK_OK(lu_create_session(dev, "stall-close"));
	m = CHECK_OK(lu_memfd("stall-close", 0, 4096, 6));
	CHECK_EQ(lu_preserve_fd(c.s, m, 1), 0);
	r = lu_stall_missing_start(&st, m, write_missing_page, 10);
	if (r == -EOPNOTSUPP) {
		lu_stall_end(&st);
		SKIP("userfaultfd is not available");
	}
	CHECK_EQ(r, 0);
	CHECK_EQ(pthread_create(&t, NULL, close_thread, &c), 0);
	end = lu_now() + 5;
	while (!c.done && lu_now() < end)
		usleep(10000);
	EXPECT(c.done);	/* within 5 s */
	/* not let go yet (a truncate would wait for the lock): not preservable */
	s2 = CHECK_OK(lu_create_session(dev, "stall-close2"));
	if (c.done)
		EXPECT_EQ(lu_preserve_fd(s2, m, 1), -EBUSY);
	EXPECT_EQ(lu_stall_end(&st), 4096);
	pthread_join(t, NULL);
	/* the worker lets it go once the write is through */
	end = lu_now() + 10;
	while ((r = lu_ftruncate(m, 1)) == -EPERM && lu_now() < end)
		usleep(10000);
	EXPECT_EQ(r, 0);
	EXPECT_EQ(lu_fsize(m), 1);
	EXPECT_EQ(lu_preserve_fd(s2, m, 1), 0);
	close(s2);
	close(m);
	close(dev);
}

static const struct lu_test tests[] = {
	LU_TEST_D(get_name_stalled,
		  "a GET_NAME whose reply page userfaultfd holds stalls only itself: other ioctls, CREATE, close, handover_status finish meanwhile; its reply is the name"),
	LU_TEST_D(create_session_stalled,
		  "a CREATE_SESSION whose reply is stalled blocks nobody else, and still made its session (its name, EEXIST again)"),
	LU_TEST_D(preserve_fd_inode_stalled,
		  "a PRESERVE_FD waiting (state D) for the inode lock of a stalled write blocks nobody else; it succeeds once the write is through (size frozen)"),
	LU_TEST_D(close_session_inode_stalled,
		  "closing a session while a write into its memfd stalls returns within 5 s; the memfd is EBUSY until the write is through, then truncatable and preservable"),
};

int main(int argc, char **argv)
{
	return lu_main("module/stall", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
