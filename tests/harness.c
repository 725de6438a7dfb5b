// SPDX-License-Identifier: GPL-2.0
/* The test harness and helpers: see harness.h. */
#include "harness.h"
#include "libliveupdate.h"

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/userfaultfd.h>

/* ---- runner ---- */

static int lu_report_fd = -1;	/* child -> parent messages */
static int lu_failed;		/* in the child: a non-fatal check failed */

static const char *lu_ring(void)
{
	static char ring[16][512];
	static unsigned int next;

	return ring[next++ % 16];
}

const char *lu_fmt(const char *fmt, ...)
{
	char *buf = (char *)lu_ring();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, 512, fmt, ap);
	va_end(ap);
	return buf;
}

const char *lu_errname(int err)
{
	const char *n = err ? strerrorname_np(err) : "0";

	return n ? n : lu_fmt("%d", err);
}

const char *lu_val(long long v)
{
	if (v < 0 && v >= -4095)
		return lu_fmt("-%s", lu_errname((int)-v));
	if (v > 0xffff)
		return lu_fmt("%lld (0x%llx)", v, (unsigned long long)v);
	return lu_fmt("%lld", v);
}

static void lu_report(char kind, const char *text)
{
	char buf[1024];
	int len = snprintf(buf, sizeof(buf), "%c%s\n", kind, text);

	if (len >= (int)sizeof(buf))
		len = sizeof(buf) - 1;
	if (lu_report_fd >= 0) {
		if (write(lu_report_fd, buf, len) < 0)
			_exit(3);
	} else {
		printf("# %s\n", text);
	}
}

void lu__fail(int fatal, const char *file, int line, const char *fmt, ...)
{
	char msg[900];
	char full[1000];
	const char *base = strrchr(file, '/');
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s:%d: %s", base ? base + 1 : file, line, msg);
	for (char *p = full; *p; p++)
		if (*p == '\n')
			*p = ' ';
	lu_report('F', full);
	lu_failed = 1;
	if (fatal) {
		fflush(stdout);
		_exit(1);
	}
}

void lu__skip(const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lu_report('S', msg);
	fflush(stdout);
	_exit(lu_failed);
}

void lu_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputs("\n", stdout);
	va_end(ap);
	fflush(stdout);
}

static unsigned int lu_timeout(void)
{
	const char *t = getenv("LU_TEST_TIMEOUT");

	return t && atoi(t) > 0 ? (unsigned int)atoi(t) : 600;
}

/* 0 pass, 1 fail, 2 skip */
static int lu_run_one(const char *suite, const struct lu_test *t, int num)
{
	char buf[8192];
	size_t used = 0;
	int pfd[2], status;
	pid_t pid;

	fflush(stdout);
	if (pipe(pfd)) {
		printf("not ok %d - %s/%s: pipe: %s\n", num, suite, t->name, strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		printf("not ok %d - %s/%s: fork: %s\n", num, suite, t->name, strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return 1;
	}
	if (pid == 0) {
		close(pfd[0]);
		/* above the fds systemd passes (3 on), which a test may stand in for */
		lu_report_fd = fcntl(pfd[1], F_DUPFD_CLOEXEC, 64);
		if (lu_report_fd < 0)
			lu_report_fd = pfd[1];
		else
			close(pfd[1]);
		signal(SIGPIPE, SIG_DFL);
		alarm(lu_timeout());
		t->fn();
		fflush(stdout);
		_exit(lu_failed);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r = read(pfd[0], buf + used, sizeof(buf) - 1 - used);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		used += r;
		if (used == sizeof(buf) - 1) {
			/* keep the first messages, drain the rest */
			char junk[4096];

			while (read(pfd[0], junk, sizeof(junk)) > 0)
				;
			break;
		}
	}
	buf[used] = 0;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;

	/* the messages: lines "F..." (failure) and "S..." (skip) */
	char *first_fail = NULL, *skip = NULL;
	int nfail = 0;

	for (char *line = buf, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		if (line[0] == 'F') {
			if (!first_fail)
				first_fail = line + 1;
			nfail++;
		} else if (line[0] == 'S' && !skip) {
			skip = line + 1;
		}
	}

	char why[128] = "";

	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "killed by signal %d (%s)%s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)),
			 WTERMSIG(status) == SIGALRM ? ": timeout" : "");
	else if (WEXITSTATUS(status) != 0 && !first_fail)
		snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));

	if (!first_fail && !why[0]) {
		if (skip) {
			printf("ok %d - %s/%s # SKIP %s\n", num, suite, t->name, skip);
			return 2;
		}
		printf("ok %d - %s/%s\n", num, suite, t->name);
		return 0;
	}
	printf("not ok %d - %s/%s: %s\n", num, suite, t->name,
	       first_fail ? first_fail : why);
	if (first_fail) {
		/* the other failures of the same test, as diagnostics */
		int shown = 0;

		for (char *p = buf; p < buf + used; p += strlen(p) + 1) {
			if (p[0] != 'F' || p + 1 == first_fail)
				continue;
			if (++shown > 20) {
				printf("#   ... %d more\n", nfail - 21);
				break;
			}
			printf("#   also: %s\n", p + 1);
		}
		if (why[0])
			printf("#   %s\n", why);
	}
	return 1;
}

