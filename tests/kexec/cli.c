// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdatectl get and a manifest it must not trust: a session whose
 * manifest names an entry "../kx-cli-escape" (the manifest is whatever the
 * session's maker wrote; libliveupdate's name rule lets '/' through).
 *
 * stage1: session kx-cli-bad with a 3000-byte memfd under token 1 and that
 *         manifest at token 0.
 * stage2: `liveupdatectl get kx-cli-bad --all /tmp/kx-cli` (liveupdatectl
 *         from /opt/lu, vm/run --file) must fail (exit 1) and write nothing
 *         outside /tmp/kx-cli (the old get wrote /tmp/kx-cli-escape); the
 *         session stays retrievable: by token, the bytes come back (the
 *         manifest's only entry: then it is finished, get --finish says 4).
 */
#include "kx.h"
#include "libliveupdate.h"

#include <sys/stat.h>
#include <sys/wait.h>

#define CLI_NAME	"kx-cli-bad"
#define CLI_SEED	0xc11ULL
#define CLI_BIN		"/opt/lu/liveupdatectl"

static void cli_stage1(void)
{
	static const char manifest[] = "liveupdate-manifest 1\n1 ../kx-cli-escape\n";
	int dev = CHECK_OK(lu_open_dev());
	int s = CHECK_OK(lu_create_session(dev, CLI_NAME));
	int m = CHECK_OK(liveupdate_memfd_from_buffer("kx-cli", manifest, sizeof(manifest) - 1));

	CHECK_EQ(lu_preserve_fd(s, CHECK_OK(lu_memfd("kx-cli", 0, 3000, CLI_SEED)), 1), 0);
	CHECK_EQ(lu_preserve_fd(s, m, LIVEUPDATE_MANIFEST_TOKEN), 0);
	close(dev);
	kx_hold(&s, 1);
}

/* runs liveupdatectl with @args (stdout and stderr to /dev/null); its exit status */
static int cli_run(char *const args[])
{
	int status;
	pid_t pid = kx_fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execv(CLI_BIN, args);
		_exit(127);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void cli_stage2(void)
{
	char *all[] = { "liveupdatectl", "get", CLI_NAME, "--all", "/tmp/kx-cli", NULL };
	char *one[] = { "liveupdatectl", "get", CLI_NAME, "1", "/tmp/kx-cli/one", NULL };
	char *fin[] = { "liveupdatectl", "get", "--finish", CLI_NAME, NULL };
	struct stat st;
	int fd, r, e;

	CHECK(mkdir("/tmp/kx-cli", 0700) == 0 || errno == EEXIST);
	EXPECT_EQ(cli_run(all), 1);
	r = stat("/tmp/kx-cli-escape", &st);
	e = errno;
	EXPECT_EQ(r, -1);
	EXPECT_EQ(e, ENOENT);
	EXPECT_EQ(cli_run(one), 0);	/* still retrievable */
	fd = CHECK_OK(open("/tmp/kx-cli/one", O_RDONLY));
	CHECK_EQ(fstat(fd, &st), 0);
	EXPECT_EQ(st.st_size, 3000);
	EXPECT_EQ(lu_compare(fd, 0, 3000, CLI_SEED), 0);
	close(fd);
	/* token 1 is the manifest's only entry: delivered, so finished and gone */
	EXPECT_EQ(cli_run(fin), 4);
}

KX_SCENARIO(kx_cli, "cli-manifest",
	    { "stage1", cli_stage1,
	      "session kx-cli-bad with a 3000-byte memfd (token 1) and a manifest naming an entry '../kx-cli-escape'" },
	    { "stage2", cli_stage2,
	      "liveupdatectl get --all exits 1 and writes nothing outside its directory; the session stays retrievable: get by token gives the bytes, then get --finish exits 4" });
