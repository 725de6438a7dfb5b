// SPDX-License-Identifier: GPL-2.0
/*
 * lu-fuzz: feeds the module mutated copies of a real handover.
 *
 *   lu-fuzz ITERATIONS [SEED]
 *
 * Takes the handover in the range (a real one a previous kernel wrote, of
 * format 1 or 2; the module must not be loaded), then ITERATIONS times:
 * mutates a copy, writes it into the range marked committed, loads the
 * module, opens /dev/liveupdate, retrieves whatever sessions and files it
 * offers, reads them, and unloads the module. The mutations:
 *   field    a header, record, payload or extent field set to an extreme
 *            value (header and metadata crcs fixed 3 times in 4)
 *   flip     random bit flips in the header or metadata (crcs fixed half
 *            the time)
 *   data     a byte of checksummed file data flipped, nothing else
 *   trunc    the tail of the header and metadata never written (zeros)
 *   overlap  one file's data pointed into another's, every crc fixed;
 *            format 2 also: an extent pointed at the metadata's pages (no
 *            crc), or at the header's page
 * What is mutated is kept in memory: format 1, the whole handover
 * (used_size, at most 16 MiB); format 2, the header's page, the metadata
 * and every extent's pages (at most 16 MiB of them; files with more are
 * not compared).
 *
 * Asserts for every iteration: the module loads and unloads, the open
 * succeeds, handover_status is one of none/loaded/corrupt/version, retrieve
 * calls give an fd or ENOENT/EINVAL (or EIO for format 2, whose data is
 * checked at the retrieve), and exact results where they are known:
 *   none (iteration 0 and every 16th): "loaded", every file with its bytes
 *   data     format 1: "corrupt"; format 2: "loaded", the damaged file's
 *            RETRIEVE_FD EIO (twice), every other file with its bytes
 *   trunc    "none"/"version"/"corrupt" by where it starts ("loaded" if
 *            only zeros were cut)
 *   overlap  "corrupt"
 * The original handover is put back at the end. Exit 0 when all held;
 * whether the kernel log stayed clean is lu-klog-check's job.
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
#define PAGE LUO_PAGE_SIZE
/* bytes read of a file whose size a mutation may have made huge */
#define MAX_READ (8u << 20)

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

/* ---- the handover, as kept in memory ---- */

/* Range bytes kept: the original and the copy being mutated. */
struct region {
	uint64_t off, len;
	unsigned char *orig, *cur;
};

#define MAX_REGIONS 4096
static struct region regions[MAX_REGIONS];
static size_t nregions;
static uint64_t kept;		/* bytes in regions */

static struct region *add_region(uint64_t off, uint64_t len)
{
	struct region *g;

	if (nregions == MAX_REGIONS || len > MAX_IMAGE - kept)
		return NULL;
	g = &regions[nregions];
	g->off = off;
	g->len = len;
	g->orig = malloc(len ? len : 1);
	g->cur = malloc(len ? len : 1);
	if (!g->orig || !g->cur)
		return NULL;
	kept += len;
	nregions++;
	return g;
}

/* the kept bytes at range offset @off (@len of them), or NULL */
static unsigned char *at(uint64_t off, uint64_t len, int orig)
{
	for (size_t i = 0; i < nregions; i++) {
		const struct region *g = &regions[i];

		if (off >= g->off && off - g->off <= g->len && len <= g->len - (off - g->off))
			return (orig ? g->orig : g->cur) + (off - g->off);
	}
	return NULL;
}

/* One extent of a file's data (format 1: its one contiguous run). */
struct extent {
	uint64_t rec;		/* format 2: range offset of the extent struct */
	uint64_t index;		/* first file page (format 1: 0) */
	uint64_t off, len;	/* range bytes */
	int crc;		/* covered by a crc */
	int kept;		/* its bytes are in a region */
	unsigned int file;
};

