/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tiny test harness for the liveupdate tests (liburing / kselftest spirit).
 *
 * A test is a `static void fn(void)`. lu_main() runs each one in a forked
 * child (so a failing test cannot leave /dev/liveupdate or sessions open for
 * the next one) and prints one TAP line per test:
 *
 *   ok N - SUITE/name
 *   ok N - SUITE/name # SKIP reason
 *   not ok N - SUITE/name: file.c:123: expr (got X, want Y)
 *
 * then "@@T done SUITE pass=P fail=F skip=S" and exits 1 if anything failed.
 *
 * CHECK*() end the test at the first failure; EXPECT*() record it and go on.
 * All lu_*() helpers return a value >= 0 on success and -errno on failure,
 * so a check reads CHECK_EQ(lu_preserve_fd(s, m, 1), -EBUSY).
 */
#ifndef LU_TEST_HARNESS_H
#define LU_TEST_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <linux/liveupdate.h>

#define LU_DEV		"/dev/liveupdate"
#define LU_PARAM_DIR	"/sys/module/liveupdate/parameters"
#define LU_STATUS_PATH	LU_PARAM_DIR "/handover_status"
#define LU_SESSION_LINK	"anon_inode:[luo_session] "

#define LU_KiB		1024ULL
#define LU_MiB		(1024ULL * 1024)

/* ---- tests and the runner ---- */

struct lu_test {
	const char *name;
	void (*fn)(void);
	const char *desc;	/* what it asserts, one line (NULL: not said) */
};

#define LU_TEST(fn) { #fn, fn, NULL }
/* a test with a one-line description of what it asserts: --list prints it
 * after a tab, and tests/run --list --json carries it (tests/README.md) */
#define LU_TEST_D(fn, desc) { #fn, fn, desc }
#define LU_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Runs the tests named in argv (all when none is named) and prints TAP 13:
 * "TAP version 13", the plan "1..N", one "ok"/"not ok" line per test, then
 * "@@T done SUITE ...". With LU_TAP_NESTED set the version and plan lines
 * are left to the script that runs several binaries as one stream, and the
 * numbers start at LU_TAP_FIRST. "--list [NAME...]" prints the TAP names
 * (SUITE/name) it would report, each with a tab and its description when it
 * has one (LU_TEST_D), without running anything.
 */
int lu_main(const char *suite, const struct lu_test *tests, size_t n,
	    int argc, char **argv);

/* ---- checks ---- */

void lu__fail(int fatal, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void lu__skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
const char *lu_val(long long v);	/* "-EBUSY", "17", ... (static ring) */
const char *lu_errname(int err);	/* "EBUSY" */

#define LU__CHECK(fatal, e) do {					\
	errno = 0;							\
	if (!(e)) {							\
		int _lu_e = errno;					\
		lu__fail(fatal, __FILE__, __LINE__, "%s (errno %s)",	\
			 #e, lu_errname(_lu_e));			\
	}								\
} while (0)

#define LU__CHECK_EQ(fatal, a, b) do {					\
	long long _lu_a = (long long)(a), _lu_b = (long long)(b);	\
	if (_lu_a != _lu_b)						\
		lu__fail(fatal, __FILE__, __LINE__,			\
			 "%s == %s (got %s, want %s)", #a, #b,		\
			 lu_val(_lu_a), lu_val(_lu_b));			\
} while (0)

#define LU__CHECK_STR(fatal, a, b) do {					\
	const char *_lu_a = (a), *_lu_b = (b);				\
	if (!_lu_a || strcmp(_lu_a, _lu_b))				\
		lu__fail(fatal, __FILE__, __LINE__,			\
			 "%s == %s (got \"%s\", want \"%s\")", #a, #b,	\
			 _lu_a ? _lu_a : "(null)", _lu_b);		\
} while (0)

#define CHECK(e)		LU__CHECK(1, e)
#define EXPECT(e)		LU__CHECK(0, e)
#define CHECK_EQ(a, b)		LU__CHECK_EQ(1, a, b)
#define EXPECT_EQ(a, b)		LU__CHECK_EQ(0, a, b)
#define CHECK_STR(a, b)		LU__CHECK_STR(1, a, b)
#define EXPECT_STR(a, b)	LU__CHECK_STR(0, a, b)
/* a helper that must succeed (>= 0); returns its value */
#define CHECK_OK(e) ({ long long _lu_r = (long long)(e);		\
	if (_lu_r < 0)							\
		lu__fail(1, __FILE__, __LINE__, "%s (got %s)", #e,	\
			 lu_val(_lu_r));				\
	_lu_r; })
#define SKIP(...)		lu__skip(__VA_ARGS__)

/* a "# ..." diagnostic line */
void lu_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- liveupdate helpers (>= 0 or -errno) ---- */

