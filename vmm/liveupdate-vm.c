// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate-vm: run a QEMU VM as a systemd service so that it keeps running
 * across a kernel update (kexec), on a stock kernel with the liveupdate
 * module: systemd 262 or later carries it, earlier ones (Debian 12, 13)
 * with the broker liveupdated.
 *
 *   liveupdate-vm run NAME          the service's main process
 *                                   (liveupdate-vm@NAME.service)
 *   liveupdate-vm save-file NAME FILE
 *                                   save the running VM, RAM included, to FILE
 *                                   and let it run on (what a reboot without
 *                                   preserved RAM would cost: a measurement)
 *   liveupdate-vm check NAME        parse NAME's configuration, print the
 *                                   QEMU command line
 *   liveupdate-vm mounts NAME       the files NAME's QEMU opens, one a line,
 *                                   for liveupdate-vm-generator's
 *                                   RequiresMountsFor= (exit 1: a path it
 *                                   cannot tell, a relative one)
 *
 * How it works. Guest RAM is a memfd (memory-backend-file,share=on on
 * /proc/self/fd/N), a second memfd takes QEMU's device state and a third,
 * small one holds a record of which state belongs to which RAM (struct
 * vm_meta: off, running at generation G, or saved at G with the state's
 * length and hash). All three live in the service's fd store (FDNAME ram,
 * state, meta), which systemd keeps over a stop
 * (FileDescriptorStorePreserve=yes, v254+) and, from v262, carries across
 * "systemctl kexec" through /dev/liveupdate. Before v262 (Debian 12: 252,
 * 13: 257) the broker liveupdated also holds the three, in a session
 * named for the VM, through the shutdown; the next start takes them back
 * from it ("Before systemd 262" below). On stop (SIGTERM) this program
 * has QEMU save its device state into the state memfd with the cpr-reboot
 * migration mode and x-ignore-shared (guest RAM, a shared file, is not
 * copied: it is already in the memfd), records it as saved, then quits
 * QEMU. On start with a saved state that matches the record it starts QEMU
 * paused with -incoming defer, loads the state, records the guest as
 * running (which uses the state up) and lets it run: the guest continues
 * where it stopped, its RAM untouched. With nothing kept (first start, a
 * kernel that carried nothing, a guest that powered off) the VM boots
 * afresh. Anything else (a guest whose last stop did not save, a state
 * that is not this RAM's, a RAM that did not come back, a state that does
 * not load) leaves the service failed with the fd store kept and says why;
 * "systemctl clean --what=fdstore liveupdate-vm@NAME" discards it. The
 * invariant per step is in docs/crash.md; lu_crash_point() marks the steps.
 *
 * Configuration: /etc/liveupdate/vm/NAME.conf (LIVEUPDATE_VM_CONF_DIR for
 * another directory), lines "key = value", # or ; comments, each key once
 * but args; errors name the file, the line and the key (read_conf()):
 *   memory = 1G          guest RAM (K, M, G suffixes; required)
 *   hugepages = 2M       guest RAM on huge pages of this size (a hugetlb
 *                        memfd from the pool, vm.nr_hugepages or
 *                        hugepages= on the kernel command line); memory
 *                        must be a multiple of it. Default: none (shmem)
 *   qemu = PATH          default /usr/bin/qemu-system-x86_64
 *   user = NAME          QEMU's user (default liveupdate-vm; this program
 *                        stays root: qemu_cred())
 *   args = ...           QEMU arguments, split at white space; '...' is
 *                        taken as is, "..." and \ as in the shell (\" \\
 *                        \ and a space); repeatable. Not -m, -machine
 *                        memory-backend, -qmp, -incoming, -daemonize,
 *                        -runas: this program sets those.
 *
 * Every step prints one line (to the journal), and the timed ones end in
 * "ms=N" so that a test or a bench can pick them up.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "crash-point.h"
#include "fnv1a.h"
#include "libliveupdate.h"
#include "sd-notify.h"

#define MAX_ARGS 256
#define QMP_TIMEOUT_MS (10 * 60 * 1000)

#define META_MAGIC "LUVMMETA"
#define META_VERSION 1
#define META_SIZE 4096

enum { META_OFF = 0, META_RUNNING = 1, META_SAVED = 2 };

struct vm_meta {
	char magic[8];
	uint32_t version;
	uint32_t phase;
	uint64_t ram_size;
	uint64_t hugepage;
	uint64_t ram_gen;	/* bumped before every run of a guest on this RAM */
	uint64_t state_gen;	/* the ram_gen the state was saved at */
	uint64_t state_len;
	uint64_t state_hash;	/* FNV-1a 64 of the state's bytes */
	uint64_t sum;		/* FNV-1a 64 of the fields above */
};

/* QEMU's user and groups, when this program changes to them (qemu_cred()) */
struct qemu_cred {
	bool drop;
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int ngroups;
};

struct vm {
	const char *name;
	char qemu[256];
	char user[33];		/* QEMU's user: liveupdate-vm unless configured */
	struct qemu_cred cred;	/* ... looked up at the start */
	uint64_t memory;
	uint64_t hugepage;	/* 0: a shmem memfd */
	char *argv[MAX_ARGS];
	int argc;
	int ram_fd, state_fd, meta_fd;
	char qmp_path[108];
	char unit[96];		/* liveupdate-vm@NAME, for messages */
	struct vm_meta meta;	/* the record as this run last wrote or read it */
	pid_t pid;
	int qmp;
	char buf[65536];
	size_t len;
	bool migration_done, migration_failed;
	char session[LIVEUPDATE_AGENT_NAME_MAX + 1];	/* the broker's session */
	int held;		/* the broker's RETRIEVE until the guest runs, or -1 */
	int held_session;	/* its incoming session fd, or -1 */
	bool broker;		/* the broker holds the guest across kexec */
	bool held_out;		/* ... and holds this start's record and RAM */
};

/* The tokens of the ram, state and meta memfds in the broker's session. */
enum { TOKEN_STATE = 1, TOKEN_RAM = 2, TOKEN_META = 3 };

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

/*
 * The configuration file, /etc/liveupdate/vm/NAME.conf: "key = value"
 * lines (white space around both is dropped), '#' or ';' first on a line
 * starts a comment, blank lines are skipped; every key but args at most
 * once, an unknown key is an error. Each error names the file, the line
 * and the key: "PATH:LINE: KEY: what is wrong".
 */
struct conf_pos {
	const char *path;
	int line;
};

static void conf_err(struct vm *vm, const struct conf_pos *at, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at->line && key)
		say(vm->name, "%s:%d: %s: %s", at->path, at->line, key, msg);
	else if (at->line)
		say(vm->name, "%s:%d: %s", at->path, at->line, msg);
	else
		say(vm->name, "%s: %s: %s", at->path, key, msg);
}

/* A user name as useradd takes one: [a-z_][a-z0-9_-]*, at most 32. */
static bool user_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 32 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && !strchr("_-", s[i]))
			return false;
	return true;
}

