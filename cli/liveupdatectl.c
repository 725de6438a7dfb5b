// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdatectl: look at and use live update from a shell (libliveupdate).
 *
 *   liveupdatectl status [--json]
 *   liveupdatectl check [--json] [--kernel VERSION] [--sessions | --initramfs]
 *   liveupdatectl hold [--detach] NAME FILE...
 *   liveupdatectl get [--finish] NAME ENTRY [PATH]
 *   liveupdatectl get NAME --all DIR
 *   liveupdatectl get --finish NAME
 *
 * Exit codes (liveupdatectl(8)): 0 done, 1 failed, 2 usage, 3 live update
 * unavailable (no /dev/liveupdate), 4 no such session or entry, 5 busy,
 * 6 check found a problem, 7 check found none but could not tell everything.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/liveupdate.h>

#include "libliveupdate.h"
#include "sd-notify.h"
#include "crash-point.h"
#include "args.h"

enum {
	EXIT_DONE = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_UNAVAILABLE = 3,
	EXIT_NOTFOUND = 4,
	EXIT_BUSY = 5,
	EXIT_CHECK = 6,
	EXIT_CHECK_UNKNOWN = 7,
};

#define PARAM_DIR "/sys/module/liveupdate/parameters"
/* argv[0] of the process keeping a session get retrieved (cmd_keep()) */
#define KEEPER_GET "@liveupdatectl-get"

static const char *prog = "liveupdatectl";

/* Each verb's synopsis: VERB --help prints its own, a usage error too. */
static const struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} *verb;

static const char USAGE_STATUS[] = "usage: liveupdatectl status [--json]\n";
static const char USAGE_CHECK[] =
	"usage: liveupdatectl check [--json] [--kernel VERSION] [--sessions | --initramfs]\n";
static const char USAGE_HOLD[] = "usage: liveupdatectl hold [--detach] NAME FILE...\n";
static const char USAGE_GET[] =
	"usage: liveupdatectl get [--finish] NAME ENTRY [PATH]\n"
	"       liveupdatectl get NAME --all DIR\n"
	"       liveupdatectl get --finish NAME\n"
	"ENTRY is a name from the session's manifest or a token (decimal or 0x...).\n";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: liveupdatectl status [--json]\n"
		"       liveupdatectl check [--json] [--kernel VERSION] [--sessions | --initramfs]\n"
		"       liveupdatectl hold [--detach] NAME FILE...\n"
		"       liveupdatectl get [--finish] NAME ENTRY [PATH]\n"
		"       liveupdatectl get NAME --all DIR\n"
		"       liveupdatectl get --finish NAME\n"
		"       liveupdatectl [VERB] --help | --version\n"
		"ENTRY is a name from the session's manifest or a token (decimal or 0x...).\n");
}

/* "liveupdatectl: VERB: WHAT" and the verb's synopsis on stderr: exit 2. */
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", prog, verb->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(verb->usage, stderr);
	return EXIT_USAGE;
}

enum { OPT_HELP = -3, OPT_BAD = -2 };

/*
 * The next option of the verb's arguments (getopt_long; @shorts starts with
 * ':'). --help and -h print the verb's synopsis on stdout (OPT_HELP); an
 * unknown option or one without its value is a usage error naming it
 * (OPT_BAD); -1 at the end of the options.
 */
static int next_opt(int argc, char **argv, const char *shorts, const struct option *longs)
{
	int c = getopt_long(argc, argv, shorts, longs, NULL);

	switch (c) {
	case 'h':
		fputs(verb->usage, stdout);
		return OPT_HELP;
	case ':':
		usage_error("option %s needs a value", argv[optind - 1]);
		return OPT_BAD;
	case '?':
		if (optopt)
			usage_error("unknown option -%c", optopt);
		else
			usage_error("unknown option %s", argv[optind - 1]);
		return OPT_BAD;
	}
	return c;
}

#define OPT_DONE(c) ((c) == OPT_HELP ? EXIT_DONE : EXIT_USAGE)

/* Prints "liveupdatectl: WHAT: strerror(-r)" and maps r to an exit code. */
static int fail(int r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (r < 0)
		fprintf(stderr, ": %s", strerror(-r));
	fputc('\n', stderr);
	switch (r) {
	case -ENOENT:
		return EXIT_NOTFOUND;
	case -EBUSY:
		return EXIT_BUSY;
	default:
		return EXIT_FAILED;
	}
}

static int open_device(void)
{
	int dev;

	if (!liveupdate_available()) {
		fprintf(stderr, "%s: %s does not exist: live update is not available "
			"(load the liveupdate module, or boot a kernel with CONFIG_LIVEUPDATE)\n",
			prog, LIVEUPDATE_DEVICE);
		return -EXIT_UNAVAILABLE;
	}
	dev = liveupdate_open(LIVEUPDATE_OPEN_WAIT);
	if (dev < 0)
		return -fail(dev, "cannot open %s", LIVEUPDATE_DEVICE);
	return dev;
}

/*
 * @path under $LIVEUPDATECTL_ROOT (for the tests: a directory standing for
 * /, with proc/cmdline, sys/..., boot/...), else @path itself. Every file
 * status and check read goes through it.
 */
static const char *rooted(const char *path)
{
	static char buf[4][PATH_MAX];
	static unsigned int next;
	const char *root = getenv("LIVEUPDATECTL_ROOT");
	char *b;

	if (!root || !*root)
		return path;
	b = buf[next++ % 4];
	snprintf(b, PATH_MAX, "%s%s", root, path);
	return b;
}