struct file {
	unsigned int session;
	uint64_t token, size;
	uint64_t rec;		/* range offset of the record */
	unsigned int first, n;	/* its extents */
	int kept;		/* every extent kept: its bytes can be compared */
};

struct session {
	char name[64];
	unsigned int first, n;	/* its files */
};

#define MAX_EXTENTS 65536
#define MAX_FILES 8192
#define MAX_SESSIONS 4096
static struct extent extents[MAX_EXTENTS];
static struct file files[MAX_FILES];
static struct session sessions[MAX_SESSIONS];
static unsigned int nextents, nfiles, nsessions;
static struct lu_handover ho;

/* Where a field is, and how wide: what M_FIELD mutates. */
struct field {
	uint64_t off;
	unsigned int width;
};

#define MAX_FIELDS 1024
static struct field fields[MAX_FIELDS];
static size_t nfields;

static void add_field(uint64_t off, unsigned int width)
{
	if (nfields < MAX_FIELDS && at(off, width, 1))
		fields[nfields++] = (struct field){ off, width };
}

static int collect(const struct lu_found_file *ff, void *arg)
{
	struct file *f;

	(void)arg;
	if (ff->is_session) {
		if (nsessions == MAX_SESSIONS)
			return 1;
		memcpy(sessions[nsessions].name, ff->session_name, 64);
		sessions[nsessions].first = nfiles;
		sessions[nsessions].n = 0;
		nsessions++;
		if (nsessions <= 16) {
			add_field(ff->rec_off, 8);		/* name bytes */
			add_field(ff->rec_off + 56, 8);		/* name tail, NUL */
			add_field(ff->rec_off + offsetof(struct luo_ser_session, nr_files), 4);
			add_field(ff->rec_off + offsetof(struct luo_ser_session, reserved), 4);
		}
		return 0;
	}
	if (nfiles == MAX_FILES)
		return 1;
	f = &files[nfiles];
	f->session = nsessions - 1;
	f->token = ff->token;
	f->rec = ff->rec_off;
	f->first = nextents;
	f->n = 0;
	f->kept = 1;
	sessions[nsessions - 1].n++;
	if (ho.fmt == LUO_FORMAT_V1) {
		f->size = ff->f.size;
		if (nfiles < 32) {
			for (uint64_t o = 0; o < sizeof(struct luo_ser_file); o += 8)
				add_field(ff->rec_off + o, 8);
			add_field(ff->rec_off + offsetof(struct luo_ser_file, type), 4);
			add_field(ff->rec_off + offsetof(struct luo_ser_file, seals), 4);
		}
		if (ff->f.size && nextents < MAX_EXTENTS) {
			extents[nextents++] = (struct extent){
				.off = ff->f.data_off, .len = ff->f.size, .crc = 1,
				.kept = !!at(ff->f.data_off, ff->f.size, 1), .file = nfiles,
			};
			f->n = 1;
		}
		nfiles++;
		return 0;
	}
	if (nfiles < 32) {
		add_field(ff->rec_off + offsetof(struct luo_ser_file_v2, token), 8);
		add_field(ff->rec_off + offsetof(struct luo_ser_file_v2, type), 4);
		add_field(ff->rec_off + offsetof(struct luo_ser_file_v2, payload_size), 4);
		if (ff->memfd) {
			uint64_t p = ff->payload_off;

			add_field(p + offsetof(struct luo_memfd_ser, size), 8);
			add_field(p + offsetof(struct luo_memfd_ser, pos), 8);
			add_field(p + offsetof(struct luo_memfd_ser, seals), 4);
			add_field(p + offsetof(struct luo_memfd_ser, flags), 4);
			add_field(p + offsetof(struct luo_memfd_ser, name_len), 4);
			add_field(p + offsetof(struct luo_memfd_ser, nr_extents), 4);
			if (ff->ms.name_len >= 8)
				add_field(p + sizeof(struct luo_memfd_ser), 8);
		}
	}
	if (!ff->memfd) {
		f->kept = 0;
		nfiles++;
		return 0;
	}
	f->size = ff->ms.size;
	for (uint32_t i = 0; i < ff->ms.nr_extents && nextents < MAX_EXTENTS; i++) {
		const struct luo_memfd_extent *e = &ff->ext[i];
		uint64_t rec = ff->ext_off + i * sizeof(*e);
		struct extent *x = &extents[nextents++];

		*x = (struct extent){
			.rec = rec, .index = e->index, .off = lu_extent_off(e),
			.len = lu_extent_len(e), .crc = !!(e->flags & LUO_EXTENT_SUMMED),
			.file = nfiles,
		};
		x->kept = at(x->off, x->len, 1) || add_region(x->off, x->len);
		f->kept &= x->kept;
		f->n++;
		if (nfiles < 32 && i < 4) {
			add_field(rec + offsetof(struct luo_memfd_extent, index), 8);
			add_field(rec + offsetof(struct luo_memfd_extent, page), 4);
			add_field(rec + offsetof(struct luo_memfd_extent, count), 4);
			add_field(rec + offsetof(struct luo_memfd_extent, crc), 4);
			add_field(rec + offsetof(struct luo_memfd_extent, flags), 4);
		}
	}
	f->kept &= f->n == ff->ms.nr_extents;
	nfiles++;
	return 0;
}

