// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdatectl check, the preflight: its lines, --json, the verdict.
 * main(), the verbs' table and what they share: liveupdatectl.c, liveupdatectl.h.
 */
#include "liveupdatectl.h"

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
void check_line_s(struct check_count *n, const char *id, const char *session,
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
void uname_r(char *kver, size_t len)
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

int cmd_check(int argc, char **argv)
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
