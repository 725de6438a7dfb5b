// SPDX-License-Identifier: GPL-2.0
/*
 * handover-fuzz: libFuzzer target for the module's handover check
 * (module/handover_check.c, compiled here unchanged as userspace C).
 *
 * Each input is the reserved range: the check runs on a copy of exactly
 * that many bytes (at least a header; the module's range is never smaller),
 * so AddressSanitizer sees any read outside it. Unless the top bit of the
 * header's sequence is set, the data, metadata and header checksums are
 * recomputed first (as far as the records can be followed), so that
 * mutations reach the bounds checks behind them. A handover the check
 * accepts is walked as the module's build does (names, records, data) and
 * its invariants asserted: every file's data inside the handover, no two
 * files' data overlapping, the record counts matching the metadata.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handover_check.h"

/* module/memfd.c's luo_memfd_validate() for LUO_FILE_TYPE_MEMFD */
#define MEMFD_SEALS	(0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0010 | 0x0020)
#define MAX_LFS_FILESIZE ((u64)INT64_MAX)

int luo_file_validate_record(const struct luo_ser_file *f)
{
	if (le32_to_cpu(f->type) != LUO_FILE_TYPE_MEMFD)
		return -ENOENT;
	if (le32_to_cpu(f->seals) & ~MEMFD_SEALS)
		return -EINVAL;
	if (le64_to_cpu(f->size) > MAX_LFS_FILESIZE ||
	    le64_to_cpu(f->pos) > MAX_LFS_FILESIZE)
		return -EINVAL;
	return 0;
}

static void fix_checksums(u8 *range, u64 size)
{
	struct luo_handover_header *hdr = (void *)range;
	u64 meta_size = le64_to_cpu(hdr->meta_size), off = 0;
	u8 *meta = range + sizeof(*hdr);

	if (le64_to_cpu(hdr->sequence) >> 63)
		return;
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

static u8 sink;	/* what the walk read, so that it is read */

static void walk(const u8 *range, u64 size, const struct luo_image *img)
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

int LLVMFuzzerTestOneInput(const u8 *data, size_t len)
{
	struct luo_verdict v = { .status = LUO_STATUS_LOADED };
	struct luo_image img;
	size_t size = len < sizeof(struct luo_handover_header) ?
		      sizeof(struct luo_handover_header) : len;
	u8 *range = calloc(1, size);
	int ret;

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
	if (ret == 0)
		walk(range, size, &img);
	luo_image_free(&img);
	free(range);
	return 0;
}