static uint64_t extreme(uint64_t end, uint64_t range)
{
	const uint64_t v[] = {
		0, 1, 2, 7, 8, 63, 64, 72, 0x7f, 0xff, 0x7fffffff, 0x80000000,
		0xffffffff, 0x100000000ULL, 1ULL << 62, 1ULL << 63, ~0ULL,
		end, end - 1, end + 1, range, range - 1, range + 1,
		range / PAGE, range / PAGE - 1, range / PAGE + 1, ho.meta_off / PAGE,
	};

	return v[rnd() % (sizeof(v) / sizeof(v[0]))];
}

/* Recomputes the header and metadata checksums of the mutated copy. */
static void fix_crcs(void)
{
	union lu_header *h = (void *)at(0, ho.hsize, 0);
	struct lu_handover tmp = ho;
	const unsigned char *meta;

	if (ho.fmt == LUO_FORMAT_V1) {
		meta = at(sizeof(h->v1), h->v1.meta_size, 0);
		if (meta)
			h->v1.meta_crc = lu_crc(meta, h->v1.meta_size);
	} else {
		/* the metadata as the mutated header places it, if kept */
		meta = at(h->v2.meta_off, h->v2.meta_size, 0);
		if (meta)
			h->v2.meta_crc = lu_crc(meta, h->v2.meta_size);
	}
	tmp.h = *h;
	h->c.header_crc = lu_handover_header_crc(&tmp);
}

/* The bytes file @f should read at @pos (@n of them) from the original. */
static void expected(const struct file *f, uint64_t pos, unsigned char *buf, size_t n)
{
	memset(buf, 0, n);
	for (unsigned int i = f->first; i < f->first + f->n; i++) {
		const struct extent *x = &extents[i];
		uint64_t start = x->index * PAGE, end = start + x->len, a, b;

		if (ho.fmt == LUO_FORMAT_V1)
			end = start + x->len;
		a = pos > start ? pos : start;
		b = pos + n < end ? pos + n : end;
		if (a < b)
			memcpy(buf + (a - pos), at(x->off + (a - start), b - a, 1), b - a);
	}
}

/*
 * Retrieves every session and file of the original the module offers, and
 * reads the files. @same: the handover is unmutated but for @damaged
 * (a file index, or -1), which must give EIO.
 */
