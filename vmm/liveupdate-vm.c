// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate-vm: run a QEMU VM as a systemd service so that it keeps running
 * across a kernel update (kexec), on a stock kernel with the liveupdate
 * module and systemd 262 or later.
 *
 *   liveupdate-vm run NAME          the service's main process
 *                                   (liveupdate-vm@NAME.service)
 *   liveupdate-vm save-file NAME FILE
 *                                   save the running VM, RAM included, to FILE
 *                                   and let it run on (what a reboot without
 *                                   preserved RAM would cost: a measurement)
 *   liveupdate-vm check NAME        parse NAME's configuration, print the
 *                                   QEMU command line
 *
 * How it works. Guest RAM is a memfd (memory-backend-file,share=on on
 * /proc/self/fd/N), and a second memfd takes QEMU's device state. Both live
 * in the service's fd store (FDNAME ram and state), which systemd keeps over
 * a stop (FileDescriptorStorePreserve=yes) and, from v262, carries across
 * "systemctl kexec" through /dev/liveupdate. On stop (SIGTERM) this program
 * has QEMU save its device state into the state memfd with the cpr-reboot
 * migration mode and x-ignore-shared (guest RAM, a shared file, is not
 * copied: it is already in the memfd), then quits QEMU. On start with both
 * memfds in the fd store it starts QEMU with -incoming defer and loads the
 * state: the guest continues where it stopped, its RAM untouched. Without
 * them (first start, or a kernel that carried nothing) the VM boots afresh.
 * A state that does not load leaves the service failed with the fd store
 * kept; "systemctl clean --what=fdstore liveupdate-vm@NAME" discards it.
 *
 * Configuration: /etc/liveupdate/vm/NAME.conf (LIVEUPDATE_VM_CONF_DIR for
 * another directory), lines "key = value", # comments:
 *   memory = 1G          guest RAM (K, M, G suffixes; required)
 *   hugepages = 2M       guest RAM on huge pages of this size (a hugetlb
 *                        memfd from the pool, vm.nr_hugepages or
 *                        hugepages= on the kernel command line); memory
 *                        must be a multiple of it. Default: none (shmem)
 *   qemu = PATH          default /usr/bin/qemu-system-x86_64
 *   args = ...           QEMU arguments, split at white space; '...' is
 *                        taken as is, "..." and \ as in the shell (\" \\
 *                        \ and a space); repeatable. Not -m, -machine
 *                        memory-backend, -qmp, -incoming, -daemonize: this
 *                        program sets those.
 *
 * Every step prints one line (to the journal), and the timed ones end in
 * "ms=N" so that a test or a bench can pick them up.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sd-notify.h"

#define MAX_ARGS 256
#define QMP_TIMEOUT_MS (10 * 60 * 1000)

struct vm {
	const char *name;
	char qemu[256];
	uint64_t memory;
	uint64_t hugepage;	/* 0: a shmem memfd */
	char *argv[MAX_ARGS];
	int argc;
	int ram_fd, state_fd;
	char qmp_path[108];
	pid_t pid;
	int qmp;
	char buf[65536];
	size_t len;
	bool migration_done, migration_failed;
};

static volatile sig_atomic_t got_term;

static void say(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("liveupdate-vm: %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_-.", name[i]))
			return false;
	return name[0] != '.';
}

/* "256M" -> bytes; 0 on a malformed or zero size. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return 0;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case '\0': break;
	default: return 0;
	}
	if (*end || v == 0 || v > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)v << shift;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Cuts the next argument out of *@p, in place, as a shell would split it
 * (no expansions): white space separates, '...' is taken as is, in "..."
 * and outside quotes a \ takes the next character as is. Sets *@arg to the
 * argument (NULL at the end) and returns 0, or -EINVAL for an unterminated
 * quote or a \ at the end.
 */
