/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: what differs between the kernels the module builds for
 * (Debian's 6.1, 6.12 and 7.x). Everything version-dependent lives here so
 * the layers above are written once.
 */
#ifndef _LIVEUPDATE_COMPAT_H
#define _LIVEUPDATE_COMPAT_H

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <uapi/linux/fcntl.h>

/* struct folio_batch moved out of pagevec.h (gone) in 7.x. */
#if __has_include(<linux/folio_batch.h>)
#include <linux/folio_batch.h>
#else
#include <linux/pagevec.h>
#endif

/* F_SEAL_EXEC arrived in 6.3; older kernels store the bit but never act on it. */
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC	0x0020
#endif

/*
 * memfd_create() marks its files seekable and pread/pwrite-able. 6.5 dropped
 * FMODE_LSEEK (seekability now follows f_op->llseek).
 */
#ifdef FMODE_LSEEK
#define LUO_MEMFD_FMODE	(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE)
#else
#define LUO_MEMFD_FMODE	(FMODE_PREAD | FMODE_PWRITE)
#endif

/*
 * shmem_file_setup() takes vma_flags_t, built with mk_vma_flags(), instead
 * of VM_* bits in 7.x (checked against Debian's 6.12 and 7.2 headers).
 */
#ifdef mk_vma_flags
#define luo_shmem_file_setup(name, size) \
	shmem_file_setup(name, size, mk_vma_flags(VMA_NORESERVE_BIT))
#else
#define luo_shmem_file_setup(name, size) \
	shmem_file_setup(name, size, VM_NORESERVE)
#endif

/*
 * inode_operations.setattr takes a struct mnt_idmap * since 6.3, a struct
 * user_namespace * before. No macro marks the change: Kbuild looks for it
 * in the headers' fs.h and defines LUO_SETATTR_MNT_IDMAP.
 */
#ifdef LUO_SETATTR_MNT_IDMAP
#define LUO_IDMAP	struct mnt_idmap
#else
#define LUO_IDMAP	struct user_namespace
#endif

/* kzalloc_obj() arrived in 7.x; before, the same by sizeof. */
#ifndef kzalloc_obj
#define kzalloc_obj(P, GFP)	kzalloc(sizeof(P), GFP)
#endif

/* An upstream LUO in the kernel already owns /dev/liveupdate. */
#if IS_ENABLED(CONFIG_LIVEUPDATE)
#define LUO_KERNEL_HAS_LUO	1
#else
#define LUO_KERNEL_HAS_LUO	0
#endif

#endif /* _LIVEUPDATE_COMPAT_H */
