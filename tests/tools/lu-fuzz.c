// SPDX-License-Identifier: GPL-2.0
/*
 * lu-fuzz: feeds the module mutated copies of a real handover.
 *
 *   lu-fuzz ITERATIONS [SEED]
 *
 * Takes the handover in the range (a real one a previous kernel wrote; the
 * module must not be loaded), then ITERATIONS times: mutates a copy (a header
 * or record field set to an extreme value, random bit flips, a data byte, a
 * truncated tail), usually fixing the header and metadata checksums so the
 * mutation reaches the bounds checks behind them; an overlap: one file's data
 * pointed into another's, every crc fixed), marks it committed, writes
 * it into the range, loads the module, opens /dev/liveupdate, retrieves
 * whatever sessions and files it offers, reads them, and unloads the module.
 *
 * Asserts for every iteration: the module loads and unloads, the open
 * succeeds, handover_status is one of none/loaded/corrupt/version, retrieve
 * calls give an fd or ENOENT/EINVAL, and for the mutations a checksum or the
 * overlap check must catch (unfixed data byte, truncation, overlap) the exact
 * status. Unmutated copies
 * (iteration 0 and every 16th) must load with the original bytes. The
 * original handover is put back at the end. Exit 0 when all held; whether
 * the kernel log stayed clean is lu-klog-check's job.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/liveupdate.h>

#include "range.h"

#define STATUS "/sys/module/liveupdate/parameters/handover_status"
#define MAX_IMAGE (16u << 20)

enum mutation { M_NONE, M_FIELD, M_FLIP, M_DATA, M_TRUNC, M_OVERLAP, M_COUNT };
static const char *const mutation_names[] = {
	"none", "field", "flip", "data", "trunc", "overlap",
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static int failures;

static void fail(unsigned int it, const char *fmt, ...)
{
	va_list ap;

	printf("# iteration %u: ", it);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failures++;
}

static int run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void read_status(char *buf, size_t len)
{
	int fd = open(STATUS, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

/*
 * Where the files' bytes are: what M_DATA flips (padding has no crc), and
 * whose record M_OVERLAP points into another's.
 */
struct extent {
	uint64_t off, len;
	uint64_t rec;	/* offset of the file record */
};

static struct extent extents[64];
static size_t nextents;

/* Where a header or record field is, and how wide: what M_FIELD mutates. */
struct field {
	uint64_t off;
	unsigned int width;
};

static size_t collect_fields(const unsigned char *img, uint64_t used,
			     struct field *f, size_t max)
{
	const struct luo_handover_header *h = (const void *)img;
	uint64_t off = sizeof(*h), end = sizeof(*h) + h->meta_size;
	size_t n = 0;

	for (uint64_t o = 0; o < sizeof(*h) && n < max; o += 4)
		f[n++] = (struct field){ o, 4 };
	f[n++] = (struct field){ offsetof(struct luo_handover_header, used_size), 8 };
	f[n++] = (struct field){ offsetof(struct luo_handover_header, meta_size), 8 };
	f[n++] = (struct field){ offsetof(struct luo_handover_header, nr_sessions), 8 };
	f[n++] = (struct field){ offsetof(struct luo_handover_header, nr_files), 8 };
	while (off + sizeof(struct luo_ser_session) <= end && end <= used && n + 16 < max) {
		const struct luo_ser_session *s = (const void *)(img + off);

		f[n++] = (struct field){ off, 8 };	/* name bytes */
		f[n++] = (struct field){ off + 56, 8 };	/* name tail, NUL */
		f[n++] = (struct field){ off + offsetof(struct luo_ser_session, nr_files), 4 };
		f[n++] = (struct field){ off + offsetof(struct luo_ser_session, reserved), 4 };
		off += sizeof(*s);
		for (uint32_t i = 0; i < s->nr_files && off + sizeof(struct luo_ser_file) <= end &&
		     n + 8 < max; i++) {
			const struct luo_ser_file *sf = (const void *)(img + off);

			if (sf->size && nextents < sizeof(extents) / sizeof(extents[0]))
				extents[nextents++] = (struct extent){ sf->data_off, sf->size, off };
			for (uint64_t o = 0; o < sizeof(struct luo_ser_file); o += 8)
				f[n++] = (struct field){ off + o, 8 };
			f[n++] = (struct field){ off + offsetof(struct luo_ser_file, type), 4 };
			f[n++] = (struct field){ off + offsetof(struct luo_ser_file, seals), 4 };
			off += sizeof(struct luo_ser_file);
		}
	}
	return n;
}