/* Reads a one-line sysfs file into @buf without its newline; "" if absent. */
static const char *read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(rooted(path), "re");

	buf[0] = 0;
	if (!f)
		return buf;
	if (!fgets(buf, (int)len, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(rooted(path), &st) == 0;
}

/* ---- status ---------------------------------------------------------------- */

struct status {
	int device;		/* /dev/liveupdate exists */
	const char *provider;	/* "module", "kernel" or "none" */
	char handover[32];	/* handover_status, "" if not the module */
	char addr[32], size[32];
	int have_space;		/* the module's "space" (root-only) was read */
	unsigned long long used, free;
	char last[512];		/* the module's "last_handover", "" if unread */
	int sessions;		/* 1 read, 0 unreadable (not root), -1 busy */
	char sess[8192];	/* the module's "sessions" */
};

/* Reads a whole (multi-line) sysfs file; "" if absent or unreadable. */
static void read_all(const char *path, char *buf, size_t len)
{
	int fd = open(rooted(path), O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* "KEY VALUE" of a "key value" per line text, or NULL. */
static const char *field(const char *text, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ' ') {
			snprintf(out, len, "%.*s", (int)strcspn(p + klen + 1, "\n"), p + klen + 1);
			return out;
		}
	}
	return NULL;
}

/*
 * The module's "sessions" (root-only): 1 read, 0 unreadable, -1 still busy
 * after about a second (the module never waits: EAGAIN while a session is
 * created or closed, a file restored, ...).
 */
static int read_sessions(char *buf, size_t len)
{
	buf[0] = 0;
	for (int tries = 0; tries < 20; tries++) {
		int fd = open(rooted(PARAM_DIR "/sessions"), O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0)
			return 0;
		n = read(fd, buf, len - 1);
		close(fd);
		if (n >= 0) {
			buf[n] = 0;
			return 1;
		}
		if (errno != EAGAIN)
			return 0;
		usleep(50000);
	}
	return -1;
}

/* One line of "sessions", parsed; the name as the module escaped it. */
struct sess_line {
	int in;			/* incoming */
	unsigned long long files, bytes;
	char state[16];		/* incoming: unretrieved, retrieved, finished */
	char name[256];		/* escaped: one word */
};

/*
 * Parses the line at @p into @l: 1, or 0 for "more N" (N in @more), -1 for
 * anything else. @p moves to the next line.
 */
static int sess_parse(const char **p, struct sess_line *l, unsigned long long *more)
{
	size_t len = strcspn(*p, "\n");
	char line[512];
	int r = -1, n = 0;

	snprintf(line, sizeof(line), "%.*s", (int)len, *p);
	*p += len + ((*p)[len] == '\n');
	memset(l, 0, sizeof(*l));
	if (sscanf(line, "more %llu%n", more, &n) == 1 && !line[n])
		r = 0;
	else if (sscanf(line, "out %llu %llu %255s%n", &l->files, &l->bytes, l->name, &n) == 3 &&
		 !line[n])
		r = 1;
	else if (sscanf(line, "in %llu %llu %15s %255s%n", &l->files, &l->bytes, l->state,
			l->name, &n) == 4 && !line[n])
		r = 1, l->in = 1;
	return r;
}

/*
 * Undoes the module's escapes (\\, \a, \e, \f, \n, \r, \t, \v, \ooo) into
 * @out; the result may hold any byte but NUL.
 */
static void sess_unescape(const char *s, char *out, size_t len)
{
	static const char from[] = "\\aefnrtv", to[] = "\\\a\033\f\n\r\t\v";
	size_t o = 0;

	while (*s && o + 1 < len) {
		const char *e;

		if (*s != '\\' || !s[1]) {
			out[o++] = *s++;
		} else if (s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
			   s[3] >= '0' && s[3] <= '7') {
			out[o++] = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 4;
		} else if ((e = strchr(from, s[1]))) {
			out[o++] = to[e - from];
			s += 2;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = 0;
}

static void get_status(struct status *st)
{
	memset(st, 0, sizeof(*st));
	st->device = exists(LIVEUPDATE_DEVICE);
	if (exists("/sys/module/liveupdate/parameters"))
		st->provider = "module";
	else if (st->device)
		st->provider = "kernel";
	else
		st->provider = "none";
	read_line(PARAM_DIR "/handover_status", st->handover, sizeof(st->handover));
	read_line(PARAM_DIR "/addr", st->addr, sizeof(st->addr));
	read_line(PARAM_DIR "/size", st->size, sizeof(st->size));
	{
		char space[128], v[32];

		read_all(PARAM_DIR "/space", space, sizeof(space));
		if (field(space, "used", v, sizeof(v))) {
			st->used = strtoull(v, NULL, 10);
			st->have_space = field(space, "free", v, sizeof(v)) != NULL;
			st->free = strtoull(v, NULL, 10);
		}
	}
	read_all(PARAM_DIR "/last_handover", st->last, sizeof(st->last));
	st->sessions = read_sessions(st->sess, sizeof(st->sess));
}

/*
 * JSON through json-c (docs/fleet.md: the documents' schemas). Strings go
 * in as valid UTF-8: a byte that is not part of valid UTF-8 (a session name
 * is any bytes) becomes the character of the same number (U+0080..U+00FF),
 * the value the hand-made writer's \u00XX gave it; json-c escapes quotes,
 * backslashes and control characters.
 */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Length of the valid UTF-8 sequence at @s (no overlong, surrogate), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	unsigned int cp = n ? s[0] & (0x3f >> (n - 1)) : 0;

	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* A JSON string of @s (see above); NULL: JSON null. */
static struct json_object *jstr(const char *s)
{
	struct json_object *o;
	size_t len, k = 0;
	char *u;

	if (!s)
		return NULL;
	len = strlen(s);
	u = malloc(2 * len + 1);
	if (!u)
		return json_object_new_string(s);
	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t n = c >= 0x80 ? utf8_len((const unsigned char *)s) : 1;

		if (!n) {		/* U+0080..U+00FF in UTF-8 */
			u[k++] = (char)(0xc0 | c >> 6);
			u[k++] = (char)(0x80 | (c & 0x3f));
			s++;
			continue;
		}
		memcpy(u + k, s, n);
		k += n;
		s += n;
	}
	u[k] = 0;
	o = json_object_new_string_len(u, (int)k);
	free(u);
	return o;
}

static struct json_object *juint(unsigned long long v)
{
	return json_object_new_uint64(v);
}

/* A decimal or 0x number of sysfs as a JSON number, null if it is not one. */
static struct json_object *jnum_or_null(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (!*s || *end || errno)
		return NULL;
	return juint(v);
}

#define jadd json_object_object_add

/* Prints @doc and a newline, and frees it. */
static void json_print(struct json_object *doc)
{
	puts(json_object_to_json_string_ext(doc, JSON_FLAGS));
	json_object_put(doc);
}

/* "sessions":[...] or null, "sessions_more":N or null, into @doc */
static void add_sessions_json(struct json_object *doc, const struct status *st)
{
	unsigned long long more = 0;
	const char *p = st->sess;
	struct json_object *arr;
	struct sess_line l;
	int r;

	if (st->sessions != 1) {
		jadd(doc, "sessions", NULL);
		jadd(doc, "sessions_more", NULL);
		return;
	}
	arr = json_object_new_array();
	while (*p) {
		struct json_object *o;
		char name[256];

		r = sess_parse(&p, &l, &more);
		if (r <= 0)
			continue;
		sess_unescape(l.name, name, sizeof(name));
		o = json_object_new_object();
		jadd(o, "direction", jstr(l.in ? "in" : "out"));
		jadd(o, "name", jstr(name));
		if (l.in)
			jadd(o, "state", jstr(l.state));
		jadd(o, "files", juint(l.files));
		jadd(o, "bytes", juint(l.bytes));
		json_object_array_add(arr, o);
	}
	jadd(doc, "sessions", arr);
	jadd(doc, "sessions_more", juint(more));
}

/* The sessions as a table, names as the module escaped them (one word). */
static void print_sessions(const struct status *st)
{
	unsigned long long more = 0, nout = 0, nin = 0;
	const char *p = st->sess;
	struct sess_line l;

	if (st->sessions < 0)
		printf("%-16s busy (try again)\n", "sessions:");
	if (st->sessions != 1)
		return;
	while (*p)
		if (sess_parse(&p, &l, &more) > 0)
			l.in ? nin++ : nout++;
	if (!nout && !nin && !more) {
		printf("%-16s none\n", "sessions:");
		return;
	}
	printf("%-16s %llu outgoing, %llu incoming", "sessions:", nout, nin);
	if (more)
		printf(", %llu more not listed", more);
	printf("\n  %-4s %-12s %6s %12s  %s\n", "DIR", "STATE", "FILES", "BYTES", "NAME");
	for (p = st->sess; *p; )
		if (sess_parse(&p, &l, &more) > 0)
			printf("  %-4s %-12s %6llu %12llu  %s\n", l.in ? "in" : "out",
			       l.in ? l.state : "-", l.files, l.bytes, l.name);
}

/* ---- the record of the last live update ---------------------------------------- */

/* What liveupdate-kexec writes before it kexecs (docs/fleet.md). */
#define LAST_KEXEC "/var/lib/liveupdate/last-kexec"

static void uname_r(char *kver, size_t len);

struct update {
	char rec[1024];		/* LAST_KEXEC, "" if none */
	char from[256], to[256], running[256], state[16];
	unsigned long long held, requested_us;
	int have_ms;
	long long ms;		/* kexec request to PID 1's start */
	unsigned long long in, retrieved, unretrieved;
};

/*
 * When this boot's userspace started (PID 1's start), in µs since the epoch:
 * the boot's wall-clock time (/proc/stat btime, whole seconds) plus PID 1's
 * start in clock ticks after it. 0 if unknown.
 */
static unsigned long long userspace_start_us(void)
{
	char buf[4096], *line = NULL, *p;
	unsigned long long btime = 0, ticks = 0;
	long hz = sysconf(_SC_CLK_TCK);
	size_t cap = 0;
	FILE *f = fopen(rooted("/proc/stat"), "re");

	/* line by line: the "intr" line before it is long on a large machine */
	while (f && getline(&line, &cap, f) > 0)
		if (!strncmp(line, "btime ", 6))
			btime = strtoull(line + 6, NULL, 10);
	free(line);
	if (f)
		fclose(f);
	if (!btime)
		return 0;
	read_all("/proc/1/stat", buf, sizeof(buf));
	p = strrchr(buf, ')');	/* comm may hold anything; the fields follow it */
	if (!p || hz <= 0)
		return 0;
	/* field 22, starttime: the 20th after ") " (state is field 3) */
	for (int i = 0; i < 20 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p)
		return 0;
	ticks = strtoull(p + 1, NULL, 10);
	return btime * 1000000ULL + ticks * 1000000ULL / (unsigned long long)hz;
}

/* Reads the record and judges it against this boot; 0 if there is none. */
static int get_update(const struct status *st, struct update *u)
{
	char boot[64], rboot[64], v[32];
	const char *p = st->sess;
	unsigned long long more = 0, start;
	struct sess_line l;

	memset(u, 0, sizeof(*u));
	read_all(LAST_KEXEC, u->rec, sizeof(u->rec));
	if (!field(u->rec, "to", u->to, sizeof(u->to)))
		return 0;
	field(u->rec, "from", u->from, sizeof(u->from));
	u->held = strtoull(field(u->rec, "sessions", v, sizeof(v)) ?: "0", NULL, 10);
	u->requested_us = strtoull(field(u->rec, "requested_us", v, sizeof(v)) ?: "0", NULL, 10);
	uname_r(u->running, sizeof(u->running));
	read_line("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	if (!field(u->rec, "boot_id", rboot, sizeof(rboot)) || !strcmp(rboot, boot))
		snprintf(u->state, sizeof(u->state), "requested");
	else if (strcmp(u->running, u->to))
		snprintf(u->state, sizeof(u->state), "other_kernel");
	else if (!strcmp(st->handover, "loaded") || !strcmp(st->handover, "consumed"))
		snprintf(u->state, sizeof(u->state), "done");
	else
		snprintf(u->state, sizeof(u->state), "no_handover");
	start = userspace_start_us();
	if (strcmp(u->state, "requested") && start && u->requested_us) {
		u->have_ms = 1;
		u->ms = ((long long)start - (long long)u->requested_us) / 1000;
	}
	while (st->sessions == 1 && *p) {
		if (sess_parse(&p, &l, &more) <= 0 || !l.in)
			continue;
		u->in++;
		if (!strcmp(l.state, "unretrieved"))
			u->unretrieved++;
		else
			u->retrieved++;
	}
	return 1;
}

/* "last_update": the record of liveupdate-kexec judged, or null, into @doc */
static void add_update_json(struct json_object *doc, const struct status *st)
{
	struct json_object *o;
	struct update u;

	if (!get_update(st, &u)) {
		jadd(doc, "last_update", NULL);
		return;
	}
	o = json_object_new_object();
	jadd(o, "schema", jstr("liveupdate-update/1"));
	jadd(o, "state", jstr(u.state));
	jadd(o, "from", jstr(u.from));
	jadd(o, "to", jstr(u.to));
	jadd(o, "running", jstr(u.running));
	jadd(o, "requested_us", juint(u.requested_us));
	jadd(o, "sessions_held", juint(u.held));
	jadd(o, "sessions_in", st->sessions == 1 ? juint(u.in) : NULL);
	jadd(o, "sessions_retrieved", st->sessions == 1 ? juint(u.retrieved) : NULL);
	jadd(o, "sessions_unretrieved", st->sessions == 1 ? juint(u.unretrieved) : NULL);
	jadd(o, "request_to_userspace_ms", u.have_ms ? json_object_new_int64(u.ms) : NULL);
	jadd(doc, "last_update", o);
}

static void print_update(const struct status *st)
{
	struct update u;

	if (!get_update(st, &u))
		return;
	printf("%-16s %s -> %s, %s (%llu sessions held)", "last update:", u.from, u.to,
	       u.state, u.held);
	if (st->sessions == 1 && strcmp(u.state, "requested"))
		printf(", %llu of %llu incoming sessions retrieved", u.retrieved, u.in);
	if (u.have_ms)
		printf(", %lld ms from the kexec request to userspace", u.ms);
	putchar('\n');
}

static int cmd_status(int argc, char **argv)
{
	struct status st;
	int json = 0;

	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, {}
	};
	int c;

	while ((c = next_opt(argc, argv, ":h", opts)) != -1) {
		if (c < 0)
			return OPT_DONE(c);
		json = 1;
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	get_status(&st);
	if (json) {
		struct json_object *doc = json_object_new_object(), *o;

		jadd(doc, "schema", jstr("liveupdate-status/1"));
		jadd(doc, "device", json_object_new_boolean(st.device));
		jadd(doc, "provider", jstr(st.provider));
		jadd(doc, "handover_status", st.handover[0] ? jstr(st.handover) : NULL);
		o = json_object_new_object();
		jadd(o, "address", jnum_or_null(st.addr));
		jadd(o, "size", jnum_or_null(st.size));
		jadd(doc, "range", o);
		o = NULL;
		if (st.have_space) {
			o = json_object_new_object();
			jadd(o, "used", juint(st.used));
			jadd(o, "free", juint(st.free));
		}
		jadd(doc, "space", o);
		o = NULL;
		if (st.last[0]) {
			static const char *const keys[] = {
				"sessions", "files", "bytes", "write_us", "check_us", "build_us",
			};
			char v[32];

			o = json_object_new_object();
			jadd(o, "status", jstr(field(st.last, "status", v, sizeof(v)) ?: ""));
			for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
				if (field(st.last, keys[i], v, sizeof(v)))
					jadd(o, keys[i], jnum_or_null(v));
		}
		jadd(doc, "last_handover", o);
		add_sessions_json(doc, &st);
		add_update_json(doc, &st);
		json_print(doc);
	} else {
		printf("%-16s %s\n", "device:", st.device ? LIVEUPDATE_DEVICE : "absent");
		printf("%-16s %s\n", "provider:", st.provider);
		if (st.handover[0])
			printf("%-16s %s\n", "handover:", st.handover);
		if (st.addr[0] && st.size[0]) {
			unsigned long long a = strtoull(st.addr, NULL, 0);
			unsigned long long sz = strtoull(st.size, NULL, 0);

			printf("%-16s %#llx-%#llx (%llu MiB)\n", "range:", a,
			       sz ? a + sz - 1 : a, sz >> 20);
		}
		if (st.have_space)
			printf("%-16s %llu bytes used, %llu free\n", "space:", st.used, st.free);
		if (st.last[0]) {
			char v[4][32];

			if (field(st.last, "sessions", v[0], 32) && field(st.last, "files", v[1], 32) &&
			    field(st.last, "bytes", v[2], 32) && field(st.last, "check_us", v[3], 32))
				printf("%-16s %s sessions, %s files, %s bytes (checked in %s us)\n",
				       "last handover:", v[0], v[1], v[2], v[3]);
		}
		print_update(&st);
		print_sessions(&st);
	}
	if (!st.device)	/* what to do, on stderr: stdout stays the table */
		fprintf(stderr, "%s: no %s: the liveupdate module is not loaded; run "
			"'liveupdatectl check' to see why (the range on the command line, "
			"DKMS, the initramfs)\n", prog, LIVEUPDATE_DEVICE);
	return st.device ? EXIT_DONE : EXIT_UNAVAILABLE;
}

/* ---- check ------------------------------------------------------------------- */

/* 1 if an executable @name is in $PATH. */
static int in_path(const char *name)
{
	const char *path = getenv("PATH");
	char file[PATH_MAX + 256];

	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path; *p; ) {
		size_t len = strcspn(p, ":");

		int shown = len >= PATH_MAX ? PATH_MAX - 1 : (int)len;

		snprintf(file, sizeof(file), "%.*s/%.200s", shown ? shown : 1, shown ? p : ".", name);
		if (access(file, X_OK) == 0)
			return 1;
		p += len;
		if (*p == ':')
			p++;
	}
	return 0;
}

/*
 * Runs @argv with stdin from @in (at offset @off; /dev/null if @in < 0),
 * stderr to /dev/null; returns a stream of its stdout and its pid in *@pid.
 */
static FILE *spawn(char *const argv[], int in, off_t off, pid_t *pid)
{
	int p[2];
	FILE *f;

	if (pipe2(p, O_CLOEXEC) < 0)
		return NULL;
	*pid = fork();
	if (*pid < 0) {
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	if (*pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (in < 0)
			in = null;
		else if (lseek(in, off, SEEK_SET) < 0)
			_exit(127);
		dup2(in, 0);
		dup2(p[1], 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	f = fdopen(p[0], "re");
	if (!f)
		close(p[0]);
	return f;
}

/* Closes what spawn() gave; the exit status (-1 if killed). */
static int reap(FILE *f, pid_t pid)
{
	int status;

	fclose(f);	/* a reader that stopped early: the child gets SIGPIPE */
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* 1 if the path names the module: .../liveupdate.ko, also .ko.xz, .ko.zst... */
static int is_module(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return !strcmp(b, "liveupdate.ko") || !strncmp(b, "liveupdate.ko.", 14);
}

/* What a walk through cpio archives found. */
struct cpio_walk {
	unsigned long entries;
	int found;		/* the module is among them */
	int bad;		/* something that is neither cpio nor padding */
	int next;		/* the non-cpio byte that stopped the walk (-1: EOF) */
	unsigned long long off;	/* its offset in the stream */
};

static int getc_at(FILE *f, struct cpio_walk *w)
{
	int c = getc(f);

	if (c != EOF)
		w->off++;
	return c;
}

static int skip_bytes(FILE *f, struct cpio_walk *w, unsigned long long n)
{
	while (n--)
		if (getc_at(f, w) == EOF)
			return -1;
	return 0;
}

/*
 * Walks concatenated "newc" cpio archives (the initramfs format, 070701 or
 * 070702) from @f, zero padding between them allowed, recording each name;
 * stops at EOF or at the first byte that starts no archive (w->next: the
 * start of a compressed archive in an image with an early cpio).
 */
static void cpio_walk(FILE *f, struct cpio_walk *w)
{
	char hdr[111], name[PATH_MAX];
	unsigned long namesize, filesize;
	int c;

	w->next = -1;
	for (;;) {
		do
			c = getc_at(f, w);
		while (c == 0);
		if (c == EOF)
			return;
		if (c != '0') {
			w->next = c;
			w->off--;
			return;
		}
		hdr[0] = (char)c;
		if (fread(hdr + 1, 1, 109, f) != 109) {
			w->bad = 1;
			return;
		}
		w->off += 109;
		hdr[110] = 0;
		if (strncmp(hdr, "07070", 5) || (hdr[5] != '1' && hdr[5] != '2')) {
			w->bad = 1;
			return;
		}
		/* c_filesize at 54, c_namesize at 94: 8 hex digits each */
		{
			char fs[9], ns[9];

			memcpy(fs, hdr + 54, 8);
			fs[8] = 0;
			memcpy(ns, hdr + 94, 8);
			ns[8] = 0;
			filesize = strtoul(fs, NULL, 16);
			namesize = strtoul(ns, NULL, 16);
		}
		if (namesize == 0 || namesize > sizeof(name) ||
		    fread(name, 1, namesize, f) != namesize) {
			w->bad = 1;
			return;
		}
		w->off += namesize;
		name[namesize - 1] = 0;
		if (skip_bytes(f, w, (4 - w->off % 4) % 4) < 0)
			return;
		if (!strcmp(name, "TRAILER!!!"))
			continue;
		w->entries++;
		if (is_module(name))
			w->found = 1;
		if (skip_bytes(f, w, filesize + (4 - (filesize % 4)) % 4) < 0)
			return;
	}
}

/* Decompressors by their magic, as the kernel's initramfs unpacker knows them. */
static const struct {
	const char *magic;
	size_t len;
	const char *what;
	char *const argv[4];
} unpackers[] = {
	{ "\x1f\x8b", 2, "gzip", { "gzip", "-dc", NULL } },
	{ "\x28\xb5\x2f\xfd", 4, "zstd", { "zstd", "-dc", NULL } },
	{ "\xfd" "7zXZ", 5, "xz", { "xz", "-dc", NULL } },
	{ "\x02\x21\x4c\x18", 4, "lz4", { "lz4", "-dc", NULL } },
	{ "BZh", 3, "bzip2", { "bzip2", "-dc", NULL } },
	{ "\x5d\x00\x00", 3, "lzma", { "xz", "--format=lzma", "-dc", NULL } },
	{ "\x89LZO", 4, "lzop", { "lzop", "-dc", NULL } },
};

/*
 * Reads the initramfs @file directly: uncompressed cpio archives (an early
 * microcode cpio too), then a compressed one through its decompressor from
 * $PATH. 1 the module is in it, 0 not, -1 cannot tell (@why: why).
 */
static int read_initramfs(const char *path, const char *file, char *why, size_t wlen)
{
	struct cpio_walk w = { 0 };
	unsigned char magic[8] = { 0 };
	FILE *f;
	pid_t pid;
	int fd;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !(f = fdopen(fd, "re"))) {
		snprintf(why, wlen, "cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	cpio_walk(f, &w);
	if (w.found || (w.next < 0 && !w.bad && w.entries)) {
		fclose(f);
		return w.found;
	}
	if (w.bad || w.next < 0) {
		fclose(f);
		snprintf(why, wlen, "%s is not an initramfs (cpio) image", path);
		return -1;
	}
	if (fseeko(f, (off_t)w.off, SEEK_SET) < 0 || fread(magic, 1, sizeof(magic), f) == 0) {
		fclose(f);
		snprintf(why, wlen, "cannot read %s", path);
		return -1;
	}
	for (size_t i = 0; i < sizeof(unpackers) / sizeof(unpackers[0]); i++) {
		struct cpio_walk z = { 0 };
		FILE *d;

		if (memcmp(magic, unpackers[i].magic, unpackers[i].len))
			continue;
		if (!in_path(unpackers[i].argv[0])) {
			fclose(f);
			snprintf(why, wlen, "%s is %s-compressed and neither %s, lsinitramfs "
				 "nor lsinitrd is installed", path, unpackers[i].what,
				 unpackers[i].argv[0]);
			return -1;
		}
		d = spawn(unpackers[i].argv, fileno(f), (off_t)w.off, &pid);
		if (!d) {
			fclose(f);
			snprintf(why, wlen, "cannot run %s", unpackers[i].argv[0]);
			return -1;
		}
		cpio_walk(d, &z);
		reap(d, pid);	/* trailing padding may make it complain: the walk decides */
		fclose(f);
		if (z.found || z.entries)
			return z.found;
		snprintf(why, wlen, "%s: %s gave no cpio archive", path, unpackers[i].argv[0]);
		return -1;
	}
	fclose(f);
	snprintf(why, wlen, "%s: unknown compression after the uncompressed part", path);
	return -1;
}

/*
 * Is the module in the initramfs @path (logical path, read under the
 * root)? 1 yes, 0 no, -1 cannot tell (@why says why). Read directly first
 * (it stops at the early cpio when the module is there: fast), else listed
 * with lsinitramfs (initramfs-tools) or lsinitrd (dracut) when installed.
 */
static int initramfs_has_module(const char *path, char *why, size_t wlen)
{
	static char *const listers[] = { "lsinitramfs", "lsinitrd" };
	const char *file = rooted(path);
	char line[PATH_MAX + 128];
	int r;

	if (access(file, R_OK) < 0) {
		snprintf(why, wlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	r = read_initramfs(path, file, why, wlen);
	if (r >= 0)
		return r;
	for (size_t i = 0; i < sizeof(listers) / sizeof(listers[0]); i++) {
		char *argv[] = { listers[i], (char *)file, NULL };
		int found = 0, n = 0;
		FILE *f;
		pid_t pid;

		if (!in_path(argv[0]))
			continue;
		f = spawn(argv, -1, 0, &pid);
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			n++;
			found |= strstr(line, "/liveupdate.ko") != NULL;
		}
		r = reap(f, pid);
		if (found)
			return 1;
		if (r == 0 && n > 0)
			return 0;
		/* it could not read the image either: try the next one */
	}
	return -1;
}

/* The kernel image of @kver, as liveupdate-kexec finds it, or NULL. */
static const char *kernel_image(const char *kver, char *buf, size_t len)
{
	snprintf(buf, len, "/boot/vmlinuz-%s", kver);
	if (exists(buf))
		return buf;
	snprintf(buf, len, "/usr/lib/modules/%s/vmlinuz", kver);
	return exists(buf) ? buf : NULL;
}

/* Its initramfs (Debian's name, or dracut's elsewhere), or NULL. */
static const char *kernel_initramfs(const char *kver, char *buf, size_t len)
{
	snprintf(buf, len, "/boot/initrd.img-%s", kver);
	if (exists(buf))
		return buf;
	snprintf(buf, len, "/boot/initramfs-%s.img", kver);
	return exists(buf) ? buf : NULL;
}

static int run_capture(char *const argv[], char *out, size_t len);

#define KERNELS_MAX 64

/*
 * The kernel liveupdate-kexec boots by default: the newest version in
 * /usr/lib/modules with a kernel image and an initramfs, in Debian's order
 * of kernel versions (linux-version sort, linux-base: 6.12.0-rc7 before
 * 6.12.0, as the kernel packages order them). 0; -ENOENT if there is none;
 * -ENOEXEC if there are several and linux-version cannot order them.
 */
static int next_kernel(char *kver, size_t len)
{
	char img[PATH_MAX], ird[PATH_MAX], sorted[KERNELS_MAX * 257], *last;
	char *argv[KERNELS_MAX + 3] = { "linux-version", "sort" };
	DIR *d = opendir(rooted("/usr/lib/modules"));
	struct dirent *de;
	int n = 0, r;

	kver[0] = 0;
	if (!d)
		return -ENOENT;
	while ((de = readdir(d)) && n < KERNELS_MAX) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= len || strlen(de->d_name) > 256 ||
		    strchr(de->d_name, '\n'))
			continue;
		if (!kernel_image(de->d_name, img, sizeof(img)) ||
		    !kernel_initramfs(de->d_name, ird, sizeof(ird)))
			continue;
		argv[2 + n] = strdup(de->d_name);
		if (argv[2 + n])
			n++;
	}
	closedir(d);
	if (n == 1)
		snprintf(kver, len, "%s", argv[2]);
	if (n > 1) {
		size_t l;

		r = run_capture(argv, sorted, sizeof(sorted));
		l = strlen(sorted);
		if (l && sorted[l - 1] == '\n')
			sorted[l - 1] = 0;
		last = strrchr(sorted, '\n');
		last = last ? last + 1 : sorted;
		if (r == 0 && *last)
			snprintf(kver, len, "%s", last);
	}
	for (int i = 0; i < n; i++)
		free(argv[2 + i]);
	return kver[0] ? 0 : n > 1 ? -ENOEXEC : -ENOENT;
}

/*
 * A size (memmap=, liveupdate.size=; common/args.c's rules, as the kernel
 * writes them: digits, K/M/G) up to @end (a '$' of memmap=) or the end; 0 if bad.
 */
static unsigned long long parse_size(const char *s, char end)
{
	char buf[64];
	uint64_t v;

	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(s, (char[]){ end, 0 }), s);
	return lu_parse_size(buf, &v) ? 0 : v;
}

/*
 * The size of the range the next kernel reserves, from this command line
 * (liveupdate-kexec keeps it): liveupdate.size=, else the first
 * memmap=SIZE$ADDR. 0 if none.
 */
static unsigned long long cmdline_range_size(const char *cmdline)
{
	unsigned long long size = 0;
	char word[256];

	for (const char *p = cmdline; *p; ) {
		size_t len;

		p += strspn(p, " ");
		len = strcspn(p, " ");
		snprintf(word, sizeof(word), "%.*s", (int)len, p);
		p += len;
		if (!strncmp(word, "liveupdate.size=", 16))
			return parse_size(word + 16, 0);
		if (!size && !strncmp(word, "memmap=", 7) && strchr(word, '$'))
			size = parse_size(word + 7, '$');
	}
	return size;
}

enum { CHECK_OK, CHECK_FAIL, CHECK_UNKNOWN };

struct check_count {
	int fail, unknown;
};

/*
 * check --json: the lines are collected and printed as one document at the
 * end (docs/fleet.md, docs/liveupdate-check.schema.json).
 */
#define CHECK_MAX 64
static struct {
	int on, n, lost;
	struct {
		const char *id;
		int result;
		char *what, *why, *session;
	} c[CHECK_MAX];
} cj;

/* @session: the (unescaped) session the check is about, or NULL. */
static void check_record(const char *id, int result, const char *what, const char *session,
			 const char *fmt, va_list ap)
{
	char *why = NULL;

	if (cj.n >= CHECK_MAX)
		return;
	if (result != CHECK_OK && fmt && vasprintf(&why, fmt, ap) < 0)
		why = NULL;
	cj.c[cj.n].id = id;
	cj.c[cj.n].result = result;
	cj.c[cj.n].what = strdup(what);
	cj.c[cj.n].why = why;
	cj.c[cj.n].session = session ? strdup(session) : NULL;
	cj.lost += result == CHECK_FAIL && session;
	cj.n++;
}

/*
 * One line: "ok      WHAT", "FAIL    WHAT: HINT" or "unknown WHAT: WHY"
 * (check --json: one element of "checks", named @id).
 */
static void check_line_s(struct check_count *n, const char *id, const char *session,
			 int result, const char *what, const char *fmt, ...)
{
	static const char *const word[] = { "ok", "FAIL", "unknown" };
	va_list ap;

	n->fail += result == CHECK_FAIL;
	n->unknown += result == CHECK_UNKNOWN;
	if (cj.on) {
		va_start(ap, fmt);
		check_record(id, result, what, session, fmt, ap);
		va_end(ap);
		return;
	}
	printf("%-7s %s", word[result], what);
	if (result != CHECK_OK && fmt) {
		fputs(": ", stdout);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
}

#define check_line(n, id, ...) check_line_s(n, id, NULL, __VA_ARGS__)

/* ---- held sessions and the shutdown ------------------------------------------- */

/*
 * Runs @argv (PATH searched) with stdout into @out (NUL-terminated, at most
 * @len - 1 bytes), stderr to /dev/null. Its exit status, or -errno.
 */
static int run_capture(char *const argv[], char *out, size_t len)
{
	size_t n = 0;
	int p[2], st;
	pid_t pid;

	out[0] = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], out + n, len - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (n += (size_t)r) == len - 1)
			break;
	}
	out[n] = 0;
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * The version of the systemd that is PID 1: 0 if PID 1 is not systemd (no
 * /run/systemd/system), -1 if it cannot be told.
 */
static int systemd_version(void)
{
	char *argv[] = { "systemctl", "--version", NULL };
	char out[256];
	int v;

	if (!exists("/run/systemd/system"))
		return 0;
	if (run_capture(argv, out, sizeof(out)) != 0 || sscanf(out, "systemd %d", &v) != 1)
		return -1;
	return v;
}

/* The unit a process runs in, from its cgroup path: "" if none. */
static void unit_of(pid_t pid, char *unit, size_t len)
{
	char path[64], line[1024];
	FILE *f;

	unit[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(rooted(path), "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *slash = strrchr(line, '/');

		line[strcspn(line, "\n")] = 0;
		/* the unified hierarchy ("0::"), else systemd's named one */
		if (slash && (!strncmp(line, "0::", 3) || strstr(line, ":name=systemd:"))) {
			snprintf(unit, len, "%s", slash + 1);
			if (!strncmp(line, "0::", 3))
				break;
		}
	}
	fclose(f);
}

enum { FATE_LOST, FATE_UNKNOWN, FATE_KEPT };

/*
 * What "systemctl kexec" (systemd version @sd; 0: no systemd, which
 * liveupdate-kexec does without) does to process @pid holding a session:
 * FATE_KEPT if it still holds it at reboot(), FATE_LOST if it is stopped or
 * killed first, FATE_UNKNOWN if that cannot be told. @why says which rule.
 *
 * PID 1 carries its fd stores through LUO from systemd 262 on. Other
 * processes live through the shutdown only if their unit is never stopped
 * (no Conflicts=shutdown.target, in a slice that stays, system.slice or
 * -.slice) and systemd-shutdown's final SIGTERM/SIGKILL spares them: root
 * processes whose argv[0] starts with '@' (systemd's ROOT_STORAGE_DAEMONS
 * rule, in every systemd we support).
 */
static int holder_fate(pid_t pid, int sd, char *why, size_t len)
{
	char path[64], arg0[64] = "", unit[256], out[1024];
	struct stat st;
	FILE *f;

	if (sd == 0)
		return snprintf(why, len, "no systemd: liveupdate-kexec kexecs with it running"),
		       FATE_KEPT;
	if (pid == 1) {
		if (sd < 0)
			return snprintf(why, len, "PID 1, systemd version unknown"), FATE_UNKNOWN;
		snprintf(why, len, "PID 1 (a service's fd store): systemd %d %s", sd,
			 sd >= 262 ? "carries it" : "closes it (it carries sessions from 262 on)");
		return sd >= 262 ? FATE_KEPT : FATE_LOST;
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(rooted(path), "re");
	if (f) {
		if (!fgets(arg0, sizeof(arg0), f))
			arg0[0] = 0;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	unit_of(pid, unit, sizeof(unit));
	if (stat(rooted(path), &st) == 0 && st.st_uid != 0)
		return snprintf(why, len, "%s in %s runs as uid %u: systemd-shutdown kills it",
				arg0, unit[0] ? unit : "no unit", (unsigned int)st.st_uid), FATE_LOST;
	if (arg0[0] != '@')
		return snprintf(why, len, "%s in %s: systemd stops or kills it before the kexec",
				arg0, unit[0] ? unit : "no unit"), FATE_LOST;
	if (!unit[0])
		return snprintf(why, len, "%s in no unit", arg0), FATE_UNKNOWN;
	{
		char *argv[] = { "systemctl", "show", "-p", "Conflicts", "-p", "Slice", "--",
				 unit, NULL };
		const char *slice;

		if (run_capture(argv, out, sizeof(out)) != 0 || !(slice = strstr(out, "Slice=")))
			return snprintf(why, len, "%s in %s: systemctl show failed", arg0, unit),
			       FATE_UNKNOWN;
		slice += 6;
		if (strstr(out, "shutdown.target"))
			return snprintf(why, len, "%s in %s, which conflicts with shutdown.target",
					arg0, unit), FATE_LOST;
		if (strncmp(slice, "system.slice\n", 13) && strncmp(slice, "-.slice\n", 8))
			return snprintf(why, len, "%s in %s, in %.*s, which is stopped", arg0, unit,
					(int)strcspn(slice, "\n"), slice), FATE_LOST;
	}
	return snprintf(why, len, "%s in %s, which stays", arg0, unit), FATE_KEPT;
}

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

static int sys_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/*
 * Whether fd @fd of process @pid is outgoing session @name itself, not just
 * any session of that name (an incoming session can have the same name) and
 * whatever /proc shows of its name (6.1 and 6.12 cannot readlink a session
 * named with 39 bytes or more: ENAMETOOLONG). Root on the real /proc only:
 * pidfd_getfd(), GET_NAME, and with the module a PRESERVE_FD that cannot
 * succeed (a non-zero byte past the struct): the module refuses it with
 * E2BIG for an outgoing session, with EINVAL for an incoming one before
 * reading it (a kernel with LUO built in: the exact name only). 1 yes, 0
 * no, -1 cannot tell (then the link's name decides).
 */
static int holds_outgoing(pid_t pid, int fd, const char *name)
{
	struct {
		struct liveupdate_session_preserve_fd a;
		uint64_t tail;
	} probe = { { .size = sizeof(probe), .fd = -1 }, 1 };
	char got[LIVEUPDATE_NAME_MAX + 1];
	int pidfd, f, r = -1;

	if (getenv("LIVEUPDATECTL_ROOT") || geteuid() != 0)
		return -1;
	pidfd = sys_pidfd_open(pid);
	if (pidfd < 0)
		return -1;
	f = sys_pidfd_getfd(pidfd, fd);
	close(pidfd);
	if (f < 0)
		return -1;
	if (liveupdate_session_name(f, got) < 0) {
		r = 0;		/* not a session */
	} else if (strcmp(got, name)) {
		r = 0;
	} else if (!exists(PARAM_DIR)) {
		r = 1;		/* the probe is the module's order of checks; the name is exact */
	} else if (ioctl(f, LIVEUPDATE_SESSION_PRESERVE_FD, &probe) < 0) {
		r = errno == E2BIG ? 1 : errno == EINVAL ? 0 : -1;
	}
	close(f);
	return r;
}

/*
 * Whether outgoing session @name lives through the shutdown of a kexec: the
 * best fate among the processes holding an fd of it (as root: that very
 * session, holds_outgoing(); else its /proc/PID/fd link is
 * "anon_inode:[luo_session] NAME"), @why that holder's.
 */
static int session_fate(const char *name, int sd, char *why, size_t len)
{
	char want[300], link[300], path[PATH_MAX], w[512];
	DIR *procs = opendir(rooted("/proc"));
	struct dirent *p;
	int best = -1, holders = 0;

	snprintf(why, len, "no process holds it (in another PID namespace?)");
	if (!procs)
		return FATE_UNKNOWN;
	snprintf(want, sizeof(want), "anon_inode:[luo_session] %s", name);
	while ((p = readdir(procs))) {
		DIR *fds;
		struct dirent *f;
		pid_t pid = (pid_t)strtol(p->d_name, NULL, 10);
		int held = 0;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		fds = opendir(rooted(path));
		if (!fds)
			continue;
		while (!held && (f = readdir(fds))) {
			ssize_t n;
			int is;

			snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, f->d_name);
			n = readlink(rooted(path), link, sizeof(link) - 1);
			if (n > 0)
				link[n] = 0;
			if (n > 0 ? !strncmp(link, "anon_inode:[luo_session]", 24) :
				    errno == ENAMETOOLONG) {
				is = holds_outgoing(pid, atoi(f->d_name), name);
				held = is >= 0 ? is : n > 0 && !strcmp(link, want);
			}
		}
		closedir(fds);
		if (held) {
			int fate = holder_fate(pid, sd, w, sizeof(w));

			holders++;
			if (fate > best) {
				best = fate;
				snprintf(why, len, "pid %d, %s", (int)pid, w);
			}
		}
	}
	closedir(procs);
	return holders ? best : FATE_UNKNOWN;
}

/*
 * A check line per outgoing session: is it still open at the kexec?
 * Return: how many would be lost (FAIL).
 */
static int check_sessions(struct check_count *n, const struct status *st)
{
	const char *p = st->sess;
	struct sess_line l;
	unsigned long long more = 0;
	char name[LIVEUPDATE_NAME_MAX + 1], what[1200], why[768];
	int sd = systemd_version(), lost = 0;

	if (st->sessions != 1) {
		if (st->device)
			check_line(n, "sessions", CHECK_UNKNOWN, "the outgoing sessions are held until the kexec",
				   st->sessions ? "the module stayed busy" :
				   "cannot read " PARAM_DIR "/sessions (root only)");
		return 0;
	}
	while (*p) {
		int fate;

		if (sess_parse(&p, &l, &more) <= 0 || l.in)
			continue;
		sess_unescape(l.name, name, sizeof(name));
		fate = session_fate(name, sd, why, sizeof(why));
		snprintf(what, sizeof(what), "session %s is held until the kexec%s%s%s", l.name,
			 fate == FATE_KEPT ? " (" : "", fate == FATE_KEPT ? why : "",
			 fate == FATE_KEPT ? ")" : "");
		if (fate == FATE_LOST)
			lost++;
		check_line_s(n, "session", name, fate == FATE_KEPT ? CHECK_OK : fate == FATE_LOST ? CHECK_FAIL :
			   CHECK_UNKNOWN, what, "%s%s", why, fate == FATE_LOST ?
			   "; hold it through liveupdated (liveupdatectl hold does when it runs) "
			   "or with liveupdatectl hold --detach" : "");
	}
	return lost;
}

/* 1 if @cmdline has a word starting with @prefix. */
static int cmdline_has(const char *cmdline, const char *prefix)
{
	size_t len = strlen(prefix);

	for (const char *p = cmdline; *p; p += strcspn(p, " ")) {
		p += strspn(p, " ");
		if (!strncmp(p, prefix, len))
			return 1;
	}
	return 0;
}

/* The running kernel's release, from the (rooted) /proc. */
static void uname_r(char *kver, size_t len)
{
	read_line("/proc/sys/kernel/osrelease", kver, len);
}

/* 1 if DKMS (or anyone) installed liveupdate.ko* for @kver. */
static int module_built(const char *kver, char *where, size_t len)
{
	static const char *const dirs[] = { "updates/dkms", "updates", "extra", "kernel/extra" };
	static const char *const ext[] = { "", ".xz", ".zst", ".gz" };

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++)
		for (size_t e = 0; e < sizeof(ext) / sizeof(ext[0]); e++) {
			snprintf(where, len, "/usr/lib/modules/%s/%s/liveupdate.ko%s", kver,
				 dirs[d], ext[e]);
			if (exists(where))
				return 1;
		}
	return 0;
}

/*
 * The check line for the initramfs of the kernel liveupdate-kexec would
 * boot (@want, else the newest installed one): does it carry liveupdate.ko?
 * The one inspection both liveupdatectl check and liveupdate-kexec use
 * (check --initramfs).
 */
static void check_initramfs(struct check_count *n, const char *want)
{
	char kver[256], img[PATH_MAX], ird[PATH_MAX], what[PATH_MAX + 64], why[PATH_MAX + 128];
	int r;

	if (want) {
		snprintf(kver, sizeof(kver), "%s", want);
		r = kernel_image(kver, img, sizeof(img)) &&
		    kernel_initramfs(kver, ird, sizeof(ird)) ? 0 : -ENOENT;
	} else {
		r = next_kernel(kver, sizeof(kver));
	}
	if (r < 0 && want) {
		snprintf(what, sizeof(what), "the next kernel's initramfs loads the module (%s)",
			 want);
		check_line(n, "initramfs", CHECK_FAIL, what, "no %s-%s",
			   kernel_image(kver, img, sizeof(img)) ? "/boot/initrd.img"
								: "/boot/vmlinuz", want);
	} else if (r == -ENOEXEC) {
		check_line(n, "initramfs", CHECK_UNKNOWN, "the next kernel's initramfs loads the module",
			   "linux-version sort (linux-base) cannot order the installed kernels: "
			   "name one with --kernel");
	} else if (r < 0) {
		check_line(n, "initramfs", CHECK_FAIL, "the next kernel's initramfs loads the module",
			   "no installed kernel with an initramfs in /boot");
	} else {
		kernel_initramfs(kver, ird, sizeof(ird));
		snprintf(what, sizeof(what), "the next kernel's initramfs loads the module (%s)",
			 ird);
		r = initramfs_has_module(ird, why, sizeof(why));
		if (r < 0)
			check_line(n, "initramfs", CHECK_UNKNOWN, what, "%s", why);
		else
			check_line(n, "initramfs", r ? CHECK_OK : CHECK_FAIL, what,
				   "no liveupdate.ko in it: check 'dkms status liveupdate', "
				   "then update-initramfs -u -k %s (or dracut -f --kver %s)",
				   kver, kver);
	}
}

/*
 * The exit status of check; with --json, the document first: the verdict,
 * the running and the next kernel (@want, else the newest installed one with
 * an initramfs, else null), every check, and the sessions a kexec would lose.
 */
static int check_done(const struct check_count *n, const char *want)
{
	static const char *const verdict[] = { "ok", "fail", "unknown" };
	int result = n->fail ? CHECK_FAIL : n->unknown ? CHECK_UNKNOWN : CHECK_OK;
	int r = n->fail ? EXIT_CHECK : n->unknown ? EXIT_CHECK_UNKNOWN : EXIT_DONE;
	struct json_object *doc, *o, *arr;
	char kver[256];

	if (!cj.on)
		return r;
	doc = json_object_new_object();
	jadd(doc, "schema", jstr("liveupdate-check/1"));
	jadd(doc, "verdict", jstr(verdict[result]));
	jadd(doc, "exit", json_object_new_int(r));
	o = json_object_new_object();
	uname_r(kver, sizeof(kver));
	jadd(o, "running", kver[0] ? jstr(kver) : NULL);
	if (want)
		jadd(o, "next", jstr(want));
	else
		jadd(o, "next", next_kernel(kver, sizeof(kver)) >= 0 ? jstr(kver) : NULL);
	jadd(doc, "kernel", o);
	arr = json_object_new_array();
	for (int i = 0; i < cj.n; i++) {
		o = json_object_new_object();
		jadd(o, "id", jstr(cj.c[i].id));
		jadd(o, "verdict", jstr(verdict[cj.c[i].result]));
		jadd(o, "what", jstr(cj.c[i].what ?: ""));
		if (cj.c[i].session)
			jadd(o, "session", jstr(cj.c[i].session));
		jadd(o, "why", jstr(cj.c[i].why));
		json_object_array_add(arr, o);
	}
	jadd(doc, "checks", arr);
	arr = json_object_new_array();
	for (int i = 0; i < cj.n; i++) {
		if (cj.c[i].result != CHECK_FAIL || !cj.c[i].session)
			continue;
		o = json_object_new_object();
		jadd(o, "session", jstr(cj.c[i].session));
		jadd(o, "why", jstr(cj.c[i].why ?: ""));
		json_object_array_add(arr, o);
	}
	jadd(doc, "would_lose", arr);
	json_print(doc);
	return r;
}

static int cmd_check(int argc, char **argv)
{
	char cmdline[4096], buf[64], kver[256], what[PATH_MAX + 128], why[PATH_MAX + 128];
	const char *want = NULL;
	struct check_count n = { 0, 0 };
	struct status st;
	int module, ours, r, only_sessions = 0, only_initramfs = 0;

	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "sessions", no_argument, NULL, 's' },
		{ "initramfs", no_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, {}
	};
	int c;

	while ((c = next_opt(argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 'k': want = optarg; break;
		case 's': only_sessions = 1; break;
		case 'i': only_initramfs = 1; break;
		case 'j': cj.on = 1; break;
		default: return OPT_DONE(c);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (want && !*want)
		return usage_error("--kernel: an empty version");
	if (only_initramfs && only_sessions)
		return usage_error("--sessions and --initramfs exclude each other");
	if (only_initramfs) {
		check_initramfs(&n, want);
		return check_done(&n, want);
	}
	get_status(&st);
	if (only_sessions) {
		check_sessions(&n, &st);
		return check_done(&n, want);
	}
	module = !strcmp(st.provider, "module");
	/* the module, loaded or not yet (not a kernel with LUO built in) */
	ours = strcmp(st.provider, "kernel") != 0;
	read_line("/proc/cmdline", cmdline, sizeof(cmdline));
	check_line(&n, "device", st.device ? CHECK_OK : CHECK_FAIL, LIVEUPDATE_DEVICE " exists",
		   "the liveupdate module is not loaded: the initramfs loads it at boot when "
		   "the command line has liveupdate.addr= (liveupdate-reserve, then reboot)");
	if (ours) {
		unsigned long long next = cmdline_range_size(cmdline);
		int addr = cmdline_has(cmdline, "liveupdate.addr=");

		check_line(&n, "range", next && addr ? CHECK_OK : CHECK_FAIL,
			   "the command line reserves a range (memmap=, liveupdate.addr=)",
			   next ? "no liveupdate.addr=: the initramfs loads the module only "
				  "with it (liveupdate-reserve writes both)" :
				  "run liveupdate-reserve and reboot; the next kernel needs the "
				  "range too");
		if (!module) {
			uname_r(kver, sizeof(kver));
			snprintf(what, sizeof(what), "the module is built for this kernel (%s)", kver);
			r = module_built(kver, why, sizeof(why));
			check_line(&n, "module_built", r ? CHECK_OK : CHECK_FAIL, what,
				   "no liveupdate.ko in /usr/lib/modules/%s: check 'dkms status "
				   "liveupdate' (DKMS needs linux-headers-%s)", kver, kver);
		}
	}
	if (module) {
		unsigned long long next = cmdline_range_size(cmdline);

		check_line(&n, "handover", strcmp(st.handover, "failed") ? CHECK_OK : CHECK_FAIL,
			   "the previous handover did not fail to restore",
			   "see the kernel log (liveupdate:)");
		/* the module reserves as it goes: used is what the handover will take */
		if (!st.have_space) {
			check_line(&n, "space", CHECK_UNKNOWN, "the outgoing sessions fit the range",
				   "cannot read " PARAM_DIR "/space (root only)");
		} else if (next) {
			snprintf(what, sizeof(what), "the outgoing sessions fit the range "
				 "(%llu of %llu bytes used)", st.used, next);
			check_line(&n, "space", st.used <= next ? CHECK_OK : CHECK_FAIL, what,
				   "the handover needs more than the range the command line "
				   "reserves for the next kernel (liveupdate.size=, memmap=)");
		}
		check_sessions(&n, &st);
	}
	if (ours) {
		/* the module in the initramfs of the kernel liveupdate-kexec would boot */
		check_initramfs(&n, want);
	}
	/* informational: liveupdate-kexec loads the kernel itself */
	read_line("/sys/kernel/kexec_loaded", buf, sizeof(buf));
	check_line(&n, "kexec_loaded", CHECK_OK, !strcmp(buf, "1") ?
		   "a kexec kernel is loaded (liveupdate-kexec replaces it)" :
		   "no kexec kernel loaded yet (liveupdate-kexec loads one)", NULL);
	return check_done(&n, want);
}

/* ---- hold ---------------------------------------------------------------------- */

/* 1 if the broker (liveupdated) answers: sessions then go through it; 0 none. */
static int broker_up(void)
{
	/* < 0: a broker is there but does not answer; callers say so, never go around it */
	return liveupdate_agent_available();
}

/* A manifest name from a path: its basename, unsafe bytes replaced by '_'. */
static void entry_name(const char *path, char name[LIVEUPDATE_NAME_MAX + 1])
{
	char tmp[PATH_MAX];
	const char *base;
	size_t i;

	snprintf(tmp, sizeof(tmp), "%s", path);
	base = basename(tmp);
	for (i = 0; base[i] && i < LIVEUPDATE_NAME_MAX; i++)
		name[i] = (base[i] > ' ' && base[i] < 0x7f) ? base[i] : '_';
	name[i] = 0;
	if (!i)
		strcpy(name, "file");
}

/*
 * Hands @fd to systemd's fd store (sd_notify FDSTORE=1 with FDNAME), when
 * running in a service: systemd 262 carries a LUO session fd stored with
 * FileDescriptorStorePreserve=yes across the kexec. 1 if stored, 0 if not
 * in a service, -errno.
 */
static int store_in_systemd(int fd, const char *name)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	return lu_notify(msg, fd);
}

/*
 * Keeps @session open until the kexec in a holder process (cmd_keep()):
 * under systemd in a scope of its own that the shutdown never stops
 * (systemd-run --scope -p DefaultDependencies=no: no Conflicts=shutdown.target,
 * in system.slice), named "@liveupdatectl-hold" so that systemd-shutdown's
 * last SIGTERM/SIGKILL spares it; without systemd a background process.
 * Return: the holder's pid once it holds the session, or -errno.
 */
static int hold_detached(int session, const char *name)
{
	char self[PATH_MAX], unit[64], desc[128], buf[4];
	struct pollfd pfd;
	int ok[2], r;
	ssize_t n;
	pid_t pid;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	self[n] = 0;
	if (pipe2(ok, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(ok[0]);
		close(ok[1]);
		return r;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int s = fcntl(session, F_DUPFD_CLOEXEC, 10), o = fcntl(ok[1], F_DUPFD_CLOEXEC, 10);

		setsid();
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		/* the session at fd 3, the "started" pipe at fd 4, nothing else */
		if (s < 0 || o < 0 || dup2(s, 3) < 0 || dup2(o, 4) < 0)
			_exit(127);
		close_range(5, ~0U, 0);	/* every other fd, however high */
		snprintf(unit, sizeof(unit), "liveupdate-hold-%d.scope", (int)getpid());
		snprintf(desc, sizeof(desc), "liveupdatectl hold %s", name);
		if (exists("/run/systemd/system")) {
			char *argv[] = { "systemd-run", "--quiet", "--scope", "--collect", "--unit",
					 unit, "--description", desc, "-p", "DefaultDependencies=no",
					 "--", self, "__keep", "3", "4", NULL };

			execvp(argv[0], argv);
		} else {
			char *argv[] = { self, "__keep", "3", "4", NULL };

			execv(self, argv);
		}
		_exit(127);
	}
	close(ok[1]);
	lu_crash_point("hold:forked-holder");
	pfd.fd = ok[0];
	pfd.events = POLLIN;
	do
		r = poll(&pfd, 1, 30000);
	while (r < 0 && errno == EINTR);
	n = r > 0 ? read(ok[0], buf, sizeof(buf)) : 0;
	close(ok[0]);
	if (n != 1) {	/* systemd-run failed, or the holder did not start */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -ECHILD;
	}
	lu_crash_point("hold:holder-started");
	return (int)pid;
}

/*
 * The holder hold --detach starts, with the session at @argv[1] and the
 * "started" pipe at @argv[2]: it re-executes itself as "@liveupdatectl-hold"
 * (see holder_fate()), reports, and waits for the kexec.
 */
static int cmd_keep(int argc, char **argv, const char *arg0)
{
	char self[PATH_MAX];
	ssize_t n;
	int ok;

	if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "get")))
		return usage(stderr), EXIT_USAGE;
	if (arg0[0] != '@') {
		char *args[] = { argc == 4 ? KEEPER_GET : "@liveupdatectl-hold", "__keep",
				 argv[1], argv[2], argv[3], NULL };

		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return EXIT_FAILED;
		self[n] = 0;
		execv(self, args);
		return EXIT_FAILED;
	}
	ok = atoi(argv[2]);
	if (fcntl(atoi(argv[1]), F_GETFD) < 0)
		return EXIT_FAILED;
	/*
	 * Whoever started us may be gone (killed): we hold the session all the
	 * same, so no SIGPIPE, and a failed report is no reason to let go.
	 */
	signal(SIGPIPE, SIG_IGN);
	(void)!write(ok, "1", 1);
	close(ok);
	for (;;)
		pause();
}

/*
 * Preserves a sealed copy of @fd (or, with @fd < 0, the manifest of @e and
 * @n) under @token: in @s, or through the broker (@s < 0) in its session
 * @name, which counts the bytes against the caller's limit.
 */
static int hold_put(int s, const char *name, uint64_t token, int fd,
		    const struct liveupdate_manifest_entry *e, size_t n)
{
	int m, r;

	if (s >= 0)
		return fd >= 0 ? liveupdate_preserve_file(s, token, fd)
			       : liveupdate_manifest_write(s, e, n);
	m = fd >= 0 ? liveupdate_memfd_from_fd("liveupdate", fd) : liveupdate_manifest_memfd(e, n);
	if (m < 0)
		return m;
	r = liveupdate_agent_preserve_fd(name, token, m);
	close(m);
	return r;
}

static int cmd_hold(int argc, char **argv)
{
	struct liveupdate_manifest_entry *e;
	int detach = 0, first = 1, dev, s, r, nfiles, broker;
	const char *name;

	static const struct option opts[] = {
		{ "detach", no_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' }, {}
	};
	int c;

	/* '+': options before NAME only; FILEs are taken as they are */
	while ((c = next_opt(argc, argv, "+:h", opts)) != -1) {
		if (c < 0)
			return OPT_DONE(c);
		detach = 1;
	}
	first = optind;
	if (argc - first < 1)
		return usage_error("missing NAME (the session's name)");
	if (argc - first < 2)
		return usage_error("missing FILE (what session \"%s\" is to hold)", argv[first]);
	name = argv[first];
	nfiles = argc - first - 1;
	if (strlen(name) == 0 || strlen(name) > LIVEUPDATE_NAME_MAX)
		return fprintf(stderr, "%s: a session name is 1 to %d bytes\n", prog,
			       LIVEUPDATE_NAME_MAX), EXIT_USAGE;
	broker = broker_up();
	if (broker < 0)
		return fail(broker, "cannot reach the broker for session \"%s\"", name);
	if (!broker && !detach && !getenv("NOTIFY_SOCKET")) {
		fprintf(stderr, "%s: nothing would hold session \"%s\" until the kexec: run this "
			"in a systemd service with FileDescriptorStorePreserve=yes, or pass "
			"--detach to keep it in a background process\n", prog, name);
		return EXIT_USAGE;
	}
	e = calloc((size_t)nfiles, sizeof(*e));
	if (!e)
		return fail(-ENOMEM, "hold");
	if (broker) {
		s = liveupdate_agent_create_session(name);	/* the broker holds it */
		if (s == 0)
			s = -1;
	} else {
		dev = open_device();
		if (dev < 0) {
			free(e);
			return -dev;
		}
		s = liveupdate_create_session(dev, name);
		close(dev);
	}
	lu_crash_point("hold:created-session");
	if (s < -1) {
		free(e);
		return fail(s, "cannot create session \"%s\"", name);
	}
	for (int i = 0; i < nfiles; i++) {
		const char *path = argv[first + 1 + i];
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			r = fail(-errno, "%s", path);
			goto out;
		}
		e[i].token = (uint64_t)i + 1;
		entry_name(path, e[i].name);
		for (int j = 0; j < i; j++)
			if (!strcmp(e[j].name, e[i].name))
				snprintf(e[i].name, sizeof(e[i].name), "file%d", i + 1);
		r = hold_put(s, name, e[i].token, fd, NULL, 0);
		close(fd);
		if (r < 0) {
			r = fail(r, "cannot preserve %s", path);
			goto out;
		}
		lu_crash_point("hold:preserved-file");
	}
	r = hold_put(s, name, LIVEUPDATE_MANIFEST_TOKEN, -1, e, (size_t)nfiles);
	if (r < 0) {
		r = fail(r, "cannot write the manifest");
		goto out;
	}
	lu_crash_point("hold:wrote-manifest");
	for (int i = 0; i < nfiles; i++)
		printf("%" PRIu64 "\t%s\t%s\n", e[i].token, e[i].name, argv[first + 1 + i]);
	fflush(stdout);
	if (broker) {
		fprintf(stderr, "%s: session \"%s\" is held by liveupdated\n", prog, name);
	} else if (detach) {
		r = hold_detached(s, name);
		if (r < 0) {
			r = fail(r, "cannot start the holder");
			goto out;
		}
		fprintf(stderr, "%s: session \"%s\" held by pid %d until the kexec\n", prog, name, r);
	} else {
		r = store_in_systemd(s, name);
		if (r <= 0) {
			r = fail(r ? r : -ENOTCONN, "cannot hand session \"%s\" to systemd", name);
			goto out;
		}
		fprintf(stderr, "%s: session \"%s\" is in the service's fd store\n", prog, name);
	}
	lu_crash_point("hold:handed-over");
	r = EXIT_DONE;
out:
	if (s >= 0) {
		close(s);
	} else if (r != EXIT_DONE) {	/* the broker drops what it holds of it */
		(void)liveupdate_agent_release_session(name);
	}
	free(e);
	return r;
}

/* ---- get ------------------------------------------------------------------------ */

/*
 * The invariant (docs/crash.md, "liveupdatectl get"): after a crash of get
 * at any point, every entry of the session is either still retrievable by
 * a later get, or delivered, complete, where it was asked to go; never
 * neither. So:
 *  - the destination is checked (and its temporary file made) before the
 *    session is retrieved;
 *  - the session is never held by this process alone: without the broker a
 *    keeper process (__keep ... get, "@liveupdatectl-get") retrieves it and
 *    hands us a copy of its fd; with the broker, the broker keeps its copy
 *    until we say it was delivered (liveupdate_agent_retrieve_end());
 *  - a file is written to a temporary file in the destination's directory,
 *    fsync()ed and renamed over the destination: never a half-written one;
 *  - FINISH only once everything asked for was delivered and everything the
 *    manifest names was asked for (--all, or its only entry), or --finish
 *    was given; otherwise the session stays held (retrieving a file again
 *    gives the same file), and a later get takes it from its keeper.
 */

/* A retrieved session and who else holds it while we work on it. */
struct held {
	int fd;			/* our copy of the session fd */
	pid_t keeper;		/* the keeper's pid (direct), 0 if none */
	int pidfd;		/* its pidfd, -1 */
	int child;		/* 1 if we forked it (reap it) */
	int handle;		/* the broker's handle, -1 */
};

/* Sends @r (a result) and, if @fd >= 0, @fd over the Unix socket @sock. */
static void send_result(int sock, int r, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		memset(&c, 0, sizeof(c));
		m.msg_control = c.buf;
		m.msg_controllen = sizeof(c.buf);
		CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), &fd, sizeof(int));
	}
	/* MSG_NOSIGNAL: the receiver may be gone; we must live on regardless */
	(void)sendmsg(sock, &m, MSG_NOSIGNAL);
}

/* Waits up to 30 s for send_result()'s message: its result, *@fd the fd. */
static int recv_result(int sock, int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	int r = -ECHILD, n;
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			    .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *h;
	ssize_t got;

	*fd = -1;
	do
		n = poll(&pfd, 1, 30000);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -ETIMEDOUT;
	got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	for (h = got > 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(h), sizeof(int));
	if (got != sizeof(r))
		return -ECHILD;
	if (r >= 0 && *fd < 0)
		return -EPROTO;
	return r;
}

/*
 * Runs the keeper in this (forked) process with the session at fd 3 and
 * the parent's socket at fd 4: re-executed as "@liveupdatectl-get __keep 3
 * 4 get" (cmd_keep()), under systemd in a scope of its own as hold --detach
 * does, so that stopping the caller's unit does not close the session.
 * Never returns: if no exec works it keeps the session here.
 */
static void keeper_exec(int session, int sock, const char *name)
{
	char self[PATH_MAX], unit[64], desc[128];
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int s = fcntl(session, F_DUPFD_CLOEXEC, 10), o = fcntl(sock, F_DUPFD_CLOEXEC, 10);
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	setsid();
	signal(SIGPIPE, SIG_IGN);	/* stays ignored across exec */
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	if (s >= 0 && o >= 0 && dup2(s, 3) == 3 && dup2(o, 4) == 4 && n > 0) {
		self[n] = 0;
		close_range(5, ~0U, 0);
		snprintf(unit, sizeof(unit), "liveupdate-get-%d.scope", (int)getpid());
		snprintf(desc, sizeof(desc), "liveupdatectl get %s", name);
		if (exists("/run/systemd/system")) {
			char *argv[] = { "systemd-run", "--quiet", "--scope", "--collect", "--unit",
					 unit, "--description", desc, "-p", "DefaultDependencies=no",
					 "--", self, "__keep", "3", "4", "get", NULL };

			execvp(argv[0], argv);
		}
		{
			char *argv[] = { KEEPER_GET, "__keep", "3", "4", "get", NULL };

			execv(self, argv);
		}
	}
	for (;;)		/* the session must not be closed by us */
		pause();
}

/*
 * Retrieves incoming session @name without ever being its only holder: a
 * forked keeper does RETRIEVE_SESSION on @dev, sends us a copy of the fd
 * and keeps its own. Return: 0 and @h filled, or -errno (the keeper's
 * RETRIEVE_SESSION error: -ENOENT none, -EINVAL already retrieved).
 */
static int keeper_retrieve(int dev, const char *name, struct held *h)
{
	char buf[4];
	int sv[2], r, fd;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		int s;

		close(sv[0]);
		s = liveupdate_retrieve_session(dev, name);
		close(dev);	/* the next opener need not wait for our exec */
		send_result(sv[1], s, s);
		if (s < 0)
			_exit(1);
		keeper_exec(s, sv[1], name);
	}
	close(sv[1]);
	h->keeper = pid;
	h->child = 1;
	h->pidfd = sys_pidfd_open(pid);
	lu_crash_point("get:forked-keeper");
	r = recv_result(sv[0], &fd);
	if (r < 0) {
		close(sv[0]);
		if (fd >= 0)
			close(fd);
		/* timed out: if it gets the session after all, it keeps it */
		if (r != -ETIMEDOUT)
			waitpid(pid, NULL, 0);
		h->keeper = 0;
		h->child = 0;
		if (h->pidfd >= 0)
			close(h->pidfd);
		h->pidfd = -1;
		return r;
	}
	h->fd = fd;
	lu_crash_point("get:got-session");
	/* the keeper runs once it says so; if it never does, it still holds it */
	{
		struct pollfd pfd = { .fd = sv[0], .events = POLLIN };

		do
			r = poll(&pfd, 1, 30000);
		while (r < 0 && errno == EINTR);
		if (r <= 0 || read(sv[0], buf, 1) != 1)
			fprintf(stderr, "%s: the keeper of session \"%s\" (pid %d) did not "
				"report; it holds the session all the same\n", prog, name, (int)pid);
	}
	close(sv[0]);
	lu_crash_point("get:keeper-started");
	return 0;
}

