/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * liveupdate: the memfd and hugetlb handlers' payloads in a format 2
 * handover (each handler's own layout; the common record only carries its
 * type and size).
 *
 *   struct luo_memfd_ser
 *   name:    name_len bytes ("memfd:NAME" as /proc shows it, no NUL),
 *            zero-padded to LUO_HANDOVER_ALIGN
 *   extents: nr_extents struct luo_memfd_extent, by ascending index, not
 *            overlapping; file pages no extent names are holes
 */
#ifndef _LIVEUPDATE_MEMFD_FORMAT_H
#define _LIVEUPDATE_MEMFD_FORMAT_H

#include <linux/types.h>
#ifndef __KERNEL__
#include <stdbool.h>
#endif

/* Longest name: "memfd:" and memfd_create()'s 249 bytes. */
#define LUO_MEMFD_NAME_MAX	255

/**
 * struct luo_memfd_ser - a memfd's state
 * @size:       file size in bytes.
 * @pos:        file position at the time of the kexec.
 * @seals:      F_SEAL_* the user had set.
 * @flags:      zero.
 * @name_len:   bytes of name that follow, at most %LUO_MEMFD_NAME_MAX.
 * @nr_extents: extents after the name.
 */
struct luo_memfd_ser {
	__le64 size;
	__le64 pos;
	__le32 seals;
	__le32 flags;
	__le32 name_len;
	__le32 nr_extents;
};

/* @crc is crc32_le (seeded ~0, not inverted) of the extent's pages. */
#define LUO_EXTENT_CRC		0x1
/* @crc is the low 32 bits of XXH64, seed 0, of its pages (data_sum.h). */
#define LUO_EXTENT_XXH64	0x2
/* The extent carries a checksum: one of the two (written: XXH64 only). */
#define LUO_EXTENT_SUMMED	(LUO_EXTENT_CRC | LUO_EXTENT_XXH64)
/*
 * With a checksum: it was taken over pages left in place that processes
 * could still write until the machine stopped (checksum_inplace=1, a file
 * not write-sealed). A mismatch then means a write landed after it, not
 * damage: the bytes are delivered and the mismatch counted
 * (last_handover's restore_live_mismatch). Without this flag a mismatch
 * refuses the file (EIO).
 */
#define LUO_EXTENT_LIVE		0x4

/* Whether an extent's @flags are ones this format knows, in a valid mix. */
static inline bool luo_extent_flags_valid(__u32 flags)
{
	__u32 sum = flags & LUO_EXTENT_SUMMED;

	return !(flags & ~(LUO_EXTENT_SUMMED | LUO_EXTENT_LIVE)) &&
	       sum != LUO_EXTENT_SUMMED && (sum || !(flags & LUO_EXTENT_LIVE));
}

/**
 * struct luo_memfd_extent - file pages that lie in consecutive range pages
 * @index: first file page (offset / LUO_PAGE_SIZE).
 * @page:  first range page (offset from the range's start / LUO_PAGE_SIZE).
 * @count: number of pages, at least 1.
 * @crc:   the checksum of the @count pages' bytes that @flags names.
 * @flags: LUO_EXTENT_XXH64, LUO_EXTENT_CRC (written before XXH64 was) or
 *         zero (no checksum); with a checksum, LUO_EXTENT_LIVE may be set.
 */
struct luo_memfd_extent {
	__le64 index;
	__le32 page;
	__le32 count;
	__le32 crc;
	__le32 flags;
};

/*
 * The hugetlb handler's payload (%LUO_FILE_TYPE_HUGETLB, "hugetlb-v1"): a
 * memfd made with MFD_HUGETLB. Laid out as the memfd's:
 *
 *   struct luo_hugetlb_ser
 *   name:    name_len bytes ("memfd:NAME", no NUL), zero-padded to
 *            LUO_HANDOVER_ALIGN
 *   extents: nr_extents struct luo_memfd_extent (in LUO_PAGE_SIZE pages,
 *            as the memfd's), by ascending index, not overlapping; file
 *            pages no extent names are holes (a huge page none of whose
 *            pages an extent names is not allocated at restore)
 */

/* Huge page sizes a payload may name: 2^LUO_HUGE_SHIFT_MIN.. bytes. */
#define LUO_HUGE_SHIFT_MIN	13
#define LUO_HUGE_SHIFT_MAX	40

/**
 * struct luo_hugetlb_ser - a hugetlb memfd's state
 * @size:       file size in bytes.
 * @pos:        file position at the time of the kexec.
 * @seals:      F_SEAL_* the user had set.
 * @page_shift: log2 of its huge page size (21: 2 MiB, 30: 1 GiB).
 * @name_len:   bytes of name that follow, at most %LUO_MEMFD_NAME_MAX.
 * @nr_extents: extents after the name.
 * @flags:      zero.
 * @reserved:   zero.
 */
struct luo_hugetlb_ser {
	__le64 size;
	__le64 pos;
	__le32 seals;
	__le32 page_shift;
	__le32 name_len;
	__le32 nr_extents;
	__le32 flags;
	__le32 reserved;
};

#endif /* _LIVEUPDATE_MEMFD_FORMAT_H */
