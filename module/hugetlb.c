// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: the hugetlb file handler (memfds made with MFD_HUGETLB).
 */

/**
 * DOC: hugetlb handler
 *
 * Accepts unlinked regular files of hugetlbfs: memfd_create(MFD_HUGETLB),
 * of any huge page size the kernel has, and O_TMPFILE on a hugetlbfs
 * mount. SysV shared memory (SHM_HUGETLB, a private inode) is refused.
 *
 * Carried over: contents (huge pages never written stay holes), size, file
 * position (sampled at kexec), seals and the huge page size. Not carried:
 * inode number, owner, mode, the hugetlb cgroup the pages were charged to.
 *
 * While preserved, ftruncate() and truncate() of the file refuse another
 * size with EPERM: the inode's operations are switched to a copy of
 * hugetlbfs's whose setattr checks (shmem_like.c, the base this handler
 * shares with memfd.c). The file operations stay hugetlbfs's own (the
 * kernel recognises a hugetlb file by them: mmap, F_ADD_SEALS), so two ways to grow the file remain: a
 * fallocate() past its size and a writable mmap() past its size. Neither
 * can harm the handover: only the size frozen at PRESERVE_FD is carried,
 * and room is reserved for all of it.
 *
 * Pages: hugetlb pages do not lie in the range, so pages_out.c copies them into
 * it on every CPU at the kexec (a write-sealed file at PRESERVE_FD), with
 * a checksum per extent, as for a shmem memfd's pages.
 *
 * Restore, at the first RETRIEVE_FD: a new file is made on a hugetlbfs
 * mount of the same page size the module keeps (made at the first restore
 * of that size), named "memfd:NAME" as memfd_create() names it and of the
 * same size; pages_in.c allocates the huge pages that held data with
 * fallocate() in the caller's context (charged to it and its hugetlb
 * cgroup; a short pool gives ENOMEM, and the handed-over data stays for
 * the next call) and copies the data in on every CPU the caller may use.
 * Then the file gets the seals and position.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hugetlb.h>
#include <linux/magic.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/sched/task.h>
#include <linux/string.h>

#include "handover_format.h"
#include "shmem_like.h"

static struct luo_shm_kind luo_hugetlb_kind;

/* hugetlbfs mounts the module made, one per huge page shift. */
static struct vfsmount *luo_hugetlb_mnt[LUO_HUGE_SHIFT_MAX + 1];
static DEFINE_MUTEX(luo_hugetlb_mnt_lock);

static int luo_hugetlb_setattr(LUO_IDMAP *idmap, struct dentry *dentry,
			       struct iattr *attr)
{
	return luo_shm_setattr(&luo_hugetlb_kind, idmap, dentry, attr);
}

/*
 * At module unload: restored files keep the mounts they live on alive
 * (each holds a reference).
 */
static void luo_hugetlb_exit(void)
{
	int i;

	for (i = 0; i <= LUO_HUGE_SHIFT_MAX; i++)
		if (luo_hugetlb_mnt[i])
			kern_unmount(luo_hugetlb_mnt[i]);
	luo_shm_exit(&luo_hugetlb_kind);
}

static bool luo_hugetlb_can_preserve(struct file *file)
{
	struct inode *inode = file_inode(file);

	return inode->i_sb->s_magic == HUGETLBFS_MAGIC &&
	       S_ISREG(inode->i_mode) && !inode->i_nlink && !IS_PRIVATE(inode);
}

static unsigned int *luo_hugetlb_seals(struct inode *inode)
{
	return &HUGETLBFS_I(inode)->seals;
}

static void luo_hugetlb_fill(void *ser, const struct luo_shm_hdr *h,
			     struct inode *inode)
{
	struct luo_hugetlb_ser *hs = ser;

	hs->page_shift = cpu_to_le32(huge_page_shift(hstate_inode(inode)));
	hs->size = cpu_to_le64(h->size);
	hs->pos = cpu_to_le64(h->pos);
	hs->seals = cpu_to_le32(h->seals);
	hs->name_len = cpu_to_le32(h->name_len);
	hs->nr_extents = cpu_to_le32(h->nr_extents);
}

/* --- the next kernel ---------------------------------------------------- */

