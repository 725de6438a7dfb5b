/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: ioctl argument plumbing (ucmd.c), for the device's and the
 * sessions' ioctl tables (device.c, session.c). Layers: docs/design.md.
 */
#ifndef _LIVEUPDATE_UCMD_H
#define _LIVEUPDATE_UCMD_H

#include <linux/compiler_types.h>
#include <linux/fs.h>
#include <linux/types.h>

/**
 * struct luo_ucmd - one ioctl call's argument
 * @ubuf:  the user pointer.
 * @usize: the size userspace announced in the first u32.
 * @cmd:   kernel copy of the argument.
 * @fd:    an fd reserved for the reply (luo_ucmd_reserve_fd()), or -1; the
 *         dispatcher releases it if the handler did not install it.
 */
struct luo_ucmd {
	void __user *ubuf;
	u32 usize;
	void *cmd;
	int fd;
};

int luo_ucmd_get_size(struct luo_ucmd *ucmd, unsigned long arg);
int luo_ucmd_copy_in(struct luo_ucmd *ucmd, size_t ksize, size_t min_size);
int luo_ucmd_respond(struct luo_ucmd *ucmd, size_t ksize);
int luo_ucmd_reserve_fd(struct luo_ucmd *ucmd);
void luo_ucmd_release_fd(struct luo_ucmd *ucmd);
int luo_ucmd_install_fd(struct luo_ucmd *ucmd, size_t ksize, s32 *fd_field,
			struct file *file);

#endif /* _LIVEUPDATE_UCMD_H */
