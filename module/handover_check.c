// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: checking a handover (version, checksums, every count, offset
 * and length against the range) before anything in it is used.
 *
 * Kernel code that also builds as plain userspace C (handover_user.h
 * supplies what it needs): tests/fuzz/ compiles this very file into a
 * libFuzzer target. It touches nothing but the range it is given and the
 * copies it makes.
 */

#ifdef __KERNEL__
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/crc32.h>
#include <linux/mm.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#endif

#include "handover_check.h"
#include "memfd_check.h"

u32 luo_header_crc(const struct luo_handover_header *hdr)
{
	struct luo_handover_header tmp = *hdr;

	tmp.header_crc = 0;
	tmp.state = 0;
	return crc32_le(~0U, (const u8 *)&tmp, sizeof(tmp));
}

u32 luo_header_v2_crc(const struct luo_header_v2 *hdr)
{
	struct luo_header_v2 tmp = *hdr;

	tmp.header_crc = 0;
	tmp.state = 0;
	return crc32_le(~0U, (const u8 *)&tmp, sizeof(tmp));
}

bool luo_refuse(struct luo_verdict *v, const char *why)
{
	v->status = LUO_STATUS_CORRUPT;
	v->why = why;
	return false;
}

/* The same, for functions that return 1 for "refused". */
static int luo_reject(struct luo_verdict *v, const char *why)
{
	luo_refuse(v, why);
	return 1;
}

/* The end of a walk: its records fill the metadata and count its files. */
static int luo_check_walked(const struct luo_image *img, u64 off, u64 seen,
			    struct luo_verdict *v)
{
	if (off != img->meta_size)
		return luo_reject(v, "metadata size does not match its records");
	if (seen != img->nr_files)
		return luo_reject(v, "file count does not match its records");
	return 0;
}

void luo_image_free(struct luo_image *img)
{
	kvfree(img->meta);
	kvfree(img->ext);
	img->meta = NULL;
	img->ext = NULL;
}

static int luo_extent_cmp(const void *a, const void *b)
{
	const struct luo_extent *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return 0;
}

/*
 * crc32_le of a file's data in the range, in steps that reschedule: a file
 * can be gigabytes.
 */
u32 luo_data_crc(const void *data, u64 size)
{
	u32 crc = ~0U;
	u64 off, len;

	for (off = 0; off < size; off += len) {
		len = min_t(u64, size - off, SZ_1M);
		crc = crc32_le(crc, data + off, len);
		cond_resched();
	}
	return crc;
}

/* Checks one file record; @data_start is where data may begin. */
static bool luo_check_file(const struct luo_ser_file *f, u64 data_start,
			   u64 used, struct luo_verdict *v)
{
	u64 off = le64_to_cpu(f->data_off);
	u64 size = le64_to_cpu(f->size);

	/* Format 1 is frozen: its only file type is the memfd. */
	if (le32_to_cpu(f->type) != LUO_FILE_TYPE_MEMFD)
		return luo_refuse(v, "unknown file type");
	if (f->reserved)
		return luo_refuse(v, "non-zero reserved field in a file record");
	if (!luo_memfd_v1_valid(f))
		return luo_refuse(v, "invalid file record");
	if (off < data_start || off > used || size > used - off)
		return luo_refuse(v, "file data outside the handover");
	return true;
}

/*
 * No two files' data overlap, so together they are never larger than the
 * handover: a restore can never make more than the range out of it. @ext
 * holds the files with data (empty ones take no bytes).
 */
static bool luo_check_extents(struct luo_extent *ext, u64 n,
			      struct luo_verdict *v)
{
	u64 i;

	sort(ext, n, sizeof(*ext), luo_extent_cmp, NULL);
	for (i = 1; i < n; i++) {
		if (ext[i - 1].size > ext[i].off - ext[i - 1].off)
			return luo_refuse(v, "the data of two files overlap");
	}
	return true;
}