static uint64_t extreme(uint64_t used, uint64_t range)
{
	const uint64_t v[] = {
		0, 1, 7, 8, 63, 64, 72, 0x7f, 0xff, 0x7fffffff, 0x80000000,
		0xffffffff, 0x100000000ULL, 1ULL << 62, 1ULL << 63, ~0ULL,
		used, used - 1, used + 1, range, range - 1, range + 1,
	};

	return v[rnd() % (sizeof(v) / sizeof(v[0]))];
}

/* Recomputes the header and metadata checksums of a mutated image. */
static void fix_crcs(unsigned char *img, uint64_t used)
{
	struct luo_handover_header *h = (void *)img;

	if (h->meta_size <= used - sizeof(*h))
		h->meta_crc = lu_crc(img + sizeof(*h), h->meta_size);
	h->header_crc = lu_header_crc(h);
}

/* Retrieves every session and file the module offers; reads the files. */
static void exercise(unsigned int it, int dev, const unsigned char *orig,
		     int expect_same)
{
	const struct luo_handover_header *h = (const void *)orig;
	uint64_t off = sizeof(*h), end = sizeof(*h) + h->meta_size;
	static unsigned char buf[1 << 16];

	while (off + sizeof(struct luo_ser_session) <= end) {
		const struct luo_ser_session *s = (const void *)(orig + off);
		struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs) };
		int got;

		memcpy(rs.name, s->name, sizeof(rs.name));
		off += sizeof(*s);
		got = ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs) < 0 ? -errno : 0;
		if (got && got != -ENOENT && got != -EINVAL)
			fail(it, "RETRIEVE_SESSION: %s", strerror(-got));
		if (expect_same && got)
			fail(it, "unmutated: RETRIEVE_SESSION %s: %s", s->name, strerror(-got));
		for (uint32_t i = 0; i < s->nr_files && off + sizeof(struct luo_ser_file) <= end; i++) {
			const struct luo_ser_file *f = (const void *)(orig + off);
			struct liveupdate_session_retrieve_fd rf = {
				.size = sizeof(rf), .token = f->token,
			};
			uint64_t pos = 0;
			ssize_t n;

			off += sizeof(*f);
			if (got)
				continue;
			if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) < 0) {
				if (errno != ENOENT || expect_same)
					fail(it, "RETRIEVE_FD %llu: %s",
					     (unsigned long long)f->token, strerror(errno));
				continue;
			}
			while ((n = pread(rf.fd, buf, sizeof(buf), (off_t)pos)) > 0) {
				if (expect_same && (pos + n > f->size ||
				    memcmp(buf, orig + f->data_off + pos, (size_t)n)))
					fail(it, "unmutated: bytes differ at %llu",
					     (unsigned long long)pos);
				pos += (uint64_t)n;
			}
			if (n < 0)
				fail(it, "read: %s", strerror(errno));
			if (expect_same && pos != f->size)
				fail(it, "unmutated: %llu bytes, want %llu",
				     (unsigned long long)pos, (unsigned long long)f->size);
			close(rf.fd);
		}
		if (!got)
			close(rs.fd);
	}
}

