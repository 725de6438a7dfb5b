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
 * hugetlbfs's whose setattr checks, as memfd.c does for shmem. The file
 * operations stay hugetlbfs's own (the kernel recognises a hugetlb file by
 * them: mmap, F_ADD_SEALS), so two ways to grow the file remain: a
 * fallocate() past its size and a writable mmap() past its size. Neither
 * can harm the handover: only the size frozen at PRESERVE_FD is carried,
 * and room is reserved for all of it.
 *
 * Pages: hugetlb pages do not lie in the range, so pages.c copies them into
 * it on every CPU at the kexec (a write-sealed file at PRESERVE_FD), with
 * a checksum per extent, as for a shmem memfd's pages.
 *
 * Restore, at the first RETRIEVE_FD: a new file is made on a hugetlbfs
 * mount of the same page size the module keeps (made at the first restore
 * of that size), named "memfd:NAME" as memfd_create() names it and of the
 * same size; pages.c allocates the huge pages that held data with
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
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/string.h>

#include "memfd.h"

#define LUO_HUGETLB_SEALS	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | \
				 F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | \
				 F_SEAL_EXEC)

/*
 * hugetlbfs's inode operations and the copy that freezes the size. Set
 * once, at the first PRESERVE_FD of a hugetlb file; freed at module unload.
 */
static const struct inode_operations *luo_hugetlbfs_iops;
static const struct inode_operations *luo_hugetlb_frozen;

/* Callers inside luo_hugetlb_setattr(), which unload waits for. */
DEFINE_STATIC_SRCU(luo_hugetlb_srcu);

/* hugetlbfs mounts the module made, one per huge page shift. */
static struct vfsmount *luo_hugetlb_mnt[LUO_HUGE_SHIFT_MAX + 1];
static DEFINE_MUTEX(luo_hugetlb_mnt_lock);

static bool luo_hugetlb_frozen_inode(struct inode *inode)
{
	return luo_hugetlb_frozen && READ_ONCE(inode->i_op) == luo_hugetlb_frozen;
}

static int luo_hugetlb_setattr(LUO_IDMAP *idmap, struct dentry *dentry,
			       struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int idx, ret;

	idx = srcu_read_lock(&luo_hugetlb_srcu);
	/* The caller holds i_rwsem: the size is stable. */
	if ((attr->ia_valid & ATTR_SIZE) && luo_hugetlb_frozen_inode(inode) &&
	    attr->ia_size != i_size_read(inode))
		ret = -EPERM;
	else
		ret = luo_hugetlbfs_iops->setattr(idmap, dentry, attr);
	srcu_read_unlock(&luo_hugetlb_srcu, idx);
	return ret;
}

/* Makes the copy from the first hugetlb file preserved. */
static int luo_hugetlb_make_frozen_ops(struct inode *inode)
{
	int (**setattr)(LUO_IDMAP *idmap, struct dentry *dentry,
			struct iattr *attr);
	static DEFINE_MUTEX(lock);
	void *frozen;

	guard(mutex)(&lock);
	if (luo_hugetlb_frozen)
		return 0;
	/* A copy made to be patched: written through its member's address. */
	frozen = kmemdup(inode->i_op, sizeof(*inode->i_op), GFP_KERNEL);
	if (!frozen)
		return -ENOMEM;
	setattr = frozen + offsetof(typeof(*inode->i_op), setattr);
	*setattr = luo_hugetlb_setattr;
	luo_hugetlbfs_iops = inode->i_op;
	/* Lockless readers see the copy only once it and the table are set. */
	smp_store_release(&luo_hugetlb_frozen, frozen);
	return 0;
}

/**
 * luo_hugetlb_exit() - free what the handler allocated, at module unload
 *
 * Every preserved file was unpreserved before the module could go, so no
 * inode has the copied operations; a task that loaded the copy's setattr
 * just before is waited for as in luo_memfd_exit(). Restored files keep
 * the mounts they live on alive (each holds a reference).
 *
 * Context: module unload.
 */
void luo_hugetlb_exit(void)
{
	int i;

	for (i = 0; i <= LUO_HUGE_SHIFT_MAX; i++)
		if (luo_hugetlb_mnt[i])
			kern_unmount(luo_hugetlb_mnt[i]);
	if (!luo_hugetlb_frozen)
		return;
	synchronize_rcu_tasks();
	synchronize_srcu(&luo_hugetlb_srcu);
	synchronize_rcu_tasks();
	kfree(luo_hugetlb_frozen);
}

static bool luo_hugetlb_can_preserve(struct file *file)
{
	struct inode *inode = file_inode(file);

	return inode->i_sb->s_magic == HUGETLBFS_MAGIC &&
	       S_ISREG(inode->i_mode) && !inode->i_nlink && !IS_PRIVATE(inode);
}

/**
 * struct luo_hugetlb_in - an incoming hugetlb file, from its payload
 * @m:       the checked payload (pointers into @payload).
 * @shift:   log2 of its huge page size.
 * @payload: a copy of the payload.
 * @pages:   its pages (pages.c).
 * @file:    the file a restore a signal interrupted goes on into.
 */
struct luo_hugetlb_in {
	struct luo_memfd_payload m;
	u32 shift;
	void *payload;
	struct luo_pages_in pages;
	struct file *file;
};