/* Checks a format 1 header (already copied to img->hdr). */
static bool luo_check_header_v1(u64 range_size, struct luo_image *img,
				struct luo_verdict *v)
{
	const struct luo_handover_header *hdr = &img->hdr;

	if (le32_to_cpu(hdr->header_size) != sizeof(*hdr))
		return luo_refuse(v, "header size mismatch");
	if (luo_header_crc(hdr) != le32_to_cpu(hdr->header_crc))
		return luo_refuse(v, "header checksum mismatch");

	img->used = le64_to_cpu(hdr->used_size);
	img->meta_off = sizeof(*hdr);
	img->meta_size = le64_to_cpu(hdr->meta_size);
	img->nr_sessions = le64_to_cpu(hdr->nr_sessions);
	img->nr_files = le64_to_cpu(hdr->nr_files);
	img->commit_us = le32_to_cpu(hdr->commit_us);
	img->sequence = le64_to_cpu(hdr->sequence);
	if (img->used < sizeof(*hdr) || img->used > range_size)
		return luo_refuse(v, "handover larger than the range");
	if (img->meta_size > img->used - sizeof(*hdr))
		return luo_refuse(v, "metadata outside the handover");
	/* The metadata is exactly the records: this bounds every count. */
	if (img->nr_sessions > img->meta_size / sizeof(struct luo_ser_session) ||
	    img->nr_files > img->meta_size / sizeof(struct luo_ser_file) ||
	    img->nr_sessions * sizeof(struct luo_ser_session) +
	    img->nr_files * sizeof(struct luo_ser_file) != img->meta_size)
		return luo_refuse(v, "metadata size does not match its records");
	return true;
}

/* Copies a format 2 header out of the range and checks it. */
static bool luo_check_header_v2(const void *base, u64 range_size,
				struct luo_image *img, struct luo_verdict *v)
{
	const struct luo_header_v2 *hdr = &img->hdr2;
	u64 min_rec = sizeof(struct luo_ser_file_v2);

	if (range_size < LUO_PAGE_SIZE)
		return luo_refuse(v, "range smaller than a page");
	memcpy(&img->hdr2, base, sizeof(img->hdr2));
	if (le32_to_cpu(hdr->header_size) != sizeof(*hdr))
		return luo_refuse(v, "header size mismatch");
	if (luo_header_v2_crc(hdr) != le32_to_cpu(hdr->header_crc))
		return luo_refuse(v, "header checksum mismatch");
	if (le32_to_cpu(hdr->page_size) != LUO_PAGE_SIZE || hdr->flags)
		return luo_refuse(v, "unknown page size or flags");

	img->used = le64_to_cpu(hdr->range_size);
	img->meta_off = le64_to_cpu(hdr->meta_off);
	img->meta_size = le64_to_cpu(hdr->meta_size);
	img->nr_sessions = le64_to_cpu(hdr->nr_sessions);
	img->nr_files = le64_to_cpu(hdr->nr_files);
	img->commit_us = le32_to_cpu(hdr->commit_us);
	img->sequence = le64_to_cpu(hdr->sequence);
	if (img->used > range_size || img->used % LUO_PAGE_SIZE)
		return luo_refuse(v, "handover larger than the range");
	if (img->meta_off < LUO_PAGE_SIZE || img->meta_off % LUO_PAGE_SIZE ||
	    img->meta_off > img->used ||
	    img->meta_size > img->used - img->meta_off)
		return luo_refuse(v, "metadata outside the handover");
	/* Every record takes at least its fixed part: this bounds the counts. */
	if (img->nr_sessions > img->meta_size / sizeof(struct luo_ser_session) ||
	    img->nr_files > img->meta_size / min_rec)
		return luo_refuse(v, "metadata size does not match its records");
	return true;
}

/* Copies the header out of the range and checks it. */
static bool luo_check_header(const void *base, u64 range_size,
			     struct luo_image *img, struct luo_verdict *v)
{
	u32 version;

