// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: placeholder until the range-as-RAM layer lands: zero-copy is
 * reported unavailable and memfds are restored by copying.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/printk.h>

#include "ram.h"

int luo_ram_probe(u64 addr, u64 size)
{
	pr_info("zero-copy unavailable in this build: memfds are restored by copying\n");
	return -EOPNOTSUPP;
}

int luo_ram_add(u64 addr, u64 size)
{
	return -EOPNOTSUPP;
}

bool luo_ram_added(void)
{
	return false;
}

int luo_ram_give(struct file *file, pgoff_t index, unsigned long pfn)
{
	return -EOPNOTSUPP;
}

bool luo_ram_contains(unsigned long pfn)
{
	return false;
}