static int next_arg(char **p, char **arg)
{
	char *s = *p, *o, q = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	*arg = NULL;
	if (!*s) {
		*p = s;
		return 0;
	}
	*arg = o = s;
	for (; *s; s++) {
		if (q == '\'') {
			if (*s == '\'')
				q = 0;
			else
				*o++ = *s;
		} else if (*s == '\\') {
			if (!s[1])
				return -EINVAL;
			*o++ = *++s;
		} else if (q == '"') {
			if (*s == '"')
				q = 0;
			else
				*o++ = *s;
		} else if (*s == '\'' || *s == '"') {
			q = *s;
		} else if (*s == ' ' || *s == '\t') {
			s++;
			break;
		} else {
			*o++ = *s;
		}
	}
	if (q)
		return -EINVAL;
	*o = '\0';
	*p = s;
	return 0;
}

/* Reads /etc/liveupdate/vm/NAME.conf. 0, or -errno with a message. */
static int read_conf(struct vm *vm)
{
	const char *dir = getenv("LIVEUPDATE_VM_CONF_DIR");
	char path[512], line[4096];
	int lineno = 0, r = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.conf", dir ? dir : "/etc/liveupdate/vm", vm->name);
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		say(vm->name, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	snprintf(vm->qemu, sizeof(vm->qemu), "/usr/bin/qemu-system-x86_64");
	while (fgets(line, sizeof(line), f)) {
		char *key, *val, *eq, *tok;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			say(vm->name, "%s:%d: line too long", path, lineno);
			r = -EINVAL;
			break;
		}
		key = trim(line);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			say(vm->name, "%s:%d: no '='", path, lineno);
			r = -EINVAL;
			break;
		}
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		if (!strcmp(key, "memory")) {
			vm->memory = parse_size(val);
			if (!vm->memory || vm->memory % 4096) {
				say(vm->name, "%s:%d: memory '%s' is not a size in whole pages",
				    path, lineno, val);
				r = -EINVAL;
				break;
			}
		} else if (!strcmp(key, "hugepages")) {
			vm->hugepage = parse_size(val);
			if (vm->hugepage < 65536 || vm->hugepage > (1ULL << 34) ||
			    (vm->hugepage & (vm->hugepage - 1))) {
				say(vm->name, "%s:%d: hugepages '%s' is not a huge page size (2M, 1G)",
				    path, lineno, val);
				r = -EINVAL;
				break;
			}
		} else if (!strcmp(key, "qemu")) {
			if (strlen(val) >= sizeof(vm->qemu) || val[0] != '/') {
				say(vm->name, "%s:%d: qemu wants an absolute path", path, lineno);
				r = -EINVAL;
				break;
			}
			strcpy(vm->qemu, val);
		} else if (!strcmp(key, "args")) {
			for (;;) {
				if (next_arg(&val, &tok)) {
					say(vm->name, "%s:%d: an unterminated quote or a \\ at the end",
					    path, lineno);
					r = -EINVAL;
					break;
				}
				if (!tok)
					break;
				if (vm->argc >= MAX_ARGS) {
					say(vm->name, "%s:%d: more than %d arguments", path, lineno, MAX_ARGS);
					r = -E2BIG;
					break;
				}
				if (!strcmp(tok, "-m") || !strcmp(tok, "-qmp") ||
				    !strcmp(tok, "-incoming") || !strcmp(tok, "-daemonize") ||
				    strstr(tok, "memory-backend=")) {
					say(vm->name, "%s:%d: %s is set by liveupdate-vm", path, lineno, tok);
					r = -EINVAL;
					break;
				}
				vm->argv[vm->argc] = strdup(tok);
				if (!vm->argv[vm->argc++]) {
					r = -ENOMEM;
					break;
				}
			}
			if (r)
				break;
		} else {
			say(vm->name, "%s:%d: unknown key '%s'", path, lineno, key);
			r = -EINVAL;
			break;
		}
	}
	fclose(f);
	if (!r && !vm->memory) {
		say(vm->name, "%s: no memory = SIZE", path);
		r = -EINVAL;
	}
	if (!r && vm->hugepage && vm->memory % vm->hugepage) {
		say(vm->name, "%s: memory %" PRIu64 " is not a multiple of hugepages %" PRIu64,
		    path, vm->memory, vm->hugepage);
		r = -EINVAL;
	}
	return r;
}

static bool is_memfd(int fd)
{
	char link[64], target[256];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return !strncmp(target, "/memfd:", 7);
}