	memcpy(&img->hdr, base, sizeof(img->hdr));
	version = le32_to_cpu(img->hdr.version);
	img->version = version;
	if (version == LUO_FORMAT_V1)
		return luo_check_header_v1(range_size, img, v);
	if (version == LUO_FORMAT_V2)
		return luo_check_header_v2(base, range_size, img, v);
	v->status = LUO_STATUS_VERSION;
	v->why = "format version not supported";
	pr_err("handover format version %u is not supported (this module reads versions %u and %u)\n",
	       version, LUO_FORMAT_V1, LUO_FORMAT_V2);
	return false;
}

/*
 * The session record at @off of the metadata copy (both formats): inside
 * the metadata, a name of 1..63 bytes and a NUL, reserved zero. NULL if
 * refused (see @v).
 */
static const struct luo_ser_session *
luo_check_session(const struct luo_image *img, u64 off, struct luo_verdict *v)
{
	const struct luo_ser_session *ss = img->meta + off;
	size_t len;

	if (img->meta_size - off < sizeof(*ss)) {
		luo_refuse(v, "session record outside the metadata");
		return NULL;
	}
	len = strnlen((const char *)ss->name, sizeof(ss->name));
	if (!len || len == sizeof(ss->name)) {
		luo_refuse(v, "bad session name");
		return NULL;
	}
	if (ss->reserved) {
		luo_refuse(v, "non-zero reserved field in a session record");
		return NULL;
	}
	return ss;
}

/* The metadata of format 2: session records, file records and payloads. */
static int luo_check_meta_v2(struct luo_image *img, struct luo_verdict *v)
{
	u64 off = 0, s, seen = 0;

	for (s = 0; s < img->nr_sessions; s++) {
		const struct luo_ser_session *ss = luo_check_session(img, off, v);
		u32 i, n;

		if (!ss)
			return 1;
		off += sizeof(*ss);
		n = le32_to_cpu(ss->nr_files);
		if (n > img->nr_files - seen)
			return luo_reject(v, "file records outside the metadata");
		for (i = 0; i < n; i++) {
			const struct luo_ser_file_v2 *f = img->meta + off;
			u64 psize;

			if (img->meta_size - off < sizeof(*f))
				return luo_reject(v, "file records outside the metadata");
			off += sizeof(*f);
			psize = le32_to_cpu(f->payload_size);
			if (psize > img->meta_size - off)
				return luo_reject(v, "file payload outside the metadata");
			off += psize;
			/* Padding to the next record, if there is one. */
			off += min_t(u64, img->meta_size - off,
				     (LUO_HANDOVER_ALIGN - psize % LUO_HANDOVER_ALIGN) %
				     LUO_HANDOVER_ALIGN);
		}
		seen += n;
		cond_resched();
	}
	return luo_check_walked(img, off, seen, v);
}

/**
 * luo_handover_check() - check a handover completely before it is used
 * @base: the range, at least a header long.
 * @size: its length.
 * @img:  filled with copies of the header and metadata.
 * @v:    the verdict, if refused.
 *
 * Everything but uniqueness of names and tokens, which the build checks.
 * The caller frees @img whatever the result.
 *
 * Return: 0, 1 if refused (see @v), or -ENOMEM.
 */
int luo_handover_check(const void *base, u64 size, struct luo_image *img,
		       struct luo_verdict *v)
{
	struct luo_extent *ext;
	u64 meta_end, off, s, i, seen = 0, nr_ext = 0;

	if (!luo_check_header(base, size, img, v))
		return 1;
	if (img->version == LUO_FORMAT_V2) {
		img->meta = kvmalloc(img->meta_size ?: 1, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!img->meta)
			return -ENOMEM;
		memcpy(img->meta, base + img->meta_off, img->meta_size);
		if (crc32_le(~0U, img->meta, img->meta_size) !=
		    le32_to_cpu(img->hdr2.meta_crc))
			return luo_reject(v, "metadata checksum mismatch");
		return luo_check_meta_v2(img, v);
	}
	meta_end = sizeof(img->hdr) + img->meta_size;

