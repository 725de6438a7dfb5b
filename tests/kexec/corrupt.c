// SPDX-License-Identifier: GPL-2.0
/*
 * A damaged or stale handover is refused cleanly. Each corruption scenario
 * has a "prep" stage (a boot commits a handover) and a "check" stage (the
 * next boot, after `lu-poke ...` changed the range through /dev/mem and
 * before the module was loaded): /dev/liveupdate opens, handover_status
 * says why, every RETRIEVE_SESSION gives ENOENT, the kernel log has a
 * warning/error "liveupdate: ...handover..." line, and the module keeps
 * working.
 *
 * Damaged data is the exception (format 2): it is found lazily, at the
 * file's first RETRIEVE_FD, and only that file is lost:
 *
 *   corrupt-data     lu-poke data-byte  -> "loaded"; the session and its
 *                    other file come back, the damaged file's RETRIEVE_FD
 *                    gives EIO (every time), the kernel log has a
 *                    "liveupdate: ...checksum..." line
 *   corrupt-version  lu-poke version 99 -> "version"
 *   corrupt-garbage  lu-poke garbage    -> "corrupt"
 *   corrupt-overlap  lu-poke overlap    -> "corrupt" (one file's data inside
 *                    another's, every crc right: the extents must be
 *                    disjoint), and the log says "overlap"
 *   consumed         "load": the boot loads the handover, closes everything
 *                    and unloads the module (so the kexec commits nothing);
 *                    "check": the next boot reports "consumed".
 */
#include "kx.h"

#include <sys/klog.h>

#define KLOG_NEEDLE "liveupdate:"

/*
 * Counts (and with @print shows) this boot's kernel log lines that contain
 * KLOG_NEEDLE and "handover" at warning level or worse ("<0>".."<4>"):
 * how the module reports a refused handover. When it logs it (at module
 * load or at the first open) is not specified.
 */
static int klog_refusals(int print)
{
	return lu_dmesg_match(KLOG_NEEDLE, "handover", 4, print);
}

static void prep(const char *name)
{
	int dev = CHECK_OK(lu_open_dev());
	int s[2];

	s[0] = CHECK_OK(lu_create_session(dev, name));
	s[1] = CHECK_OK(lu_create_session(dev, lu_fmt("%s-empty", name)));
	CHECK_EQ(lu_preserve_fd(s[0], CHECK_OK(lu_memfd(name, 0, 4096, 0xc0)), 1), 0);
	CHECK_EQ(lu_preserve_fd(s[0], CHECK_OK(lu_memfd(name, 0, 100, 0xc1)), 2), 0);
	close(dev);
	kx_hold(s, 2);
}

/* the refusal, common to every kind */
static void refused(const char *name, const char *before, const char *status)
{
	int dev, s;

	dev = kx_open_dev_status(before, status);
	EXPECT_EQ(lu_retrieve_session(dev, name), -ENOENT);
	EXPECT_EQ(lu_retrieve_session(dev, lu_fmt("%s-empty", name)), -ENOENT);
	if (klog_refusals(1) < 1)
		lu_diag("no warning/error \"" KLOG_NEEDLE " ...handover...\" kernel log line");
	EXPECT(klog_refusals(0) >= 1);
	close(dev);
	/* opens again (no EIO), same answer */
	dev = CHECK_OK(lu_open_dev());
	EXPECT_STR(lu_status(), status);
	EXPECT_EQ(lu_retrieve_session(dev, name), -ENOENT);
	/* and the module still works for the next handover */
	s = CHECK_OK(lu_create_session(dev, name));
	EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("kx-cor", 0, 10, 1)), 1), 0);
	close(s);
	close(dev);
}

static void data_prep(void) { prep("kx-cor-data"); }

/*
 * lu-poke data-byte flipped a byte of the first file with checksummed data
 * in the handover's order: token 1 or 2, whichever the module wrote first.
 * Exactly one of them must be lost, the other intact.
 */