/*
 * The module's hugetlbfs mount for huge pages of 1 << @shift bytes, made at
 * the first call: a kernel mount (no namespace, no user can reach it), its
 * root writable by all so that any caller can make its file there.
 * -EOPNOTSUPP if this kernel has no such huge page size.
 */
static struct vfsmount *luo_hugetlb_mount(u32 shift)
{
	struct file_system_type *type;
	const struct cred *old;
	struct vfsmount *mnt;
	struct cred *kcred;
	char opts[48];

	guard(mutex)(&luo_hugetlb_mnt_lock);
	if (luo_hugetlb_mnt[shift])
		return luo_hugetlb_mnt[shift];
	type = get_fs_type("hugetlbfs");
	if (!type)
		return ERR_PTR(-EOPNOTSUPP);
	kcred = prepare_kernel_cred(&init_task);
	if (!kcred) {
		module_put(type->owner);
		return ERR_PTR(-ENOMEM);
	}
	snprintf(opts, sizeof(opts), "pagesize=%llu,mode=1777", 1ULL << shift);
	/* Made as the kernel's, not as the first caller's (its user ns). */
	old = override_creds(kcred);
	mnt = vfs_kern_mount(type, SB_KERNMOUNT, type->name, opts);
	revert_creds(old);
	put_cred(kcred);
	/* put_filesystem() is not exported; this is all it does. */
	module_put(type->owner);
	if (IS_ERR(mnt)) {
		pr_warn_ratelimited("no hugetlbfs of %llu KiB pages on this kernel (%ld)\n",
				    (1ULL << shift) >> 10, PTR_ERR(mnt));
		return ERR_PTR(-EOPNOTSUPP);
	}
	luo_hugetlb_mnt[shift] = mnt;
	return mnt;
}

/*
 * A new hugetlb file as memfd_create(MFD_HUGETLB) makes it: unlinked,
 * named "memfd:NAME", sized, seekable; no huge page allocated yet. The
 * inode comes from an O_TMPFILE (hugetlbfs makes inodes no other way a
 * module can reach); the file is then a pseudo file on it, as
 * hugetlb_file_setup() makes, so that /proc shows the same name.
 */
static struct file *luo_hugetlb_new(const struct luo_shm_in *in)
{
	char name[LUO_MEMFD_NAME_MAX + 1];
	struct file *tmp __free(fput) = NULL;
	struct vfsmount *mnt;
	struct inode *inode;
	struct file *file;
	struct path root;

	mnt = luo_hugetlb_mount(in->shift);
	if (IS_ERR(mnt))
		return ERR_CAST(mnt);
	root.mnt = mnt;
	root.dentry = mnt->mnt_root;
	tmp = file_open_root(&root, ".", O_TMPFILE | O_RDWR | O_LARGEFILE, 0600);
	if (IS_ERR(tmp))
		return ERR_CAST(no_free_ptr(tmp));
	inode = file_inode(tmp);
	luo_shm_restore_name(name, &in->m);
	/* The pseudo file's dentry takes this reference. */
	ihold(inode);
	file = alloc_file_pseudo(inode, mnt, name, O_RDWR | O_LARGEFILE,
				 tmp->f_op);
	if (IS_ERR(file)) {
		iput(inode);
		return file;
	}
	file->f_mode |= LUO_MEMFD_FMODE;
	/* Nobody else has the inode yet. As hugetlb_file_setup(): 0777. */
	inode_lock(inode);
	inode->i_mode = S_IFREG | 0777;
	i_size_write(inode, in->m.size);
	inode_unlock(inode);
	return file;
}

static struct luo_shm_kind luo_hugetlb_kind = {
	.handler = {
		.type		= LUO_FILE_TYPE_HUGETLB,
		.name		= "hugetlb memfd",
		.can_preserve	= luo_hugetlb_can_preserve,
		.exit		= luo_hugetlb_exit,
	},
	.huge		= true,
	.ser_size	= sizeof(struct luo_hugetlb_ser),
	.fill		= luo_hugetlb_fill,
	.seals		= luo_hugetlb_seals,
	.new_file	= luo_hugetlb_new,
	.setattr	= luo_hugetlb_setattr,
};

/**
 * luo_hugetlb_register() - register the hugetlb handler (module init)
 *
 * Return: luo_shm_register()'s.
 */
int luo_hugetlb_register(void)
{
	return luo_shm_register(&luo_hugetlb_kind);
}