int lu_ioctl(int fd, unsigned long cmd, void *arg);
int lu_open_dev(void);
int lu_create_session(int dev, const char *name);
int lu_retrieve_session(int dev, const char *name);
/* fd before token, as in the ioctl (liveupdate_preserve_fd() takes the token first) */
int lu_preserve_fd(int session, int fd, uint64_t token);
int lu_retrieve_fd(int session, uint64_t token);
int lu_finish(int session);
int lu_get_name(int session, char name[LIVEUPDATE_SESSION_NAME_LENGTH]);

/* ---- files ---- */

/* memfd of @size bytes filled with lu_pattern(@seed) (flags: MFD_*) */
int lu_memfd(const char *name, unsigned int flags, uint64_t size, uint64_t seed);
/* memfd of @size bytes, never written (all holes) */
int lu_memfd_sparse(const char *name, unsigned int flags, uint64_t size);
/* fill @len bytes at @off of @fd with the pattern */
int lu_fill(int fd, uint64_t off, uint64_t len, uint64_t seed);
/*
 * Compares @len bytes at @off of @fd with the pattern (or with zeros when
 * @seed is LU_ZEROS): 0 if equal, 1 + offset of the first difference, or
 * -errno (-ENODATA on a short read).
 */
#define LU_ZEROS (~0ULL)
long long lu_compare(int fd, uint64_t off, uint64_t len, uint64_t seed);
/* the pattern: byte at offset @off of stream @seed */
void lu_pattern(void *buf, uint64_t off, size_t len, uint64_t seed);
uint64_t lu_mix64(uint64_t x);
static inline uint64_t lu_word(uint64_t seed, uint64_t i)
{
	return lu_mix64(seed ^ (i * 0xd1b54a32d192ed03ULL));
}
/* a 64-bit hash of a buffer of 64-bit words (streamed: start with LU_HASH_INIT) */
#define LU_HASH_INIT 0x243f6a8885a308d3ULL
uint64_t lu_hash_words(uint64_t h, const uint64_t *w, size_t nwords);

long long lu_fsize(int fd);		/* st_size or -errno */
long long lu_fpos(int fd);		/* lseek(fd, 0, SEEK_CUR) or -errno */
int lu_seals(int fd);			/* F_GET_SEALS or -errno */
int lu_add_seals(int fd, int seals);	/* 0 or -errno */
int lu_cloexec(int fd);			/* 1, 0 or -errno */
int lu_accmode(int fd);			/* O_RDONLY/O_WRONLY/O_RDWR or -errno */
/* readlink("/proc/self/fd/N") into a static ring buffer; NULL on error */
const char *lu_fd_link(int fd);
/* "anon_inode:[luo_session] NAME" */
const char *lu_session_link(const char *name);
/*
 * Longest link text (with its NUL) the running kernel gives an anonymous
 * inode; longer ones read as ENAMETOOLONG whatever the module does. Its
 * dynamic_dname() (fs/d_path.c) formats into a 64-byte buffer in 6.1 and
 * 6.12 and checks against NAME_MAX in 7.2. No anonymous inode lets
 * userspace choose its name, so this is read off the kernel release.
 */
size_t lu_kernel_dname_max(void);
/* Checks readlink("/proc/self/fd/N") of a session fd against the above. */
#define EXPECT_SESSION_LINK(fd, name) do {				\
	const char *_lu_n = (name);					\
	if (strlen(LU_SESSION_LINK) + strlen(_lu_n) < lu_kernel_dname_max()) { \
		EXPECT_STR(lu_fd_link(fd), lu_session_link(_lu_n));	\
	} else {							\
		EXPECT(!lu_fd_link(fd) && errno == ENAMETOOLONG);	\
	}								\
} while (0)
/* pwrite/pread that return bytes or -errno */
long long lu_pwrite(int fd, const void *buf, size_t len, uint64_t off);
long long lu_pread(int fd, void *buf, size_t len, uint64_t off);
int lu_ftruncate(int fd, uint64_t size);
int lu_fallocate(int fd, int mode, uint64_t off, uint64_t len);

/* ---- processes, system ---- */

/*
 * Keeps @fds open in a detached grandchild that sleeps forever (the way
 * sessions are held until the kexec). The grandchild closes every other fd
 * (so /dev/liveupdate and the caller's pipes are released). 0 or -errno.
 */
int lu_hold_fds(const int *fds, int n);
/* raises RLIMIT_NOFILE (soft and hard) to at least @n: 0 or -errno */
int lu_raise_nofile(unsigned long n);
/* handover_status without the newline: 0 or -errno */
int lu_read_status(char *buf, size_t len);
const char *lu_status(void);		/* static buffer, "(error)" on failure */
/* a module parameter file's whole text (static ring buffer), or NULL */
const char *lu_param(const char *name);
/* the number of a parameter's "KEY N" line (space, last_handover), or -1 */
long long lu_param_field(const char *param, const char *key);
/* the same, up to a page; "(read: EAGAIN)" etc. if the read fails */
const char *lu_param_page(const char *name);
/* how many lines of the kernel log contain @needle: >= 0 or -errno */
int lu_dmesg_count(const char *needle);
/*
 * Kernel log lines holding @needle (and @needle2 unless NULL) at log level
 * @max_level or more severe; @print shows them as diagnostics.
 */
