/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: checking a memfd's handover payload (memfd_check.c). Builds
 * in the module and, with handover_user.h, as plain userspace C for the
 * fuzz target (tests/fuzz/). A leaf: it needs only the formats.
 */
#ifndef _LIVEUPDATE_MEMFD_CHECK_H
#define _LIVEUPDATE_MEMFD_CHECK_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include "handover_user.h"
#endif

#include "handover_format.h"
#include "memfd_format.h"

/* A format 2 memfd payload, checked. */
struct luo_memfd_payload {
	u64 size;
	u64 pos;
	u32 seals;
	u32 name_len;
	const char *name;			/* in the payload, no NUL */
	u32 nr_extents;
	const struct luo_memfd_extent *ext;	/* in the payload */
};

int luo_memfd_parse(const void *payload, u32 size, u64 range_pages,
		    struct luo_memfd_payload *in);
int luo_hugetlb_parse(const void *payload, u32 size, u64 range_pages,
		      struct luo_memfd_payload *in, u32 *page_shift);
bool luo_memfd_v1_valid(const struct luo_ser_file *f);

#endif /* _LIVEUPDATE_MEMFD_CHECK_H */
