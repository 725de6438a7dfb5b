// SPDX-License-Identifier: GPL-2.0
/*
 * The frozen format-1 handover (tests/golden/format1.img): what every future
 * module must load byte-exactly. "prep" makes the sessions the image was cut
 * from (tests/golden/make-format1 ran it once and dumped the range in the
 * next boot); "check" runs after lu-poke wrote the image into the range and
 * the module loaded it: every session, token, size, byte, seal and position.
 * Never change the table below without cutting a new image for a new format
 * version; the old image stays, and so does its check.
 */
#include "kx.h"

struct golden_file {
	const char *session;
	uint64_t token;
	uint64_t size;
	uint64_t seed;		/* LU_ZEROS: a hole, with "GOLD" at 0 and 40000 */
	int seals;		/* the user's; WRITE-type seals are added last */
	long long pos;
};

#define GOLDEN_LONG "golden-63-bytes-name-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxZ"

static const struct golden_file golden_files[] = {
	{ "golden-a", 1, 0, 1, 0, 0 },
	{ "golden-a", 2, 1, 2, 0, 1 },
	{ "golden-a", 3, 4097, 3, F_SEAL_SHRINK, 4097 },
	{ "golden-a", 0xfedcba9876543210ULL, 65536, LU_ZEROS,
	  F_SEAL_SHRINK | F_SEAL_GROW, 12 },
	{ "golden-b", 7, 12345, 7, F_SEAL_SEAL | F_SEAL_WRITE, 100 },
	{ GOLDEN_LONG, 42, 3, 42, F_SEAL_FUTURE_WRITE, 2 },
};

static const char *const golden_sessions[] = {
	"golden-a", "golden-empty", "golden-b", GOLDEN_LONG,
};

static int golden_memfd(const struct golden_file *g)
{
	int m;

	if (g->seed != LU_ZEROS)
		return CHECK_OK(lu_memfd("golden", MFD_ALLOW_SEALING, g->size, g->seed));
	m = CHECK_OK(lu_memfd_sparse("golden", MFD_ALLOW_SEALING, g->size));
	CHECK_EQ(lu_pwrite(m, "GOLD", 4, 0), 4);
	CHECK_EQ(lu_pwrite(m, "GOLD", 4, 40000), 4);
	return m;
}

static void golden_prep(void)
{
	int dev = CHECK_OK(lu_open_dev());
	int s[LU_ARRAY_SIZE(golden_sessions)];

	for (size_t i = 0; i < LU_ARRAY_SIZE(golden_sessions); i++)
		s[i] = CHECK_OK(lu_create_session(dev, golden_sessions[i]));
	for (size_t i = 0; i < LU_ARRAY_SIZE(golden_files); i++) {
		const struct golden_file *g = &golden_files[i];
		int m = golden_memfd(g), k = 0;

		while (strcmp(golden_sessions[k], g->session))
			k++;
		if (g->seals)
			CHECK_EQ(lu_add_seals(m, g->seals), 0);
		CHECK(lseek(m, g->pos, SEEK_SET) == g->pos);
		CHECK_EQ(lu_preserve_fd(s[k], m, g->token), 0);
		close(m);
	}
	close(dev);
	kx_hold(s, LU_ARRAY_SIZE(golden_sessions));
}