/*
 * Finds the keeper an earlier get left holding incoming session @name
 * (a process "@liveupdatectl-get __keep FD ... get") and takes a copy of its
 * fd (pidfd_getfd(), Linux 5.6+, root). 0 and @h filled, or -ENOENT.
 */
static int keeper_find(const char *name, struct held *h)
{
	DIR *procs = opendir("/proc");
	struct dirent *p;
	int found = -ENOENT;

	if (!procs)
		return -errno;
	while (found < 0 && (p = readdir(procs))) {
		char path[64], cmd[256], got[LIVEUPDATE_NAME_MAX + 1];
		pid_t pid = (pid_t)strtol(p->d_name, NULL, 10);
		ssize_t n;
		int f, pidfd, fd;

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		f = open(path, O_RDONLY | O_CLOEXEC);
		if (f < 0)
			continue;
		n = read(f, cmd, sizeof(cmd) - 1);
		close(f);
		if (n <= 0)
			continue;
		cmd[n] = 0;
		/* argv: KEEPER_GET, __keep, FD, OKFD, get */
		if (strcmp(cmd, KEEPER_GET) || (size_t)n < sizeof(KEEPER_GET) + 7 ||
		    strcmp(cmd + sizeof(KEEPER_GET), "__keep"))
			continue;
		fd = atoi(cmd + sizeof(KEEPER_GET) + 7);
		pidfd = sys_pidfd_open(pid);
		if (pidfd < 0)
			continue;
		f = sys_pidfd_getfd(pidfd, fd);
		if (f >= 0 && liveupdate_session_name(f, got) == 0 && !strcmp(got, name)) {
			h->fd = f;
			h->keeper = pid;
			h->pidfd = pidfd;
			h->child = 0;
			found = 0;
			break;
		}
		if (f >= 0)
			close(f);
		close(pidfd);
	}
	closedir(procs);
	return found;
}