static int luo_hugetlb_preserve(struct luo_file *lf)
{
	struct inode *inode = file_inode(lf->file);
	struct luo_pages_out *o __free(kfree) = NULL;
	int ret;

	o = kzalloc_obj(*o, GFP_KERNEL_ACCOUNT);
	if (!o)
		return -ENOMEM;
	ret = luo_hugetlb_make_frozen_ops(inode);
	if (ret)
		return ret;
	if (luo_hugetlb_frozen_inode(inode))
		return -EBUSY;
	/* Only hugetlbfs's own table can be redirected. */
	if (inode->i_op != luo_hugetlbfs_iops)
		return -EOPNOTSUPP;

	if (down_write_killable(&inode->i_rwsem))
		return -EINTR;
	if (HUGETLBFS_I(inode)->seals & ~LUO_HUGETLB_SEALS) {
		inode_unlock(inode);
		return -EOPNOTSUPP;
	}
	lf->size = i_size_read(inode);
	ret = luo_pages_preserve(o, inode->i_mapping, lf->size,
				 &HUGETLBFS_I(inode)->seals, true);
	if (ret) {
		inode_unlock(inode);
		return ret;
	}
	/* Under the lock truncate takes: the size is now final. */
	WRITE_ONCE(inode->i_op, luo_hugetlb_frozen);
	inode_unlock(inode);

	/* Any fd can punch holes (fallocate is hugetlbfs's): room for all. */
	lf->pages = luo_pages_room(o, true);
	lf->meta = luo_memfd_meta(sizeof(struct luo_hugetlb_ser), lf->size,
				  lf->file);
	lf->priv = no_free_ptr(o);
	return 0;
}

/* Moves page work out of the kexec: a write-sealed file is copied now. */
static void luo_hugetlb_prepare(struct luo_file *lf)
{
	luo_pages_prepare(lf->priv, lf->file, true, &lf->pages);
}

static void luo_hugetlb_unpreserve(struct luo_file *lf)
{
	struct inode *inode = file_inode(lf->file);
	struct luo_pages_out *o = lf->priv;

	lf->priv = NULL;
	/* hugetlbfs never holds the inode lock across user memory. */
	inode_lock(inode);
	WRITE_ONCE(inode->i_op, luo_hugetlbfs_iops);
	luo_pages_unpreserve(o, inode->i_mapping);
	inode_unlock(inode);
	kfree(o);
}

static int luo_hugetlb_serialize(struct luo_file *lf, struct luo_writer *w)
{
	struct inode *inode = file_inode(lf->file);
	struct luo_hugetlb_ser *hs;
	u32 name_len, nr;
	int ret;

	hs = luo_memfd_ser_add(w, sizeof(*hs), lf->file, &name_len);
	if (!hs)
		return -ENOSPC;
	hs->size = cpu_to_le64(lf->size);
	hs->pos = cpu_to_le64(READ_ONCE(lf->file->f_pos));
	hs->seals = cpu_to_le32(HUGETLBFS_I(inode)->seals);
	hs->page_shift = cpu_to_le32(huge_page_shift(hstate_inode(inode)));
	hs->name_len = cpu_to_le32(name_len);
	ret = luo_pages_serialize(lf->priv, lf->file, w, &nr);
	if (ret)
		return ret;
	hs->nr_extents = cpu_to_le32(nr);
	return 0;
}

/* --- the next kernel ---------------------------------------------------- */

static int luo_hugetlb_load(struct luo_file *lf, const void *payload, u32 size)
{
	struct luo_hugetlb_in *in = kzalloc_obj(*in, GFP_KERNEL_ACCOUNT);
	void *copy;

	if (!in)
		return -ENOMEM;
	copy = luo_memfd_payload_load(payload, size, &in->m, &in->shift,
				      &in->pages);
	if (IS_ERR(copy)) {
		kfree(in);
		return PTR_ERR(copy);
	}
	in->payload = copy;
	lf->size = in->m.size;
	lf->priv = in;
	return 0;
}

/* Format 1 carried only shmem memfds. */
static int luo_hugetlb_load_v1(struct luo_file *lf, const struct luo_ser_file *f)
{
	return -EINVAL;
}

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
static struct file *luo_hugetlb_new(struct luo_hugetlb_in *in)
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
	luo_memfd_restore_name(name, &in->m);
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

static struct file *luo_hugetlb_retrieve(struct luo_file *lf)
{
	struct luo_hugetlb_in *in = lf->priv;
	struct file *file;
	int ret;

	/* Where an interrupted restore stopped, or a new file. */
	file = in->file ?: luo_hugetlb_new(in);
	in->file = NULL;
	if (IS_ERR(file))
		return file;
	ret = luo_pages_restore(&in->pages, file);
	if (ret) {
		/* A signal: kept for the next call, which goes on. */
		if (luo_pages_resumable(&in->pages))
			in->file = file;
		else
			fput(file);	/* the huge pages go back to the pool */
		return ERR_PTR(ret);
	}
	/* Sealing stays allowed unless the user had F_SEAL_SEAL. */
	HUGETLBFS_I(file_inode(file))->seals = in->m.seals;
	file->f_pos = in->m.pos;
	return file;
}

static void luo_hugetlb_drop(struct luo_file *lf)
{
	struct luo_hugetlb_in *in = lf->priv;

	if (!in)
		return;
	luo_pages_drop(&in->pages);
	if (in->file)
		fput(in->file);
	kfree(in->payload);
	kfree(in);
	lf->priv = NULL;
}

const struct luo_file_handler luo_hugetlb_handler = {
	.type		= LUO_FILE_TYPE_HUGETLB,
	.name		= "hugetlb memfd",
	.can_preserve	= luo_hugetlb_can_preserve,
	.preserve	= luo_hugetlb_preserve,
	.prepare	= luo_hugetlb_prepare,
	.unpreserve	= luo_hugetlb_unpreserve,
	.serialize	= luo_hugetlb_serialize,
	.load		= luo_hugetlb_load,
	.load_v1	= luo_hugetlb_load_v1,
	.retrieve	= luo_hugetlb_retrieve,
	.drop		= luo_hugetlb_drop,
};
