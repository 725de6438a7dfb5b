/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: checking a handover before anything in it is used
 * (handover_check.c). Builds in the module and, with handover_user.h, as
 * plain userspace C for the fuzz target (tests/fuzz/).
 */
#ifndef _LIVEUPDATE_HANDOVER_CHECK_H
#define _LIVEUPDATE_HANDOVER_CHECK_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include "handover_user.h"
#endif

#include "handover_format.h"

enum luo_status {
	LUO_STATUS_NONE,	/* nothing handed over */
	LUO_STATUS_PENDING,	/* committed, not loaded yet */
	LUO_STATUS_LOADED,
	LUO_STATUS_CONSUMED,	/* an earlier boot loaded it already */
	LUO_STATUS_CORRUPT,
	LUO_STATUS_VERSION,	/* another format version */
};

/* What a check found: the status to report and, if refused, why. */
struct luo_verdict {
	enum luo_status status;
	const char *why;
};

/* One file's data: where it is in the range, for the overlap check. */
struct luo_extent {
	u64 off;
	u64 size;
};

/*
 * A handover being loaded: the header and the metadata are copied out of the
 * range once and only these copies are checked and used, so nothing can
 * change between check and use. Only file data is read in place.
 */
struct luo_image {
	u32 version;		/* LUO_FORMAT_V1 or LUO_FORMAT_V2 */
	struct luo_handover_header hdr;	/* format 1 */
	struct luo_header_v2 hdr2;	/* format 2 */
	void *meta;		/* meta_size bytes, kvmalloc()ed */
	struct luo_extent *ext;	/* format 1: nr_files, kvmalloc()ed */
	u64 meta_off;		/* where the metadata is in the range */
	u64 meta_size;
	u64 used;		/* format 1: bytes; format 2: the range size */
	u64 nr_sessions;
	u64 nr_files;
	u32 commit_us;
	u64 sequence;
};

/*
 * Walking a checked image's records, in order: a session, then its files.
 * Format 1 file records are struct luo_ser_file (@v1); format 2 ones carry
 * a payload for their handler.
 */
struct luo_cursor {
	const struct luo_image *img;
	u64 off;
	u32 files_left;
};

struct luo_record {
	const struct luo_ser_session *session;	/* set for a session */
	u64 token;
	u32 type;
	const void *payload;			/* format 2 */
	u32 payload_size;
	const struct luo_ser_file *v1;		/* format 1 */
};

bool luo_refuse(struct luo_verdict *v, const char *why);
u32 luo_header_crc(const struct luo_handover_header *hdr);
u32 luo_header_v2_crc(const struct luo_header_v2 *hdr);
u32 luo_data_crc(const void *data, u64 size);
int luo_handover_check(const void *base, u64 size, struct luo_image *img,
		       struct luo_verdict *v);
void luo_image_free(struct luo_image *img);
void luo_cursor_init(struct luo_cursor *c, const struct luo_image *img);
bool luo_cursor_next(struct luo_cursor *c, struct luo_record *r);

#endif /* _LIVEUPDATE_HANDOVER_CHECK_H */