/* One "args" value: split, checked, appended. 0 or -errno, said. */
static int conf_args(struct vm *vm, const struct conf_pos *at, char *val)
{
	char *tok;

	for (;;) {
		if (next_arg(&val, &tok)) {
			conf_err(vm, at, "args", "an unterminated quote or a \\ at the end");
			return -EINVAL;
		}
		if (!tok)
			return 0;
		if (vm->argc >= MAX_ARGS) {
			conf_err(vm, at, "args", "more than %d arguments", MAX_ARGS);
			return -E2BIG;
		}
		if (!strcmp(tok, "-m") || !strcmp(tok, "-qmp") || !strcmp(tok, "-incoming") ||
		    !strcmp(tok, "-daemonize") || !strcmp(tok, "-runas") || !strncmp(tok, "-run-with", 9) ||
		    strstr(tok, "memory-backend=")) {
			conf_err(vm, at, "args", "%s is set by liveupdate-vm", tok);
			return -EINVAL;
		}
		vm->argv[vm->argc] = strdup(tok);
		if (!vm->argv[vm->argc++])
			return -ENOMEM;
	}
}

/* One "key = value" of the file. 0 or -errno, said. */
static int conf_set(struct vm *vm, const struct conf_pos *at, const char *key, char *val)
{
	if (!strcmp(key, "memory")) {
		vm->memory = parse_size(val);
		if (!vm->memory || vm->memory % 4096) {
			conf_err(vm, at, key, "'%s' is not a size in whole pages (bytes, or K, M, G)", val);
			return -EINVAL;
		}
	} else if (!strcmp(key, "hugepages")) {
		vm->hugepage = parse_size(val);
		if (vm->hugepage < 65536 || vm->hugepage > (1ULL << 34) ||
		    (vm->hugepage & (vm->hugepage - 1))) {
			conf_err(vm, at, key, "'%s' is not a huge page size (2M, 1G)", val);
			return -EINVAL;
		}
	} else if (!strcmp(key, "qemu")) {
		if (strlen(val) >= sizeof(vm->qemu) || val[0] != '/') {
			conf_err(vm, at, key, "'%s' is not an absolute path", val);
			return -EINVAL;
		}
		strcpy(vm->qemu, val);
	} else if (!strcmp(key, "user")) {
		if (!user_name_ok(val)) {
			conf_err(vm, at, key, "'%s' is not a user name", val);
			return -EINVAL;
		}
		strcpy(vm->user, val);
	} else {
		return conf_args(vm, at, val);
	}
	return 0;
}