/* The fd store's ram and state memfds (LISTEN_FDS, LISTEN_FDNAMES), if any. */
static void take_listen_fds(struct vm *vm)
{
	int n = lu_listen_fds();

	vm->ram_fd = vm->state_fd = -1;
	for (int i = 0; i < n; i++) {
		int fd = LU_LISTEN_FDS_START + i;
		char fdname[64];

		fcntl(fd, F_SETFD, FD_CLOEXEC);
		lu_listen_fd_name(i, fdname, sizeof(fdname));
		if (!strcmp(fdname, "ram") && vm->ram_fd < 0 && is_memfd(fd)) {
			vm->ram_fd = fd;
		} else if (!strcmp(fdname, "state") && vm->state_fd < 0 && is_memfd(fd)) {
			vm->state_fd = fd;
		} else {
			say(vm->name, "ignoring passed fd %d (%s)", fd, fdname[0] ? fdname : "no name");
			close(fd);
		}
	}
	lu_listen_fds_done();
}

static int store_fd(struct vm *vm, const char *fdname, int fd)
{
	char msg[64];
	int r;

	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", fdname);
	r = lu_notify(msg, fd);
	if (r < 0)
		say(vm->name, "cannot put %s in the fd store: %s", fdname, strerror(-r));
	else if (r == 0)
		say(vm->name, "not under systemd: %s is not kept anywhere", fdname);
	return r < 0 ? r : 0;
}