int lu_dmesg_match(const char *needle, const char *needle2, int max_level,
		   int print);
/* system(): the exit status (0..255), or -1 for a signal */
int lu_system(const char *cmd);
/* is the liveupdate module loaded */
int lu_module_loaded(void);
/* time in seconds (monotonic) */
double lu_now(void);
/* fill a name like snprintf into a static ring buffer */
const char *lu_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* writes @text to @path: 0 or -errno */
int lu_write_text(const char *path, const char *text);
/* the number at the start of @path, or -errno */
long long lu_read_number(const char *path);
/*
 * The number after "@key@sep" at the start of a line of @path (a
 * "KEY: N" file as /proc/meminfo, a "key N" one as memory.stat), or -1
 * (no file, no such key).
 */
long long lu_key_number(const char *path, const char *key, char sep);
/* /proc/meminfo's @key ("Slab", "Shmem", "MemTotal") in KiB, or -1 */
long long lu_meminfo_kib(const char *key);
/*
 * Mounts cgroup2 at @root (LU_CGROUP) unless it is, enables the memory
 * controller for its children and makes @child: 0 or -errno.
 */
#define LU_CGROUP "/tmp/lu-cg"
int lu_memcg_make(const char *root, const char *child);

/* ---- stalled ioctls (userfaultfd) ---- */

/*
 * An ioctl whose argument sits on a page that userfaultfd write-protects: the
 * module can read the argument, but its reply (copy_to_user) waits until
 * lu_stall_end(), for as long as the test likes. The call runs in a thread of
 * the calling process.
 */
struct lu_stall {
	int uffd;
	void *page;		/* the argument, readable at any time */
	unsigned long thread;	/* pthread_t */
	int fd;
	unsigned long cmd;
	int ret;		/* the ioctl's result (>= 0 or -errno) once ended */
	int stalled;
	int missing;		/* lu_stall_missing_start() */
	int (*fn)(struct lu_stall *st);
};

/*
 * Starts ioctl(@fd, @cmd, @arg) with @len bytes of @arg on the protected page
 * and waits up to @secs seconds for the module to write to it. 0: the call
 * is stalled in that write. -ETIMEDOUT: it did not write (the thread is
 * still running; lu_stall_end() waits for it). -EOPNOTSUPP: userfaultfd
 * write-protection is not available here. Other -errno: setup failed.
 */
int lu_stall_start(struct lu_stall *st, int fd, unsigned long cmd,
		   const void *arg, size_t len, int secs);
/*
 * The same with a page that is not there at all (userfaultfd MISSING):
 * @fn(@st) runs in a thread and stalls at its first touch of st->page, read
 * or write, e.g. write(st->fd, st->page, ...) while holding the target's
 * inode lock. 0 once it stalled; errors as lu_stall_start().
 */
int lu_stall_missing_start(struct lu_stall *st, int fd,
			   int (*fn)(struct lu_stall *st), int secs);
/* Lifts the protection (or fills the page with zeros), waits for the call
 * and returns its result. */
int lu_stall_end(struct lu_stall *st);
/*
 * Runs @fn(@ctx) in a child process and waits up to @secs seconds for it:
 * its return value (0..255, 0 meaning success), or -ETIMEDOUT with the
 * child still running; then lu_child_reap(*@pid) collects it later.
 */
int lu_within(int secs, int (*fn)(void *ctx), void *ctx, pid_t *pid);
int lu_child_reap(pid_t pid);
/*
 * Starts ioctl(@fd, @cmd, @arg) stalled in its reply (lu_stall_start()), then
 * checks (EXPECT, naming @what and the step that hung) that meanwhile another
 * process finishes within 10 s: reading handover_status, CREATE_SESSION on
 * @dev, PRESERVE_FD, GET_NAME, closing that session. Ends the stall and
 * returns the stalled call's result; its argument is in st->page. SKIPs the
 * test where userfaultfd write-protection is missing.
 */
int lu_stalled_ioctl(struct lu_stall *st, int dev, int fd, unsigned long cmd,
		     const void *arg, size_t len, const char *what);
/*
 * The check of lu_stalled_ioctl() alone: another process reads
 * handover_status, CREATE_SESSIONs on @dev, preserves, GET_NAMEs and closes
 * within 10 s while @what is stalled. 0, or the step (EXPECT reported it);
 * the child is reaped once *@pid is handed to lu_child_reap().
 */
int lu_others_finish(int dev, const char *what, pid_t *pid);

#endif /* LU_TEST_HARNESS_H */