/* Every golden session and file, as the image has them; all finished. */
static void golden_expect(int dev)
{
	int s[LU_ARRAY_SIZE(golden_sessions)];
	char buf[4];

	for (size_t i = 0; i < LU_ARRAY_SIZE(golden_sessions); i++) {
		char name[LIVEUPDATE_SESSION_NAME_LENGTH];

		s[i] = CHECK_OK(lu_retrieve_session(dev, golden_sessions[i]));
		CHECK_EQ(lu_get_name(s[i], name), 0);
		EXPECT_STR(name, golden_sessions[i]);
	}
	for (size_t i = 0; i < LU_ARRAY_SIZE(golden_files); i++) {
		const struct golden_file *g = &golden_files[i];
		int k = 0, fd;

		while (strcmp(golden_sessions[k], g->session))
			k++;
		fd = CHECK_OK(lu_retrieve_fd(s[k], g->token));
		if (g->seed != LU_ZEROS) {
			kx_expect_memfd(fd, g->size, g->seed);
		} else {
			EXPECT_EQ(lu_fsize(fd), g->size);
			EXPECT_EQ(lu_accmode(fd), O_RDWR);
			CHECK_EQ(lu_pread(fd, buf, 4, 0), 4);
			EXPECT(!memcmp(buf, "GOLD", 4));
			CHECK_EQ(lu_pread(fd, buf, 4, 40000), 4);
			EXPECT(!memcmp(buf, "GOLD", 4));
			EXPECT_EQ(lu_compare(fd, 4, 40000 - 4, LU_ZEROS), 0);
			EXPECT_EQ(lu_compare(fd, 40004, g->size - 40004, LU_ZEROS), 0);
		}
		if (lu_seals(fd) != g->seals || lu_fpos(fd) != g->pos)
			lu_diag("token %#llx", (unsigned long long)g->token);
		EXPECT_EQ(lu_seals(fd), g->seals);
		EXPECT_EQ(lu_fpos(fd), g->pos);
		close(fd);
	}
	/* what the module says it loaded: the image's own figures */
	EXPECT_STR(lu_param("last_handover") ?: "",
		   lu_fmt("status loaded\nsessions 4\nfiles 6\nbytes 82656\nwrite_us 5759\n%s",
			  strstr(lu_param("last_handover") ?: "", "check_us") ?: ""));
	/* nothing else came */
	EXPECT_EQ(lu_retrieve_fd(s[1], 1), -ENOENT);
	EXPECT_EQ(lu_retrieve_fd(s[0], 4), -ENOENT);
	for (size_t i = 0; i < LU_ARRAY_SIZE(golden_sessions); i++) {
		EXPECT_EQ(lu_finish(s[i]), 0);
		close(s[i]);
	}
}

static void golden_check(void)
{
	int dev = kx_open_dev_status("pending", "loaded");

	golden_expect(dev);
	close(dev);
}

/*
 * The same with migrate=1 and a PRESERVE_FD before any retrieve: that makes
 * the range RAM, which maps it anew, while the format-1 files still point
 * into the first mapping (it must stay). Each restored file gives back the
 * range pages its data fills whole: 15 + 2 of the image's 21 pages (the
 * 64 KiB file's and the 12345-byte one's; the others share pages).
 */
static void golden_check_migrate(void)
{
	int dev = kx_open_dev_status("pending", "loaded");
	int s = CHECK_OK(lu_create_session(dev, "golden-new"));
	int m = CHECK_OK(lu_memfd("golden-new", 0, LU_MiB, 0x60));
	long long taken;

	EXPECT_EQ(lu_param_field("space", "taken"), 21 * 4096);
	CHECK_EQ(lu_write_text(LU_PARAM_DIR "/migrate", "1"), 0);
	EXPECT_EQ(lu_preserve_fd(s, m, 1), 0);
	CHECK_EQ(lu_write_text(LU_PARAM_DIR "/migrate", "0"), 0);
	EXPECT(strstr(lu_param("space") ?: "", "zerocopy yes\n"));
	taken = lu_param_field("space", "taken");
	golden_expect(dev);
	EXPECT_EQ(taken - lu_param_field("space", "taken"), 17 * 4096);
	EXPECT_EQ(lu_compare(m, 0, LU_MiB, 0x60), 0);
	close(m);
	close(s);
	close(dev);
}

/* tests/golden/make-format1 cut format1.img with this, under format 1 */
KX_TOOL_SCENARIO(kx_golden_image, "golden-image",
	         { "prep", golden_prep,
	           "makes the sessions tests/golden/format1.img was cut from (run by tests/golden/make-format1 only)" });
KX_SCENARIO(kx_golden, "golden",
	    { "check", golden_check,
	      "the frozen format-1 image loads: every session, token, size, byte, seal and position as cut, last_handover the image's own figures, nothing else; FINISH 0" },
	    { "check-migrate", golden_check_migrate,
	      "with the format-1 image loaded, migrate=1 moves a new 1 MiB memfd into the range (space taken 21 pages before, 17 pages given back by the golden sessions' finish, zerocopy yes) and the image still checks out" });