static void exercise(unsigned int it, int dev, int same, int damaged)
{
	static unsigned char buf[1 << 16], want[1 << 16];

	for (unsigned int s = 0; s < nsessions; s++) {
		struct liveupdate_ioctl_retrieve_session rs = { .size = sizeof(rs) };
		int got;

		memcpy(rs.name, sessions[s].name, sizeof(rs.name));
		got = ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &rs) < 0 ? -errno : 0;
		if (got && got != -ENOENT && got != -EINVAL)
			fail(it, "RETRIEVE_SESSION: %s", strerror(-got));
		if (same && got)
			fail(it, "unmutated: RETRIEVE_SESSION %s: %s", rs.name, strerror(-got));
		if (got)
			continue;
		for (unsigned int i = sessions[s].first; i < sessions[s].first + sessions[s].n; i++) {
			const struct file *f = &files[i];
			struct liveupdate_session_retrieve_fd rf = {
				.size = sizeof(rf), .token = f->token,
			};
			int cmp = same && f->kept && (int)i != damaged;
			uint64_t pos = 0;
			ssize_t n;

			if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) < 0) {
				int err = errno;

				if ((int)i == damaged && err == EIO) {
					/* for good */
					if (ioctl(rs.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &rf) >= 0 ||
					    errno != EIO)
						fail(it, "damaged token %llu: second RETRIEVE_FD: %s",
						     (unsigned long long)f->token,
						     errno == EIO ? "an fd" : strerror(errno));
					continue;
				}
				if ((err != ENOENT && err != EINVAL &&
				     !(err == EIO && ho.fmt == LUO_FORMAT_V2)) ||
				    (same && (int)i != damaged))
					fail(it, "RETRIEVE_FD %llu: %s",
					     (unsigned long long)f->token, strerror(err));
				else if ((int)i == damaged)
					fail(it, "damaged token %llu: RETRIEVE_FD: %s, want EIO",
					     (unsigned long long)f->token, strerror(err));
				continue;
			}
			if ((int)i == damaged)
				fail(it, "damaged token %llu: RETRIEVE_FD gave an fd, want EIO",
				     (unsigned long long)f->token);
			while ((n = pread(rf.fd, buf, sizeof(buf), (off_t)pos)) > 0) {
				if (cmp) {
					if (pos + (uint64_t)n > f->size) {
						fail(it, "unmutated: token %llu longer than %llu",
						     (unsigned long long)f->token,
						     (unsigned long long)f->size);
						break;
					}
					expected(f, pos, want, (size_t)n);
					if (memcmp(buf, want, (size_t)n)) {
						fail(it, "unmutated: token %llu: bytes differ at %llu",
						     (unsigned long long)f->token,
						     (unsigned long long)pos);
						break;
					}
				}
				pos += (uint64_t)n;
				if (!same && pos >= MAX_READ)
					break;
			}
			if (n < 0)
				fail(it, "read: %s", strerror(errno));
			if (cmp && pos != f->size)
				fail(it, "unmutated: token %llu: %llu bytes, want %llu",
				     (unsigned long long)f->token, (unsigned long long)pos,
				     (unsigned long long)f->size);
			close(rf.fd);
		}
		close(rs.fd);
	}
}

/* ---- mutations ---- */

/* a random extent matching @crc (-1: any), or -1 */
static int pick_extent(int crc, int kept)
{
	unsigned int n = 0, k;

	for (unsigned int i = 0; i < nextents; i++)
		n += (crc < 0 || extents[i].crc == crc) && (!kept || extents[i].kept);
	if (!n)
		return -1;
	k = (unsigned int)(rnd() % n);
	for (unsigned int i = 0; i < nextents; i++)
		if ((crc < 0 || extents[i].crc == crc) && (!kept || extents[i].kept) && !k--)
			return (int)i;
	return -1;
}

