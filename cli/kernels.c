// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdatectl check: the kernels and their initramfs (cpio walk,
 * linux-version).
 * main(), the verbs' table and what they share: liveupdatectl.c, liveupdatectl.h.
 */
#include "liveupdatectl.h"

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
int reap(FILE *f, pid_t pid)
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
int initramfs_has_module(const char *path, char *why, size_t wlen)
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
const char *kernel_image(const char *kver, char *buf, size_t len)
{
	snprintf(buf, len, "/boot/vmlinuz-%s", kver);
	if (exists(buf))
		return buf;
	snprintf(buf, len, "/usr/lib/modules/%s/vmlinuz", kver);
	return exists(buf) ? buf : NULL;
}

/* Its initramfs (Debian's name, or dracut's elsewhere), or NULL. */
const char *kernel_initramfs(const char *kver, char *buf, size_t len)
{
	snprintf(buf, len, "/boot/initrd.img-%s", kver);
	if (exists(buf))
		return buf;
	snprintf(buf, len, "/boot/initramfs-%s.img", kver);
	return exists(buf) ? buf : NULL;
}

#define KERNELS_MAX 64

/*
 * The kernel liveupdate-kexec boots by default: the newest version in
 * /usr/lib/modules with a kernel image and an initramfs, in Debian's order
 * of kernel versions (linux-version sort, linux-base: 6.12.0-rc7 before
 * 6.12.0, as the kernel packages order them). 0; -ENOENT if there is none;
 * -ENOEXEC if there are several and linux-version cannot order them.
 */
int next_kernel(char *kver, size_t len)
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
