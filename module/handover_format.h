/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * liveupdate: layout of the handover kept in the reserved RAM range.
 *
 * The outgoing kernel writes it inside reboot(LINUX_REBOOT_CMD_KEXEC); the
 * incoming kernel reads it back. Everything is little-endian and fixed-size so
 * that two different kernel builds (or versions) agree on it. Also included by
 * userspace test tools, hence plain __le types only.
 *
 * Every version starts with the same five fields (magic, version,
 * header_size, state, header_crc): a reader looks at the version first. A
 * module writes format 2 and reads formats 2 and 1.
 *
 * Format 2 (this module) treats the range as pages of LUO_PAGE_SIZE bytes:
 *
 *   page 0                   struct luo_header_v2
 *   meta_off .. +meta_size   metadata: for each session, one
 *                            struct luo_ser_session followed by its nr_files
 *                            records, each a struct luo_ser_file_v2 and its
 *                            handler's payload (memfd, hugetlb:
 *                            memfd_format.h)
 *   any other page           file data, named by the payloads' page lists
 *
 * A file's data pages are wherever the writer found or put them: a memfd
 * restored by taking its pages over lives in the range already, and the next
 * kexec just lists those pages again (nothing is copied).
 *
 * Integrity, format 2: header_crc covers the header (header_crc and state
 * read as zero), meta_crc the metadata; data is covered per page list extent
 * when the extent says so (copied data always, data left in place only when
 * the writer was asked to: see docs/design.md). A reader checks magic,
 * version, the crcs, every count, offset and length, and that no two users
 * claim one page, before using any of it.
 *
 * Format 1 (frozen, tests/golden/format1.img): header, metadata of
 * struct luo_ser_session and struct luo_ser_file, then each file's bytes
 * contiguous at its data_off; every file's data_crc covers its bytes.
 */
#ifndef _LIVEUPDATE_HANDOVER_FORMAT_H
#define _LIVEUPDATE_HANDOVER_FORMAT_H

#include <linux/types.h>

/* "LUOSTOCK" read as a little-endian u64. */
#define LUO_HANDOVER_MAGIC	0x4b434f54534f554cULL
/* The version this module writes; it also reads LUO_FORMAT_V1. */
#define LUO_HANDOVER_VERSION	2
#define LUO_FORMAT_V1		1
#define LUO_FORMAT_V2		2

/* Format 2: the unit of the range's page lists. */
#define LUO_PAGE_SIZE		4096

/* Written by the outgoing kernel as its very last step. */
#define LUO_STATE_COMMITTED	0x434f4d4dU	/* "MMOC" */
/* Written by the first kernel that loads it: never load it twice. */
#define LUO_STATE_CLAIMED	0x434c4149U	/* "IALC" */

#define LUO_FILE_TYPE_MEMFD	1
/* A hugetlbfs memfd (MFD_HUGETLB): its payload is struct luo_hugetlb_ser. */
#define LUO_FILE_TYPE_HUGETLB	2

/* Every record and every file's data starts on this boundary. */
#define LUO_HANDOVER_ALIGN	8

/**
 * struct luo_handover_header - start of the reserved range, format 1
 * @magic:       %LUO_HANDOVER_MAGIC; anything else means "no handover".
 * @version:     %LUO_FORMAT_V1.
 * @header_size: sizeof(struct luo_handover_header) of the writer.
 * @state:       %LUO_STATE_COMMITTED or %LUO_STATE_CLAIMED.
 * @header_crc:  crc32 of this header with @header_crc and @state as zero.
 * @used_size:   bytes of the range the handover occupies.
 * @meta_size:   bytes of metadata after the header.
 * @nr_sessions: number of struct luo_ser_session records.
 * @nr_files:    total number of struct luo_ser_file records.
 * @meta_crc:    crc32 of the metadata.
 * @commit_us:   how long the outgoing kernel took to write it (for logs).
 * @sequence:    how many handovers this range carried before (for logs).
 */
struct luo_handover_header {
	__le64 magic;
	__le32 version;
	__le32 header_size;
	__le32 state;
	__le32 header_crc;
	__le64 used_size;
	__le64 meta_size;
	__le64 nr_sessions;
	__le64 nr_files;
	__le32 meta_crc;
	__le32 commit_us;
	__le64 sequence;
};

/**
 * struct luo_ser_session - one preserved session
 * @name:     NUL-terminated name, 1..63 bytes.
 * @nr_files: number of struct luo_ser_file records that follow.
 * @reserved: zero.
 */
struct luo_ser_session {
	__u8 name[64];
	__le32 nr_files;
	__le32 reserved;
};

/**
 * struct luo_header_v2 - start of the reserved range, format 2
 * @magic:        %LUO_HANDOVER_MAGIC; anything else means "no handover".
 * @version:      %LUO_FORMAT_V2.
 * @header_size:  sizeof(struct luo_header_v2) of the writer.
 * @state:        %LUO_STATE_COMMITTED or %LUO_STATE_CLAIMED.
 * @header_crc:   crc32 of this header with @header_crc and @state as zero.
 * @page_size:    %LUO_PAGE_SIZE.
 * @flags:        zero.
 * @range_size:   bytes of the range the writer had; a reader with a smaller
 *                range refuses the handover.
 * @meta_off:     offset of the metadata, a multiple of @page_size, past the
 *                header's page.
 * @meta_size:    bytes of metadata.
 * @nr_sessions:  number of struct luo_ser_session records.
 * @nr_files:     total number of file records.
 * @meta_crc:     crc32 of the metadata.
 * @commit_us:    how long the outgoing kernel took to write it.
 * @sequence:     how many handovers this range carried before.
 * @pages_inplace: data pages the writer found in the range and listed.
 * @pages_copied: data pages the writer copied into the range.
 * @copy_us:      of @commit_us, the time spent copying.
 * @copy_threads: how many CPUs copied.
 */
struct luo_header_v2 {
	__le64 magic;
	__le32 version;
	__le32 header_size;
	__le32 state;
	__le32 header_crc;
	__le32 page_size;
	__le32 flags;
	__le64 range_size;
	__le64 meta_off;
	__le64 meta_size;
	__le64 nr_sessions;
	__le64 nr_files;
	__le32 meta_crc;
	__le32 commit_us;
	__le64 sequence;
	__le64 pages_inplace;
	__le64 pages_copied;
	__le32 copy_us;
	__le32 copy_threads;
};

/**
 * struct luo_ser_file_v2 - one preserved file, format 2
 * @token:        the user's token.
 * @type:         the handler: %LUO_FILE_TYPE_MEMFD or %LUO_FILE_TYPE_HUGETLB.
 * @payload_size: bytes of the handler's payload that follows (the next
 *                record starts LUO_HANDOVER_ALIGN-aligned after it).
 */
struct luo_ser_file_v2 {
	__le64 token;
	__le32 type;
	__le32 payload_size;
};

/**
 * struct luo_ser_file - one preserved file, format 1
 * @token:    the user's token.
 * @type:     %LUO_FILE_TYPE_MEMFD.
 * @seals:    memfd seals (F_SEAL_*) the user had set.
 * @size:     file size in bytes; the data is exactly this long.
 * @pos:      file position at the time of the kexec.
 * @data_off: offset of the data from the start of the range.
 * @data_crc: crc32 of the data.
 * @reserved: zero.
 */
struct luo_ser_file {
	__le64 token;
	__le32 type;
	__le32 seals;
	__le64 size;
	__le64 pos;
	__le64 data_off;
	__le32 data_crc;
	__le32 reserved;
};

#endif /* _LIVEUPDATE_HANDOVER_FORMAT_H */
