// SPDX-License-Identifier: GPL-2.0
/*
 * RETRIEVE_SESSION and RETRIEVE_FD whose reply stalls (the argument is on a
 * page userfaultfd keeps write-protected) hold up nobody else: other
 * sessions' ioctls and handover_status finish meanwhile (lu_stalled_ioctl()),
 * and the stalled calls complete once their page is writable.
 */
#include "kx.h"

#define STALL_NAME	"kx-stall"
#define STALL_SIZE	5000
#define STALL_SEED	0x57a11

static void stall_stage1(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, STALL_NAME));
	int m = CHECK_OK(lu_memfd("kx-stall", 0, STALL_SIZE, STALL_SEED));

	CHECK_EQ(lu_preserve_fd(s, m, 5), 0);
	close(m);
	close(dev);
	kx_hold(&s, 1);
}

static void stall_stage2(void)
{
	struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs), .fd = -1 };
	struct liveupdate_session_retrieve_fd rf = {
		.size = sizeof(rf), .fd = -1, .token = 5,
	};
	struct liveupdate_ioctl_retrieve_session *rs_reply;
	struct liveupdate_session_retrieve_fd *rf_reply;
	struct lu_stall st;
	int dev = CHECK_OK(lu_open_dev());
	int s;

	strcpy((char *)rs.name, STALL_NAME);
	EXPECT_EQ(lu_stalled_ioctl(&st, dev, dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
				   &rs, sizeof(rs), "RETRIEVE_SESSION"), 0);
	rs_reply = st.page;
	s = rs_reply->fd;
	CHECK(s >= 0);
	EXPECT_SESSION_LINK(s, STALL_NAME);
	EXPECT_EQ(lu_retrieve_session(dev, STALL_NAME), -EINVAL);

	EXPECT_EQ(lu_stalled_ioctl(&st, dev, s, LIVEUPDATE_SESSION_RETRIEVE_FD,
				   &rf, sizeof(rf), "RETRIEVE_FD"), 0);
	rf_reply = st.page;
	kx_expect_memfd(rf_reply->fd, STALL_SIZE, STALL_SEED);
	EXPECT_EQ(lu_finish(s), 0);
	close(rf_reply->fd);
	close(s);
	close(dev);
}

KX_SCENARIO(kx_stall, "stall",
	    { "stage1", stall_stage1,
	      "a session with one memfd preserves" },
	    { "stage2", stall_stage2,
	      "RETRIEVE_SESSION and RETRIEVE_FD whose reply page userfaultfd keeps write-protected stall alone: other ioctls and handover_status finish meanwhile, and the stalled calls complete with the right session and bytes; FINISH 0" });
