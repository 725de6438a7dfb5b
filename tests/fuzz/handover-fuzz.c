// SPDX-License-Identifier: GPL-2.0
/*
 * handover-fuzz: libFuzzer target for the module's handover check
 * (module/handover_check.c and module/memfd_check.c, compiled here
 * unchanged as userspace C).
 *
 * Each input is the reserved range: the check runs on a copy of exactly
 * that many bytes (at least a format 1 header; the module's range is never
 * smaller), so AddressSanitizer sees any read outside it. Unless the top bit
 * of the header's sequence is set, the data, metadata and header checksums
 * are recomputed first (as far as the records can be followed; format 2:
 * every extent with a checksum flag, crc32 or XXH64), so that mutations reach the bounds
 * checks behind them.
 *
 * A handover the check accepts is walked as the module uses it:
 * - format 1: every file's data inside the handover, no two files' data
 *   overlapping, the record counts matching the metadata;
 * - format 2: the records through luo_cursor_*(), every payload inside the
 *   metadata copy, each memfd payload through luo_memfd_parse() and, when
 *   it accepts it, every extent inside the file's size and the range and
 *   never on page 0; then the module's claims are simulated with a bitmap
 *   of range pages (the header's page, the metadata's pages, each extent's
 *   pages): a page claimed twice is an overlap the parser does not catch
 *   (by design: it sees one payload at a time) and the module must refuse
 *   at claim time. Those are counted and reported, not failed: the first
 *   few are printed, the totals at exit ("handover-fuzz: claims: ..."). The
 *   extents' data is read and its crc computed, as a retrieve does.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handover_check.h"
#include "memfd_check.h"
#include "data_sum.h"

#define PAGE LUO_PAGE_SIZE

/* ---- fixing checksums so mutations get past them ---- */

/* The checksum an extent's flags name. */
static u32 extent_sum(u32 flags, const u8 *data, u64 len)
{
	return flags & LUO_EXTENT_XXH64 ? luo_sum(data, len) : luo_data_crc(data, len);
}

static void fix_v1(u8 *range, u64 size)
{
	struct luo_handover_header *hdr = (void *)range;
	u64 meta_size = le64_to_cpu(hdr->meta_size), off = 0;
	u8 *meta = range + sizeof(*hdr);

	if (meta_size <= size - sizeof(*hdr)) {
		while (off + sizeof(struct luo_ser_session) <= meta_size) {
			struct luo_ser_session *ss = (void *)(meta + off);
			u32 i, n = le32_to_cpu(ss->nr_files);

			off += sizeof(*ss);
			for (i = 0; i < n && off + sizeof(struct luo_ser_file) <= meta_size; i++) {
				struct luo_ser_file *f = (void *)(meta + off);
				u64 doff = le64_to_cpu(f->data_off);
				u64 dsz = le64_to_cpu(f->size);

				if (doff <= size && dsz <= size - doff)
					f->data_crc = luo_data_crc(range + doff, dsz);
				off += sizeof(*f);
			}
		}
		hdr->meta_crc = crc32_le(~0U, meta, meta_size);
	}
	hdr->header_crc = luo_header_crc(hdr);
}

/* the crcs of one memfd payload's extents, if its sizes add up */
static void fix_memfd_payload(u8 *range, u64 size, u8 *pl, u64 psize)
{
	struct luo_memfd_ser *ms = (void *)pl;
	u64 need, n, i;
	struct luo_memfd_extent *e;

	if (psize < sizeof(*ms))
		return;
	n = le32_to_cpu(ms->nr_extents);
	need = sizeof(*ms) + ((u64)le32_to_cpu(ms->name_len) + 7) / 8 * 8 + n * sizeof(*e);
	if (need != psize)
		return;
	e = (void *)(pl + psize - n * sizeof(*e));
	for (i = 0; i < n; i++) {
		u64 off = (u64)le32_to_cpu(e[i].page) * PAGE;
		u64 len = (u64)le32_to_cpu(e[i].count) * PAGE;

		if (le32_to_cpu(e[i].flags) & LUO_EXTENT_SUMMED && off <= size && len <= size - off)
			e[i].crc = extent_sum(le32_to_cpu(e[i].flags), range + off, len);
	}
}

static void fix_v2(u8 *range, u64 size)
{
	struct luo_header_v2 *hdr = (void *)range;
	u64 meta_off = le64_to_cpu(hdr->meta_off);
	u64 meta_size = le64_to_cpu(hdr->meta_size), off = 0;
	u8 *meta;

	if (size < PAGE)
		return;		/* refused for its size anyway */
	/* (a metadata not on a page boundary is refused anyway) */
	if (meta_off % PAGE == 0 && meta_off <= size && meta_size <= size - meta_off) {
		meta = range + meta_off;
		while (off + sizeof(struct luo_ser_session) <= meta_size) {
			struct luo_ser_session *ss = (void *)(meta + off);
			u32 i, n = le32_to_cpu(ss->nr_files);

			off += sizeof(*ss);
			for (i = 0; i < n && off + sizeof(struct luo_ser_file_v2) <= meta_size; i++) {
				struct luo_ser_file_v2 *f = (void *)(meta + off);
				u64 psize = le32_to_cpu(f->payload_size);

				off += sizeof(*f);
				if (psize > meta_size - off)
					break;
				/* a payload may overlap the metadata itself: fix the data first */
				if (le32_to_cpu(f->type) == LUO_FILE_TYPE_MEMFD)
					fix_memfd_payload(range, size, meta + off, psize);
				off += psize + (8 - psize % 8) % 8;
			}
		}
		hdr->meta_crc = crc32_le(~0U, meta, meta_size);
	}
	hdr->header_crc = luo_header_v2_crc(hdr);
}