/* no test names on the command line selects them all */
static int lu_selected(const struct lu_test *t, int argc, char **argv)
{
	for (int a = 1; a < argc; a++)
		if (!strcmp(argv[a], t->name))
			return 1;
	return argc <= 1;
}

int lu_main(const char *suite, const struct lu_test *tests, size_t n,
	    int argc, char **argv)
{
	int pass = 0, fail = 0, skip = 0, num = 0;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	int list = argc > 1 && !strcmp(argv[1], "--list");
	size_t nsel = 0;

	if (list) {
		argv++;
		argc--;
	}
	for (int a = 1; a < argc; a++) {
		for (i = 0; i < n; i++)
			if (!strcmp(argv[a], tests[i].name))
				break;
		if (i == n) {
			fprintf(stderr, "%s: no test named %s\n", suite, argv[a]);
			return 2;
		}
	}
	for (i = 0; i < n; i++)
		nsel += lu_selected(&tests[i], argc, argv);
	if (list) {
		for (i = 0; i < n; i++)
			if (lu_selected(&tests[i], argc, argv))
				printf("%s/%s%s%s\n", suite, tests[i].name,
				       tests[i].desc ? "\t" : "",
				       tests[i].desc ? tests[i].desc : "");
		return 0;
	}
	/*
	 * TAP 13: a version and a plan line first, unless a script running
	 * several of us prints them for the whole stream (LU_TAP_NESTED) and
	 * says where our numbers start (LU_TAP_FIRST).
	 */
	if (getenv("LU_TAP_NESTED"))
		num = getenv("LU_TAP_FIRST") ? atoi(getenv("LU_TAP_FIRST")) - 1 : 0;
	else
		printf("TAP version 13\n1..%zu\n", nsel);
	for (i = 0; i < n; i++) {
		if (!lu_selected(&tests[i], argc, argv))
			continue;
		switch (lu_run_one(suite, &tests[i], ++num)) {
		case 0: pass++; break;
		case 1: fail++; break;
		default: skip++; break;
		}
	}
	printf("@@T done %s pass=%d fail=%d skip=%d\n", suite, pass, fail, skip);
	return fail ? 1 : 0;
}

/* ---- liveupdate helpers ---- */

int lu_ioctl(int fd, unsigned long cmd, void *arg)
{
	int r = ioctl(fd, cmd, arg);

	return r < 0 ? -errno : r;
}

/* The session helpers are libliveupdate's (lib/), as any client's. */
int lu_open_dev(void)
{
	return liveupdate_open(0);
}

int lu_create_session(int dev, const char *name)
{
	return liveupdate_create_session(dev, name);
}

int lu_retrieve_session(int dev, const char *name)
{
	return liveupdate_retrieve_session(dev, name);
}

int lu_preserve_fd(int session, int fd, uint64_t token)
{
	return liveupdate_preserve_fd(session, token, fd);
}