/* format 1: b's data starts inside a's (crcs fixed): only disjointness catches it */
static int overlap_v1(void)
{
	const struct extent *ea, *eb;
	struct luo_ser_file sf;
	unsigned char *rec;
	size_t ia, ib;

	if (nextents < 2)
		return -1;
	ia = rnd() % nextents;
	ib = (ia + 1 + rnd() % (nextents - 1)) % nextents;
	ea = &extents[ia];
	eb = &extents[ib];
	rec = at(files[eb->file].rec, sizeof(sf), 0);
	memcpy(&sf, rec, sizeof(sf));
	sf.data_off = ea->off + (rnd() % ea->len) / 8 * 8;
	if (sf.size > ea->off + ea->len - sf.data_off)
		sf.size = ea->off + ea->len - sf.data_off;
	sf.data_crc = lu_crc(at(sf.data_off, sf.size, 0), sf.size);
	memcpy(rec, &sf, sizeof(sf));
	fix_crcs();
	return 0;
}

/*
 * format 2: an extent onto another's pages (crc recomputed), onto the
 * metadata's pages (no crc) or onto the header's page.
 */
static int overlap_v2(void)
{
	int ib = pick_extent(-1, 0), ia;
	struct luo_memfd_extent e;
	unsigned char *rec;
	uint64_t meta_first = ho.meta_off / PAGE;
	uint64_t meta_pages = (ho.meta_size + PAGE - 1) / PAGE;
	unsigned int kind = (unsigned int)(rnd() % 8);

	if (ib < 0)
		return -1;
	rec = at(extents[ib].rec, sizeof(e), 0);
	memcpy(&e, rec, sizeof(e));
	ia = pick_extent(-1, 1);
	if (kind < 6 && ia >= 0 && ia != ib) {
		const struct extent *a = &extents[ia];
		uint64_t apage = a->off / PAGE, acount = a->len / PAGE;

		e.page = (uint32_t)(apage + rnd() % acount);
		if (e.count > apage + acount - e.page)
			e.count = (uint32_t)(apage + acount - e.page);
		if (e.flags & LUO_EXTENT_SUMMED)
			e.crc = lu_extent_sum(e.flags, at(lu_extent_off(&e), lu_extent_len(&e), 0),
					      lu_extent_len(&e));
	} else if (kind < 7 && meta_pages) {
		uint64_t k = rnd() % meta_pages;

		e.page = (uint32_t)(meta_first + k);
		if (e.count > meta_pages - k)
			e.count = (uint32_t)(meta_pages - k);
		e.flags = 0;
		e.crc = 0;
	} else {
		e.page = 0;
		e.flags = 0;
		e.crc = 0;
	}
	memcpy(rec, &e, sizeof(e));
	fix_crcs();
	return 0;
}

/* the mutated copy differs from the original */
static int changed(void)
{
	for (size_t i = 0; i < nregions; i++)
		if (memcmp(regions[i].orig, regions[i].cur, regions[i].len))
			return 1;
	return 0;
}

/*
 * M_TRUNC: zeros from a point of the header or metadata to the metadata's
 * end (format 1: to used_size). The expected status, or NULL.
 */
static const char *truncate_tail(void)
{
	uint64_t hlen = ho.fmt == LUO_FORMAT_V1 ? ho.end : ho.hsize;
	uint64_t mlen = ho.fmt == LUO_FORMAT_V1 ? 0 : ho.meta_size;
	uint64_t k = rnd() % (hlen + mlen), a;
	unsigned char *h = at(0, hlen, 0);

	if (k < hlen) {
		a = k;
		memset(h + k, 0, hlen - k);
		if (mlen)
			memset(at(ho.meta_off, mlen, 0), 0, mlen);
	} else {
		a = ho.meta_off + (k - hlen);
		memset(at(a, mlen - (k - hlen), 0), 0, mlen - (k - hlen));
	}
	if (!changed())
		return "loaded";	/* only zeros were cut */
	if (a < offsetof(struct luo_handover_header, version))
		return "none";		/* the magic is gone */
	if (a == offsetof(struct luo_handover_header, version))
		return "version";	/* version 0 */
	return "corrupt";
}