/* The state the module lists for incoming session @name, "" if not listed. */
static const char *incoming_state(const char *name, char *state, size_t len)
{
	static char sess[65536];
	const char *p = sess;
	unsigned long long more;
	struct sess_line l;
	char n[LIVEUPDATE_NAME_MAX + 1];

	state[0] = 0;
	if (read_sessions(sess, sizeof(sess)) != 1)
		return state;
	while (*p)
		if (sess_parse(&p, &l, &more) > 0 && l.in) {
			sess_unescape(l.name, n, sizeof(n));
			if (!strcmp(n, name))
				snprintf(state, len, "%s", l.state);
		}
	return state;
}

/* Ends the keeper once its session is finished (the fd it holds is then harmless). */
static void keeper_end(struct held *h)
{
	if (h->pidfd >= 0)
		sys_pidfd_send_signal(h->pidfd, SIGKILL);
	if (h->child)
		waitpid(h->keeper, NULL, 0);
}

/*
 * Our session for @name, held by someone else too (a keeper, or the
 * broker). Prints why not and returns an exit code otherwise (> 0).
 */
static int get_acquire(const char *name, int broker, struct held *h)
{
	char state[16];
	int dev, r;

	*h = (struct held){ .fd = -1, .pidfd = -1, .handle = -1 };
	if (broker) {
		r = liveupdate_agent_retrieve_begin(name, &h->handle);
		if (r >= 0) {
			h->fd = r;
			lu_crash_point("get:got-session");
			return 0;
		}
		h->handle = -1;
		switch (r) {
		case -ENOENT:
			return fail(r, "no incoming session \"%s\"", name);
		case -ETIMEDOUT:
			fprintf(stderr, "%s: the broker did not answer in time ($LIVEUPDATED_TIMEOUT): "
				"it may still be retrieving session \"%s\", which it keeps; try "
				"again\n", prog, name);
			return EXIT_BUSY;
		case -EBUSY:
			fprintf(stderr, "%s: session \"%s\" is being handed to another client of "
				"the broker right now (or was retrieved from the device by another "
				"program); try again\n", prog, name);
			return EXIT_BUSY;
		case -EMFILE:
			return fail(r, "cannot receive session \"%s\" from the broker, which keeps "
				    "it", name);
		default:
			return fail(r, "the broker cannot retrieve session \"%s\"", name);
		}
	}
	dev = open_device();
	if (dev < 0)
		return -dev;
	lu_crash_point("get:opened-device");
	r = keeper_retrieve(dev, name, h);
	close(dev);
	if (r == 0)
		return 0;
	if (r != -EINVAL && r != -EBUSY)	/* EINVAL: retrieved already */
		return fail(r, r == -ENOENT ? "no incoming session \"%s\"" :
			    "cannot retrieve session \"%s\"", name);
	r = keeper_find(name, h);
	incoming_state(name, state, sizeof(state));
	if (r == 0 && strcmp(state, "finished")) {
		lu_crash_point("get:got-session");
		return 0;
	}
	if (r == 0) {	/* an earlier get was killed after FINISH, before ending it */
		close(h->fd);
		h->fd = -1;
		keeper_end(h);
		close(h->pidfd);
		h->pidfd = -1;
	}
	if (!strcmp(state, "finished"))
		return fail(-ENOENT, "session \"%s\" was finished already", name);
	if (!strcmp(state, "retrieved")) {
		fprintf(stderr, "%s: session \"%s\" is held by another program that "
			"retrieved it (no liveupdatectl get keeper)\n", prog, name);
		return EXIT_BUSY;
	}
	/* not in the module's list (past its first page), or not the module */
	return fail(-ENOENT, "session \"%s\" was retrieved already (finished, or held by "
		    "another program)", name);
}

