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
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/reboot.h>
#include <linux/string.h>

#include "compat.h"
#include "engine.h"
#include "file.h"
#include "handler.h"
#include "lock.h"
#include "ram.h"
#include "session.h"
#include "store.h"
#include "ucmd.h"

/**
 * luo_load() - load what the previous kernel handed over
 *
 * Called at every open of /dev/liveupdate, never twice at once (the device
 * serialises its opens); does its work once per boot. The store checks the
 * handover; the sessions are built from it; their files are restored later,
 * one by one, at RETRIEVE_FD.
 *
 * Return: 0 (also when there was nothing, or nothing valid), or -ENOMEM if
 * the sessions could not be built; the handover stays pending and the next
 * call tries again.
 */
static int luo_load(void)
{
	struct luo_verdict v = { .status = LUO_STATUS_LOADED };
	struct luo_image img = {};
	u64 nr_s = 0, nr_f = 0;
	ktime_t start, checked;
	int ret;

	if (luo_store_status() != LUO_STATUS_PENDING)
		return 0;
	start = ktime_get();
	ret = luo_store_check(&img, &v);
	if (!ret) {
		checked = ktime_get();
		ret = luo_session_build_incoming(&img, &v, &nr_s, &nr_f);
		if (!ret)
			luo_store_loaded(&img, ktime_us_delta(checked, start),
					 ktime_us_delta(ktime_get(), checked),
					 nr_s, nr_f);
		else if (ret == -EINVAL)
			ret = 1;
	}
	luo_image_free(&img);
	if (ret < 0) {
		pr_err("cannot load the handover (%d); the next open of /dev/liveupdate tries again\n",
		       ret);
		return ret;
	}
	if (ret)
		luo_store_refused(v.status, v.why);
	return 0;
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
	ret = luo_device_busy ? -EBUSY : luo_load();
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

/* A name is 1..63 bytes followed by a NUL inside the 64-byte field. */
static bool luo_name_valid(const u8 *name)
{
	size_t len = strnlen(name, LIVEUPDATE_SESSION_NAME_LENGTH);

	return len > 0 && len < LIVEUPDATE_SESSION_NAME_LENGTH;
}

/*
 * What CREATE_SESSION and RETRIEVE_SESSION share: the fd reserved first (as
 * upstream: EMFILE wins), the name checked (@bad_name for one that cannot
 * exist), the session's file from @get, and the fd installed once the reply
 * reached userspace; a file userspace never got goes back to the session
 * layer (an outgoing session is dropped, an incoming one stays retrievable).
 */
static int luo_ioctl_session_fd(struct luo_ucmd *ucmd, size_t ksize,
				const u8 *name, s32 *fd, int bad_name,
				struct file *(*get)(const char *name))
{
	struct file *file;
	int ret;

	ret = luo_ucmd_reserve_fd(ucmd);
	if (ret)
		return ret;
	if (!luo_name_valid(name))
		return bad_name;
	file = get((const char *)name);
	if (IS_ERR(file))
		return PTR_ERR(file);
	/* The reply goes to user memory, which can take forever: unlocked. */
	ret = luo_ucmd_install_fd(ucmd, ksize, fd, file);
	if (ret)
		luo_session_unretrieve(file);
	return ret;
}

/*
 * LIVEUPDATE_IOCTL_CREATE_SESSION. Returns 0 with the new session's fd in
 * the reply, or -EINVAL (bad name), -EEXIST (an outgoing session has that
 * name), -ENOSPC (no handover space for one more session), -ENOMEM,
 * -EMFILE, -EFAULT.
 */
static int luo_ioctl_create_session(struct luo_ucmd *ucmd)
{
	struct liveupdate_ioctl_create_session *arg = ucmd->cmd;

	return luo_ioctl_session_fd(ucmd, sizeof(*arg), arg->name, &arg->fd,
				    -EINVAL, luo_session_create);
}

/*
 * LIVEUPDATE_IOCTL_RETRIEVE_SESSION. Returns 0 with the session's fd in the
 * reply, or -ENOENT (no incoming session of that name, an empty or
 * unterminated name included, as upstream's plain lookup gives), -EINVAL
 * (already retrieved), -ENOMEM, -EMFILE, -EFAULT; a session whose reply
 * faulted stays retrievable.
 */
static int luo_ioctl_retrieve_session(struct luo_ucmd *ucmd)
{
	struct liveupdate_ioctl_retrieve_session *arg = ucmd->cmd;

	return luo_ioctl_session_fd(ucmd, sizeof(*arg), arg->name, &arg->fd,
				    -ENOENT, luo_session_retrieve);
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
	[_IOC_NR(_cmd) - LIVEUPDATE_CMD_BASE] = {			\
		.cmd = _cmd,						\
		.size = sizeof(_struct) +				\
			BUILD_BUG_ON_ZERO(sizeof(union luo_device_cmd) <	\
					  sizeof(_struct)),		\
		.min_size = offsetofend(_struct, _last),		\
		.fn = _fn,						\
	}

/* Indexed by command number, so order and numbers cannot disagree. */
static const struct luo_device_op luo_device_ops[] = {
	LUO_DEVICE_OP(LIVEUPDATE_IOCTL_CREATE_SESSION, luo_ioctl_create_session,
		      struct liveupdate_ioctl_create_session, name),
	LUO_DEVICE_OP(LIVEUPDATE_IOCTL_RETRIEVE_SESSION, luo_ioctl_retrieve_session,
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

/* Inside reboot(LINUX_REBOOT_CMD_KEXEC): hand the outgoing sessions over. */
static void luo_commit(void)
{
	struct luo_writer w;
	u64 nr_s, nr_f;

	luo_store_commit_lock();
	scoped_guard(mutex, &luo_lock) {
		if (!luo_store_commit_begin(&w)) {
			luo_session_serialize_all(&w, &nr_s, &nr_f);
			luo_store_commit_end(&w, nr_s, nr_f);
		}
	}
	luo_store_commit_unlock();
}

/*
 * Whether a kexec image is loaded. kernel_kexec() refuses to run without
 * one, but reboot(LINUX_REBOOT_CMD_RESTART2, "kexec reboot") passes the
 * same string to a plain firmware restart. Read on a private sysfs mount:
 * the caller's /sys may be missing or not the kernel's (a container).
 * Unknown counts as loaded.
 */
static bool luo_kexec_loaded(void)
{
	char buf[8];

	if (luo_sysfs_read("kernel/kexec_loaded", buf, sizeof(buf)))
		return true;
	return buf[0] != '0';
}

static int luo_reboot_notify(struct notifier_block *nb, unsigned long code,
			     void *cmd)
{
	/* kernel_kexec() passes this exact string, with an image loaded. */
	if (code != SYS_RESTART || !cmd || strcmp(cmd, "kexec reboot"))
		return NOTIFY_DONE;
	if (!luo_kexec_loaded()) {
		pr_warn("restart called \"kexec reboot\" without a kexec image loaded: not a kexec, nothing handed over\n");
		return NOTIFY_DONE;
	}
	luo_commit();
	return NOTIFY_DONE;
}

static struct notifier_block luo_reboot_nb = {
	.notifier_call = luo_reboot_notify,
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

	ret = luo_handlers_init();
	if (ret)
		goto err_handlers;
	ret = luo_store_init();
	if (ret)
		goto err_handlers;
	ret = register_reboot_notifier(&luo_reboot_nb);
	if (ret)
		goto err_store;
	ret = misc_register(&luo_miscdev);
	if (ret) {
		pr_err("cannot register /dev/liveupdate: %d\n", ret);
		goto err_notifier;
	}
	return 0;

err_notifier:
	unregister_reboot_notifier(&luo_reboot_nb);
err_store:
	luo_store_exit();
err_handlers:
	luo_file_exit();
	return ret;
}

static void __exit luo_exit(void)
{
	misc_deregister(&luo_miscdev);
	unregister_reboot_notifier(&luo_reboot_nb);
	scoped_guard(mutex, &luo_lock)
		luo_session_drop_incoming();
	luo_store_exit();
	luo_file_exit();
	luo_engine_exit();
}

module_init(luo_init);
module_exit(luo_exit);

MODULE_DESCRIPTION("Live Update Orchestrator for kernels without KHO");
MODULE_LICENSE("GPL");
