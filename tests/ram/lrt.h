/* SPDX-License-Identifier: GPL-2.0 */
/* tests/ram: the test module's ioctls (throwaway harness for module/ram.c) */
#ifndef _LRT_H
#define _LRT_H

#include <linux/ioctl.h>
#include <linux/types.h>

struct lrt_arg {
	__u64 addr;	/* physical start of a range */
	__u64 size;	/* bytes */
	__u64 first;	/* GIVE/CHECK: first page of the range to give, or pfn (PEEK) */
	__u64 nr;	/* GIVE/CHECK: pages; out: CHECK: pages in place */
	__u64 ns;	/* out: time the kernel side took */
	__u64 val;	/* out: PEEK: first 8 bytes of the page */
	__s32 fd;	/* out: GIVE: fd of the new shmem file; in: GIVE1/CHECK */
	__s32 pad;
};

#define LRT_WRITE	_IOWR('L', 1, struct lrt_arg)	/* fill range with pattern */
#define LRT_PROBE	_IOWR('L', 2, struct lrt_arg)
#define LRT_ADD		_IOWR('L', 3, struct lrt_arg)
#define LRT_GIVE	_IOWR('L', 4, struct lrt_arg)	/* new file, give nr pages */
#define LRT_GIVE1	_IOWR('L', 5, struct lrt_arg)	/* give pfn first to fd at index nr */
#define LRT_CHECK	_IOWR('L', 6, struct lrt_arg)	/* count indexes whose page is range page */
#define LRT_PEEK	_IOWR('L', 9, struct lrt_arg)

/* The word at 8-byte offset w of the range page pfn, as LRT_WRITE writes it. */
static inline __u64 lrt_pattern(__u64 pfn, __u64 w)
{
	return ((pfn << 9) | w) ^ 0x6c7552414d746573ULL;
}

#endif
