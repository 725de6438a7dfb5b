/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: the base of the shmem-like file handlers (shmem_like.c), which
 * memfd.c and hugetlb.c both use and neither calls the other: a file of an
 * in-memory filesystem whose page cache is its data, its size frozen while
 * preserved by a copy of its inode operations whose setattr refuses another
 * size, carried as a memfd-type payload (header, name, extents: pages.h) and
 * restored into a new file of the same name, size, seals and position.
 *
 * A handler fills a struct luo_shm_kind (type, name, can_preserve and exit
 * in its handler table, and what differs) and registers it with
 * luo_shm_register(), which puts the base's operations in the table.
 */
#ifndef _LIVEUPDATE_SHMEM_LIKE_H
#define _LIVEUPDATE_SHMEM_LIKE_H

#include <linux/fs.h>
#include <linux/types.h>

#include "compat.h"
#include "handler.h"
#include "memfd_check.h"
#include "pages.h"

/**
 * struct luo_shm_hdr - a payload header's fields, in CPU order
 * @size:       the size frozen at PRESERVE_FD.
 * @pos:        the file position, sampled at kexec.
 * @seals:      the inode's F_SEAL_*.
 * @name_len:   bytes of name after the header.
 * @nr_extents: extents after the name.
 */
struct luo_shm_hdr {
	u64 size;
	u64 pos;
	u32 seals;
	u32 name_len;
	u32 nr_extents;
};

/**
 * struct luo_shm_in - an incoming shmem-like file, from its payload
 * @m:       the checked payload (pointers into @payload).
 * @shift:   a huge kind's: log2 of its huge page size.
 * @payload: a copy of the payload.
 * @pages:   its pages (pages_in.c).
 * @file:    a restore under way, resumed at the next retrieve.
 */
struct luo_shm_in {
	struct luo_memfd_payload m;
	u32 shift;
	void *payload;
	struct luo_pages_in pages;
	struct file *file;
};

/**
 * struct luo_shm_kind - one shmem-like handler: what differs
 * @handler:     its table; luo_shm_register() sets the operations the base
 *               does (all but can_preserve, load_v1 and exit).
 * @huge:        hugetlbfs: huge pages (payload with a page shift, never
 *               swapped, so no reader), any fd can punch holes (room for
 *               every page), unpreserve waits for the inode lock.
 * @ser_size:    its payload header's size.
 * @fill:        write @h (and what else it carries) into the header @ser.
 * @seals:       the inode's F_SEAL_* field.
 * @new_file:    a new, empty file for @in (name, size), or ERR_PTR.
 * @setattr:     its inode operations' setattr: calls luo_shm_setattr() with
 *               this kind.
 * @setup:       optional, once, under the base's lock before the copy of
 *               the inode operations is published: make @frozen_fops from
 *               the first file preserved (and set @orig_fops).
 * @orig_iops:   the filesystem's inode operations (set by the base).
 * @frozen_iops: their copy with @setattr (set by the base), or NULL.
 * @orig_fops:   optional: the file operations a frozen inode's i_fop and
 *               the preserved file are switched from...
 * @frozen_fops: ...and to, for good (they pass through once unfrozen).
 */
struct luo_shm_kind {
	struct luo_file_handler handler;
	bool huge;
	size_t ser_size;
	void (*fill)(void *ser, const struct luo_shm_hdr *h, struct inode *inode);
	unsigned int *(*seals)(struct inode *inode);
	struct file *(*new_file)(const struct luo_shm_in *in);
	int (*setattr)(LUO_IDMAP *idmap, struct dentry *dentry,
		       struct iattr *attr);
	int (*setup)(struct file *file);
	const struct inode_operations *orig_iops;
	const struct inode_operations *frozen_iops;
	const struct file_operations *orig_fops;
	const struct file_operations *frozen_fops;
};

bool luo_shm_frozen(const struct luo_shm_kind *k, struct inode *inode);
int luo_shm_setattr(struct luo_shm_kind *k, LUO_IDMAP *idmap,
		    struct dentry *dentry, struct iattr *attr);
void luo_shm_restore_name(char name[LUO_MEMFD_NAME_MAX + 1],
			  const struct luo_memfd_payload *m);
int luo_shm_register(struct luo_shm_kind *k);
void luo_shm_exit(struct luo_shm_kind *k);

#endif /* _LIVEUPDATE_SHMEM_LIKE_H */