static void fix_checksums(u8 *range, u64 size)
{
	struct luo_handover_header *hdr = (void *)range;

	if (le32_to_cpu(hdr->version) == LUO_FORMAT_V2) {
		if (size >= sizeof(struct luo_header_v2) &&
		    !(le64_to_cpu(((struct luo_header_v2 *)range)->sequence) >> 63))
			fix_v2(range, size);
		return;
	}
	if (le64_to_cpu(hdr->sequence) >> 63)
		return;
	fix_v1(range, size);
}

/* ---- walking what was accepted ---- */

static u8 sink;	/* what the walk read, so that it is read */

static void walk_v1(const u8 *range, u64 size, const struct luo_image *img)
{
	u64 off = 0, files = 0, s, i, end = 0;

	assert(img->used <= size);
	for (s = 0; s < img->nr_sessions; s++) {
		const struct luo_ser_session *ss =
			(const void *)((const u8 *)img->meta + off);
		u32 n = le32_to_cpu(ss->nr_files);

		assert(off + sizeof(*ss) <= img->meta_size);
		assert(strnlen((const char *)ss->name, sizeof(ss->name)) < sizeof(ss->name));
		off += sizeof(*ss);
		for (i = 0; i < n; i++) {
			const struct luo_ser_file *f =
				(const void *)((const u8 *)img->meta + off);
			u64 doff = le64_to_cpu(f->data_off);
			u64 dsz = le64_to_cpu(f->size);

			assert(off + sizeof(*f) <= img->meta_size);
			assert(doff <= img->used && dsz <= img->used - doff);
			if (dsz) {	/* the first and last byte, as a restore reads */
				sink ^= range[doff];
				sink ^= range[doff + dsz - 1];
			}
			end += dsz;
			off += sizeof(*f);
			files++;
		}
	}
	assert(off == img->meta_size);
	assert(files == img->nr_files);
	assert(end <= img->used);	/* no overlap: data never exceeds it */
}

/* what the simulated claims found, over the whole run */
static struct {
	unsigned long accepted_v1, accepted_v2, files, parsed, parse_refused;
	unsigned long extents, overlap_extent, overlap_meta, claims_refused;
	unsigned long crc_bad;
} st;

static void report(void)
{
	fprintf(stderr,
		"handover-fuzz: claims: %lu format 1 and %lu format 2 handovers accepted by the check; "
		"format 2: %lu files, %lu memfd payloads accepted by luo_memfd_parse(), %lu refused; "
		"%lu extents; the parser let through %lu extents on a page another extent names "
		"and %lu on the metadata's pages, in %lu handovers that only the claims refuse; "
		"%lu extents with a wrong crc (EIO at retrieve)\n",
		st.accepted_v1, st.accepted_v2, st.files, st.parsed, st.parse_refused,
		st.extents, st.overlap_extent, st.overlap_meta, st.claims_refused, st.crc_bad);
}

static int test_and_set(u8 *bits, u64 page)
{
	int was = bits[page / 8] >> (page % 8) & 1;

	bits[page / 8] |= (u8)(1u << (page % 8));
	return was;
}