/* A memfd of @size bytes; on huge pages of @huge bytes unless 0. */
static int new_memfd(struct vm *vm, const char *what, uint64_t size, uint64_t huge)
{
	unsigned int flags = MFD_CLOEXEC;
	char mname[128];
	int fd;

	snprintf(mname, sizeof(mname), "liveupdate-vm:%s:%s", vm->name, what);
	if (huge)
		flags |= MFD_HUGETLB | ((unsigned int)__builtin_ctzll(huge) << MFD_HUGE_SHIFT);
	fd = memfd_create(mname, flags);
	if (fd < 0)
		return -errno;
	if (size && ftruncate(fd, (off_t)size) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* ---- QMP ------------------------------------------------------------------ */

/* One line of QMP with its white space removed outside strings is enough to
 * match the few answers this program looks for. */
static void squeeze(char *s)
{
	char *d = s;
	bool in_str = false;

	for (; *s; s++) {
		if (*s == '"' && (s == d || s[-1] != '\\'))
			in_str = !in_str;
		if (!in_str && isspace((unsigned char)*s))
			continue;
		*d++ = *s;
	}
	*d = '\0';
}

/* The next QMP line into @line (squeezed). 0, -ETIMEDOUT or -errno. */
static int qmp_line(struct vm *vm, char *line, size_t size, int timeout_ms)
{
	double end = now_ms() + timeout_ms;

	for (;;) {
		char *nl = memchr(vm->buf, '\n', vm->len);
		struct pollfd p = { .fd = vm->qmp, .events = POLLIN };
		ssize_t n;
		int left;

		if (nl) {
			size_t l = (size_t)(nl - vm->buf);

			snprintf(line, size, "%.*s", (int)l, vm->buf);
			memmove(vm->buf, nl + 1, vm->len - l - 1);
			vm->len -= l + 1;
			squeeze(line);
			if (strstr(line, "\"event\":\"MIGRATION\"")) {
				if (strstr(line, "\"status\":\"completed\""))
					vm->migration_done = true;
				if (strstr(line, "\"status\":\"failed\""))
					vm->migration_failed = true;
			}
			return 0;
		}
		if (vm->len == sizeof(vm->buf))
			return -EMSGSIZE;
		left = (int)(end - now_ms());
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(vm->qmp, vm->buf + vm->len, sizeof(vm->buf) - vm->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		vm->len += (size_t)n;
	}
}

/* Sends one command and waits for its answer (into @ans, squeezed, if not
 * NULL); events in between are noted. 0 on "return", -EIO on "error"
 * (printed), -errno otherwise. */
static int qmp_ans(struct vm *vm, const char *cmd, char *ans, size_t size)
{
	char line[8192];
	size_t len = strlen(cmd);
	int r;

	if (write(vm->qmp, cmd, len) != (ssize_t)len || write(vm->qmp, "\n", 1) != 1)
		return -errno ? -errno : -EIO;
	for (;;) {
		r = qmp_line(vm, line, sizeof(line), QMP_TIMEOUT_MS);
		if (r)
			return r;
		if (!strncmp(line, "{\"return\"", 9)) {
			if (ans)
				snprintf(ans, size, "%s", line);
			return 0;
		}
		if (!strncmp(line, "{\"error\"", 8)) {
			say(vm->name, "QMP %s: %s", cmd, line);
			return -EIO;
		}
	}
}

static int qmp(struct vm *vm, const char *cmd)
{
	return qmp_ans(vm, cmd, NULL, 0);
}

/* Waits for the MIGRATION event "completed" (0) or "failed" (-EIO). */
static int qmp_wait_migration(struct vm *vm)
{
	char line[8192];
	int r;

	while (!vm->migration_done && !vm->migration_failed) {
		r = qmp_line(vm, line, sizeof(line), QMP_TIMEOUT_MS);
		if (r)
			return r;
	}
	return vm->migration_failed ? -EIO : 0;
}

/*
 * Polls query-status (every 5 ms, at most 5 s) until QEMU's run state is
 * @state (@leave false) or is no longer @state (@leave true): the MIGRATION
 * event "completed" comes a moment before QEMU moves from finish-migrate to
 * postmigrate. 0, -ETIMEDOUT, or a QMP error.
 */
static int qmp_wait_state(struct vm *vm, const char *state, bool leave)
{
	char line[8192], want[64];
	int r;

	snprintf(want, sizeof(want), "\"status\":\"%s\"", state);
	for (int i = 0; i < 1000; i++) {
		r = qmp_ans(vm, "{\"execute\":\"query-status\"}", line, sizeof(line));
		if (r || !strstr(line, want) == leave)
			return r;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

/* Connects to QEMU's QMP socket (retrying while QEMU starts). */
static int qmp_connect(struct vm *vm, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double end = now_ms() + timeout_ms;
	char line[8192];
	int r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", vm->qmp_path);
	for (;;) {
		vm->qmp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (vm->qmp < 0)
			return -errno;
		if (connect(vm->qmp, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		r = -errno;
		close(vm->qmp);
		vm->qmp = -1;
		if (vm->pid > 0 && waitpid(vm->pid, NULL, WNOHANG) == vm->pid) {
			vm->pid = -1;
			return -ECHILD;
		}
		/* no QEMU of ours starting: a missing socket will not appear */
		if (vm->pid <= 0 && r == -ENOENT)
			return r;
		if (now_ms() > end)
			return r;
		usleep(10000);
	}
	vm->len = 0;
	vm->migration_done = vm->migration_failed = false;
	r = qmp_line(vm, line, sizeof(line), timeout_ms);	/* the greeting */
	if (!r && !strstr(line, "\"QMP\""))
		r = -EPROTO;
	if (!r)
		r = qmp(vm, "{\"execute\":\"qmp_capabilities\"}");
	if (r) {
		close(vm->qmp);
		vm->qmp = -1;
	}
	return r;
}

static void qmp_close(struct vm *vm)
{
	if (vm->qmp >= 0)
		close(vm->qmp);
	vm->qmp = -1;
}

/* The migration settings of a cpr-reboot save or load: guest RAM (a shared
 * file) stays where it is; @file_mode: a plain save of everything instead. */
static int qmp_migration_setup(struct vm *vm, bool file_mode)
{
	char cmd[512];
	int r;

	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":["
		 "{\"capability\":\"events\",\"state\":true},"
		 "{\"capability\":\"x-ignore-shared\",\"state\":%s}]}}",
		 file_mode ? "false" : "true");
	r = qmp(vm, cmd);
	if (r)
		return r;
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"mode\":\"%s\"}}",
		 file_mode ? "normal" : "cpr-reboot");
	return qmp(vm, cmd);
}

/* ---- QEMU ----------------------------------------------------------------- */

static int start_qemu(struct vm *vm, bool incoming)
{
	char mem[64], backend[256], qmparg[160];
	char *argv[MAX_ARGS + 24];
	int argc = 0;
	pid_t pid;

	snprintf(mem, sizeof(mem), "%" PRIu64 "k", vm->memory >> 10);
	snprintf(backend, sizeof(backend),
		 "memory-backend-file,id=liveupdate-ram,mem-path=/proc/self/fd/%d,share=on,size=%" PRIu64 "k",
		 vm->ram_fd, vm->memory >> 10);
	snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=off", vm->qmp_path);
	argv[argc++] = vm->qemu;
	argv[argc++] = "-name";
	argv[argc++] = (char *)vm->name;
	argv[argc++] = "-m";
	argv[argc++] = mem;
	argv[argc++] = "-object";
	argv[argc++] = backend;
	argv[argc++] = "-machine";
	argv[argc++] = "memory-backend=liveupdate-ram";
	argv[argc++] = "-qmp";
	argv[argc++] = qmparg;
	for (int i = 0; i < vm->argc; i++)
		argv[argc++] = vm->argv[i];
	if (incoming) {
		argv[argc++] = "-incoming";
		argv[argc++] = "defer";
	}
	argv[argc] = NULL;

	unlink(vm->qmp_path);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		/* QEMU opens the memfds through /proc/self/fd: they must stay open */
		fcntl(vm->ram_fd, F_SETFD, 0);
		fcntl(vm->state_fd, F_SETFD, 0);
		execv(argv[0], argv);
		fprintf(stderr, "liveupdate-vm: %s: exec %s: %s\n", vm->name, argv[0], strerror(errno));
		_exit(127);
	}
	vm->pid = pid;
	return 0;
}

/* Loads the device state into the QEMU started with -incoming defer. */
static int resume(struct vm *vm)
{
	char cmd[256], line[8192];
	double t0 = now_ms(), t1;
	int r;

	r = qmp_migration_setup(vm, false);
	if (r)
		return r;
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"file:/proc/self/fd/%d\"}}",
		 vm->state_fd);
	r = qmp(vm, cmd);
	if (!r)
		r = qmp_wait_migration(vm);
	if (r)
		return r;
	t1 = now_ms();
	say(vm->name, "device state loaded ms=%.1f", t1 - t0);
	/* the guest runs on as saved; one saved while paused is let run */
	r = qmp_ans(vm, "{\"execute\":\"query-status\"}", line, sizeof(line));
	if (!r && !strstr(line, "\"running\":true"))
		r = qmp(vm, "{\"execute\":\"cont\"}");
	return r;
}

/* The cpr-reboot save into the state memfd, then quit. */
static int save_and_quit(struct vm *vm)
{
	char cmd[256];
	struct stat st;
	double t0, t1;
	int r, status;

	r = qmp_connect(vm, 10000);
	if (r) {
		say(vm->name, "cannot reach QEMU's QMP socket: %s", strerror(-r));
		return r;
	}
	r = qmp_migration_setup(vm, false);
	if (!r && ftruncate(vm->state_fd, 0) < 0)
		r = -errno;
	t0 = now_ms();
	say(vm->name, "pausing the guest to save its device state");
	if (!r) {
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"file:/proc/self/fd/%d\"}}",
			 vm->state_fd);
		r = qmp(vm, cmd);
	}
	if (!r)
		r = qmp_wait_migration(vm);
	/* quit only once QEMU is done with the stream */
	if (!r)
		r = qmp_wait_state(vm, "postmigrate", false);
	t1 = now_ms();
	if (r) {
		say(vm->name, "saving the device state failed (%s): the VM is lost at this stop",
		    strerror(-r));
		if (ftruncate(vm->state_fd, 0) < 0)
			say(vm->name, "cannot empty the state memfd: %s", strerror(errno));
	} else {
		fstat(vm->state_fd, &st);
		say(vm->name, "device state saved (%lld bytes; guest RAM %" PRIu64 " MiB left in its memfd) ms=%.1f",
		    (long long)st.st_size, vm->memory >> 20, t1 - t0);
	}
	qmp(vm, "{\"execute\":\"quit\"}");
	qmp_close(vm);
	if (waitpid(vm->pid, &status, 0) == vm->pid)
		vm->pid = -1;
	return r;
}

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/*
 * The huge page size of a kept RAM memfd, 0 for a shmem one. Asked of the
 * file system: shmem reports a 2 MiB st_blksize too when shmem THP is on.
 */
static uint64_t kept_hugepage(int fd, const struct stat *st)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != HUGETLBFS_MAGIC)
		return 0;
	return (uint64_t)st->st_blksize;	/* hugetlbfs: the huge page size */
}

