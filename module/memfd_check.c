// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: checking a memfd's handover payload before it is used.
 *
 * Like handover_check.c, plain enough to build as userspace C for the fuzz
 * target (tests/fuzz/). It checks one payload on its own; that no two files
 * name the same range page is checked by the store when pages_in.c claims the
 * pages (luo_store_claim()).
 */

#ifdef __KERNEL__
#include <linux/fs.h>
#include <linux/string.h>
#else
#define MAX_LFS_FILESIZE	((u64)INT64_MAX)
#endif

#include "memfd_check.h"

#define LUO_MEMFD_SEALS_V	0x003f	/* F_SEAL_SEAL .. F_SEAL_EXEC */

/**
 * luo_memfd_v1_valid() - whether a format 1 memfd record is usable
 * @f: the record.
 *
 * Return: true if its seals, size and position are possible.
 */
bool luo_memfd_v1_valid(const struct luo_ser_file *f)
{
	return !(le32_to_cpu(f->seals) & ~LUO_MEMFD_SEALS_V) &&
	       le64_to_cpu(f->size) <= MAX_LFS_FILESIZE &&
	       le64_to_cpu(f->pos) <= MAX_LFS_FILESIZE;
}

/*
 * The name and extents after a payload's fixed part of @fixed bytes: the
 * name's length, that the extents fill the payload exactly, are ordered
 * by file page, do not overlap, lie inside the file's size and inside the
 * range (never its first page, the header's), and name at most one
 * checksum (and LUO_EXTENT_LIVE only with one).
 */
static int luo_memfd_parse_tail(const void *payload, u32 size, u64 fixed,
				u64 range_pages, struct luo_memfd_payload *in)
{
	u64 pages, next = 0, need;
	u32 i;

	if (in->seals & ~LUO_MEMFD_SEALS_V ||
	    in->size > MAX_LFS_FILESIZE || in->pos > MAX_LFS_FILESIZE ||
	    in->name_len > LUO_MEMFD_NAME_MAX)
		return -EINVAL;
	need = fixed +
	       ((u64)in->name_len + LUO_HANDOVER_ALIGN - 1) / LUO_HANDOVER_ALIGN *
	       LUO_HANDOVER_ALIGN +
	       (u64)in->nr_extents * sizeof(struct luo_memfd_extent);
	if (need != size)
		return -EINVAL;
	in->name = (const char *)payload + fixed;
	in->ext = (const void *)((const char *)payload + size -
				 (u64)in->nr_extents * sizeof(*in->ext));
	if (memchr(in->name, 0, in->name_len))
		return -EINVAL;

	pages = in->size / LUO_PAGE_SIZE + !!(in->size % LUO_PAGE_SIZE);
	for (i = 0; i < in->nr_extents; i++) {
		const struct luo_memfd_extent *e = &in->ext[i];
		u64 index = le64_to_cpu(e->index);
		u64 page = le32_to_cpu(e->page);
		u64 count = le32_to_cpu(e->count);

		if (!count || index < next || index > pages ||
		    count > pages - index)
			return -EINVAL;
		if (!page || page > range_pages || count > range_pages - page)
			return -EINVAL;
		if (!luo_extent_flags_valid(le32_to_cpu(e->flags)))
			return -EINVAL;
		next = index + count;
	}
	return 0;
}

/**
 * luo_memfd_parse() - check a format 2 memfd payload
 * @payload:     the payload, in a copy of the metadata.
 * @size:        its size.
 * @range_pages: pages in the range.
 * @in:          filled with what it says; pointers into @payload.
 *
 * Checks seals, size and position as memfd_create() allows them, the
 * name's length, and that the extents are ordered by file page, do not
 * overlap, lie inside the file's size and inside the range (never its
 * first page, the header's), and name at most one checksum (and
 * LUO_EXTENT_LIVE only with one).
 *
 * Return: 0, or -EINVAL.
 */
int luo_memfd_parse(const void *payload, u32 size, u64 range_pages,
		    struct luo_memfd_payload *in)
{
	const struct luo_memfd_ser *ms = payload;

	if (size < sizeof(*ms))
		return -EINVAL;
	in->size = le64_to_cpu(ms->size);
	in->pos = le64_to_cpu(ms->pos);
	in->seals = le32_to_cpu(ms->seals);
	in->name_len = le32_to_cpu(ms->name_len);
	in->nr_extents = le32_to_cpu(ms->nr_extents);
	if (ms->flags)
		return -EINVAL;
	return luo_memfd_parse_tail(payload, size, sizeof(*ms), range_pages, in);
}

/**
 * luo_hugetlb_parse() - check a format 2 hugetlb payload
 * @payload:     the payload, in a copy of the metadata.
 * @size:        its size.
 * @range_pages: pages in the range.
 * @in:          filled with what it says; pointers into @payload.
 * @page_shift:  set to log2 of its huge page size.
 *
 * As luo_memfd_parse(), and: the huge page size is one a kernel can have
 * (%LUO_HUGE_SHIFT_MIN..%LUO_HUGE_SHIFT_MAX; whether this one has it is
 * known only at restore), and the flags and reserved fields are zero.
 *
 * Return: 0, or -EINVAL.
 */
int luo_hugetlb_parse(const void *payload, u32 size, u64 range_pages,
		      struct luo_memfd_payload *in, u32 *page_shift)
{
	const struct luo_hugetlb_ser *hs = payload;

	if (size < sizeof(*hs))
		return -EINVAL;
	in->size = le64_to_cpu(hs->size);
	in->pos = le64_to_cpu(hs->pos);
	in->seals = le32_to_cpu(hs->seals);
	in->name_len = le32_to_cpu(hs->name_len);
	in->nr_extents = le32_to_cpu(hs->nr_extents);
	*page_shift = le32_to_cpu(hs->page_shift);
	if (hs->flags || hs->reserved || *page_shift < LUO_HUGE_SHIFT_MIN ||
	    *page_shift > LUO_HUGE_SHIFT_MAX)
		return -EINVAL;
	return luo_memfd_parse_tail(payload, size, sizeof(*hs), range_pages, in);
}