static void data_check(void)
{
	static const struct { uint64_t token, size, seed; } files[] = {
		{ 1, 4096, 0xc0 }, { 2, 100, 0xc1 },
	};
	int dev = kx_open_dev_status("pending", "loaded");
	int s, e, fd, damaged = 0;

	s = CHECK_OK(lu_retrieve_session(dev, "kx-cor-data"));
	e = CHECK_OK(lu_retrieve_session(dev, "kx-cor-data-empty"));
	for (size_t i = 0; i < LU_ARRAY_SIZE(files); i++) {
		fd = lu_retrieve_fd(s, files[i].token);
		if (fd == -EIO) {
			lu_diag("token %llu: EIO (the damaged one)",
				(unsigned long long)files[i].token);
			damaged++;
			/* for good, not just the first time */
			EXPECT_EQ(lu_retrieve_fd(s, files[i].token), -EIO);
			EXPECT_EQ(lu_retrieve_fd(s, files[i].token), -EIO);
			continue;
		}
		CHECK_OK(fd);
		kx_expect_memfd(fd, files[i].size, files[i].seed);
		close(fd);
	}
	EXPECT_EQ(damaged, 1);
	/* the data's damage refuses nothing else */
	EXPECT_STR(lu_status(), "loaded");
	if (lu_dmesg_match(KLOG_NEEDLE, "checksum", 7, 1) < 1)
		lu_diag("no \"" KLOG_NEEDLE " ...checksum...\" kernel log line");
	EXPECT(lu_dmesg_match(KLOG_NEEDLE, "checksum", 7, 0) >= 1);
	EXPECT_EQ(lu_finish(s), 0);
	EXPECT_EQ(lu_finish(e), 0);
	close(s);
	close(e);
	close(dev);
	/* opens again, same answer, and the module works for the next handover */
	dev = CHECK_OK(lu_open_dev());
	EXPECT_STR(lu_status(), "loaded");
	EXPECT_EQ(lu_retrieve_session(dev, "kx-cor-data"), -ENOENT);
	s = CHECK_OK(lu_create_session(dev, "kx-cor-data"));
	EXPECT_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("kx-cor", 0, 10, 1)), 1), 0);
	close(s);
	close(dev);
}

static void version_prep(void) { prep("kx-cor-version"); }
static void version_check(void) { refused("kx-cor-version", "pending", "version"); }
static void garbage_prep(void) { prep("kx-cor-garbage"); }
static void garbage_check(void) { refused("kx-cor-garbage", "pending", "corrupt"); }

static void overlap_prep(void) { prep("kx-cor-overlap"); }

static void overlap_check(void)
{
	refused("kx-cor-overlap", "pending", "corrupt");
	EXPECT(lu_dmesg_match(KLOG_NEEDLE, "overlap", 4, 1) >= 1);
}

KX_SCENARIO(kx_corrupt_data, "corrupt-data",
	    { "prep", data_prep,
	      "a session with files and an empty session preserve (the next boot flips a byte of one file's data)" },
	    { "check", data_check,
	      "handover_status 'loaded'; the damaged file's RETRIEVE_FD is EIO every time, exactly one file damaged, the others intact; a 'checksum' kernel log line; FINISH 0; the module takes a new handover" });
KX_SCENARIO(kx_corrupt_version, "corrupt-version",
	    { "prep", version_prep,
	      "a session with files and an empty session preserve (the next boot sets the handover version to 99)" },
	    { "check", version_check,
	      "handover_status 'version'; every session ENOENT, on a second open too; a warning 'handover' kernel log line; the module takes a new handover" });
KX_SCENARIO(kx_corrupt_garbage, "corrupt-garbage",
	    { "prep", garbage_prep,
	      "a session with files and an empty session preserve (the next boot overwrites the handover with garbage)" },
	    { "check", garbage_check,
	      "handover_status 'corrupt'; every session ENOENT, on a second open too; a warning 'handover' kernel log line; the module takes a new handover" });
KX_SCENARIO(kx_corrupt_overlap, "corrupt-overlap",
	    { "prep", overlap_prep,
	      "a session with files and an empty session preserve (the next boot makes one file's extent overlap another's, every crc right)" },
	    { "check", overlap_check,
	      "handover_status 'corrupt'; every session ENOENT; a kernel log line says 'overlap'; the module takes a new handover" });

/* ---- consumed ---- */

static void consumed_load(void)
{
	struct luo_handover_header h;
	struct lu_range r;
	int dev = CHECK_OK(lu_open_dev());

	/* this boot loaded a handover (retrieved by earlier stages) */
	EXPECT_STR(lu_status(), "loaded");
	close(dev);
	/* unload: the kexec that follows commits nothing */
	CHECK_EQ(lu_system("rmmod liveupdate"), 0);
	CHECK(!lu_module_loaded());
	/* the range now says that a kernel loaded it */
	CHECK_EQ(lu_range_open(&r, 0, 0, 0), 0);
	CHECK_EQ(lu_range_read(&r, 0, &h, sizeof(h)), 0);
	lu_range_close(&r);
	EXPECT_EQ(h.magic, LUO_HANDOVER_MAGIC);
	EXPECT_EQ(h.version, LUO_HANDOVER_VERSION);
	if (h.state != LUO_STATE_CLAIMED)
		lu_diag("state %#x (%s)", h.state, lu_state_name(h.state));
	EXPECT_EQ(h.state, LUO_STATE_CLAIMED);
}

/* Known at module load already: the range says CLAIMED. */
static void consumed_check(void)
{
	refused("kx-nospc", "consumed", "consumed");
}

KX_SCENARIO(kx_consumed, "consumed",
	    { "load", consumed_load,
	      "this boot's handover is 'loaded'; after rmmod the range's header has the magic, the version and state CLAIMED" },
	    { "check", consumed_check,
	      "the next boot reports handover_status 'consumed' (nothing committed by a kexec without the module)" });