/* SIGCHLD only ends sigsuspend(). */
static void on_child(int sig)
{
	(void)sig;
}

static int cmd_run(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct sigaction sc = { .sa_handler = on_child };
	struct stat st;
	bool incoming = false;
	double t0 = now_ms(), t1;
	sigset_t block, old;
	int r, status;

	take_listen_fds(vm);
	if (mkdir("/run/liveupdate-vm", 0700) < 0 && errno != EEXIST) {
		say(vm->name, "mkdir /run/liveupdate-vm: %s", strerror(errno));
		return 1;
	}
	if (vm->ram_fd >= 0 && vm->state_fd >= 0) {
		if (fstat(vm->ram_fd, &st) < 0 || (uint64_t)st.st_size != vm->memory) {
			say(vm->name, "the kept guest RAM is %lld bytes, the configuration says %" PRIu64
			    ": refusing to resume (systemctl clean --what=fdstore %s to start afresh)",
			    (long long)st.st_size, vm->memory, getenv("LIVEUPDATE_VM_UNIT") ?: "liveupdate-vm@NAME");
			return 1;
		}
		if (kept_hugepage(vm->ram_fd, &st) != vm->hugepage) {
			say(vm->name, "the kept guest RAM is on huge pages of %" PRIu64 " bytes, the configuration"
			    " says %" PRIu64 " (0: not on huge pages): refusing to resume"
			    " (systemctl clean --what=fdstore %s to start afresh)",
			    kept_hugepage(vm->ram_fd, &st), vm->hugepage,
			    getenv("LIVEUPDATE_VM_UNIT") ?: "liveupdate-vm@NAME");
			return 1;
		}
		fstat(vm->state_fd, &st);
		incoming = st.st_size > 0;
		if (incoming)
			say(vm->name, "resuming: guest RAM %" PRIu64 " MiB and %lld bytes of device state from the fd store",
			    vm->memory >> 20, (long long)st.st_size);
	}
	if (!incoming) {
		/* a fresh boot: new RAM (a kept one would hold a stopped guest's data) */
		if (vm->ram_fd >= 0)
			close(vm->ram_fd);
		if (vm->state_fd >= 0)
			close(vm->state_fd);
		lu_notify("FDSTOREREMOVE=1\nFDNAME=ram", -1);
		lu_notify("FDSTOREREMOVE=1\nFDNAME=state", -1);
		vm->ram_fd = new_memfd(vm, "ram", vm->memory, vm->hugepage);
		vm->state_fd = new_memfd(vm, "state", 0, 0);
		if (vm->ram_fd < 0 || vm->state_fd < 0) {
			say(vm->name, "memfd_create: %s", strerror(-(vm->ram_fd < 0 ? vm->ram_fd : vm->state_fd)));
			return 1;
		}
		if (store_fd(vm, "ram", vm->ram_fd) || store_fd(vm, "state", vm->state_fd))
			return 1;
		say(vm->name, "booting afresh (nothing kept): guest RAM %" PRIu64 " MiB", vm->memory >> 20);
	}

	/* SIGTERM is the stop: it is taken once QEMU runs */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sc, NULL);

	r = start_qemu(vm, incoming);
	if (r) {
		say(vm->name, "cannot start QEMU: %s", strerror(-r));
		return 1;
	}
	r = qmp_connect(vm, 120000);
	if (r) {
		say(vm->name, "QEMU did not come up (QMP: %s)", strerror(-r));
		goto fail;
	}
	say(vm->name, "QEMU up (QMP answered) ms=%.1f", now_ms() - t0);
	if (incoming) {
		r = resume(vm);
		if (r) {
			say(vm->name, "cannot load the kept device state (%s): the fd store is kept; "
			    "systemctl clean --what=fdstore on this unit discards it", strerror(-r));
			goto fail;
		}
	}
	qmp_close(vm);
	t1 = now_ms();
	say(vm->name, "guest running (%s) ms=%.1f", incoming ? "resumed" : "booted", t1 - t0);
	lu_notify("READY=1\nSTATUS=guest running", -1);

	for (;;) {
		if (waitpid(vm->pid, &status, WNOHANG) == vm->pid) {
			vm->pid = -1;
			say(vm->name, "QEMU exited (%s %d)", WIFEXITED(status) ? "status" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			/* the guest powered off or QEMU died: nothing to resume */
			if (ftruncate(vm->state_fd, 0) < 0)
				return 1;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		}
		if (got_term)
			break;
		sigsuspend(&old);
	}
	lu_notify("STOPPING=1\nSTATUS=saving the device state", -1);
	return save_and_quit(vm) ? 1 : 0;

fail:
	qmp_close(vm);
	if (vm->pid > 0) {
		kill(vm->pid, SIGTERM);
		waitpid(vm->pid, &status, 0);
	}
	return 1;
}

