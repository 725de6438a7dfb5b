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
#include "liveupdatectl.h"

const char *prog = "liveupdatectl";

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

void usage(FILE *f)
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
int usage_error(const char *fmt, ...)
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

/*
 * The next option of the verb's arguments (getopt_long; @shorts starts with
 * ':'). --help and -h print the verb's synopsis on stdout (OPT_HELP); an
 * unknown option or one without its value is a usage error naming it
 * (OPT_BAD); -1 at the end of the options.
 */
int next_opt(int argc, char **argv, const char *shorts, const struct option *longs)
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

/* Prints "liveupdatectl: WHAT: strerror(-r)" and maps r to an exit code. */
int fail(int r, const char *fmt, ...)
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

int open_device(void)
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
const char *rooted(const char *path)
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
const char *read_line(const char *path, char *buf, size_t len)
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

int exists(const char *path)
{
	struct stat st;

	return stat(rooted(path), &st) == 0;
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
