/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: which range (range.c), for the store (store.c).
 * Layers: docs/design.md.
 */
#ifndef _LIVEUPDATE_RANGE_H
#define _LIVEUPDATE_RANGE_H

#include <linux/types.h>

int luo_range_find(u64 *addr, u64 *size);
int luo_read_file(const char *path, char *buf, size_t len);

#endif /* _LIVEUPDATE_RANGE_H */
