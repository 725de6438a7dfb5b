// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: /dev/liveupdate and the module's entry points.
 */

/**
 * DOC: /dev/liveupdate
 *
 * The device gives stock kernels the upstream Live Update Orchestrator
 * interface. It has one opener at a time (EBUSY otherwise): the live update
 * agent. Its two ioctls create an outgoing session or retrieve an incoming
 * one; everything else happens on the session fds they return, which live on
 * their own once returned.
 *
 * The first open in a boot loads what the previous kernel handed over. If
 * that fails for lack of memory, the open fails with ENOMEM and the next one
 * tries again. A handover that is absent or fails validation is not an
 * error: there are simply no incoming sessions.
 *
 * Both ioctl tables follow the upstream argument protocol: the command number
 * selects the entry (EINVAL outside the table), the first u32 of the argument
 * is its size (EFAULT if it cannot be read), the full command word must
 * match (ENOTTY), a size below the last field the command needs is EINVAL,
 * and bytes beyond what the module knows must be zero (E2BIG). As upstream,
 * there are no 32-bit compat ioctls (ENOTTY).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/uaccess.h>

#include "internal.h"

/**
 * luo_ucmd_get_size() - read the size word of an ioctl argument
 * @ucmd: the call; @ubuf and @usize are set.
 * @arg:  the ioctl argument.
 *
 * Return: 0, or -EFAULT.
 */
int luo_ucmd_get_size(struct luo_ucmd *ucmd, unsigned long arg)
{
	ucmd->ubuf = (void __user *)arg;
	if (get_user(ucmd->usize, (u32 __user *)ucmd->ubuf))
		return -EFAULT;
	return 0;
}

/**
 * luo_ucmd_copy_in() - copy an ioctl argument in, by the size protocol
 * @ucmd:     the call; @ucmd->cmd points at @ksize bytes.
 * @ksize:    the module's struct size.
 * @min_size: end of the last field the command needs.
 *
 * Return: 0, -EINVAL if the size is too small, -E2BIG if bytes past @ksize
 * are not zero, -EFAULT.
 */
int luo_ucmd_copy_in(struct luo_ucmd *ucmd, size_t ksize, size_t min_size)
{
	if (ucmd->usize < min_size)
		return -EINVAL;
	return copy_struct_from_user(ucmd->cmd, ksize, ucmd->ubuf,
				     ucmd->usize);
}

/**
 * luo_ucmd_respond() - copy an ioctl argument back out
 * @ucmd:  the call.
 * @ksize: the module's struct size; min(@ksize, usize) bytes are copied.
 *
 * Return: 0, or -EFAULT.
 */
int luo_ucmd_respond(struct luo_ucmd *ucmd, size_t ksize)
{
	if (copy_to_user(ucmd->ubuf, ucmd->cmd, min_t(size_t, ksize, ucmd->usize)))
		return -EFAULT;
	return 0;
}

/**
 * luo_install_fd() - give userspace an fd for @file as part of a reply
 * @ucmd:     the call whose reply carries the fd.
 * @ksize:    the module's struct size.
 * @fd_field: where the reply holds the fd.
 * @file:     the file; on success its reference moves to the fd table.
 *
 * The fd is close-on-exec and only installed once the reply reached
 * userspace, so a failed reply never leaves a stray fd behind. The reply
 * writes user memory, which may fault for as long as userspace likes
 * (userfaultfd): the caller must not hold luo_lock.
 *
 * Return: 0, or -errno with @file's reference still owned by the caller.
 */
int luo_install_fd(struct luo_ucmd *ucmd, size_t ksize, s32 *fd_field,
		   struct file *file)
{
	int ret;

	lockdep_assert_not_held(&luo_lock);
	if (WARN_ON_ONCE(ucmd->fd < 0))
		return -EBADF;
	*fd_field = ucmd->fd;
	ret = luo_ucmd_respond(ucmd, ksize);
	if (ret)
		return ret;
	fd_install(ucmd->fd, file);
	ucmd->fd = -1;
	return 0;
}

/**
 * luo_ucmd_reserve_fd() - reserve the fd a reply will carry
 * @ucmd: the call.
 *
 * Handlers that return an fd call this before anything else, as upstream
 * does, so that a full fd table (EMFILE) wins over every other error.
 *
 * Return: 0, or -EMFILE.
 */
int luo_ucmd_reserve_fd(struct luo_ucmd *ucmd)
{
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd < 0)
		return fd;
	ucmd->fd = fd;
	return 0;
}

/**
 * luo_ucmd_release_fd() - give back a reserved fd nothing was installed in
 * @ucmd: the call, after its handler returned.
 */
