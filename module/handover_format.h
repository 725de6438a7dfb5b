/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * liveupdate: layout of the handover kept in the reserved RAM range.
 *
 * The outgoing kernel writes it inside reboot(LINUX_REBOOT_CMD_KEXEC); the
 * incoming kernel reads it back. Everything is little-endian and fixed-size so
 * that two different kernel builds (or versions) agree on it. Also included by
 * userspace test tools, hence plain __le types only.
 *
 *   offset 0                 struct luo_handover_header
 *   header_size              metadata: for each session, one
 *                            struct luo_ser_session followed by its
 *                            nr_files struct luo_ser_file records
 *   header_size + meta_size  data: each file's bytes at its data_off
 *
 * Integrity: header_crc covers the header (with header_crc and state read as
 * zero), meta_crc the metadata, and each file's data_crc its bytes. All are
 * crc32_le seeded with ~0. A reader checks magic, then version, then the
 * CRCs, then every count, offset and length against the range, and that no
 * two files' data overlap, before using any of it.
 */
#ifndef _LIVEUPDATE_HANDOVER_FORMAT_H
#define _LIVEUPDATE_HANDOVER_FORMAT_H

#include <linux/types.h>

/* "LUOSTOCK" read as a little-endian u64. */
#define LUO_HANDOVER_MAGIC	0x4b434f54534f554cULL
#define LUO_HANDOVER_VERSION	1

/* Written by the outgoing kernel as its very last step. */
#define LUO_STATE_COMMITTED	0x434f4d4dU	/* "MMOC" */
/* Written by the first kernel that loads it: never load it twice. */
#define LUO_STATE_CLAIMED	0x434c4149U	/* "IALC" */

#define LUO_FILE_TYPE_MEMFD	1

/* Every record and every file's data starts on this boundary. */
#define LUO_HANDOVER_ALIGN	8

/**
 * struct luo_handover_header - start of the reserved range
 * @magic:       %LUO_HANDOVER_MAGIC; anything else means "no handover".
 * @version:     %LUO_HANDOVER_VERSION.
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
 * struct luo_ser_file - one preserved file
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