/* Reads /etc/liveupdate/vm/NAME.conf. 0, or -errno with a message. */
static int read_conf(struct vm *vm)
{
	static const char *const keys[] = { "memory", "hugepages", "qemu", "user", "args" };
	const char *dir = getenv("LIVEUPDATE_VM_CONF_DIR");
	int seen[sizeof(keys) / sizeof(keys[0])] = { 0 };
	char path[512], line[4096];
	struct conf_pos at = { path, 0 };
	int r = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.conf", dir ? dir : "/etc/liveupdate/vm", vm->name);
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		say(vm->name, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	snprintf(vm->qemu, sizeof(vm->qemu), "/usr/bin/qemu-system-x86_64");
	snprintf(vm->user, sizeof(vm->user), "liveupdate-vm");
	while (!r && fgets(line, sizeof(line), f)) {
		char *key, *val, *eq;
		size_t k;

		at.line++;
		if (!strchr(line, '\n') && !feof(f)) {
			conf_err(vm, &at, NULL, "line longer than %zu bytes", sizeof(line) - 2);
			r = -EINVAL;
			break;
		}
		key = trim(line);
		if (!*key || *key == '#' || *key == ';')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			conf_err(vm, &at, NULL, "'%s' is not key = value", key);
			r = -EINVAL;
			break;
		}
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (!strcmp(key, keys[k]))
				break;
		if (k == sizeof(keys) / sizeof(keys[0])) {
			conf_err(vm, &at, NULL, "unknown key '%s' (memory, hugepages, qemu, user, args)",
				 key);
			r = -EINVAL;
		} else if (seen[k] && strcmp(key, "args")) {
			conf_err(vm, &at, key, "given again (first on line %d; only args repeats)",
				 seen[k]);
			r = -EINVAL;
		} else {
			seen[k] = at.line;
			r = conf_set(vm, &at, key, val);
		}
	}
	fclose(f);
	at.line = 0;
	if (!r && !vm->memory) {
		conf_err(vm, &at, "memory", "missing (the guest RAM: memory = SIZE)");
		r = -EINVAL;
	}
	if (!r && vm->hugepage && vm->memory % vm->hugepage) {
		conf_err(vm, &at, "memory", "%" PRIu64 " is not a multiple of hugepages %" PRIu64,
			 vm->memory, vm->hugepage);
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

/* The fd store's ram, state and meta memfds (LISTEN_FDS, LISTEN_FDNAMES), if any. */
static void take_listen_fds(struct vm *vm)
{
	char **names;
	int n = lu_listen_fds(&names);

	vm->ram_fd = vm->state_fd = vm->meta_fd = -1;
	for (int i = 0; i < n; i++) {
		int fd = LU_LISTEN_FDS_START + i;
		const char *fdname = names[i];

		if (!strcmp(fdname, "ram") && vm->ram_fd < 0 && is_memfd(fd)) {
			vm->ram_fd = fd;
		} else if (!strcmp(fdname, "state") && vm->state_fd < 0 && is_memfd(fd)) {
			vm->state_fd = fd;
		} else if (!strcmp(fdname, "meta") && vm->meta_fd < 0 && is_memfd(fd)) {
			vm->meta_fd = fd;
		} else {
			say(vm->name, "ignoring passed fd %d (%s)", fd, fdname[0] ? fdname : "no name");
			close(fd);
		}
	}
	lu_listen_names_free(names);
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

/* ---- The record: which state belongs to which RAM -------------------------
 *
 * A third memfd in the fd store, FDNAME meta, holds one struct vm_meta at
 * offset 0. It is written in place with one pwrite(): the fd store holds
 * this very file, so a write is in the store the moment it returns (and a
 * SIGKILL cannot tear a write of one page). Guest RAM is never written to
 * (the guest maps it), and the state memfd is QEMU's stream alone; the
 * record ties them together:
 *
 *   OFF      no guest to resume (never ran, or it powered off): a start
 *            boots afresh on new RAM.
 *   RUNNING  a guest may run on this RAM (ram_gen counts its runs); no
 *            state belongs to it: a start refuses ("cannot resume").
 *   SAVED    the state memfd holds the guest stopped at ram_gen: state_gen
 *            is ram_gen, and state_len and state_hash (FNV-1a 64) are its
 *            bytes. A start resumes only a state matching all three.
 *
 * Only a completed save writes SAVED, and a start writes RUNNING (ram_gen
 * + 1) before it lets a guest run, after QEMU (started with -S) has loaded
 * the state and before "cont": a state is used once, and a stop that does
 * not complete its save leaves RUNNING, which the next start refuses.
 */
/* The state memfd's length and hash into *@len and *@hash. 0 or -errno. */
static int state_digest(int fd, uint64_t *len, uint64_t *hash)
{
	static char buf[65536];
	uint64_t h = LU_FNV1A64_START, off = 0;
	ssize_t n;

	for (;;) {
		n = pread(fd, buf, sizeof(buf), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		h = lu_fnv1a64(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	*len = off;
	*hash = h;
	return 0;
}

/*
 * Reads the record. 1 and *@m on a valid one, 0 if @fd holds none (an
 * empty memfd), -EBADMSG for bytes that are not a record of ours, -errno.
 */
static int meta_read(int fd, struct vm_meta *m)
{
	ssize_t n = pread(fd, m, sizeof(*m), 0);

	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*m) || memcmp(m->magic, META_MAGIC, 8) ||
	    m->version != META_VERSION || m->phase > META_SAVED ||
	    m->sum != lu_fnv1a64(LU_FNV1A64_START, m, offsetof(struct vm_meta, sum)))
		return -EBADMSG;
	return 1;
}

/* Writes the record (in the fd store at once). 0 or -errno, printed. */
static int meta_write(struct vm *vm, struct vm_meta *m)
{
	ssize_t n;

	memcpy(m->magic, META_MAGIC, 8);
	m->version = META_VERSION;
	m->sum = lu_fnv1a64(LU_FNV1A64_START, m, offsetof(struct vm_meta, sum));
	do
		n = pwrite(vm->meta_fd, m, sizeof(*m), 0);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(*m))
		return 0;
	n = n < 0 ? -errno : -EIO;
	say(vm->name, "cannot write the meta record: %s", strerror((int)-n));
	return (int)n;
}

/* ---- QMP ------------------------------------------------------------------ */

/*
 * QMP through json-c: each line QEMU sends is one JSON object (RFC 8259),
 * parsed whole; the program looks at members, never at the text, so a
 * string that holds what looks like a member, or white space anywhere,
 * changes nothing. Commands are built the same way (a file name with
 * quotes in it stays one string).
 */

/* @o's member @key as a string, NULL if it is absent or not a string. */
static const char *qmp_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Notes the MIGRATION event's "completed" and "failed" (data.status). */
static void qmp_event(struct vm *vm, struct json_object *o)
{
	const char *ev = qmp_str(o, "event"), *status;
	struct json_object *data;

	if (!ev || strcmp(ev, "MIGRATION") || !json_object_object_get_ex(o, "data", &data))
		return;
	status = qmp_str(data, "status");
	if (status && !strcmp(status, "completed"))
		vm->migration_done = true;
	if (status && !strcmp(status, "failed"))
		vm->migration_failed = true;
}

/*
 * The next QMP message, parsed, into *@out (the caller puts it); events
 * are noted. 0, -ETIMEDOUT, -EPROTO (a line that is not a JSON object) or
 * -errno.
 */
static int qmp_next(struct vm *vm, struct json_object **out, int timeout_ms)
{
	double end = now_ms() + timeout_ms;

	for (;;) {
		char *nl = memchr(vm->buf, '\n', vm->len);
		struct pollfd p = { .fd = vm->qmp, .events = POLLIN };
		ssize_t n;
		int left;

		if (nl) {
			size_t l = (size_t)(nl - vm->buf), at = l;
			struct json_tokener *tok = json_tokener_new();
			struct json_object *o = NULL;

			if (tok) {
				o = json_tokener_parse_ex(tok, vm->buf, (int)l);
				at = o ? json_tokener_get_parse_end(tok) : 0;
				json_tokener_free(tok);
			}
			/* one object, the line's "\r" and white space aside */
			while (at < l && isspace((unsigned char)vm->buf[at]))
				at++;
			if (at != l) {
				json_object_put(o);
				o = NULL;
			}
			memmove(vm->buf, nl + 1, vm->len - l - 1);
			vm->len -= l + 1;
			if (!json_object_is_type(o, json_type_object)) {
				json_object_put(o);
				return -EPROTO;
			}
			qmp_event(vm, o);
			*out = o;
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

/*
 * Sends the command @execute with @args (taken; NULL: none) and waits for
 * its answer: the "return" member into *@ans (the caller puts it) if @ans
 * is not NULL; events in between are noted. 0 on "return", -EIO on
 * "error" (printed), -errno otherwise.
 */
static int qmp_ans(struct vm *vm, const char *execute, struct json_object *args,
		   struct json_object **ans)
{
	struct json_object *cmd = json_object_new_object(), *o, *v;
	const char *text;
	size_t len;
	int r;

	json_object_object_add(cmd, "execute", json_object_new_string(execute));
	if (args)
		json_object_object_add(cmd, "arguments", args);
	text = json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	if (write(vm->qmp, text, len) != (ssize_t)len || write(vm->qmp, "\n", 1) != 1) {
		r = errno ? -errno : -EIO;
		json_object_put(cmd);
		return r;
	}
	for (;;) {
		r = qmp_next(vm, &o, QMP_TIMEOUT_MS);
		if (r)
			break;
		if (json_object_object_get_ex(o, "return", &v)) {
			if (ans)
				*ans = json_object_get(v);
			json_object_put(o);
			break;
		}
		if (json_object_object_get_ex(o, "error", &v)) {
			say(vm->name, "QMP %s: %s", text,
			    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
			r = -EIO;
			break;
		}
		json_object_put(o);
	}
	json_object_put(cmd);
	return r;
}

static int qmp(struct vm *vm, const char *execute, struct json_object *args)
{
	return qmp_ans(vm, execute, args, NULL);
}

/* Waits for the MIGRATION event "completed" (0) or "failed" (-EIO). */
static int qmp_wait_migration(struct vm *vm)
{
	struct json_object *o;
	int r;

	while (!vm->migration_done && !vm->migration_failed) {
		r = qmp_next(vm, &o, QMP_TIMEOUT_MS);
		if (r)
			return r;
		json_object_put(o);
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
	for (int i = 0; i < 1000; i++) {
		struct json_object *ans = NULL;
		const char *status;
		bool is;
		int r;

		r = qmp_ans(vm, "query-status", NULL, &ans);
		if (r)
			return r;
		status = qmp_str(ans, "status");
		is = status && !strcmp(status, state);
		json_object_put(ans);
		if (is != leave)
			return 0;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

/* Connects to QEMU's QMP socket (retrying while QEMU starts). */
static int qmp_connect(struct vm *vm, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	double end = now_ms() + timeout_ms;
	struct json_object *greeting;
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
	r = qmp_next(vm, &greeting, timeout_ms);
	if (!r) {
		/* {"QMP": {"version": ..., "capabilities": ...}} */
		if (!json_object_object_get_ex(greeting, "QMP", NULL))
			r = -EPROTO;
		json_object_put(greeting);
	}
	if (!r)
		r = qmp(vm, "qmp_capabilities", NULL);
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
static struct json_object *capability(const char *name, bool state)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "capability", json_object_new_string(name));
	json_object_object_add(o, "state", json_object_new_boolean(state));
	return o;
}

/* {"@key": @value} */
static struct json_object *qmp_arg(const char *key, struct json_object *value)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, key, value);
	return o;
}

/* {"uri": "file:@path"} */
static struct json_object *qmp_file_uri(const char *path)
{
	struct json_object *o;
	char *uri;

	if (asprintf(&uri, "file:%s", path) < 0)
		return NULL;
	o = qmp_arg("uri", json_object_new_string(uri));
	free(uri);
	return o;
}

/* {"uri": "file:/proc/self/fd/@fd"} */
static struct json_object *qmp_fd_uri(int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return qmp_file_uri(path);
}

static int qmp_migration_setup(struct vm *vm, bool file_mode)
{
	struct json_object *caps = json_object_new_array();
	int r;

	json_object_array_add(caps, capability("events", true));
	json_object_array_add(caps, capability("x-ignore-shared", !file_mode));
	r = qmp(vm, "migrate-set-capabilities", qmp_arg("capabilities", caps));
	if (r)
		return r;
	return qmp(vm, "migrate-set-parameters",
		   qmp_arg("mode", json_object_new_string(file_mode ? "normal" : "cpr-reboot")));
}

/* ---- QEMU ----------------------------------------------------------------- */

/*
 * QEMU's credentials (libvirt's convention): liveupdate-vm stays root (the
 * broker counts root's memfds, and it keeps the fd store), QEMU runs as
 * the configured user (default liveupdate-vm, which the package creates
 * with systemd-sysusers, a member of kvm) with that user's groups, so the
 * guest's emulator reaches only what that user may: /dev/kvm through
 * kvm, its files through their owner or group. Not root (host tests, a
 * user's own run): QEMU runs as whoever runs this. "user = root" keeps
 * QEMU as root.
 */
/* Looks up vm->user into *@c. 0, or -errno with a message. */
static int qemu_cred(struct vm *vm, struct qemu_cred *c)
{
	struct passwd *pw;

	c->drop = false;
	if (geteuid() != 0 || !strcmp(vm->user, "root"))
		return 0;
	errno = 0;
	pw = getpwnam(vm->user);
	if (!pw) {
		say(vm->name, "QEMU's user %s does not exist (%s; the package creates liveupdate-vm: "
		    "systemd-sysusers liveupdate-vm.conf)", vm->user,
		    errno ? strerror(errno) : "not in the user database");
		return -ENOENT;
	}
	if (pw->pw_uid == 0) {
		say(vm->name, "QEMU's user %s is uid 0: say user = root to run QEMU as root", vm->user);
		return -EPERM;
	}
	c->ngroups = (int)(sizeof(c->groups) / sizeof(c->groups[0]));
	if (getgrouplist(pw->pw_name, pw->pw_gid, c->groups, &c->ngroups) < 0) {
		say(vm->name, "QEMU's user %s is in more than %zu groups", vm->user,
		    sizeof(c->groups) / sizeof(c->groups[0]));
		return -E2BIG;
	}
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	c->drop = true;
	return 0;
}

/*
 * /run/liveupdate-vm, where QEMU makes its QMP socket: QEMU's group may
 * write there (the unit's RuntimeDirectory= made it already; this program
 * is in that group through the unit's Group=, or root with every
 * capability). 0 or -errno, said.
 */
static int run_dir(struct vm *vm, const struct qemu_cred *c)
{
	const char *dir = "/run/liveupdate-vm";

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		say(vm->name, "mkdir %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (!c->drop)
		return 0;
	if (chown(dir, (uid_t)-1, c->gid) < 0 || chmod(dir, 0770) < 0) {
		int r = -errno;

		say(vm->name, "cannot give %s to QEMU's group %u: %s", dir, (unsigned int)c->gid,
		    strerror(-r));
		return r;
	}
	return 0;
}

static int start_qemu(struct vm *vm, bool incoming)
{
	char mem[64], backend[256], qmparg[160];
	char *argv[MAX_ARGS + 24];
	const struct qemu_cred *c = &vm->cred;
	pid_t parent = getpid(), pid;
	int argc = 0;

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
	/* the guest runs only once the record says so ("cont" in cmd_run) */
	argv[argc++] = "-S";
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
		if (c->drop && (setgroups((size_t)c->ngroups, c->groups) < 0 || setgid(c->gid) < 0 ||
				setuid(c->uid) < 0)) {
			fprintf(stderr, "liveupdate-vm: %s: cannot run QEMU as %s: %s\n", vm->name,
				vm->user, strerror(errno));
			_exit(127);
		}
		/* its QMP socket: this program reaches it through the group */
		umask(0007);
		/*
		 * no QEMU outlives us to change guest RAM behind the record (set
		 * after the change of user, which clears it)
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
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

/* Loads the device state into the QEMU started with -S -incoming defer;
 * the guest stays paused. */
static int resume(struct vm *vm)
{
	double t0 = now_ms();
	int r;

	r = qmp_migration_setup(vm, false);
	if (r)
		return r;
	r = qmp(vm, "migrate-incoming", qmp_fd_uri(vm->state_fd));
	lu_crash_point("vm-start:load-started");
	if (!r)
		r = qmp_wait_migration(vm);
	if (r)
		return r;
	lu_crash_point("vm-start:loaded");
	say(vm->name, "device state loaded ms=%.1f", now_ms() - t0);
	return 0;
}

static int hold_state(struct vm *vm);

/*
 * The stop: the cpr-reboot save into the state memfd, the record SAVED,
 * then quit. Invariant (docs/crash.md): the record says RUNNING until the
 * state is whole and hashed, so a stop that is killed, times out or fails
 * at any step leaves a guest that the next start refuses to resume (it
 * says so) and never an older state to load; from the SAVED write on, the
 * guest is resumable (QEMU stays paused in postmigrate until it quits).
 */
static int save_and_quit(struct vm *vm)
{
	uint64_t len = 0, hash = 0;
	double t0, t1;
	int r, status;

	lu_crash_point("vm-stop:begin");
	r = qmp_connect(vm, 10000);
	if (r) {
		say(vm->name, "cannot reach QEMU's QMP socket (%s): the guest is not saved and cannot be "
		    "resumed; the next start says so", strerror(-r));
		return r;
	}
	lu_crash_point("vm-stop:qmp-up");
	r = qmp_migration_setup(vm, false);
	lu_crash_point("vm-stop:set-up");
	if (!r && ftruncate(vm->state_fd, 0) < 0)
		r = -errno;
	lu_crash_point("vm-stop:state-emptied");
	t0 = now_ms();
	say(vm->name, "pausing the guest to save its device state");
	if (!r) {
		r = qmp(vm, "migrate", qmp_fd_uri(vm->state_fd));
	}
	lu_crash_point("vm-stop:migrate-started");
	if (!r)
		r = qmp_wait_migration(vm);
	lu_crash_point("vm-stop:migrated");
	/* quit only once QEMU is done with the stream */
	if (!r)
		r = qmp_wait_state(vm, "postmigrate", false);
	lu_crash_point("vm-stop:postmigrate");
	if (!r)
		r = state_digest(vm->state_fd, &len, &hash);
	lu_crash_point("vm-stop:hashed");
	if (!r && !len)
		r = -ENODATA;
	if (!r && vm->broker)
		hold_state(vm);	/* not held: the next boot refuses it, said */
	if (!r) {
		vm->meta.phase = META_SAVED;
		vm->meta.state_gen = vm->meta.ram_gen;
		vm->meta.state_len = len;
		vm->meta.state_hash = hash;
		r = meta_write(vm, &vm->meta);
	}
	lu_crash_point("vm-stop:recorded");
	t1 = now_ms();
	if (r) {
		say(vm->name, "saving the device state failed (%s): the guest cannot be resumed; "
		    "the next start says so", strerror(-r));
		if (ftruncate(vm->state_fd, 0) < 0)
			say(vm->name, "cannot empty the state memfd: %s", strerror(errno));
	} else {
		say(vm->name, "device state saved (%" PRIu64 " bytes, generation %" PRIu64
		    "; guest RAM %" PRIu64 " MiB left in its memfd) ms=%.1f",
		    len, vm->meta.state_gen, vm->memory >> 20, t1 - t0);
	}
	qmp(vm, "quit", NULL);
	lu_crash_point("vm-stop:quit-sent");
	qmp_close(vm);
	if (waitpid(vm->pid, &status, 0) == vm->pid)
		vm->pid = -1;
	lu_crash_point("vm-stop:qemu-exited");
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

/* ---- Before systemd 262: the broker holds the guest through the kexec ------
 *
 * systemd before 262 (Debian 12: 252, 13: 257) carries no fd store across
 * "systemctl kexec". There the broker (liveupdated, which the shutdown
 * never stops) holds the memfds through it, in a session named for the VM,
 * "vm-NAME" (the broker binds it to this unit: sHASH.vm-NAME), the same
 * memfds that are in the fd store:
 *
 *   start  the record (TOKEN_META) and the RAM (TOKEN_RAM) are preserved
 *          in it before the guest may run, so that from then on a kexec
 *          at any moment carries the record: a guest whose stop did not
 *          complete is refused in the next boot, never lost silently;
 *   stop   the state (TOKEN_STATE) is preserved once it is whole and
 *          hashed, and only then is the record written SAVED: a stop killed
 *          before that leaves RUNNING (refused), after it everything the
 *          resume needs is held.
 *
 * The next start, with nothing in its fd store, takes the three back
 * (RETRIEVE), puts them into the fd store and confirms the RETRIEVE only
 * once the start has decided (resumed or booted, before the guest runs, or
 * refused): a start killed before that leaves them with the broker,
 * retrievable again. A stop without a kexec leaves an outgoing session,
 * which the next start replaces right before the guest runs (its memfds
 * stay in the fd store from systemd 254 on; 252 keeps no fd store over a
 * stop: the start releases it and says so).
 */

/*
 * PID 1's Version property ("257.9-1~deb13u1") into @buf, asked over its
 * private socket as systemctl does for root (no D-Bus daemon needed: the
 * unit starts in early boot), without spawning systemctl at every start
 * (a fork and exec on the guest's blackout). 0 or -errno.
 */
static int pid1_version(char *buf, size_t size)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	char *ver = NULL;
	int r;

	r = sd_bus_new(&bus);
	if (r < 0)
		return r;
	r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r >= 0)
		r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1",
					       "/org/freedesktop/systemd1",
					       "org.freedesktop.systemd1.Manager", "Version", &err,
					       &ver);
	if (r >= 0)
		snprintf(buf, size, "%s", ver);
	free(ver);
	sd_bus_error_free(&err);
	sd_bus_flush_close_unref(bus);
	return r < 0 ? r : 0;
}

/*
 * Whether the stop hands the guest to the broker: the fd store is not
 * carried across "systemctl kexec" by PID 1 here (its Version before 262,
 * or unknown), and there is a /dev/liveupdate to carry anything.
 * LIVEUPDATE_VM_HOLD=broker or fdstore decides instead.
 */
static bool use_broker(struct vm *vm)
{
	const char *e = getenv("LIVEUPDATE_VM_HOLD");
	char line[64] = "";
	struct stat st;
	long v;
	FILE *f;

	if (e && !strcmp(e, "broker"))
		return true;
	if (e && !strcmp(e, "fdstore"))
		return false;
	/*
	 * stat(), not access(): the unit's DevicePolicy=closed refuses
	 * access() on a device it does not allow, even F_OK (qemu-trixie:
	 * "no /dev/liveupdate" with the module loaded, the guest not held)
	 */
	if (stat("/dev/liveupdate", &st) < 0) {
		say(vm->name, "no /dev/liveupdate (the module is not loaded): nothing is kept across "
		    "a kexec");
		return false;
	}
	if (pid1_version(line, sizeof(line)) < 0) {
		f = popen("systemctl show --property=Version --value 2>/dev/null", "re");
		if (f) {
			if (!fgets(line, sizeof(line), f))
				line[0] = '\0';
			pclose(f);
		}
	}
	v = strtol(line, NULL, 10);
	if (v >= 262)
		return false;
	say(vm->name, "systemd %s carries no fd store across kexec: the broker (liveupdated) "
	    "holds the guest through it (session %s)", v > 0 ? trim(line) : "(version unknown)",
	    vm->session);
	return true;
}

/* vm-NAME; a name that is not a broker name (a '.', too long): vmh-HASH. */
static void session_name(struct vm *vm)
{
	size_t len = strlen(vm->name);

	if (len + 3 <= LIVEUPDATE_AGENT_NAME_MAX && !strchr(vm->name, '.'))
		snprintf(vm->session, sizeof(vm->session), "vm-%s", vm->name);
	else
		snprintf(vm->session, sizeof(vm->session), "vmh-%016" PRIx64,
			 lu_fnv1a64(LU_FNV1A64_START, vm->name, len));
}

/*
 * The record and the RAM into a new session of the broker's (a leftover of
 * an earlier stop released first), before the guest may run. 0 or -errno,
 * said either way: without it a kexec loses the guest.
 */
static int hold_start(struct vm *vm)
{
	int r;

	r = liveupdate_agent_release_session(vm->session);
	lu_crash_point("vm-start:broker-released");
	if (r == -ENOENT)
		r = 0;
	if (!r)
		r = liveupdate_agent_create_session(vm->session);
	lu_crash_point("vm-start:broker-created");
	if (!r)
		r = liveupdate_agent_preserve_fd(vm->session, TOKEN_META, vm->meta_fd);
	lu_crash_point("vm-start:broker-meta");
	if (!r)
		r = liveupdate_agent_preserve_fd(vm->session, TOKEN_RAM, vm->ram_fd);
	lu_crash_point("vm-start:broker-ram");
	if (r) {
		say(vm->name, "cannot have the broker hold the guest (%s%s): a kexec loses it (this "
		    "systemd carries no fd store across kexec)", strerror(-r),
		    r == -ECONNREFUSED ? ": is liveupdated installed and running?" : "");
		return r;
	}
	vm->held_out = true;
	return 0;
}

/* The saved state into the broker's session, before the record says SAVED. */
static int hold_state(struct vm *vm)
{
	int r = vm->held_out ? 0 : hold_start(vm);

	if (!r)
		r = liveupdate_agent_preserve_fd(vm->session, TOKEN_STATE, vm->state_fd);
	lu_crash_point("vm-stop:broker-state");
	if (r)
		say(vm->name, "the broker did not take the device state (%s): a kexec loses the "
		    "guest (the next boot refuses it)", strerror(-r));
	else
		say(vm->name, "guest held by the broker for the kexec (session %s: meta, ram, state)",
		    vm->session);
	return r;
}

/* The start decided (the guest runs, or is refused): the broker drops its copy. */
static void broker_done(struct vm *vm)
{
	int r;

	if (vm->held < 0)
		return;
	r = liveupdate_agent_retrieve_end(vm->held, 1);
	vm->held = -1;
	lu_crash_point("vm-start:broker-confirmed");
	if (r)
		say(vm->name, "the broker did not confirm the hand-back (%s): it may still hold "
		    "session %s", strerror(-r), vm->session);
	if (vm->held_session >= 0) {
		liveupdate_finish(vm->held_session);
		close(vm->held_session);
		vm->held_session = -1;
	}
}

/*
 * The start's first step where the broker holds guests: with the fd store
 * empty, the memfds the broker carried across the kexec go back into it
 * (not yet confirmed: broker_done()), or an outgoing session of a stop
 * without a kexec is released (systemd 252: the fd store did not keep
 * them). With the fd store holding them, the copy of a start killed before
 * it confirmed goes; an outgoing session of a stop without a kexec stays
 * until hold_start() replaces it, right before the guest runs.
 * 0, or -EPERM with a message (the broker did not answer as it should:
 * try again).
 */
static int take_from_broker(struct vm *vm)
{
	const struct { const char *what; uint64_t token; int *fd; } f[] = {
		{ "meta", TOKEN_META, &vm->meta_fd },
		{ "state", TOKEN_STATE, &vm->state_fd },
		{ "ram", TOKEN_RAM, &vm->ram_fd },
	};
	bool kept = vm->meta_fd >= 0 || vm->ram_fd >= 0 || vm->state_fd >= 0;
	int handle, s, r = 0;
	char got[32] = "";

		s = liveupdate_agent_retrieve_begin(vm->session, &handle);
	if (s == -ECONNREFUSED)
		return 0;	/* no broker: nothing it could hold */
	if (s == -ENOENT && kept)
		return 0;	/* hold_start() replaces what the broker holds of them */
	if (s == -ENOENT) {
		r = liveupdate_agent_release_session(vm->session);
		lu_crash_point("vm-start:broker-released-old");
		if (!r)
			say(vm->name, "the guest saved at the last stop was held by the broker for a "
			    "kexec that did not come, and this systemd kept no fd store over the stop: "
			    "it is gone; booting afresh");
		if (!r || r == -ENOENT || r == -ECONNREFUSED)
			return 0;
		say(vm->name, "the broker did not release session %s (%s): cannot start yet (its "
		    "memfds stay frozen while it holds them); try again", vm->session, strerror(-r));
		return -EPERM;
	}
	if (s < 0) {
		say(vm->name, "cannot ask the broker for session %s (%s): cannot start yet (a guest "
		    "it holds would be lost); try again", vm->session, strerror(-s));
		return -EPERM;
	}
	lu_crash_point("vm-start:broker-retrieved");
	vm->held = handle;
	vm->held_session = s;
	if (kept) {
		/* the same memfds, already in the fd store */
		say(vm->name, "the broker still held session %s, already in the fd store: dropped",
		    vm->session);
		broker_done(vm);
		return 0;
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		int fd = liveupdate_retrieve_fd(s, f[i].token);

		if (fd == -ENOENT)
			continue;
		if (fd < 0) {
			say(vm->name, "cannot retrieve the %s memfd from session %s (%s)", f[i].what,
			    vm->session, strerror(-fd));
			continue;	/* check_kept() says what is missing */
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		*f[i].fd = fd;
		r = store_fd(vm, f[i].what, fd);
		if (r)
			return -EPERM;
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " %s", f[i].what);
	}
	lu_crash_point("vm-start:broker-stored");
	if (got[0])
		say(vm->name, "taken back from the broker (session %s):%s", vm->session, got);
	else
		say(vm->name, "the broker's session %s came back empty: a start was killed while it "
		    "replaced the broker's hold, and a guest saved before it is lost", vm->session);
	return 0;
}

/*
 * What the fd store holds decides the start: true into *@incoming for a
 * state that belongs to the kept RAM (resume), false for nothing to
 * resume (boot afresh). -EPERM when neither is right: a guest that cannot
 * be resumed; -EAGAIN: not yet (the RAM did not come back). The fd store
 * is left as it is, the message says why and what to do.
 */
static int check_kept(struct vm *vm, bool *incoming)
{
	const char *unit = vm->unit;
	uint64_t len = 0, hash = 0;
	struct stat st;
	off_t state_size = 0;
	int have_meta = 0;

	*incoming = false;
	if (vm->meta_fd >= 0)
		have_meta = meta_read(vm->meta_fd, &vm->meta);
	if (have_meta < 0) {
		say(vm->name, "the kept meta record is unreadable (%s): cannot resume; the fd store is kept "
		    "(systemctl clean --what=fdstore %s boots the VM afresh)", strerror(-have_meta), unit);
		return -EPERM;
	}
	if (vm->state_fd >= 0 && fstat(vm->state_fd, &st) == 0)
		state_size = st.st_size;
	if (have_meta && vm->meta.phase == META_OFF)
		return 0;	/* nothing to resume (a leftover state is dropped) */
	if (have_meta && vm->meta.phase == META_RUNNING) {
		say(vm->name, "cannot resume: the guest (generation %" PRIu64 ") was not saved at its last "
		    "stop (liveupdate-vm or QEMU killed, the save failed or timed out), so no device state "
		    "belongs to its RAM; the fd store is kept (systemctl clean --what=fdstore %s boots the "
		    "VM afresh)", vm->meta.ram_gen, unit);
		return -EPERM;
	}
	if (!have_meta && state_size == 0)
		return 0;	/* nothing to resume */
	if (vm->ram_fd < 0) {
		say(vm->name, "cannot resume yet: the device state is kept but the guest RAM did not come "
		    "back (a short hugetlb pool in this boot gives ENOMEM: grow it, hugepages= on the "
		    "kernel command line, and retry); the fd store is kept (systemctl clean "
		    "--what=fdstore %s boots the VM afresh)", unit);
		return -EAGAIN;
	}
	if (!have_meta) {
		say(vm->name, "cannot resume: a device state of %lld bytes without a meta record (kept by "
		    "a liveupdate-vm before generations): whether it belongs to the kept RAM is unknown; "
		    "the fd store is kept (systemctl clean --what=fdstore %s boots the VM afresh)",
		    (long long)state_size, unit);
		return -EPERM;
	}
	if (fstat(vm->ram_fd, &st) < 0 || (uint64_t)st.st_size != vm->memory ||
	    vm->meta.ram_size != vm->memory) {
		say(vm->name, "the kept guest RAM is %lld bytes, the configuration says %" PRIu64
		    ": refusing to resume (systemctl clean --what=fdstore %s to start afresh)",
		    (long long)st.st_size, vm->memory, unit);
		return -EPERM;
	}
	if (kept_hugepage(vm->ram_fd, &st) != vm->hugepage) {
		say(vm->name, "the kept guest RAM is on huge pages of %" PRIu64 " bytes, the configuration"
		    " says %" PRIu64 " (0: not on huge pages): refusing to resume"
		    " (systemctl clean --what=fdstore %s to start afresh)",
		    kept_hugepage(vm->ram_fd, &st), vm->hugepage, unit);
		return -EPERM;
	}
	if (vm->state_fd < 0 || state_digest(vm->state_fd, &len, &hash) ||
	    vm->meta.state_gen != vm->meta.ram_gen || len != vm->meta.state_len ||
	    hash != vm->meta.state_hash) {
		say(vm->name, "cannot resume: the kept device state (%" PRIu64 " bytes) is not the one saved "
		    "for this guest RAM (generation %" PRIu64 ", %" PRIu64 " bytes); the fd store is kept "
		    "(systemctl clean --what=fdstore %s boots the VM afresh)",
		    len, vm->meta.ram_gen, vm->meta.state_len, unit);
		return -EPERM;
	}
	say(vm->name, "resuming: guest RAM %" PRIu64 " MiB and %" PRIu64 " bytes of device state "
	    "(generation %" PRIu64 ") from the fd store", vm->memory >> 20, len, vm->meta.ram_gen);
	*incoming = true;
	return 0;
}

/*
 * A fresh boot: the record OFF (created and stored if there is none),
 * then new RAM and state memfds in place of the kept ones (a kept RAM
 * would hold a stopped guest's data). Every step leaves the record OFF
 * or absent: a crash here boots afresh at the next start, and no guest
 * has run on the new RAM yet.
 */
static int boot_afresh(struct vm *vm)
{
	struct vm_meta off = { .phase = META_OFF, .ram_size = vm->memory, .hugepage = vm->hugepage };
	int r;

	if (vm->ram_fd >= 0)
		close(vm->ram_fd);
	if (vm->state_fd >= 0)
		close(vm->state_fd);
	vm->ram_fd = vm->state_fd = -1;
	if (vm->meta_fd < 0) {
		vm->meta_fd = new_memfd(vm, "meta", META_SIZE, 0);
		if (vm->meta_fd < 0) {
			say(vm->name, "memfd_create: %s", strerror(-vm->meta_fd));
			return vm->meta_fd;
		}
		r = meta_write(vm, &off);
		if (!r)
			r = store_fd(vm, "meta", vm->meta_fd);
	} else {
		r = meta_write(vm, &off);
	}
	if (r)
		return r;
	vm->meta = off;
	lu_crash_point("vm-start:meta-off");
	lu_notify("FDSTOREREMOVE=1\nFDNAME=ram", -1);
	lu_notify("FDSTOREREMOVE=1\nFDNAME=state", -1);
	lu_crash_point("vm-start:old-removed");
	vm->ram_fd = new_memfd(vm, "ram", vm->memory, vm->hugepage);
	vm->state_fd = new_memfd(vm, "state", 0, 0);
	if (vm->ram_fd < 0 || vm->state_fd < 0) {
		r = vm->ram_fd < 0 ? vm->ram_fd : vm->state_fd;
		say(vm->name, "memfd_create: %s", strerror(-r));
		return r;
	}
	r = store_fd(vm, "ram", vm->ram_fd);
	lu_crash_point("vm-start:ram-stored");
	if (!r)
		r = store_fd(vm, "state", vm->state_fd);
	if (r)
		return r;
	lu_crash_point("vm-start:state-stored");
	say(vm->name, "booting afresh (nothing kept): guest RAM %" PRIu64 " MiB", vm->memory >> 20);
	return 0;
}

/*
 * The start, then the run until SIGTERM (the stop: save_and_quit()).
 * Invariant of the start (docs/crash.md): QEMU starts paused (-S) and the
 * guest runs only after the record says RUNNING with a new generation and
 * the consumed state is emptied. A crash before that leaves the record as
 * it was (SAVED: the next start resumes the same state; OFF: it boots
 * afresh); a crash after it leaves RUNNING, which the next start refuses
 * with a message. No state is ever loaded twice.
 */
static int cmd_run(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct sigaction sc = { .sa_handler = on_child };
	bool incoming = false, running = false;
	double t0 = now_ms(), t1;
	sigset_t block, old;
	int r, status;

	take_listen_fds(vm);
	lu_crash_point("vm-start:begin");
	/* QEMU's user, before anything is decided: a missing one changes nothing */
	if (qemu_cred(vm, &vm->cred) || run_dir(vm, &vm->cred))
		return 1;
	vm->broker = use_broker(vm);
	if (vm->broker && take_from_broker(vm))
		return 1;
	r = check_kept(vm, &incoming);
	if (r) {
		if (r != -EAGAIN)
			broker_done(vm);	/* decided: the fd store keeps it */
		return 1;
	}
	if (!incoming && boot_afresh(vm))
		return 1;

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
	lu_crash_point("vm-start:qemu-started");
	say(vm->name, "QEMU started (pid %d) ms=%.1f", (int)vm->pid, now_ms() - t0);
	r = qmp_connect(vm, 120000);
	if (r) {
		say(vm->name, "QEMU did not come up (QMP: %s)", strerror(-r));
		goto fail;
	}
	lu_crash_point("vm-start:qmp-up");
	say(vm->name, "QEMU up (QMP answered) ms=%.1f", now_ms() - t0);
	if (incoming) {
		r = resume(vm);
		if (r) {
			say(vm->name, "cannot load the kept device state (%s): the fd store is kept; "
			    "systemctl clean --what=fdstore on this unit discards it", strerror(-r));
			goto fail;
		}
	}
	if (vm->broker) {
		broker_done(vm);	/* decided: the fd store has it */
		hold_start(vm);		/* not held: a kexec loses it, said */
	}
	/* from here the guest may change its RAM: no state belongs to it */
	vm->meta.phase = META_RUNNING;
	vm->meta.ram_gen++;
	if (meta_write(vm, &vm->meta))
		goto fail;
	running = true;
	lu_crash_point("vm-start:running-recorded");
	if (incoming && ftruncate(vm->state_fd, 0) < 0) {
		say(vm->name, "cannot empty the loaded state memfd: %s", strerror(errno));
		goto fail;
	}
	lu_crash_point("vm-start:state-emptied");
	r = qmp(vm, "cont", NULL);
	if (r) {
		say(vm->name, "QEMU did not let the guest run (cont: %s)", strerror(-r));
		goto fail;
	}
	lu_crash_point("vm-start:cont");
	qmp_close(vm);
	t1 = now_ms();
	say(vm->name, "guest running (%s) generation %" PRIu64 " ms=%.1f",
	    incoming ? "resumed" : "booted", vm->meta.ram_gen, t1 - t0);
	lu_notify("READY=1\nSTATUS=guest running", -1);
	lu_crash_point("vm-start:ready");
	broker_done(vm);

	for (;;) {
		if (waitpid(vm->pid, &status, WNOHANG) == vm->pid) {
			vm->pid = -1;
			say(vm->name, "QEMU exited (%s %d): the guest is gone, nothing to resume; the next "
			    "start boots it afresh", WIFEXITED(status) ? "status" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			vm->meta.phase = META_OFF;
			if (meta_write(vm, &vm->meta))
				return 1;
			lu_crash_point("vm-gone:recorded");
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
	if (running)
		say(vm->name, "the guest cannot be resumed (its state was used by this start); the next "
		    "start says so");
	return 1;
}

/* save-file: the running VM's full state (RAM copied) to a file, then on. */
static int cmd_save_file(struct vm *vm, const char *file)
{
	double t0, t1;
	struct stat st;
	int r;

	if (file[0] != '/') {
		say(vm->name, "save-file wants an absolute path");
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
		r = qmp(vm, "migrate", qmp_file_uri(file));
	}
	if (!r)
		r = qmp_wait_migration(vm);
	t1 = now_ms();
	if (!r)
		r = qmp_wait_state(vm, "finish-migrate", true);
	if (!r)
		r = qmp(vm, "cont", NULL);
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

/*
 * The value of a QEMU option that names a file: "file=", "path=",
 * "filename=", "logfile=", "mem-path=" in a comma-separated list, or a
 * chardev backend "file:PATH" (-serial file:PATH). NULL for anything else.
 */
static const char *file_value(const char *opt)
{
	static const char *const keys[] = { "file=", "path=", "filename=", "logfile=",
					    "mem-path=", "file:" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strncmp(opt, keys[i], strlen(keys[i])))
			return opt + strlen(keys[i]);
	return NULL;
}

/* A path systemd takes as is in RequiresMountsFor= (no space, %, \, quote). */
static bool unit_path_ok(const char *p)
{
	return p[0] == '/' && !strpbrk(p, " \t\n\\%\"'");
}

/*
 * "mounts": what liveupdate-vm-generator orders the unit after
 * (RequiresMountsFor=, so that the VM starts as soon as exactly the file
 * systems its files live on are mounted, and never opens a disk image on
 * the root below a mount point not yet mounted): the configuration, the
 * QEMU binary, every argument that is an absolute path and every file
 * option's value (QEMU's ",," is a comma). Exit 1, printing nothing, for
 * a file it cannot place (a relative path, a protocol such as nbd:, a
 * character systemd would read otherwise): the generator then orders the
 * unit after local-fs.target, as before.
 */
static int cmd_mounts(struct vm *vm)
{
	const char *dir = getenv("LIVEUPDATE_VM_CONF_DIR");
	char conf[512], *out = NULL;
	size_t out_len = 0;
	FILE *o = open_memstream(&out, &out_len);
	int bad = 0;

	if (!o)
		return 1;
	snprintf(conf, sizeof(conf), "%s/%s.conf", dir ? dir : "/etc/liveupdate/vm", vm->name);
	fprintf(o, "%s\n%s\n", conf, vm->qemu);
	if (!unit_path_ok(conf) || !unit_path_ok(vm->qemu))
		bad = 1;
	for (int i = 0; i < vm->argc && !bad; i++) {
		char opt[4096];
		const char *a = vm->argv[i], *v;
		size_t n;

		if (a[0] == '/') {
			if (!unit_path_ok(a))
				bad = 1;
			fprintf(o, "%s\n", a);
			continue;
		}
		while (*a && !bad) {	/* the options of a list, ",," unescaped */
			for (n = 0; *a && n < sizeof(opt) - 1; a++) {
				if (*a == ',' && a[1] != ',')
					break;
				if (*a == ',')
					a++;
				opt[n++] = *a;
			}
			opt[n] = '\0';
			if (*a == ',')
				a++;
			v = file_value(opt);
			if (!v && strchr(opt, '=') && strchr(opt, '=')[1] == '/')
				v = strchr(opt, '=') + 1;	/* script=/..., helper=/... */
			if (!v && opt[0] == '/')
				v = opt;
			if (!v)
				continue;
			if (!unit_path_ok(v)) {
				fprintf(stderr, "liveupdate-vm: %s: cannot tell the file system of '%s'\n",
					vm->name, v);
				bad = 1;
			}
			fprintf(o, "%s\n", v);
		}
	}
	fclose(o);
	if (!bad)
		fputs(out, stdout);
	free(out);
	return bad;
}

static int usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: liveupdate-vm run NAME | save-file NAME FILE | check NAME | mounts NAME\n"
		"  run        the main process of liveupdate-vm@NAME.service\n"
		"  save-file  save the running VM with its RAM to FILE and continue it\n"
		"  check      read /etc/liveupdate/vm/NAME.conf, print QEMU's arguments\n"
		"  mounts     print the files NAME's QEMU opens (liveupdate-vm-generator)\n");
	return rc;
}

int main(int argc, char **argv)
{
	struct vm vm = { .qmp = -1, .pid = -1, .ram_fd = -1, .state_fd = -1, .meta_fd = -1,
			 .held = -1, .held_session = -1 };

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
	snprintf(vm.unit, sizeof(vm.unit), "liveupdate-vm@%s", vm.name);
	session_name(&vm);
	if (read_conf(&vm))
		return 1;
	if (!strcmp(argv[1], "run") && argc == 3)
		return cmd_run(&vm);
	if (!strcmp(argv[1], "mounts") && argc == 3)
		return cmd_mounts(&vm);
	if (!strcmp(argv[1], "save-file") && argc == 4)
		return cmd_save_file(&vm, argv[3]);
	if (!strcmp(argv[1], "check") && argc == 3) {
		printf("memory %" PRIu64 "\nqemu %s\nuser %s\n", vm.memory, vm.qemu, vm.user);
		if (vm.hugepage)
			printf("hugepages %" PRIu64 "\n", vm.hugepage);
		for (int i = 0; i < vm.argc; i++)
			printf("arg %s\n", vm.argv[i]);
		printf("qmp %s\n", vm.qmp_path);
		return 0;
	}
	return usage(2);
}
