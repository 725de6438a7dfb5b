/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: what handover_check.c needs from the kernel, for building it
 * as userspace C (tests/fuzz/). Little-endian hosts only.
 */
#ifndef _LIVEUPDATE_HANDOVER_USER_H
#define _LIVEUPDATE_HANDOVER_USER_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#if __BYTE_ORDER != __LITTLE_ENDIAN
#error "handover_user.h: little-endian hosts only"
#endif

typedef __u8 u8;
typedef __u32 u32;
typedef __u64 u64;

#define le32_to_cpu(x)	((u32)(x))
#define le64_to_cpu(x)	((u64)(x))
#define SZ_1M		0x00100000
#define GFP_KERNEL_ACCOUNT 0
#define __GFP_NOWARN 0
#define min_t(type, a, b) ({ type _a = (a), _b = (b); _a < _b ? _a : _b; })
#define cond_resched()	do { } while (0)
#define pr_err(...)	do { } while (0)

static inline void *kvmalloc(size_t n, int gfp)
{
	(void)gfp;
	return malloc(n);
}

static inline void *kvmalloc_array(size_t n, size_t size, int gfp)
{
	(void)gfp;
	return n > SIZE_MAX / size ? NULL : malloc(n * size);
}

static inline void kvfree(void *p)
{
	free(p);
}

static inline void sort(void *base, size_t num, size_t size,
			int (*cmp)(const void *, const void *), void *swap)
{
	(void)swap;
	qsort(base, num, size, cmp);
}

/* The kernel's crc32_le(): reflected 0xedb88320, no pre- or post-inversion. */
static inline u32 crc32_le(u32 crc, const void *p, size_t len)
{
	static u32 table[256];
	const u8 *b = p;

	if (!table[1]) {
		for (u32 i = 0; i < 256; i++) {
			u32 c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0xedb88320U : c >> 1;
			table[i] = c;
		}
	}
	while (len--)
		crc = (crc >> 8) ^ table[(crc ^ *b++) & 0xff];
	return crc;
}

#endif /* _LIVEUPDATE_HANDOVER_USER_H */
