// SPDX-License-Identifier: GPL-2.0
/*
 * lu-poke: look at or damage the handover in the reserved range, through
 * /dev/mem, before the liveupdate module is loaded (it claims the range busy
 * once loaded). The range is $LU_ADDR (hex) / $LU_SIZE (bytes) unless
 * --addr/--size are given. Format 1 and format 2 handovers (told apart by
 * the header's version) are both understood.
 *
 *   lu-poke show [--data]   header, state, crc checks, sessions and files
 *                           (format 2: memfd name, size and page extents,
 *                           checked against the range, the header and
 *                           metadata pages and each other);
 *                           --data also checks every data crc (format 1:
 *                           each file's data_crc; format 2: every extent
 *                           with a checksum flag); exit 1 if a crc or a
 *                           bound is wrong
 *   lu-poke state           prints committed | claimed | other | none
 *   lu-poke data-byte [N]   flips one data byte of the N-th file that has
 *                           checksummed data (default 0; format 1: the N-th
 *                           non-empty file; format 2: a byte of the file
 *                           inside its first extent with a checksum);
 *                           nothing else is changed, so the header and
 *                           metadata stay valid and only that crc is wrong
 *   lu-poke crc32           format 2: rewrites every extent checksummed
 *                           with XXH64 as a crc32 one (LUO_EXTENT_CRC, as
 *                           modules before data_sum.h wrote them), the
 *                           metadata and header crcs fixed
 *   lu-poke overlap         format 1: points the second non-empty file's
 *                           data into the first's (size cut to fit);
 *                           format 2: points the first extent of the second
 *                           file with extents at a page of the first file's
 *                           first extent (count cut to fit, its crc
 *                           recomputed if it has one); data, metadata and
 *                           header crcs fixed: only the overlap is wrong
 *   lu-poke version V       sets the format version to V and fixes the
 *                           header crc as the handover's own format
 *                           computes it (so only the version is wrong)
 *   lu-poke garbage [SEED]  random bytes over every header field except
 *                           magic, version and state, header_crc included
 *                           (not fixed: still reads as a committed handover
 *                           of this version, refused as corrupt)
 *   lu-poke wipe [SEED]     random bytes over the whole header (magic too;
 *                           the header size of the format found, else of
 *                           format 2)
 *   lu-poke clear           zeroes the header (as wipe)
 *   lu-poke image FILE      writes FILE (a handover image of any format) at
 *                           the start of the range, whatever is there
 *   lu-poke dump            writes the committed handover to stdout: format
 *                           1: its used_size bytes from the start of the
 *                           range; format 2: the whole range_size (the
 *                           data can be anywhere in it)
 *
 * Damaging commands (data-byte, overlap, version, garbage) first check that a
 * committed header of format 1 or 2 with a good crc is there and fail
 * otherwise; so does dump. Exit 0 on success, 1 on failure, 2 on bad usage.
 */
#include "range.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 40

static struct lu_range range = { .fd = -1 };
static struct lu_handover ho;
static int ho_ret;	/* lu_handover_header()'s answer */

