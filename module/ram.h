/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: the reserved range as RAM the module manages (ram.c).
 */
#ifndef _LIVEUPDATE_RAM_H
#define _LIVEUPDATE_RAM_H

#include <linux/fs.h>
#include <linux/types.h>

int luo_ram_probe(u64 addr, u64 size);
int luo_ram_add(u64 addr, u64 size);
bool luo_ram_added(void);
int luo_ram_give(struct file *file, pgoff_t index, unsigned long pfn);
bool luo_ram_contains(unsigned long pfn);

#endif /* _LIVEUPDATE_RAM_H */
