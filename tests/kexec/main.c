// SPDX-License-Identifier: GPL-2.0
/* lu-kexec: runs one stage of one cross-kexec scenario (see kx.h). */
#include "kx.h"

#include <sys/wait.h>

extern const struct kx_scenario kx_status, kx_one, kx_multi, kx_seals,
	kx_finish, kx_proto, kx_sessions2000, kx_files500, kx_big,
	kx_unretrieved, kx_nospc, kx_corrupt_data, kx_corrupt_version,
	kx_corrupt_garbage, kx_consumed, kx_trail, kx_golden, kx_lib,
	kx_stall, kx_killrestore, kx_corrupt_overlap, kx_agent, kx_wronly,
	kx_zc_big, kx_zc_writer, kx_zc_punch, kx_zc_pressure, kx_zc_fork,
	kx_zc_offline, kx_zc_status, kx_zc_fallback, kx_zc_sealed, kx_zc_migrate, kx_zc_thp, kx_zc_room, kx_zc_fault, kx_swap_sealed, kx_zc_dio,
	kx_sessions_param;

static const struct kx_scenario *const scenarios[] = {
	&kx_status, &kx_one, &kx_multi, &kx_seals, &kx_finish, &kx_proto,
	&kx_sessions2000, &kx_files500, &kx_big, &kx_unretrieved, &kx_nospc,
	&kx_corrupt_data, &kx_corrupt_version, &kx_corrupt_garbage,
	&kx_consumed, &kx_trail, &kx_golden, &kx_lib,
	&kx_stall, &kx_killrestore, &kx_corrupt_overlap, &kx_agent, &kx_wronly,
	&kx_zc_big, &kx_zc_writer, &kx_zc_punch, &kx_zc_pressure, &kx_zc_fork,
	&kx_zc_offline, &kx_zc_status, &kx_zc_fallback, &kx_zc_sealed, &kx_zc_migrate, &kx_zc_thp, &kx_zc_room, &kx_zc_fault, &kx_swap_sealed, &kx_zc_dio,
	&kx_sessions_param,
};

const char *kx_stage_arg;

void kx_hold(const int *fds, int n)
{
	CHECK_EQ(lu_hold_fds(fds, n), 0);
}

void kx_expect_memfd(int fd, uint64_t size, uint64_t seed)
{
	const char *link = lu_fd_link(fd);

	CHECK(fd >= 0);
	EXPECT_EQ(lu_fsize(fd), size);
	EXPECT_EQ(lu_compare(fd, 0, size, seed), 0);
	EXPECT_EQ(lu_accmode(fd), O_RDWR);
	EXPECT_EQ(lu_cloexec(fd), 1);
	EXPECT(link && !strncmp(link, "/memfd:", 7));
	if (link && strncmp(link, "/memfd:", 7))
		lu_diag("fd link: %s", link);
}

int kx_open_dev_status(const char *before, const char *after)
{
	int dev;

	if (before)
		EXPECT_STR(lu_status(), before);
	dev = CHECK_OK(lu_open_dev());
	if (after)
		EXPECT_STR(lu_status(), after);
	return dev;
}

static void usage(void)
{
	fprintf(stderr, "usage: lu-kexec SCENARIO STAGE\n");
	for (size_t i = 0; i < LU_ARRAY_SIZE(scenarios); i++) {
		fprintf(stderr, "  %s:", scenarios[i]->name);
		for (size_t j = 0; j < scenarios[i]->nstages; j++)
			fprintf(stderr, " %s", scenarios[i]->stages[j].name);
		fprintf(stderr, "\n");
	}
}

int main(int argc, char **argv)
{
	const char *boot = getenv("LU_STAGE");
	const struct kx_scenario *sc = NULL;
	struct lu_test t = { NULL, NULL };

	if (argc != 3) {
		usage();
		return 2;
	}
	for (size_t i = 0; i < LU_ARRAY_SIZE(scenarios); i++)
		if (!strcmp(scenarios[i]->name, argv[1]))
			sc = scenarios[i];
	if (!sc) {
		usage();
		return 2;
	}
	for (size_t j = 0; j < sc->nstages; j++)
		if (!strcmp(sc->stages[j].name, argv[2]) || !strcmp(sc->stages[j].name, "*")) {
			t.fn = sc->stages[j].fn;
			break;
		}
	if (!t.fn) {
		usage();
		return 2;
	}
	kx_stage_arg = argv[2];
	t.name = argv[2];
	/* LU_TAP_PREFIX names the test instead, e.g. matrix/6.1->7.2 */
	if (getenv("LU_TAP_PREFIX"))
		return lu_main(lu_fmt("%s/%s", getenv("LU_TAP_PREFIX"), sc->name), &t, 1, 1, argv);
	return lu_main(lu_fmt("kexec/b%s/%s", boot ? boot : "0", sc->name), &t, 1, 1, argv);
}
