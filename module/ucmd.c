// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: ioctl argument plumbing, shared by the device's and the
 * sessions' ioctl tables.
 *
 * Both follow the upstream argument protocol: the first u32 of the argument
 * is its size (EFAULT if it cannot be read), a size below the last field the
 * command needs is EINVAL, and bytes beyond what the module knows must be
 * zero (E2BIG). An fd a reply carries is reserved first (so EMFILE wins) and
 * installed only once the reply reached userspace.
 */

#include <linux/file.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "lock.h"
#include "ucmd.h"

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
 * luo_ucmd_install_fd() - give userspace an fd for @file as part of a reply
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
int luo_ucmd_install_fd(struct luo_ucmd *ucmd, size_t ksize, s32 *fd_field,
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
