/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: a preserved file's pages, for the file handlers: the outgoing
 * calls are pages_out.c's, the incoming ones pages_in.c's.
 *
 * The handler keeps what its file type needs (memfd: size, seals, name) and
 * lets pages_out.c and pages_in.c keep the pages, as upstream's handlers let KHO keep them.
 * Two kinds of files (shmem_like.c, for memfd.c and hugetlb.c): shmem and
 * hugetlbfs (@huge):
 * hugetlb pages are never swapped, migrated or taken over, and are
 * restored by copying into huge pages the new file allocates first.
 *
 *
 *   outgoing  luo_pages_preserve()   pin what lies in the range
 *             luo_pages_room()       data pages to reserve
 *             luo_pages_prepare()    move work out of the kexec
 *             luo_pages_serialize()  inside the kexec: the extents
 *             luo_pages_unpreserve() undo all of it
 *   incoming  luo_pages_load()       claim the extents' pages
 *             luo_pages_restore()    take them over or copy them, resumable
 *             luo_pages_drop()       give back what was not restored
 *
 * The structs are the handler's to embed and the data path's to fill: a handler
 * reads none of their fields.
 */
#ifndef _LIVEUPDATE_PAGES_H
#define _LIVEUPDATE_PAGES_H

#include <linux/fs.h>
#include <linux/types.h>

#include "memfd_format.h"

struct luo_writer;
struct luo_take_unit;

/**
 * struct luo_pages_out - an outgoing file's pages
 * @pinned:      for each file page, the page pinned in the range, or NULL;
 *               NULL when none is.
 * @npages:      file pages (the size is frozen).
 * @size:        the file's size, for the log.
 * @nr_pinned:   pages pinned.
 * @unevictable: the mapping was made unevictable here.
 * @pre:         extents made before the kexec, or NULL (the commit walks
 *               the page cache then): a write-sealed file's, made at
 *               PRESERVE_FD (its pages copied into the range then, and
 *               those already there), or, for a file whose every page is
 *               pinned in the range, its pages where they are.
 * @nr_pre:      extents in @pre.
 * @verify:      @pre lists pinned pages of a file that can still lose them
 *               (a hole punched through an fd opened before PRESERVE_FD):
 *               the commit checks each is still the file's before using it.
 * @seals:       the inode's F_SEAL_* (shmem's or hugetlbfs's field).
 * @huge:        a hugetlbfs file: no swap, no migration.
 */
struct luo_pages_out {
	struct page **pinned;
	u64 npages;
	u64 size;
	u64 nr_pinned;
	bool unevictable;
	struct luo_memfd_extent *pre;
	u32 nr_pre;
	bool verify;
	const unsigned int *seals;
	bool huge;
};

/**
 * struct luo_pages_in - an incoming file's pages
 * @ext:        its extents (checked; in the handler's payload copy).
 * @nr_extents: extents in @ext.
 * @size:       the file's size.
 * @v1:         format 1: the data in the range, else NULL.
 * @v1_off:     format 1: the data's offset in the range.
 * @next_ext:   copying: the first extent not yet restored.
 * @units:      taking over: the extents cut into units, with their
 *              progress (made at the first restore; a resumed restore
 *              skips what is done).
 * @nr_units:   entries in @units.
 * @checked:    taking over: one bit per extent whose checksum was verified
 *              (or that has none).
 * @started:    a restore is under way into the caller's file.
 * @given:      that restore takes pages over (fixed at its start).
 * @direct:     the give round under way takes the direct route
 *              (luo_ram_direct()), not shmem placeholders.
 * @done:       restored; the range pages are given or released.
 * @huge_order: a hugetlbfs file: the order of its pages (restored by
 *              copying into pages allocated ahead); 0: shmem.
 * @folios:     copying into a hugetlbfs file: its folios by huge page
 *              (kept, with @huge_done, when a signal interrupts it).
 * @huge_done:  copying into a hugetlbfs file: one bit per extent copied
 *              and checked.
 */
struct luo_pages_in {
	const struct luo_memfd_extent *ext;
	u32 nr_extents;
	u64 size;
	const void *v1;
	u64 v1_off;
	u32 next_ext;
	struct luo_take_unit *units;
	u32 nr_units;
	unsigned long *checked;
	bool started;
	bool given;
	bool direct;
	bool done;
	unsigned int huge_order;
	struct folio **folios;
	unsigned long *huge_done;
};

int luo_pages_preserve(struct luo_pages_out *out,
		       struct address_space *mapping, u64 size,
		       const unsigned int *seals, bool huge);
u64 luo_pages_room(const struct luo_pages_out *out, bool punchable);
void luo_pages_prepare(struct luo_pages_out *out, struct file *file,
		       bool punchable, u64 *reserved);
void luo_pages_unpreserve(struct luo_pages_out *out,
			  struct address_space *mapping);
int luo_pages_serialize(struct luo_pages_out *out, struct file *file,
			struct luo_writer *w, u32 *nr_extents);

u64 luo_pages_range(void);
int luo_pages_load(struct luo_pages_in *in,
		   const struct luo_memfd_extent *ext, u32 nr, u64 size,
		   unsigned int huge_order);
void luo_pages_load_v1(struct luo_pages_in *in, u64 off, u64 size);
int luo_pages_restore(struct luo_pages_in *in, struct file *file);
bool luo_pages_resumable(const struct luo_pages_in *in);
void luo_pages_drop(struct luo_pages_in *in);

#endif /* _LIVEUPDATE_PAGES_H */