	img->meta = kvmalloc(img->meta_size ?: 1, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	img->ext = kvmalloc_array(img->nr_files ?: 1, sizeof(*img->ext),
				  GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!img->meta || !img->ext)
		return -ENOMEM;
	ext = img->ext;
	memcpy(img->meta, base + sizeof(img->hdr), img->meta_size);
	if (crc32_le(~0U, img->meta, img->meta_size) !=
	    le32_to_cpu(img->hdr.meta_crc))
		return luo_reject(v, "metadata checksum mismatch");

	/* Offsets below are into the metadata copy. */
	off = 0;
	for (s = 0; s < img->nr_sessions; s++) {
		const struct luo_ser_session *ss = luo_check_session(img, off, v);
		u32 n;

		if (!ss)
			return 1;
		off += sizeof(*ss);
		n = le32_to_cpu(ss->nr_files);
		if (n > (img->meta_size - off) / sizeof(struct luo_ser_file) ||
		    n > img->nr_files - seen)
			return luo_reject(v, "file records outside the metadata");
		for (i = 0; i < n; i++) {
			const struct luo_ser_file *f = img->meta + off;

			if (!luo_check_file(f, meta_end, img->used, v))
				return 1;
			if (f->size) {
				ext[nr_ext].off = le64_to_cpu(f->data_off);
				ext[nr_ext].size = le64_to_cpu(f->size);
				nr_ext++;
			}
			off += sizeof(*f);
		}
		seen += n;
		cond_resched();
	}
	if (luo_check_walked(img, off, seen, v))
		return 1;
	if (!luo_check_extents(ext, nr_ext, v))
		return 1;

	/* Only now, with every byte read at most once, the data checksums. */
	off = 0;
	for (s = 0; s < img->nr_sessions; s++) {
		const struct luo_ser_session *ss = img->meta + off;

		off += sizeof(*ss);
		for (i = 0; i < le32_to_cpu(ss->nr_files); i++) {
			const struct luo_ser_file *f = img->meta + off;

			if (luo_data_crc(base + le64_to_cpu(f->data_off),
					 le64_to_cpu(f->size)) !=
			    le32_to_cpu(f->data_crc))
				return luo_reject(v, "file data checksum mismatch");
			off += sizeof(*f);
		}
	}
	return 0;
}

/**
 * luo_cursor_init() - start walking a checked image's records
 * @c:   the cursor.
 * @img: an image luo_handover_check() accepted.
 */
void luo_cursor_init(struct luo_cursor *c, const struct luo_image *img)
{
	c->img = img;
	c->off = 0;
	c->files_left = 0;
}

/**
 * luo_cursor_next() - the next record: a session, then each of its files
 * @c: the cursor.
 * @r: filled with the record.
 *
 * The image was checked: every record lies inside the metadata copy.
 *
 * Return: false after the last record.
 */
bool luo_cursor_next(struct luo_cursor *c, struct luo_record *r)
{
	const struct luo_image *img = c->img;

	memset(r, 0, sizeof(*r));
	if (c->off >= img->meta_size)
		return false;
	if (!c->files_left) {
		r->session = img->meta + c->off;
		c->files_left = le32_to_cpu(r->session->nr_files);
		c->off += sizeof(*r->session);
		return true;
	}
	c->files_left--;
	if (img->version == LUO_FORMAT_V1) {
		r->v1 = img->meta + c->off;
		r->token = le64_to_cpu(r->v1->token);
		r->type = le32_to_cpu(r->v1->type);
		c->off += sizeof(*r->v1);
	} else {
		const struct luo_ser_file_v2 *f = img->meta + c->off;

		r->token = le64_to_cpu(f->token);
		r->type = le32_to_cpu(f->type);
		r->payload_size = le32_to_cpu(f->payload_size);
		r->payload = f + 1;
		c->off += sizeof(*f) + r->payload_size;
		c->off += (LUO_HANDOVER_ALIGN - r->payload_size % LUO_HANDOVER_ALIGN) %
			  LUO_HANDOVER_ALIGN;
	}
	return true;
}