/*
 * Lets go of our copy: with @finish after FINISH, the keeper goes (or the
 * broker drops its copy); without, they keep holding the session.
 */
static void get_release(struct held *h, const char *name, int finished)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	if (h->handle >= 0) {
		/* finished: the broker drops its copy; else it keeps it */
		int r = liveupdate_agent_retrieve_end(h->handle, finished);

		if (r < 0 && !finished)
			fprintf(stderr, "%s: the broker did not confirm that it keeps session "
				"\"%s\" (%s); it keeps it unless told otherwise\n", prog, name,
				strerror(-r));
	}
	if (finished) {
		keeper_end(h);
	} else if (h->keeper) {
		fprintf(stderr, "%s: session \"%s\" stays retrievable (held by pid %d)\n", prog,
			name, (int)h->keeper);
	} else if (h->handle >= 0) {
		fprintf(stderr, "%s: session \"%s\" stays retrievable (the broker keeps it)\n",
			prog, name);
	}
	h->handle = -1;
	if (h->pidfd >= 0)
		close(h->pidfd);
	h->pidfd = -1;
	lu_crash_point("get:released");
}

/* A destination file: written to a temporary file beside it, then renamed. */
struct dest {
	char path[PATH_MAX];	/* where it goes */
	char tmp[PATH_MAX];	/* the temporary file, "" if none */
	char dir[PATH_MAX];
	int fd;
};

