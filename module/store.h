/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: the store (store.c, store_commit.c) for the layers above it:
 * status, the handover check and load, reservations, the commit and its
 * metadata writer. Its page functions are in
 * store_pages.h (the data path's alone). Layers: docs/design.md.
 */
#ifndef _LIVEUPDATE_STORE_H
#define _LIVEUPDATE_STORE_H

#include <linux/types.h>
#include <uapi/linux/liveupdate.h>

#include "handover_check.h"

/**
 * struct luo_writer - the commit's metadata cursor
 * @page: the metadata area's first range page (what the header names).
 * @base: the metadata area, in the range's mapping at the commit's start.
 * @off:  bytes written.
 * @size: bytes the area has.
 */
struct luo_writer {
	u64 page;
	void *base;
	u64 off;
	u64 size;
};

int luo_store_init(void);
void luo_store_exit(void);
enum luo_status luo_store_status(void);
int luo_store_check(struct luo_image *img, struct luo_verdict *v);
void luo_store_loaded(const struct luo_image *img, s64 check_us,
		      s64 build_us, u64 nr_sessions, u64 nr_files);
void luo_store_refused(enum luo_status status, const char *why);

bool luo_store_committed(void);

struct kernel_param;
int luo_param_set_readonly(const char *val, const struct kernel_param *kp);

int luo_store_reserve(u64 meta, u64 pages);
void luo_store_unreserve(u64 meta, u64 pages);

void luo_store_commit_lock(void);
void luo_store_commit_unlock(void);
int luo_store_commit_begin(struct luo_writer *w);
void luo_store_commit_end(struct luo_writer *w, u64 nr_sessions,
			  u64 nr_files);

#endif /* _LIVEUPDATE_STORE_H */
