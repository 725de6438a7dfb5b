/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: the reserved range as RAM the module manages, so that a
 * kernel can take preserved pages over into a memfd's page cache without
 * copying them. See ram.c (DOC: section) and docs/zero-copy.md.
 */
#ifndef _LIVEUPDATE_RAM_H
#define _LIVEUPDATE_RAM_H

#include <linux/bits.h>
#include <linux/fs.h>
#include <linux/types.h>

int luo_sysfs_read(const char *path, char *buf, size_t len);
int luo_ram_probe(u64 addr, u64 size);
int luo_ram_add(u64 addr, u64 size);
bool luo_ram_added(void);
bool luo_ram_lost(bool *foreign);
bool luo_ram_fault_armed(void);
/* luo_ram_give() copied the page into a large folio; the page stays kept. */
#define LUO_RAM_COPIED	1

bool luo_ram_count(unsigned long pfn, long nr);
/* luo_ram_give() flags */
#define LUO_RAM_GIVE_COUNTED	BIT(0)	/* luo_ram_count() counted the page */
#define LUO_RAM_GIVE_PARALLEL	BIT(1)	/* other tasks give into the file too */
int luo_ram_give(struct file *file, pgoff_t index, unsigned long pfn,
		 unsigned int flags);
bool luo_ram_direct(void);
struct file *luo_ram_reserve(u64 pages);
void luo_ram_unreserve(struct file *holder, u64 used);
int luo_ram_insert(struct file *file, pgoff_t index, unsigned long pfn,
		   bool counted, struct folio **first);
void luo_ram_account(struct file *file, struct folio *folio, long nr);
int luo_ram_migrate(struct file *file, pgoff_t index, unsigned long pfn);
bool luo_ram_contains(unsigned long pfn);

/* ram.c, for ram_give.c: a kept page claimed for handing out, or back. */
struct page *luo_ram_claim(unsigned long pfn);
void luo_ram_unclaim(unsigned long pfn);

#endif /* _LIVEUPDATE_RAM_H */
