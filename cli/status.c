// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdatectl status, and what status and check both read: sysfs, the
 * sessions, the record of the last live update, JSON.
 * main(), the verbs' table and what they share: liveupdatectl.c, liveupdatectl.h.
 */
#include "liveupdatectl.h"

/* ---- status ---------------------------------------------------------------- */

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
int read_sessions(char *buf, size_t len)
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

/*
 * Parses the line at @p into @l: 1, or 0 for "more N" (N in @more), -1 for
 * anything else. @p moves to the next line.
 */
int sess_parse(const char **p, struct sess_line *l, unsigned long long *more)
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
void sess_unescape(const char *s, char *out, size_t len)
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

void get_status(struct status *st)
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
struct json_object *jstr(const char *s)
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

/* Prints @doc and a newline, and frees it. */
void json_print(struct json_object *doc)
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
	else if (!strcmp(st->handover, "pending"))
		/* found, not loaded: the first open of the device loads it */
		snprintf(u->state, sizeof(u->state), "pending");
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

int cmd_status(int argc, char **argv)
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