/* save-file: the running VM's full state (RAM copied) to a file, then on. */
static int cmd_save_file(struct vm *vm, const char *file)
{
	char cmd[1024];
	double t0, t1;
	struct stat st;
	int r;

	if (strchr(file, '"') || strchr(file, '\\') || file[0] != '/') {
		say(vm->name, "save-file wants an absolute path without quotes");
		return 2;
	}
	vm->pid = -1;
	r = qmp_connect(vm, 10000);
	if (r) {
		say(vm->name, "cannot reach %s: %s", vm->qmp_path, strerror(-r));
		return 1;
	}
	r = qmp_migration_setup(vm, true);
	t0 = now_ms();
	if (!r) {
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"file:%s\"}}", file);
		r = qmp(vm, cmd);
	}
	if (!r)
		r = qmp_wait_migration(vm);
	t1 = now_ms();
	if (!r)
		r = qmp_wait_state(vm, "finish-migrate", true);
	if (!r)
		r = qmp(vm, "{\"execute\":\"cont\"}");
	qmp_close(vm);
	if (r) {
		say(vm->name, "save to %s failed: %s", file, strerror(-r));
		return 1;
	}
	if (stat(file, &st) < 0)
		st.st_size = -1;
	say(vm->name, "saved to %s (%lld bytes, guest RAM included) ms=%.1f",
	    file, (long long)st.st_size, t1 - t0);
	return 0;
}

