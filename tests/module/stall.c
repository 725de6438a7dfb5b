// SPDX-License-Identifier: GPL-2.0
/*
 * A caller whose ioctl reply cannot be written (its argument is on a page
 * userfaultfd keeps write-protected) stalls only itself: meanwhile other
 * sessions' ioctls, CREATE_SESSION, closing a session and reading
 * handover_status all finish (lu_stalled_ioctl()). RETRIEVE_SESSION and
 * RETRIEVE_FD get the same test in the kexec chain (tests/kexec/stall.c).
 */
#include "harness.h"

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

static const struct lu_test tests[] = {
	LU_TEST(get_name_stalled),
	LU_TEST(create_session_stalled),
};

int main(int argc, char **argv)
{
	return lu_main("module/stall", tests, LU_ARRAY_SIZE(tests), argc, argv);
}