/* writes the regions that differ from the range's content (the header always) */
static int write_image(int *dirty, const struct lu_range *r)
{
	for (size_t i = 0; i < nregions; i++) {
		if (i && !memcmp(regions[i].orig, regions[i].cur, regions[i].len) && !dirty[i])
			continue;
		if (lu_range_write(r, regions[i].off, regions[i].cur, regions[i].len))
			return -1;
		dirty[i] = memcmp(regions[i].orig, regions[i].cur, regions[i].len) != 0;
	}
	return 0;
}

static int load_handover(const struct lu_range *r)
{
	int ret = lu_handover_read(r, &ho);

	if (ret) {
		printf("# no handover of format 1 or 2 in the range: %s\n", strerror(-ret));
		return -1;
	}
	if (lu_handover_header_crc(&ho) != ho.h.c.header_crc) {
		printf("# the handover's header crc is wrong\n");
		return -1;
	}
	if (ho.fmt == LUO_FORMAT_V1) {
		if (ho.end < ho.hsize || ho.end > MAX_IMAGE || ho.end > r->size ||
		    !add_region(0, ho.end)) {
			printf("# no intact format 1 handover of at most %u bytes in the range\n",
			       MAX_IMAGE);
			return -1;
		}
	} else {
		if (ho.end > r->size || !add_region(0, PAGE) ||
		    (ho.meta_size && !add_region(ho.meta_off, ho.meta_size))) {
			printf("# no intact format 2 handover with at most %u bytes of metadata\n",
			       MAX_IMAGE);
			return -1;
		}
	}
	for (size_t i = 0; i < nregions; i++)
		if (lu_range_read(r, regions[i].off, regions[i].orig, regions[i].len)) {
			printf("# cannot read the handover\n");
			return -1;
		}
	/* header fields */
	for (uint64_t o = 0; o < ho.hsize; o += 4)
		add_field(o, 4);
	if (ho.fmt == LUO_FORMAT_V1) {
		add_field(offsetof(struct luo_handover_header, used_size), 8);
		add_field(offsetof(struct luo_handover_header, meta_size), 8);
		add_field(offsetof(struct luo_handover_header, nr_sessions), 8);
		add_field(offsetof(struct luo_handover_header, nr_files), 8);
	} else {
		add_field(offsetof(struct luo_header_v2, range_size), 8);
		add_field(offsetof(struct luo_header_v2, meta_off), 8);
		add_field(offsetof(struct luo_header_v2, meta_size), 8);
		add_field(offsetof(struct luo_header_v2, nr_sessions), 8);
		add_field(offsetof(struct luo_header_v2, nr_files), 8);
	}
	/* the records (format 2: extents' pages become regions as found) */
	if (lu_handover_walk(&ho, collect, NULL) < 0) {
		printf("# the handover's records cannot be followed\n");
		return -1;
	}
	for (size_t i = 2; ho.fmt == LUO_FORMAT_V2 && i < nregions; i++)
		if (lu_range_read(r, regions[i].off, regions[i].orig, regions[i].len)) {
			printf("# cannot read the data\n");
			return -1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int iterations, counts[M_COUNT][5] = { { 0 } };
	static const char *const statuses[] = { "none", "loaded", "corrupt", "version", "consumed" };
	static int dirty[MAX_REGIONS];
	struct lu_range r;
	int ret;

	if (argc < 2 || !(iterations = (unsigned int)strtoul(argv[1], NULL, 10))) {
		fprintf(stderr, "usage: lu-fuzz ITERATIONS [SEED]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	rng_state = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eed5eed5eedULL;
	if (!rng_state)
		rng_state = 1;
	if (access("/sys/module/liveupdate", F_OK) == 0 && run("rmmod liveupdate")) {
		printf("# cannot unload the module (sessions still open?)\n");
		return 1;
	}
	ret = lu_range_open(&r, 0, 0, 1);
	if (ret) {
		printf("# range: %s\n", strerror(-ret));
		return 1;
	}
	if (load_handover(&r))
		return 1;
	{
		unsigned int crc = 0;

		for (unsigned int i = 0; i < nextents; i++)
			crc += extents[i].crc;
		printf("# fuzzing a format %u handover: %llu sessions, %llu files, %u extents (%u with a crc), %llu bytes kept, %zu fields\n",
		       ho.fmt, (unsigned long long)ho.nr_sessions, (unsigned long long)ho.nr_files,
		       nextents, crc, (unsigned long long)kept, nfields);
	}

	for (unsigned int it = 0; it < iterations; it++) {
		union lu_header *mh = (void *)regions[0].cur;
		enum mutation m = it % 16 ? (enum mutation)(1 + rnd() % (M_COUNT - 1)) : M_NONE;
		const char *want = NULL;
		int damaged = -1, same = 0;
		char status[32];
		int dev, s;

		for (size_t i = 0; i < nregions; i++)
			memcpy(regions[i].cur, regions[i].orig, regions[i].len);
		switch (m) {
		case M_NONE:
			break;
		case M_FIELD: {
			const struct field *f = &fields[rnd() % nfields];
			uint64_t v = extreme(ho.end, r.size);

			memcpy(at(f->off, f->width, 0), &v, f->width);
			if (rnd() % 4)
				fix_crcs();
			break;
		}
		case M_FLIP: {
			/* the header, or (format 2) the metadata */
			struct region *g = &regions[ho.fmt == LUO_FORMAT_V2 && nregions > 1 &&
						   regions[1].len && rnd() % 2];
			uint64_t len = g == &regions[0] && ho.fmt == LUO_FORMAT_V2 ? ho.hsize : g->len;

			for (int k = 1 + rnd() % 4; k; k--) {
				uint64_t a = rnd() % (len < 4096 ? len : 4096);

				g->cur[a] ^= (unsigned char)(1u << (rnd() % 8));
			}
			if (rnd() % 2)
				fix_crcs();
			break;
		}
		case M_DATA: {
			int e = pick_extent(1, 1);
			const struct extent *x;

			if (e < 0) {
				m = M_NONE;
				break;
			}
			x = &extents[e];
			*at(x->off + rnd() % x->len, 1, 0) ^= 0x01;
			if (ho.fmt == LUO_FORMAT_V1) {
				want = "corrupt";
			} else {
				damaged = (int)x->file;
				same = 1;
			}
			break;
		}
		case M_OVERLAP:
			if ((ho.fmt == LUO_FORMAT_V1 ? overlap_v1() : overlap_v2()) < 0)
				m = M_NONE;
			else
				want = "corrupt";
			break;
		default:	/* M_TRUNC: the tail never got written */
			want = truncate_tail();
			break;
		}
		if (m == M_NONE)
			same = 1;
		if (same)
			want = "loaded";
		mh->c.state = LUO_STATE_COMMITTED;
		if (write_image(dirty, &r)) {
			fail(it, "cannot write the range");
			break;
		}
		/* zerocopy=0: restores copy, so the module can be unloaded again */
		if (run("lu-load zerocopy=0 >/dev/null 2>&1")) {
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
				exercise(it, dev, same, damaged);
			close(dev);
		}
		if (run("rmmod liveupdate")) {
			fail(it, "%s: the module did not unload", mutation_names[m]);
			break;
		}
		if (failures > 20)
			break;
	}

	/* the original back, as found (its state included) */
	for (size_t i = 0; i < nregions; i++)
		if ((i == 0 || dirty[i]) &&
		    lu_range_write(&r, regions[i].off, regions[i].orig, regions[i].len))
			fail(iterations, "cannot put the original back");
	lu_range_close(&r);
	for (int m = 0; m < M_COUNT; m++)
		printf("# %-7s: none %u, loaded %u, corrupt %u, version %u, consumed %u\n",
		       mutation_names[m], counts[m][0], counts[m][1], counts[m][2],
		       counts[m][3], counts[m][4]);
	printf("# %u iterations, %d failures\n", iterations, failures);
	return failures ? 1 : 0;
}