int main(int argc, char **argv)
{
	unsigned int iterations, counts[M_COUNT][5] = { { 0 } };
	static const char *const statuses[] = { "none", "loaded", "corrupt", "version", "consumed" };
	unsigned char *orig, *img;
	struct luo_handover_header h;
	struct field fields[256];
	struct lu_range r;
	size_t nfields;
	int ret;

	if (argc < 2 || !(iterations = (unsigned int)strtoul(argv[1], NULL, 10))) {
		fprintf(stderr, "usage: lu-fuzz ITERATIONS [SEED]\n");
		return 2;
	}
	rng_state = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eed5eed5eedULL;
	if (!rng_state)
		rng_state = 1;
	if (access("/sys/module/liveupdate", F_OK) == 0 && run("rmmod liveupdate")) {
		printf("# cannot unload the module (sessions still open?)\n");
		return 1;
	}
	ret = lu_range_open(&r, 0, 0, 1);
	if (!ret)
		ret = lu_range_read(&r, 0, &h, sizeof(h));
	if (ret) {
		printf("# range: %s\n", strerror(-ret));
		return 1;
	}
	if (h.magic != LUO_HANDOVER_MAGIC || lu_header_crc(&h) != h.header_crc ||
	    h.used_size < sizeof(h) || h.used_size > MAX_IMAGE || h.used_size > r.size) {
		printf("# no intact handover of at most %u bytes in the range\n", MAX_IMAGE);
		return 1;
	}
	orig = malloc(h.used_size);
	img = malloc(h.used_size);
	if (!orig || !img || lu_range_read(&r, 0, orig, h.used_size)) {
		printf("# cannot read the handover\n");
		return 1;
	}
	nfields = collect_fields(orig, h.used_size, fields, sizeof(fields) / sizeof(fields[0]));
	printf("# fuzzing a handover of %llu bytes, %llu sessions, %llu files, %zu fields\n",
	       (unsigned long long)h.used_size, (unsigned long long)h.nr_sessions,
	       (unsigned long long)h.nr_files, nfields);

	for (unsigned int it = 0; it < iterations; it++) {
		struct luo_handover_header *mh = (void *)img;
		enum mutation m = it % 16 ? (enum mutation)(1 + rnd() % (M_COUNT - 1)) : M_NONE;
		const char *want = NULL;
		char status[32];
		uint64_t at;
		int dev, s;

		memcpy(img, orig, h.used_size);
		switch (m) {
		case M_NONE:
			want = "loaded";
			break;
		case M_FIELD: {
			const struct field *f = &fields[rnd() % nfields];
			uint64_t v = extreme(h.used_size, r.size);

			memcpy(img + f->off, &v, f->width);
			if (rnd() % 4)
				fix_crcs(img, h.used_size);
			break;
		}
		case M_FLIP:
			for (int k = 1 + rnd() % 4; k; k--) {
				at = rnd() % (h.used_size < 4096 ? h.used_size : 4096);
				img[at] ^= (unsigned char)(1u << (rnd() % 8));
			}
			if (rnd() % 2)
				fix_crcs(img, h.used_size);
			break;
		case M_DATA: {
			const struct extent *e;

			if (!nextents) {
				m = M_NONE;
				want = "loaded";
				break;
			}
			e = &extents[rnd() % nextents];
			img[e->off + rnd() % e->len] ^= 0x01;
			want = "corrupt";
			break;
		}
		case M_OVERLAP: {
			/* b's data starts inside a's (crcs fixed): only disjointness catches it */
			const struct extent *ea, *eb;
			struct luo_ser_file sf;
			size_t ia, ib;

			if (nextents < 2) {
				m = M_NONE;
				want = "loaded";
				break;
			}
			ia = rnd() % nextents;
			ib = (ia + 1 + rnd() % (nextents - 1)) % nextents;
			ea = &extents[ia];
			eb = &extents[ib];
			memcpy(&sf, img + eb->rec, sizeof(sf));
			sf.data_off = ea->off + (rnd() % ea->len) / 8 * 8;
			if (sf.size > ea->off + ea->len - sf.data_off)
				sf.size = ea->off + ea->len - sf.data_off;
			sf.data_crc = lu_crc(img + sf.data_off, sf.size);
			memcpy(img + eb->rec, &sf, sizeof(sf));
			fix_crcs(img, h.used_size);
			want = "corrupt";
			break;
		}
		default:	/* M_TRUNC: the tail never got written */
			at = rnd() % h.used_size;
			memset(img + at, 0, h.used_size - at);
			if (!memcmp(img, orig, h.used_size))
				want = "loaded";	/* only zeros were cut */
			else if (at < offsetof(struct luo_handover_header, version))
				want = "none";		/* the magic is gone */
			else if (at == offsetof(struct luo_handover_header, version))
				want = "version";	/* version 0 */
			else
				want = "corrupt";
			break;
		}
		mh->state = LUO_STATE_COMMITTED;
		if (lu_range_write(&r, 0, img, h.used_size)) {
			fail(it, "cannot write the range");
			break;
		}
		if (run("lu-load >/dev/null 2>&1")) {
			fail(it, "%s: the module did not load", mutation_names[m]);
			break;
		}
		dev = open("/dev/liveupdate", O_RDWR);
		read_status(status, sizeof(status));
		if (dev < 0) {
			fail(it, "%s: open: %s (status %s)", mutation_names[m], strerror(errno), status);
		} else {
			for (s = 0; s < 5 && strcmp(status, statuses[s]); s++)
				;
			if (s == 5)
				fail(it, "%s: status \"%s\"", mutation_names[m], status);
			else
				counts[m][s]++;
			if (want && strcmp(status, want))
				fail(it, "%s: status \"%s\", want \"%s\"", mutation_names[m], status, want);
			if (!strcmp(status, "loaded"))
				exercise(it, dev, orig, m == M_NONE);
			close(dev);
		}
		if (run("rmmod liveupdate")) {
			fail(it, "%s: the module did not unload", mutation_names[m]);
			break;
		}
		if (failures > 20)
			break;
	}

	lu_range_write(&r, 0, orig, h.used_size);
	lu_range_close(&r);
	for (int m = 0; m < M_COUNT; m++)
		printf("# %-5s: none %u, loaded %u, corrupt %u, version %u, consumed %u\n",
		       mutation_names[m], counts[m][0], counts[m][1], counts[m][2],
		       counts[m][3], counts[m][4]);
	printf("# %u iterations, %d failures\n", iterations, failures);
	return failures ? 1 : 0;
}