static void walk_v2(const u8 *range, u64 size, const struct luo_image *img)
{
	u64 pages = img->used / PAGE, meta_first, meta_last, p, sessions = 0, files = 0;
	const u8 *meta = img->meta;
	struct luo_cursor c;
	struct luo_record r;
	int refused = 0;
	u8 *claimed;

	/* the header's promises */
	assert(img->used <= size && img->used % PAGE == 0);
	assert(img->meta_off >= PAGE && img->meta_off % PAGE == 0);
	assert(img->meta_off <= img->used && img->meta_size <= img->used - img->meta_off);
	claimed = calloc(pages / 8 + 1, 1);
	assert(claimed);
	/* the header's page and the metadata's are taken */
	meta_first = img->meta_off / PAGE;
	meta_last = (img->meta_off + img->meta_size + PAGE - 1) / PAGE;
	if (pages)
		test_and_set(claimed, 0);
	for (p = meta_first; p < meta_last; p++)
		test_and_set(claimed, p);

	luo_cursor_init(&c, img);
	while (luo_cursor_next(&c, &r)) {
		struct luo_memfd_payload in;
		u64 next = 0, fpages;
		u32 i;

		if (r.session) {
			const u8 *s = (const u8 *)r.session;

			assert(s >= meta && s + sizeof(*r.session) <= meta + img->meta_size);
			assert(strnlen((const char *)r.session->name, sizeof(r.session->name)) <
			       sizeof(r.session->name));
			sessions++;
			continue;
		}
		files++;
		st.files++;
		assert(r.payload);
		assert((const u8 *)r.payload >= meta &&
		       r.payload_size <= img->meta_size - ((const u8 *)r.payload - meta));
		if (r.type != LUO_FILE_TYPE_MEMFD && r.type != LUO_FILE_TYPE_HUGETLB)
			continue;	/* the module refuses it at the restore */
		memset(&in, 0, sizeof(in));
		if (r.type == LUO_FILE_TYPE_HUGETLB) {
			u32 shift;

			if (luo_hugetlb_parse(r.payload, r.payload_size, pages, &in,
					      &shift)) {
				st.parse_refused++;
				continue;
			}
			assert(shift >= LUO_HUGE_SHIFT_MIN && shift <= LUO_HUGE_SHIFT_MAX);
		} else if (luo_memfd_parse(r.payload, r.payload_size, pages, &in)) {
			st.parse_refused++;
			continue;
		}
		st.parsed++;
		/* what the parser promises */
		assert(in.name_len <= LUO_MEMFD_NAME_MAX);
		assert(!memchr(in.name, 0, in.name_len));
		assert((const u8 *)in.name >= (const u8 *)r.payload &&
		       (const u8 *)in.name + in.name_len <= (const u8 *)r.payload + r.payload_size);
		assert((const u8 *)in.ext >= (const u8 *)r.payload &&
		       (const u8 *)(in.ext + in.nr_extents) <=
		       (const u8 *)r.payload + r.payload_size);
		fpages = in.size / PAGE + !!(in.size % PAGE);
		for (i = 0; i < in.nr_extents; i++) {
			const struct luo_memfd_extent *e = &in.ext[i];
			u64 index = le64_to_cpu(e->index);
			u64 page = le32_to_cpu(e->page);
			u64 count = le32_to_cpu(e->count);
			int on_meta = 0, on_other = 0;

			st.extents++;
			assert(count >= 1);
			assert(index >= next && index <= fpages && count <= fpages - index);
			assert(page >= 1 && page <= pages && count <= pages - page);
			assert(luo_extent_flags_valid(le32_to_cpu(e->flags)));
			next = index + count;
			/* the claims, as the module's store makes them */
			for (p = page; p < page + count; p++) {
				if (test_and_set(claimed, p)) {
					if (p >= meta_first && p < meta_last)
						on_meta = 1;
					else
						on_other = 1;
				}
			}
			st.overlap_meta += on_meta;
			st.overlap_extent += on_other;
			if ((on_meta || on_other) && !refused) {
				refused = 1;
				st.claims_refused++;
				if (st.claims_refused <= 3)
					fprintf(stderr, "handover-fuzz: the parser let through token %#llx's extent "
						"%u (pages %llu+%llu) on %s: only the claims refuse it\n",
						(unsigned long long)r.token, i,
						(unsigned long long)page, (unsigned long long)count,
						on_meta ? "the metadata's pages" : "another extent's page");
			}
			/* the data, as a retrieve reads it */
			sink ^= range[page * PAGE];
			sink ^= range[(page + count) * PAGE - 1];
			if (le32_to_cpu(e->flags) & LUO_EXTENT_SUMMED &&
			    extent_sum(le32_to_cpu(e->flags), range + page * PAGE, count * PAGE) !=
			    le32_to_cpu(e->crc))
				st.crc_bad++;
		}
	}
	assert(sessions == img->nr_sessions);
	assert(files == img->nr_files);
	free(claimed);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t len)
{
	static int registered;
	struct luo_verdict v = { .status = LUO_STATUS_LOADED };
	struct luo_image img;
	size_t size = len < sizeof(struct luo_handover_header) ?
		      sizeof(struct luo_handover_header) : len;
	u8 *range = calloc(1, size);
	int ret;

	if (!registered) {
		registered = 1;
		atexit(report);
	}
	if (!range)
		return 0;
	memcpy(range, data, len);
	fix_checksums(range, size);
	memset(&img, 0, sizeof(img));
	ret = luo_handover_check(range, size, &img, &v);
	assert(ret == 0 || ret == 1 || ret == -ENOMEM);
	if (ret == 1)
		assert(v.why && (v.status == LUO_STATUS_CORRUPT ||
				 v.status == LUO_STATUS_VERSION));
	if (ret == 0) {
		assert(img.version == LUO_FORMAT_V1 || img.version == LUO_FORMAT_V2);
		if (img.version == LUO_FORMAT_V1) {
			st.accepted_v1++;
			walk_v1(range, size, &img);
		} else {
			st.accepted_v2++;
			walk_v2(range, size, &img);
		}
	}
	luo_image_free(&img);
	free(range);
	return 0;
}