int lu_retrieve_fd(int session, uint64_t token)
{
	return liveupdate_retrieve_fd(session, token);
}

int lu_finish(int session)
{
	return liveupdate_finish(session);
}

int lu_get_name(int session, char name[LIVEUPDATE_SESSION_NAME_LENGTH])
{
	return liveupdate_session_name(session, name);
}

/* ---- files ---- */

uint64_t lu_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void lu_pattern(void *buf, uint64_t off, size_t len, uint64_t seed)
{
	unsigned char *p = buf;

	while (len) {
		uint64_t w = lu_word(seed, off >> 3);
		unsigned int b = off & 7;

		if (b == 0 && len >= 8) {
			memcpy(p, &w, 8);	/* little-endian host */
			p += 8;
			off += 8;
			len -= 8;
			continue;
		}
		*p++ = (unsigned char)(w >> (8 * b));
		off++;
		len--;
	}
}

uint64_t lu_hash_words(uint64_t h, const uint64_t *w, size_t nwords)
{
	for (size_t i = 0; i < nwords; i++) {
		h ^= w[i] * 0x87c37b91114253d5ULL;
		h = (h << 31) | (h >> 33);
		h = h * 0x4cf5ad432745937fULL + 0x52dce729;
	}
	return h;
}

long long lu_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t r = pwrite(fd, buf, len, (off_t)off);

	return r < 0 ? -errno : r;
}

long long lu_pread(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t r = pread(fd, buf, len, (off_t)off);

	return r < 0 ? -errno : r;
}

int lu_fill(int fd, uint64_t off, uint64_t len, uint64_t seed)
{
	static unsigned char buf[1 << 16];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		long long r;

		lu_pattern(buf, off, n, seed);
		r = lu_pwrite(fd, buf, n, off);
		if (r < 0)
			return (int)r;
		if ((size_t)r != n)
			return -EIO;
		off += n;
		len -= n;
	}
	return 0;
}