/*
 * Makes the temporary file for @path (in its directory, so that rename()
 * replaces @path in one step): proves the directory exists and is writable.
 */
static int dest_open(struct dest *d, const char *path)
{
	char tmp[PATH_MAX];
	struct stat st;
	mode_t mask;

	snprintf(d->path, sizeof(d->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(d->dir, sizeof(d->dir), "%s", dirname(tmp));
	d->fd = -1;
	d->tmp[0] = 0;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return -EISDIR;
	if (stat(d->dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	snprintf(tmp, sizeof(tmp), "%s", path);
	if ((size_t)snprintf(d->tmp, sizeof(d->tmp), "%s/.%s.lu-get-XXXXXX", d->dir,
			     basename(tmp)) >= sizeof(d->tmp))
		return -ENAMETOOLONG;
	d->fd = mkostemp(d->tmp, O_CLOEXEC);
	if (d->fd < 0) {
		d->tmp[0] = 0;
		return -errno;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(d->fd, 0666 & ~mask) < 0)
		return -errno;
	return 0;
}

/* Drops the temporary file (the destination is untouched). */
static void dest_abort(struct dest *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->tmp[0])
		unlink(d->tmp);
	d->fd = -1;
	d->tmp[0] = 0;
}

/* Writes @len bytes of @buf to the temporary file, syncs it and renames it into place. */
static int dest_commit(struct dest *d, const void *buf, size_t len)
{
	int dfd, r = 0;

	for (size_t done = 0; done < len;) {
		ssize_t n = write(d->fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	lu_crash_point("get:wrote-temp");
	if (fsync(d->fd) < 0)
		return -errno;
	lu_crash_point("get:synced-temp");
	if (rename(d->tmp, d->path) < 0)
		return -errno;
	d->tmp[0] = 0;
	lu_crash_point("get:renamed");
	close(d->fd);
	d->fd = -1;
	dfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			r = -errno;
		close(dfd);
	}
	return r;
}

static int write_stdout(const void *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, stdout) != len)
		return -EIO;
	return fflush(stdout) ? -errno : 0;
}

/* An entry: a manifest name, else a token number. */
static int resolve(const struct liveupdate_manifest_entry *e, size_t n, const char *arg,
		   uint64_t *token)
{
	char *end;

	if (!liveupdate_manifest_find(e, n, arg, token))
		return 0;
	errno = 0;
	*token = strtoull(arg, &end, 0);
	if (!*arg || *end || errno || arg[0] == '-')
		return -ENOENT;
	return 0;
}

static int cmd_get(int argc, char **argv)
{
	struct liveupdate_manifest_entry *e = NULL;
	const char *name, *entry = NULL, *out = NULL, *dir = NULL;
	int finish = 0, delivered_all = 0, broker, r;
	struct dest d = { .fd = -1 };
	struct held h = { .fd = -1, .pidfd = -1, .handle = -1 };
	size_t n = 0, len;
	uint64_t token;
	void *buf;

	static const struct option opts[] = {
		{ "finish", no_argument, NULL, 'f' },
		{ "all", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' }, {}
	};
	int c, npos;

	while ((c = next_opt(argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 'f': finish = 1; break;
		case 'a': dir = optarg; break;
		default: return OPT_DONE(c);
		}
	}
	npos = argc - optind;
	if (npos < 1)
		return usage_error("missing NAME (the session's name)");
	name = argv[optind];
	if (dir && npos > 1)
		return usage_error("unexpected argument \"%s\" (--all DIR takes every entry)",
				   argv[optind + 1]);
	if (!dir && npos == 1 && !finish)
		return usage_error("missing ENTRY (or --all DIR) for session \"%s\"", name);
	if (npos > 3)
		return usage_error("unexpected argument \"%s\"", argv[optind + 3]);
	if (!dir && npos >= 2) {
		entry = argv[optind + 1];
		out = npos == 3 ? argv[optind + 2] : NULL;
	}
	/* the destination first: nothing is retrieved for a place we cannot write */
	if (dir) {
		char probe[PATH_MAX];

		snprintf(probe, sizeof(probe), "%s/probe", dir);
		r = dest_open(&d, probe);
		dest_abort(&d);
		if (r < 0)
			return fail(r, "%s", dir), EXIT_FAILED;
	} else if (out) {
		r = dest_open(&d, out);
		if (r < 0) {
			dest_abort(&d);
			return fail(r, "%s", out), EXIT_FAILED;
		}
	}
	lu_crash_point("get:checked-destination");
	broker = broker_up();
	if (broker < 0) {
		dest_abort(&d);
		return fail(broker, "cannot reach the broker for session \"%s\"", name);
	}
	r = get_acquire(name, broker, &h);
	if (r) {
		dest_abort(&d);
		return r;
	}
	r = liveupdate_manifest_read(h.fd, &e, &n);
	lu_crash_point("get:read-manifest");
	if (r < 0 && (dir || r != -ENOENT)) {
		r = fail(r, "session \"%s\": reading its manifest", name);
		goto out;
	}
	if (dir) {
		for (size_t i = 0; i < n; i++) {
			char path[PATH_MAX];

			/* the manifest is the session maker's: no way out of DIR */
			if (strchr(e[i].name, '/') || !strcmp(e[i].name, ".") ||
			    !strcmp(e[i].name, "..")) {
				r = fail(-EINVAL, "session \"%s\": entry name \"%s\" is not a "
					 "file name", name, e[i].name);
				goto out;
			}
			snprintf(path, sizeof(path), "%s/%s", dir, e[i].name);
			r = dest_open(&d, path);
			if (r < 0) {
				r = fail(r, "%s", path);
				goto out;
			}
			r = liveupdate_retrieve_buffer(h.fd, e[i].token, &buf, &len);
			if (r < 0) {
				r = fail(r, "session \"%s\", entry %s", name, e[i].name);
				goto out;
			}
			lu_crash_point("get:retrieved-entry");
			r = dest_commit(&d, buf, len);
			free(buf);
			if (r < 0) {
				r = fail(r, "%s", path);
				goto out;
			}
			printf("%" PRIu64 "\t%s\t%s\n", e[i].token, e[i].name, path);
			fflush(stdout);
		}
		delivered_all = 1;
	} else if (entry) {
		if (resolve(e, n, entry, &token)) {
			r = fail(-ENOENT, "session \"%s\" has no entry \"%s\"", name, entry);
			goto out;
		}
		r = liveupdate_retrieve_buffer(h.fd, token, &buf, &len);
		if (r < 0) {
			r = fail(r, "session \"%s\", entry %s", name, entry);
			goto out;
		}
		lu_crash_point("get:retrieved-entry");
		r = out ? dest_commit(&d, buf, len) : write_stdout(buf, len);
		free(buf);
		if (r < 0) {
			r = fail(r, "%s", out ? out : "stdout");
			goto out;
		}
		/* the manifest's only entry: everything it holds was delivered */
		delivered_all = n == 1 && e[0].token == token;
	}
	if (delivered_all || finish) {
		r = liveupdate_finish(h.fd);
		if (r < 0) {
			r = fail(r, "finishing session \"%s\"", name);
			goto out;
		}
		lu_crash_point("get:finished");
		get_release(&h, name, 1);
	} else {
		get_release(&h, name, 0);
	}
	r = EXIT_DONE;
out:
	if (h.fd >= 0)		/* failed: the keeper or the broker keeps it */
		get_release(&h, name, 0);
	dest_abort(&d);
	free(e);
	return r;
}

int main(int argc, char **argv)
{
	static const struct verb verbs[] = {
		{ "status", cmd_status, USAGE_STATUS }, { "check", cmd_check, USAGE_CHECK },
		{ "hold", cmd_hold, USAGE_HOLD }, { "get", cmd_get, USAGE_GET },
	};

	opterr = 0;
	if (argc < 2) {
		fprintf(stderr, "%s: missing VERB (status, check, hold or get)\n", prog);
		return usage(stderr), EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return usage(stdout), EXIT_DONE;
	if (!strcmp(argv[1], "--version"))
		return printf("%s %s\n", prog, LU_VERSION), EXIT_DONE;
	if (!strcmp(argv[1], "__keep"))
		return cmd_keep(argc - 1, argv + 1, argv[0]);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].name)) {
			verb = &verbs[i];
			return verbs[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "%s: unknown %s \"%s\"\n", prog,
		argv[1][0] == '-' ? "option" : "command", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
