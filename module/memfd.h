/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: what the memfd handler (memfd.c) shares with the hugetlb
 * handler (hugetlb.c): the name a memfd carries and the payload's copy.
 */
#ifndef _LIVEUPDATE_MEMFD_H
#define _LIVEUPDATE_MEMFD_H

#include <linux/fs.h>
#include <linux/types.h>

#include "internal.h"
#include "memfd_check.h"
#include "pages.h"

u64 luo_memfd_meta(size_t hdr, u64 size, struct file *file);
void *luo_memfd_ser_add(struct luo_writer *w, size_t hdr, struct file *file,
			u32 *name_len);
void *luo_memfd_payload_load(const void *payload, u32 size,
			     struct luo_memfd_payload *m, u32 *shift,
			     struct luo_pages_in *pages);
void luo_memfd_restore_name(char name[LUO_MEMFD_NAME_MAX + 1],
			    const struct luo_memfd_payload *m);

#endif /* _LIVEUPDATE_MEMFD_H */