int lu_memfd(const char *name, unsigned int flags, uint64_t size, uint64_t seed)
{
	int fd = lu_memfd_sparse(name, flags, size);
	int r;

	if (fd < 0)
		return fd;
	r = lu_fill(fd, 0, size, seed);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int lu_memfd_sparse(const char *name, unsigned int flags, uint64_t size)
{
	int fd = memfd_create(name, flags);
	int r;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

long long lu_compare(int fd, uint64_t off, uint64_t len, uint64_t seed)
{
	static unsigned char got[1 << 16], want[1 << 16];
	uint64_t start = off;

	while (len) {
		size_t n = len < sizeof(got) ? len : sizeof(got);
		ssize_t r = pread(fd, got, n, (off_t)off);

		if (r < 0)
			return -errno;
		if ((size_t)r != n)
			return -ENODATA;
		if (seed == LU_ZEROS)
			memset(want, 0, n);
		else
			lu_pattern(want, off, n, seed);
		if (memcmp(got, want, n)) {
			for (size_t i = 0; i < n; i++)
				if (got[i] != want[i])
					return 1 + (long long)(off - start + i);
		}
		off += n;
		len -= n;
	}
	return 0;
}

long long lu_fsize(int fd)
{
	struct stat st;

	return fstat(fd, &st) < 0 ? -errno : (long long)st.st_size;
}

long long lu_fpos(int fd)
{
	off_t r = lseek(fd, 0, SEEK_CUR);

	return r < 0 ? -errno : (long long)r;
}

int lu_seals(int fd)
{
	int r = fcntl(fd, F_GET_SEALS);

	return r < 0 ? -errno : r;
}

int lu_add_seals(int fd, int seals)
{
	return fcntl(fd, F_ADD_SEALS, seals) < 0 ? -errno : 0;
}

int lu_cloexec(int fd)
{
	int r = fcntl(fd, F_GETFD);

	return r < 0 ? -errno : !!(r & FD_CLOEXEC);
}

int lu_accmode(int fd)
{
	int r = fcntl(fd, F_GETFL);

	return r < 0 ? -errno : (r & O_ACCMODE);
}

const char *lu_fd_link(int fd)
{
	char *buf = (char *)lu_ring();
	char path[64];
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = readlink(path, buf, 511);
	if (r < 0)
		return NULL;
	buf[r] = 0;
	return buf;
}

size_t lu_kernel_dname_max(void)
{
	struct utsname u;
	unsigned int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return 64;
	/* 64 in 6.1 and 6.12, NAME_MAX in 7.2 (both read in their sources) */
	return major > 6 ? NAME_MAX : 64;
}

const char *lu_session_link(const char *name)
{
	return lu_fmt(LU_SESSION_LINK "%s", name);
}

int lu_ftruncate(int fd, uint64_t size)
{
	return ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
}

int lu_fallocate(int fd, int mode, uint64_t off, uint64_t len)
{
	return fallocate(fd, mode, (off_t)off, (off_t)len) < 0 ? -errno : 0;
}

/* ---- processes, system ---- */

int lu_hold_fds(const int *fds, int n)
{
	struct rlimit rl;
	unsigned long max = 4096;
	int status;
	pid_t pid;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		unsigned char *keep = calloc(max / 8 + 1, 1);
		pid_t p;

		setsid();
		p = fork();
		if (p != 0)
			_exit(p < 0 ? 1 : 0);
		/* the holder */
		if (!keep)
			_exit(1);
		for (int i = 0; i < n; i++)
			if (fds[i] >= 0 && (unsigned long)fds[i] < max)
				keep[fds[i] / 8] |= 1 << (fds[i] % 8);
		for (unsigned long fd = 0; fd < max; fd++)
			if (!(keep[fd / 8] & (1 << (fd % 8))))
				close((int)fd);
		signal(SIGHUP, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGALRM, SIG_IGN);
		alarm(0);
		if (chdir("/") < 0)
			_exit(1);
		for (;;)
			pause();
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

int lu_raise_nofile(unsigned long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= n)
		return 0;
	rl.rlim_cur = n;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n)
		rl.rlim_max = n;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

const char *lu_param(const char *name)
{
	static char ring[4][1024];
	static int next;
	char *buf = ring[next++ % 4];
	int fd = open(lu_fmt(LU_PARAM_DIR "/%s", name), O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return NULL;
	r = read(fd, buf, sizeof(ring[0]) - 1);
	close(fd);
	if (r < 0)
		return NULL;
	buf[r] = 0;
	return buf;
}

long long lu_param_field(const char *param, const char *key)
{
	const char *text = lu_param(param), *p;
	size_t n = strlen(key);

	for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

const char *lu_param_page(const char *name)
{
	static char buf[8192];
	int fd = open(lu_fmt(LU_PARAM_DIR "/%s", name), O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return "(cannot open)";
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r < 0)
		return lu_fmt("(read: %s)", lu_errname(errno));
	buf[r] = 0;
	return buf;
}

int lu_read_status(char *buf, size_t len)
{
	int fd = open(LU_STATUS_PATH, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = read(fd, buf, len - 1);
	if (r < 0) {
		r = -errno;
		close(fd);
		return (int)r;
	}
	close(fd);
	buf[r] = 0;
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == ' '))
		buf[--r] = 0;
	return 0;
}

const char *lu_status(void)
{
	char *buf = (char *)lu_ring();
	int r = lu_read_status(buf, 512);

	return r < 0 ? lu_fmt("(error %s)", lu_errname(-r)) : buf;
}

int lu_dmesg_match(const char *needle, const char *needle2, int max_level,
		   int print)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	int count = 0;
	char *buf;

	if (size < 0)
		return -errno;
	buf = malloc((size_t)size + 1);
	if (!buf)
		return -ENOMEM;
	size = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (size < 0) {
		free(buf);
		return -errno;
	}
	buf[size] = 0;
	for (char *line = buf, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		/* lines read "<L>text": L is the log level */
		if (line[0] == '<' && line[1] - '0' > max_level)
			continue;
		if (!strstr(line, needle) || (needle2 && !strstr(line, needle2)))
			continue;
		count++;
		if (print)
			lu_diag("dmesg: %.200s", line);
	}
	free(buf);
	return count;
}

int lu_dmesg_count(const char *needle)
{
	return lu_dmesg_match(needle, NULL, 7, 0);
}

int lu_system(const char *cmd)
{
	int st;

	fflush(stdout);
	st = system(cmd);
	if (st < 0)
		return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return -1;
}

int lu_module_loaded(void)
{
	struct stat st;

	return stat("/sys/module/liveupdate", &st) == 0;
}

double lu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int lu_write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n < 0 ? -errno : 0;
}

long long lu_read_number(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoll(buf) : -EIO;
}

long long lu_key_number(const char *path, const char *key, char sep)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long long v = -1;
	size_t n = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == sep) {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

long long lu_meminfo_kib(const char *key)
{
	return lu_key_number("/proc/meminfo", key, ':');
}

int lu_memcg_make(const char *root, const char *child)
{
	int r;

	mkdir(root, 0755);
	if (mount("none", root, "cgroup2", 0, NULL) && errno != EBUSY)
		return -errno;
	r = lu_write_text(lu_fmt("%s/cgroup.subtree_control", root), "+memory");
	if (r)
		return r;
	if (mkdir(child, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---- stalled ioctls (userfaultfd) ---- */

static void *lu_stall_thread(void *p)
{
	struct lu_stall *st = p;

	st->ret = st->fn ? st->fn(st) : lu_ioctl(st->fd, st->cmd, st->page);
	return NULL;
}

static int lu_uffd_wp(struct lu_stall *st, int on)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)st->page,
			   .len = (uint64_t)sysconf(_SC_PAGESIZE) },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(st->uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

static int lu_stall_begin(struct lu_stall *st, const void *arg, size_t len,
			  int secs)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.mode = st->missing ? UFFDIO_REGISTER_MODE_MISSING
				    : UFFDIO_REGISTER_MODE_WP,
	};
	struct pollfd pfd;
	struct uffd_msg msg;
	pthread_t t;
	int r;

	st->page = mmap(NULL, pg, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st->page == MAP_FAILED)
		return -errno;
	if (!st->missing)
		memcpy(st->page, arg, len);	/* populated before it is protected */
	st->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (st->uffd < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : -errno;
	if (ioctl(st->uffd, UFFDIO_API, &api))
		return -errno;
	reg.range.start = (uintptr_t)st->page;
	reg.range.len = pg;
	if (ioctl(st->uffd, UFFDIO_REGISTER, &reg))
		return errno == EINVAL ? -EOPNOTSUPP : -errno;
	if (!st->missing) {
		r = lu_uffd_wp(st, 1);
		if (r)
			return r;
	}
	r = pthread_create(&t, NULL, lu_stall_thread, st);
	if (r)
		return -r;
	st->thread = (unsigned long)t;
	pfd.fd = st->uffd;
	pfd.events = POLLIN;
	r = poll(&pfd, 1, secs * 1000);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	if (read(st->uffd, &msg, sizeof(msg)) != sizeof(msg))
		return -errno;
	if (msg.event != UFFD_EVENT_PAGEFAULT ||
	    !!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) == st->missing)
		return -EPROTO;
	st->stalled = 1;
	return 0;
}

int lu_stall_start(struct lu_stall *st, int fd, unsigned long cmd,
		   const void *arg, size_t len, int secs)
{
	memset(st, 0, sizeof(*st));
	st->fd = fd;
	st->cmd = cmd;
	return lu_stall_begin(st, arg, len, secs);
}

int lu_stall_missing_start(struct lu_stall *st, int fd,
			   int (*fn)(struct lu_stall *st), int secs)
{
	memset(st, 0, sizeof(*st));
	st->fd = fd;
	st->fn = fn;
	st->missing = 1;
	return lu_stall_begin(st, NULL, 0, secs);
}

int lu_stall_end(struct lu_stall *st)
{
	if (st->uffd > 0 && st->page != MAP_FAILED && st->page && st->missing) {
		struct uffdio_zeropage zp = {
			.range = { .start = (uintptr_t)st->page,
				   .len = (uint64_t)sysconf(_SC_PAGESIZE) },
		};

		ioctl(st->uffd, UFFDIO_ZEROPAGE, &zp);
	} else if (st->uffd > 0 && st->page != MAP_FAILED && st->page) {
		lu_uffd_wp(st, 0);
	}
	if (st->thread)
		pthread_join((pthread_t)st->thread, NULL);
	st->thread = 0;
	return st->ret;
}

int lu_within(int secs, int (*fn)(void *ctx), void *ctx, pid_t *pid)
{
	double end = lu_now() + secs;
	int status;

	fflush(stdout);
	*pid = fork();
	if (*pid < 0)
		return -errno;
	if (*pid == 0)
		_exit(fn(ctx) & 0xff);
	while (lu_now() < end) {
		pid_t r = waitpid(*pid, &status, WNOHANG);

		if (r == *pid) {
			*pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

int lu_child_reap(pid_t pid)
{
	int status;

	if (pid <= 0)
		return 0;
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* How long the other callers get; they need milliseconds. */
#define LU_OTHERS_SECS	10
/* How long the stalled call gets to reach its reply. */
#define LU_STALL_SECS	10

struct lu_others {
	int dev;
	volatile int step;	/* shared with the child: where it is */
};

/*
 * What the others do while one call is stalled; in a child, so a step that
 * hangs can be waited for with a bound. Returns the number of the step that
 * failed, 0 if all worked.
 */
static int lu_others_run(void *p)
{
	struct lu_others *o = p;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	char status[64];
	int s, m;

	o->step = 1;
	if (lu_read_status(status, sizeof(status)))
		return o->step;
	o->step = 2;
	s = lu_create_session(o->dev, "stall-other");
	if (s < 0)
		return o->step;
	o->step = 3;
	m = lu_memfd("stall-other", 0, 4096, 7);
	if (m < 0 || lu_preserve_fd(s, m, 1))
		return o->step;
	o->step = 4;
	if (lu_get_name(s, name) || strcmp(name, "stall-other"))
		return o->step;
	o->step = 5;
	close(s);	/* the release takes the module's lock too */
	close(m);
	if (lu_read_status(status, sizeof(status)))
		return o->step;
	return 0;
}

static const char *const lu_others_steps[] = {
	"ok", "reading handover_status", "CREATE_SESSION", "PRESERVE_FD",
	"GET_NAME", "closing the session (and reading handover_status)",
};

int lu_others_finish(int dev, const char *what, pid_t *pid)
{
	struct lu_others *o = mmap(NULL, sizeof(*o), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int r;

	*pid = 0;
	CHECK(o != MAP_FAILED);
	o->dev = dev;
	r = lu_within(LU_OTHERS_SECS, lu_others_run, o, pid);
	if (r == -ETIMEDOUT)
		lu_diag("%s hung for %d s while %s was stalled",
			lu_others_steps[o->step], LU_OTHERS_SECS, what);
	else if (r)
		lu_diag("while %s was stalled, %s failed", what,
			r < (int)LU_ARRAY_SIZE(lu_others_steps) ? lu_others_steps[r] : "?");
	EXPECT_EQ(r, 0);
	munmap(o, sizeof(*o));
	return r;
}

int lu_stalled_ioctl(struct lu_stall *st, int dev, int fd, unsigned long cmd,
		     const void *arg, size_t len, const char *what)
{
	pid_t pid;
	int r;

	r = lu_stall_start(st, fd, cmd, arg, len, LU_STALL_SECS);
	if (r == -EOPNOTSUPP) {
		lu_stall_end(st);
		SKIP("userfaultfd write-protection is not available");
	}
	if (r) {
		lu_diag("%s did not stall in its reply: %s", what, lu_val(r));
		EXPECT_EQ(r, 0);
		return lu_stall_end(st);
	}
	lu_others_finish(dev, lu_fmt("%s (in its reply)", what), &pid);
	r = lu_stall_end(st);
	/* only now, if they hung, can they finish */
	lu_child_reap(pid);
	return r;
}