static int die(const char *fmt, const char *arg)
{
	fprintf(stderr, "lu-poke: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 1;
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int write_header(void)
{
	int r = lu_handover_write_header(&range, &ho);

	if (r)
		return die("writing the header: %s", strerror(-r));
	return 0;
}

/* a committed header of format 1 or 2 with a good crc: 0, else -1 */
static int valid_header(void)
{
	if (ho_ret == -ENOENT)
		return -die("%s: no handover magic in the range", "refusing");
	if (ho_ret == -EPROTONOSUPPORT)
		return -die("%s: handover version is neither 1 nor 2", "refusing");
	if (ho_ret)
		return -die("reading the header: %s", strerror(-ho_ret));
	if (ho.h.c.state != LUO_STATE_COMMITTED)
		return -die("refusing: state is %s, not committed", lu_state_name(ho.h.c.state));
	if (lu_handover_header_crc(&ho) != ho.h.c.header_crc)
		return -die("%s: header crc does not match", "refusing");
	return 0;
}

/* valid_header() and a readable metadata copy */
static int valid_handover(void)
{
	int r;

	if (valid_header() < 0)
		return -1;
	r = lu_handover_read(&range, &ho);
	if (r)
		return -die("reading the metadata: %s", strerror(-r));
	return 0;
}

/* ---- show ---- */

struct show_ctx {
	int data;
	int crc_ok;
	unsigned int lines;
	unsigned int bad;
	uint64_t files;
	uint64_t meta_end;	/* end of the last record, range offset */
	/* format 2 */
	uint64_t pages;		/* range pages the handover may use */
	unsigned char *claimed;	/* a bit per page: header, metadata, extents */
	uint64_t extents, crc_extents, data_pages, crc_good, crc_bad;
};

static int line(struct show_ctx *c)
{
	return c->lines++ < MAX_LINES;
}

/* format 1 file record */
static void show_v1_file(struct show_ctx *c, const struct lu_found_file *ff)
{
	const char *dcrc = "";
	const struct luo_handover_header *h = &ho.h.v1;

	if (ff->f.data_off + ff->f.size > h->used_size || ff->f.data_off % LUO_HANDOVER_ALIGN ||
	    ff->f.data_off < (uint64_t)h->header_size + h->meta_size ||
	    ff->f.size > h->used_size) {
		printf("  file token=%#" PRIx64 ": data %#" PRIx64 "+%" PRIu64
		       " outside the data area or misaligned\n", (uint64_t)ff->f.token,
		       (uint64_t)ff->f.data_off, (uint64_t)ff->f.size);
		c->bad++;
	}
	if (c->data && c->crc_ok) {
		uint32_t crc;

		if (lu_range_crc(&range, ff->f.data_off, ff->f.size, &crc)) {
			dcrc = " data OUT OF RANGE";
			c->bad++;
		} else {
			dcrc = crc == ff->f.data_crc ? " data_crc ok" : " data_crc BAD";
			c->bad += crc != ff->f.data_crc;
		}
	}
	if (line(c))
		printf("  file token=%#" PRIx64 " type=%u seals=%#x size=%" PRIu64
		       " pos=%" PRIu64 " data_off=%#" PRIx64 "%s\n",
		       (uint64_t)ff->f.token, ff->f.type, ff->f.seals,
		       (uint64_t)ff->f.size, (uint64_t)ff->f.pos,
		       (uint64_t)ff->f.data_off, dcrc);
}

static int test_and_set(unsigned char *bits, uint64_t page)
{
	int was = bits[page / 8] >> (page % 8) & 1;

	bits[page / 8] |= (unsigned char)(1u << (page % 8));
	return was;
}

/* format 2 file record and its memfd payload */
static void show_v2_file(struct show_ctx *c, const struct lu_found_file *ff)
{
	uint64_t fpages, next = 0;

	if (!ff->memfd) {
		if (line(c))
			printf("  file token=%#" PRIx64 " type=%u payload_size=%u: %s\n",
			       ff->token, ff->type, ff->payload_size,
			       ff->type == LUO_FILE_TYPE_MEMFD ? "memfd payload sizes do not add up"
							       : "unknown type");
		c->bad++;
		return;
	}
	if (line(c))
		printf("  file token=%#" PRIx64 " type=%u name=\"%.*s\" seals=%#x size=%" PRIu64
		       " pos=%" PRIu64 " extents=%u%s\n", ff->token, ff->type,
		       (int)(ff->ms.name_len > 80 ? 80 : ff->ms.name_len), ff->name,
		       ff->ms.seals, (uint64_t)ff->ms.size, (uint64_t)ff->ms.pos,
		       ff->ms.nr_extents, ff->ms.flags ? " FLAGS NOT ZERO" : "");
	c->bad += !!ff->ms.flags;
	if (ff->ms.name_len > LUO_MEMFD_NAME_MAX || memchr(ff->name, 0, ff->ms.name_len)) {
		printf("  token=%#" PRIx64 ": bad name (%u bytes)\n", ff->token, ff->ms.name_len);
		c->bad++;
	}
	fpages = ff->ms.size / LUO_PAGE_SIZE + !!(ff->ms.size % LUO_PAGE_SIZE);
	for (uint32_t i = 0; i < ff->ms.nr_extents; i++) {
		const struct luo_memfd_extent *e = &ff->ext[i];
		const char *why = NULL, *dcrc = "";

		c->extents++;
		if (!e->count)
			why = "empty";
		else if (e->index < next)
			why = "not after the previous extent";
		else if (e->index > fpages || e->count > fpages - e->index)
			why = "past the file's size";
		else if (!e->page)
			why = "on the header's page";
		else if (e->page > c->pages || e->count > c->pages - e->page)
			why = "outside the range";
		else if (!luo_extent_flags_valid(e->flags))
			why = "unknown flags";
		if (!why && c->claimed) {
			for (uint64_t p = e->page; p < (uint64_t)e->page + e->count; p++)
				if (test_and_set(c->claimed, p) && !why)
					why = "overlap: a page someone else names";
		}
		next = e->index + e->count;
		if (!why) {
			c->data_pages += e->count;
			if (e->flags & LUO_EXTENT_SUMMED)
				c->crc_extents++;
		}
		if (!why && c->data && c->crc_ok && e->flags & LUO_EXTENT_SUMMED) {
			uint32_t crc;

			if (lu_range_sum(&range, lu_extent_off(e), lu_extent_len(e), e->flags, &crc)) {
				why = "unreadable";
			} else if (crc == e->crc) {
				dcrc = " crc ok";
				c->crc_good++;
			} else {
				dcrc = " crc BAD";
				c->crc_bad++;
				c->bad++;
			}
		}
		if (why)
			c->bad++;
		if (why || strstr(dcrc, "BAD") || (i < 3 && line(c))) {
			printf("    extent %u index=%" PRIu64 " page=%u count=%u crc=%#x flags=%#x%s%s%s\n",
			       i, (uint64_t)e->index, e->page, e->count, e->crc, e->flags, dcrc,
			       why ? ": " : "", why ? why : "");
		}
	}
	if (ff->ms.nr_extents > 3 && line(c))
		printf("    (%u extents)\n", ff->ms.nr_extents);
}

static int show_one(const struct lu_found_file *ff, void *arg)
{
	struct show_ctx *c = arg;

	if (ff->is_session) {
		c->meta_end = ff->rec_off + sizeof(struct luo_ser_session);
		if (line(c))
			printf("session %u \"%s\" files=%u\n", ff->session,
			       ff->session_name, ff->session_files);
		return 0;
	}
	c->files++;
	if (ho.fmt == LUO_FORMAT_V1) {
		c->meta_end = ff->rec_off + sizeof(struct luo_ser_file);
		show_v1_file(c, ff);
	} else {
		c->meta_end = ff->payload_off + ff->payload_size;
		show_v2_file(c, ff);
	}
	return 0;
}

static void show_header_v2(struct show_ctx *c)
{
	const struct luo_header_v2 *h = &ho.h.v2;

	printf("page_size=%u flags=%#x range_size=%" PRIu64 " meta_off=%#" PRIx64
	       " meta_size=%" PRIu64 " nr_sessions=%" PRIu64 " nr_files=%" PRIu64
	       " meta_crc=%#x\n", h->page_size, h->flags, (uint64_t)h->range_size,
	       (uint64_t)h->meta_off, (uint64_t)h->meta_size, (uint64_t)h->nr_sessions,
	       (uint64_t)h->nr_files, h->meta_crc);
	printf("commit_us=%u sequence=%" PRIu64 " pages_inplace=%" PRIu64
	       " pages_copied=%" PRIu64 " copy_us=%u copy_threads=%u\n", h->commit_us,
	       (uint64_t)h->sequence, (uint64_t)h->pages_inplace,
	       (uint64_t)h->pages_copied, h->copy_us, h->copy_threads);
	if (h->header_size != sizeof(*h)) {
		printf("header_size is not %zu\n", sizeof(*h));
		c->bad++;
	}
	if (h->page_size != LUO_PAGE_SIZE || h->flags) {
		printf("page_size is not %u or flags not zero\n", LUO_PAGE_SIZE);
		c->bad++;
	}
	if (h->range_size > range.size || h->range_size % LUO_PAGE_SIZE) {
		printf("range_size beyond the range or not a multiple of the page size\n");
		c->bad++;
	}
	if (h->meta_off < LUO_PAGE_SIZE || h->meta_off % LUO_PAGE_SIZE ||
	    h->meta_off > h->range_size || h->meta_size > h->range_size - h->meta_off) {
		printf("metadata outside the handover (or on the header's page)\n");
		c->bad++;
	}
	c->pages = (h->range_size < range.size ? h->range_size : range.size) / LUO_PAGE_SIZE;
	c->claimed = calloc(c->pages / 8 + 1, 1);
	if (c->claimed && c->pages) {
		uint64_t first = h->meta_off / LUO_PAGE_SIZE;
		uint64_t last = (h->meta_off + h->meta_size + LUO_PAGE_SIZE - 1) / LUO_PAGE_SIZE;

		test_and_set(c->claimed, 0);
		for (uint64_t p = first; p < last && p < c->pages; p++)
			test_and_set(c->claimed, p);
	}
}

static int cmd_show(int data)
{
	struct show_ctx c = { .data = data };
	const union lu_header *h = &ho.h;
	int r;

	printf("range addr=%#" PRIx64 " size=%" PRIu64 "\n", range.addr, range.size);
	if (ho_ret == -ENOENT) {
		printf("no handover (magic %#" PRIx64 ")\n", (uint64_t)h->c.magic);
		return 0;
	}
	if (ho_ret && ho_ret != -EPROTONOSUPPORT)
		return die("reading the header: %s", strerror(-ho_ret));
	if (ho_ret == -EPROTONOSUPPORT) {
		printf("magic ok version=%u header_size=%u state=%s (%#x) header_crc=%#x: unknown format\n",
		       h->c.version, h->c.header_size, lu_state_name(h->c.state), h->c.state,
		       h->c.header_crc);
		return 1;
	}
	c.crc_ok = lu_handover_header_crc(&ho) == h->c.header_crc;
	printf("magic ok version=%u header_size=%u state=%s (%#x) header_crc=%#x (%s)\n",
	       h->c.version, h->c.header_size, lu_state_name(h->c.state), h->c.state,
	       h->c.header_crc, c.crc_ok ? "ok" : "BAD");
	if (ho.fmt == LUO_FORMAT_V1)
		printf("used_size=%" PRIu64 " meta_size=%" PRIu64 " nr_sessions=%" PRIu64
		       " nr_files=%" PRIu64 " meta_crc=%#x sequence=%" PRIu64 "\n",
		       (uint64_t)h->v1.used_size, (uint64_t)h->v1.meta_size,
		       (uint64_t)h->v1.nr_sessions, (uint64_t)h->v1.nr_files, h->v1.meta_crc,
		       (uint64_t)h->v1.sequence);
	else
		show_header_v2(&c);
	if (!c.crc_ok) {
		free(c.claimed);
		return 1;
	}
	r = lu_handover_read(&range, &ho);
	if (r == -EBADMSG) {
		printf("metadata OUT OF RANGE\n");
		free(c.claimed);
		return 1;
	}
	if (r)
		return die("reading the metadata: %s", strerror(-r));
	if (lu_crc(ho.meta, ho.meta_size) != (ho.fmt == LUO_FORMAT_V1 ? h->v1.meta_crc
								     : h->v2.meta_crc)) {
		printf("meta_crc BAD\n");
		c.bad++;
	} else {
		printf("meta_crc ok\n");
	}
	c.meta_end = ho.meta_off;
	r = lu_handover_walk(&ho, show_one, &c);
	if (c.lines > MAX_LINES)
		printf("... %u more lines\n", c.lines - MAX_LINES);
	free(c.claimed);
	if (r)
		return die("walking the metadata: %s", strerror(-r));
	if (c.files != ho.nr_files) {
		printf("%" PRIu64 " file records, header says %" PRIu64 "\n", c.files, ho.nr_files);
		c.bad++;
	}
	if (ho.nr_sessions && c.meta_end != ho.meta_off + ho.meta_size &&
	    /* format 2: the last record's padding is not there */
	    !(ho.fmt == LUO_FORMAT_V2 && c.meta_end <= ho.meta_off + ho.meta_size &&
	      ho.meta_off + ho.meta_size - c.meta_end < LUO_HANDOVER_ALIGN)) {
		printf("records end at %#" PRIx64 ", metadata at %#" PRIx64 "\n", c.meta_end,
		       ho.meta_off + ho.meta_size);
		c.bad++;
	}
	if (ho.fmt == LUO_FORMAT_V1 && h->v1.used_size > range.size) {
		printf("used_size beyond the range\n");
		c.bad++;
	}
	if (ho.fmt == LUO_FORMAT_V2) {
		printf("%" PRIu64 " extents, %" PRIu64 " data pages, %" PRIu64 " extents with a crc",
		       c.extents, c.data_pages, c.crc_extents);
		if (data && c.crc_ok)
			printf(": %" PRIu64 " ok, %" PRIu64 " BAD", c.crc_good, c.crc_bad);
		printf("\n");
	}
	if (c.bad)
		printf("%u problem(s)\n", c.bad);
	return c.bad ? 1 : 0;
}

/* ---- finding files ---- */

struct find_ctx {
	unsigned int want, seen;
	struct lu_found_file found;
	uint32_t ext;		/* format 2: the extent that qualified */
	int ok;
};

/* format 1: non-empty; format 2: has an extent with a crc (want_crc) or any */
static int find_file(const struct lu_found_file *ff, void *arg, int want_crc)
{
	struct find_ctx *c = arg;
	uint32_t i = 0;

	if (ff->is_session)
		return 0;
	if (ho.fmt == LUO_FORMAT_V1) {
		if (!ff->f.size)
			return 0;
	} else {
		if (!ff->memfd)
			return 0;
		while (i < ff->ms.nr_extents && want_crc && !(ff->ext[i].flags & LUO_EXTENT_SUMMED))
			i++;
		if (i == ff->ms.nr_extents)
			return 0;
	}
	if (c->seen++ == c->want) {
		c->found = *ff;
		c->ext = i;
		c->ok = 1;
		return 1;
	}
	return 0;
}

static int find_crc(const struct lu_found_file *ff, void *arg)
{
	return find_file(ff, arg, 1);
}

static int find_data(const struct lu_found_file *ff, void *arg)
{
	return find_file(ff, arg, 0);
}

/* ---- data-byte ---- */

static int cmd_data_byte(unsigned int n)
{
	struct find_ctx c = { .want = n };
	uint64_t off, fsize = 0;
	unsigned char b;
	int r;

	if (valid_handover() < 0)
		return 1;
	r = lu_handover_walk(&ho, find_crc, &c);
	if (r < 0)
		return die("walking the metadata: %s", strerror(-r));
	if (!c.ok)
		return die("%s: no such file with checksummed data in the handover", "refusing");
	if (ho.fmt == LUO_FORMAT_V1) {
		fsize = c.found.f.size;
		off = c.found.f.data_off + fsize / 2;
	} else {
		const struct luo_memfd_extent *e = &c.found.ext[c.ext];
		uint64_t start = e->index * LUO_PAGE_SIZE, end = start + lu_extent_len(e);

		/* a byte of the file's data in that extent, else of its pages */
		fsize = c.found.ms.size;
		if (end > fsize)
			end = fsize > start ? fsize : end;
		off = lu_extent_off(e) + (end - start) / 2;
	}
	if (off >= range.size)
		return die("%s: data offset outside the range", "refusing");
	if (lu_range_read(&range, off, &b, 1))
		return die("%s: reading the data byte", "failed");
	b ^= 0xff;
	if (lu_range_write(&range, off, &b, 1))
		return die("%s: writing the data byte", "failed");
	printf("lu-poke: flipped the byte at range offset %#" PRIx64
	       " (session \"%s\", token %#" PRIx64 ", size %" PRIu64 ")\n",
	       off, c.found.session_name, c.found.token, fsize);
	return 0;
}

/* ---- overlap ---- */

/* rewrites the metadata copy's crc and the header crc after @ho.meta changed */
static int fix_meta(void)
{
	int r = lu_range_write(&range, ho.meta_off, ho.meta, ho.meta_size);

	if (r)
		return die("writing the metadata: %s", strerror(-r));
	if (ho.fmt == LUO_FORMAT_V1)
		ho.h.v1.meta_crc = lu_crc(ho.meta, ho.meta_size);
	else
		ho.h.v2.meta_crc = lu_crc(ho.meta, ho.meta_size);
	ho.h.c.header_crc = lu_handover_header_crc(&ho);
	return write_header();
}

static int overlap_v1(const struct find_ctx *a, const struct find_ctx *b)
{
	struct luo_ser_file f = b->found.f;
	uint32_t crc;

	/* starts 8 bytes into the first file's data: they overlap */
	f.data_off = a->found.f.data_off + (a->found.f.size > 8 ? 8 : 0);
	if (f.size > a->found.f.data_off + a->found.f.size - f.data_off)
		f.size = a->found.f.data_off + a->found.f.size - f.data_off;
	if (lu_range_crc(&range, f.data_off, f.size, &crc))
		return die("%s: reading the data", "failed");
	f.data_crc = crc;
	memcpy(ho.meta + (b->found.rec_off - ho.meta_off), &f, sizeof(f));
	if (fix_meta())
		return 1;
	printf("lu-poke: token %#" PRIx64 " now has data %#" PRIx64 "+%" PRIu64
	       ", inside token %#" PRIx64 "'s %#" PRIx64 "+%" PRIu64 " (crcs fixed)\n",
	       (uint64_t)f.token, (uint64_t)f.data_off, (uint64_t)f.size,
	       a->found.token, (uint64_t)a->found.f.data_off, (uint64_t)a->found.f.size);
	return 0;
}

static int overlap_v2(const struct find_ctx *a, const struct find_ctx *b)
{
	const struct luo_memfd_extent *ea = &a->found.ext[0];
	struct luo_memfd_extent e = b->found.ext[0];
	uint32_t crc;

	/* a page into the first file's extent if it has more than one */
	e.page = ea->page + (ea->count > 1 ? 1 : 0);
	if (e.count > ea->page + ea->count - e.page)
		e.count = ea->page + ea->count - e.page;
	if (e.flags & LUO_EXTENT_SUMMED) {
		if (lu_range_sum(&range, lu_extent_off(&e), lu_extent_len(&e), e.flags, &crc))
			return die("%s: reading the data", "failed");
		e.crc = crc;
	}
	memcpy(ho.meta + (b->found.ext_off - ho.meta_off), &e, sizeof(e));
	if (fix_meta())
		return 1;
	printf("lu-poke: token %#" PRIx64 "'s first extent now has pages %u+%u, inside token %#"
	       PRIx64 "'s %u+%u (crcs fixed)\n", b->found.token, e.page, e.count,
	       a->found.token, ea->page, ea->count);
	return 0;
}

static int cmd_overlap(void)
{
	struct find_ctx a = { .want = 0 }, b = { .want = 1 };
	int r;

	if (valid_handover() < 0)
		return 1;
	r = lu_handover_walk(&ho, find_data, &a);
	if (r >= 0)
		r = lu_handover_walk(&ho, find_data, &b);
	if (r < 0)
		return die("walking the metadata: %s", strerror(-r));
	if (!a.ok || !b.ok)
		return die("%s: fewer than two files with data in the handover", "refusing");
	return ho.fmt == LUO_FORMAT_V1 ? overlap_v1(&a, &b) : overlap_v2(&a, &b);
}

/* ---- crc32 ---- */

/* One file's XXH64 extents rewritten as crc32 ones, as older modules wrote them. */
static int to_crc32(const struct lu_found_file *ff, void *arg)
{
	unsigned int *n = arg;

	if (ff->is_session || !ff->memfd)
		return 0;
	for (uint32_t i = 0; i < ff->ms.nr_extents; i++) {
		struct luo_memfd_extent e = ff->ext[i];
		uint32_t crc;

		if (!(e.flags & LUO_EXTENT_XXH64))
			continue;
		if (lu_range_crc(&range, lu_extent_off(&e), lu_extent_len(&e), &crc))
			return -EIO;
		e.flags = LUO_EXTENT_CRC;
		e.crc = crc;
		memcpy(ho.meta + (ff->ext_off - ho.meta_off) + i * sizeof(e), &e, sizeof(e));
		(*n)++;
	}
	return 0;
}

static int cmd_crc32(void)
{
	unsigned int n = 0;
	int r;

	if (valid_handover() < 0)
		return 1;
	if (ho.fmt != LUO_FORMAT_V2)
		return die("%s: not a format 2 handover", "refusing");
	r = lu_handover_walk(&ho, to_crc32, &n);
	if (r < 0)
		return die("walking the metadata: %s", strerror(-r));
	if (!n)
		return die("%s: no extent with an XXH64 checksum", "refusing");
	if (fix_meta())
		return 1;
	printf("lu-poke: %u extents now carry crc32 (metadata and header crcs fixed)\n", n);
	return 0;
}

/* ---- header ---- */

static int cmd_version(uint32_t v)
{
	if (valid_header() < 0)
		return 1;
	ho.h.c.version = v;
	ho.h.c.header_crc = lu_handover_header_crc(&ho);	/* of the format read */
	if (write_header())
		return 1;
	printf("lu-poke: version set to %u (header crc fixed)\n", v);
	return 0;
}

static int cmd_garbage(uint64_t seed, int all)
{
	union lu_header g;
	unsigned char *p = (unsigned char *)&g;

	if (!all && valid_header() < 0)
		return 1;
	if (!ho.hsize)		/* no handover: a format 2 header's worth */
		ho.hsize = sizeof(ho.h.v2);
	memset(&g, 0, sizeof(g));
	for (size_t i = 0; i < ho.hsize; i++)
		p[i] = (unsigned char)mix64(seed + i);
	if (!all) {
		g.c.magic = ho.h.c.magic;
		g.c.version = ho.h.c.version;
		g.c.state = ho.h.c.state;
	}
	ho.h = g;
	if (write_header())
		return 1;
	printf("lu-poke: %s\n", all ? "garbage over the whole header"
				    : "garbage over the header (magic, version, state kept)");
	return 0;
}

static int cmd_clear(void)
{
	if (!ho.hsize)
		ho.hsize = sizeof(ho.h.v2);
	memset(&ho.h, 0, sizeof(ho.h));
	return write_header();
}

static void usage(void)
{
	fprintf(stderr,
		"usage: lu-poke [--addr 0xADDR] [--size BYTES] COMMAND\n"
		"  show [--data] | state | data-byte [N] | overlap | crc32 | version V\n"
		"  | garbage [SEED] | wipe [SEED] | clear | image FILE | dump\n");
}

static int cmd_image(const char *path)
{
	static unsigned char buf[1 << 16];
	uint64_t off = 0;
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return die("cannot open %s", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (lu_range_write(&range, off, buf, n)) {
			fclose(f);
			return die("%s does not fit the range", path);
		}
		off += n;
	}
	fclose(f);
	printf("lu-poke: wrote %" PRIu64 " bytes of %s into the range\n", off, path);
	return 0;
}

static int cmd_dump(void)
{
	static unsigned char buf[1 << 16];
	uint64_t off = 0, len;

	if (valid_header() < 0)
		return 1;
	len = ho.end;	/* format 1: used_size; format 2: range_size */
	if (len > range.size)
		return die("%s: the handover is larger than the range", "refusing");
	while (off < len) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		if (lu_range_read(&range, off, buf, n))
			return die("%s: reading the range", "failed");
		if (fwrite(buf, 1, n, stdout) != n)
			return die("%s: writing stdout", "failed");
		off += n;
	}
	return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t addr = 0, size = 0;
	const char *cmd;
	int i = 1, r, writable;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (i + 1 < argc && !strncmp(argv[i], "--", 2)) {
		if (!strcmp(argv[i], "--addr"))
			addr = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--size"))
			size = strtoull(argv[i + 1], NULL, 0);
		else
			break;
		i += 2;
	}
	if (i >= argc) {
		usage();
		return 2;
	}
	cmd = argv[i++];
	writable = strcmp(cmd, "show") && strcmp(cmd, "state") && strcmp(cmd, "dump");
	r = lu_range_open(&range, addr, size, writable);
	if (r == -EINVAL) {
		fprintf(stderr, "lu-poke: no range: set LU_ADDR/LU_SIZE or --addr/--size\n");
		return 2;
	}
	if (r)
		return die("opening /dev/mem: %s", strerror(-r));
	ho_ret = lu_handover_header(&range, &ho);
	if (ho_ret && ho_ret != -ENOENT && ho_ret != -EPROTONOSUPPORT)
		return die("reading the header: %s", strerror(-ho_ret));

	if (!strcmp(cmd, "show"))
		return cmd_show(i < argc && !strcmp(argv[i], "--data"));
	if (!strcmp(cmd, "state")) {
		puts(ho_ret == -ENOENT ? "none" : lu_state_name(ho.h.c.state));
		return 0;
	}
	if (!strcmp(cmd, "data-byte"))
		return cmd_data_byte(i < argc ? (unsigned int)strtoul(argv[i], NULL, 0) : 0);
	if (!strcmp(cmd, "overlap"))
		return cmd_overlap();
	if (!strcmp(cmd, "crc32"))
		return cmd_crc32();
	if (!strcmp(cmd, "version") && i < argc)
		return cmd_version((uint32_t)strtoul(argv[i], NULL, 0));
	if (!strcmp(cmd, "garbage"))
		return cmd_garbage(i < argc ? strtoull(argv[i], NULL, 0) : 1, 0);
	if (!strcmp(cmd, "wipe"))
		return cmd_garbage(i < argc ? strtoull(argv[i], NULL, 0) : 1, 1);
	if (!strcmp(cmd, "image") && i < argc)
		return cmd_image(argv[i]);
	if (!strcmp(cmd, "dump"))
		return cmd_dump();
	if (!strcmp(cmd, "clear"))
		return cmd_clear();
	usage();
	return 2;
}