void luo_ucmd_release_fd(struct luo_ucmd *ucmd)
{
	if (ucmd->fd >= 0)
		put_unused_fd(ucmd->fd);
	ucmd->fd = -1;
}

/*
 * Serialises opening and closing the device, and so loading the handover,
 * which checks the whole range: luo_lock stays free for the sessions.
 */
static DEFINE_MUTEX(luo_device_lock);
static bool luo_device_busy;

static int luo_device_open(struct inode *inode, struct file *file)
{
	int ret;

	if (mutex_lock_killable(&luo_device_lock))
		return -EINTR;
	ret = luo_device_busy ? -EBUSY : luo_handover_load();
	if (!ret) {
		luo_device_busy = true;
		ret = nonseekable_open(inode, file);
	}
	mutex_unlock(&luo_device_lock);
	return ret;
}

static int luo_device_release(struct inode *inode, struct file *file)
{
	guard(mutex)(&luo_device_lock);
	luo_device_busy = false;
	return 0;
}

union luo_device_cmd {
	struct liveupdate_ioctl_create_session create;
	struct liveupdate_ioctl_retrieve_session retrieve;
};

struct luo_device_op {
	unsigned int cmd;
	unsigned int size;
	unsigned int min_size;
	int (*fn)(struct luo_ucmd *ucmd);
};

#define LUO_DEVICE_OP(_cmd, _fn, _struct, _last)			\
	{							\
		.cmd = _cmd,						\
		.size = sizeof(_struct) +				\
			BUILD_BUG_ON_ZERO(sizeof(union luo_device_cmd) <	\
					  sizeof(_struct)),		\
		.min_size = offsetofend(_struct, _last),		\
		.fn = _fn,						\
	}

/* In command-number order: the number indexes the table. */
static const struct luo_device_op luo_device_ops[] = {
	LUO_DEVICE_OP(LIVEUPDATE_IOCTL_CREATE_SESSION, luo_session_create,
		      struct liveupdate_ioctl_create_session, name),
	LUO_DEVICE_OP(LIVEUPDATE_IOCTL_RETRIEVE_SESSION, luo_session_retrieve,
		      struct liveupdate_ioctl_retrieve_session, name),
};

static long luo_device_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	const struct luo_device_op *op;
	union luo_device_cmd buf;
	struct luo_ucmd ucmd = { .cmd = &buf, .fd = -1 };
	unsigned int nr = _IOC_NR(cmd);
	int ret;

	if (nr - LIVEUPDATE_CMD_BASE >= ARRAY_SIZE(luo_device_ops))
		return -EINVAL;
	ret = luo_ucmd_get_size(&ucmd, arg);
	if (ret)
		return ret;
	op = &luo_device_ops[nr - LIVEUPDATE_CMD_BASE];
	if (op->cmd != cmd)
		return -ENOTTY;
	ret = luo_ucmd_copy_in(&ucmd, op->size, op->min_size);
	if (ret)
		return ret;
	ret = op->fn(&ucmd);
	luo_ucmd_release_fd(&ucmd);
	return ret;
}

static const struct file_operations luo_device_fops = {
	.owner		= THIS_MODULE,
	.open		= luo_device_open,
	.release	= luo_device_release,
	.unlocked_ioctl	= luo_device_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice luo_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "liveupdate",
	.fops	= &luo_device_fops,
	.mode	= 0600,
};

/*
 * Built against headers without CONFIG_LIVEUPDATE but loaded into a kernel
 * with it, the device would clash: look for it before registering ours.
 */
static bool luo_device_exists(void)
{
	struct path path;

	if (kern_path("/sys/class/misc/liveupdate", 0, &path))
		return false;
	path_put(&path);
	return true;
}

static int __init luo_init(void)
{
	int ret;

	if (LUO_KERNEL_HAS_LUO || luo_device_exists()) {
		pr_err("this kernel already has /dev/liveupdate (its own Live Update Orchestrator); use it instead of this module\n");
		return -EEXIST;
	}

	ret = luo_handover_init();
	if (ret)
		return ret;

	ret = misc_register(&luo_miscdev);
	if (ret) {
		pr_err("cannot register /dev/liveupdate: %d\n", ret);
		luo_handover_exit();
		return ret;
	}
	return 0;
}

static void __exit luo_exit(void)
{
	misc_deregister(&luo_miscdev);
	scoped_guard(mutex, &luo_lock)
		luo_session_drop_incoming();
	luo_handover_exit();
	luo_memfd_exit();
}

module_init(luo_init);
module_exit(luo_exit);

MODULE_DESCRIPTION("Live Update Orchestrator for kernels without KHO");
MODULE_LICENSE("GPL");
