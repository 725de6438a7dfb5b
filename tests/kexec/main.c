// SPDX-License-Identifier: GPL-2.0
/* lu-kexec: runs one stage of one cross-kexec scenario (see kx.h). */
#include "kx.h"

#include <sys/wait.h>

/* the scenarios, registered by KX_SCENARIO() in their own files */
extern const struct kx_scenario *const __start_kx_scenarios[];
extern const struct kx_scenario *const __stop_kx_scenarios[];

extern const struct kx_scenario *const __start_kx_tools[];
extern const struct kx_scenario *const __stop_kx_tools[];

#define for_each_scenario(p) \
	for (const struct kx_scenario *const *p = __start_kx_scenarios; \
	     p < __stop_kx_scenarios; p++)

static const struct kx_scenario *kx_find(const char *name)
{
	for_each_scenario(p)
		if (!strcmp((*p)->name, name))
			return *p;
	for (const struct kx_scenario *const *p = __start_kx_tools; p < __stop_kx_tools; p++)
		if (!strcmp((*p)->name, name))
			return *p;
	return NULL;
}

const char *kx_stage_arg;

pid_t kx_fork(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	return pid;
}

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

long long kx_memstat(const char *cg, const char *key)
{
	return lu_key_number(lu_fmt("%s/memory.stat", cg), key, ' ');
}

static void usage(void)
{
	fprintf(stderr, "usage: lu-kexec [--list] SCENARIO STAGE | --scenarios\n");
	for_each_scenario(p) {
		fprintf(stderr, "  %s:", (*p)->name);
		for (size_t j = 0; j < (*p)->nstages; j++)
			fprintf(stderr, " %s", (*p)->stages[j].name);
		fprintf(stderr, "\n");
	}
}

/* The name this stage reports: kexec/bBOOT/SCENARIO/STAGE, or PREFIX/... */
static const char *kx_suite(const struct kx_scenario *sc)
{
	const char *boot = getenv("LU_STAGE");

	/* LU_TAP_PREFIX names the test instead, e.g. matrix/6.1->7.2 */
	if (getenv("LU_TAP_PREFIX"))
		return lu_fmt("%s/%s", getenv("LU_TAP_PREFIX"), sc->name);
	return lu_fmt("kexec/b%s/%s", boot ? boot : "0", sc->name);
}

int main(int argc, char **argv)
{
	const struct kx_scenario *sc = NULL;
	struct lu_test t = { NULL, NULL, NULL };
	size_t j;
	int list = argc > 1 && !strcmp(argv[1], "--list");

	/* --scenarios: "SCENARIO STAGE" of every stage a plan should run */
	if (argc == 2 && !strcmp(argv[1], "--scenarios")) {
		for_each_scenario(p)
			for (size_t j = 0; j < (*p)->nstages; j++)
				printf("%s %s\n", (*p)->name, (*p)->stages[j].name);
		return 0;
	}

	/* --list SCENARIO STAGE: the name that stage would report */
	if (list) {
		argv++;
		argc--;
	}
	if (argc != 3) {
		usage();
		return 2;
	}
	sc = kx_find(argv[1]);
	if (!sc) {
		usage();
		return 2;
	}
	for (j = 0; j < sc->nstages; j++)
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
	if (list) {
		printf("%s/%s%s%s\n", kx_suite(sc), t.name, sc->stages[j].desc ? "\t" : "",
		       sc->stages[j].desc ? sc->stages[j].desc : "");
		return 0;
	}
	return lu_main(kx_suite(sc), &t, 1, 1, argv);
}