static int usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: liveupdate-vm run NAME | save-file NAME FILE | check NAME\n"
		"  run        the main process of liveupdate-vm@NAME.service\n"
		"  save-file  save the running VM with its RAM to FILE and continue it\n"
		"  check      read /etc/liveupdate/vm/NAME.conf, print QEMU's arguments\n");
	return rc;
}

int main(int argc, char **argv)
{
	struct vm vm = { .qmp = -1, .pid = -1, .ram_fd = -1, .state_fd = -1 };

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return usage(0);
	if (argc < 3)
		return usage(2);
	vm.name = argv[2];
	if (!name_ok(vm.name)) {
		fprintf(stderr, "liveupdate-vm: bad VM name '%s' (letters, digits, _ - .)\n", vm.name);
		return 2;
	}
	snprintf(vm.qmp_path, sizeof(vm.qmp_path), "/run/liveupdate-vm/%s.qmp", vm.name);
	if (read_conf(&vm))
		return 1;
	if (!strcmp(argv[1], "run") && argc == 3)
		return cmd_run(&vm);
	if (!strcmp(argv[1], "save-file") && argc == 4)
		return cmd_save_file(&vm, argv[3]);
	if (!strcmp(argv[1], "check") && argc == 3) {
		printf("memory %" PRIu64 "\nqemu %s\n", vm.memory, vm.qemu);
		if (vm.hugepage)
			printf("hugepages %" PRIu64 "\n", vm.hugepage);
		for (int i = 0; i < vm.argc; i++)
			printf("arg %s\n", vm.argv[i]);
		printf("qmp %s\n", vm.qmp_path);
		return 0;
	}
	return usage(2);
}
