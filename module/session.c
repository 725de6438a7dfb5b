// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdate: sessions.
 */

/**
 * DOC: Sessions
 *
 * A session is a named group of preserved files, represented in userspace by
 * an anonymous-inode fd named "[luo_session] NAME".
 *
 * Outgoing sessions are created with CREATE_SESSION at any time and live
 * exactly as long as their fd: closing it unpreserves everything in it.
 * Whatever outgoing sessions exist when the kernel kexecs are handed over.
 *
 * Incoming sessions are what the previous kernel handed over. Each can be
 * retrieved once by name; its files are then retrieved by token. FINISH, or
 * closing the retrieved fd, ends the session and drops files nobody
 * retrieved. Incoming sessions never retrieved are not carried further.
 *
 * Outgoing and incoming sessions are kept apart, so the same name may exist
 * once in each. There is no limit on their number besides the space the
 * handover has for their records.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/stringhash.h>

#include "internal.h"

/* Serialises all sessions, files and the commit at kexec. */
DEFINE_MUTEX(luo_lock);

#define LUO_SESSION_HASH_BITS	10

static DEFINE_HASHTABLE(luo_outgoing_hash, LUO_SESSION_HASH_BITS);
static DEFINE_HASHTABLE(luo_incoming_hash, LUO_SESSION_HASH_BITS);
LIST_HEAD(luo_outgoing);
static LIST_HEAD(luo_incoming);

static u32 luo_name_hash(const char *name)
{
	return full_name_hash(NULL, name, strlen(name));
}

static struct luo_session *luo_session_find(bool incoming, const char *name)
{
	struct luo_session *s;
	u32 key = luo_name_hash(name);

	if (incoming) {
		hash_for_each_possible(luo_incoming_hash, s, hnode, key)
			if (!strcmp(s->name, name))
				return s;
	} else {
		hash_for_each_possible(luo_outgoing_hash, s, hnode, key)
			if (!strcmp(s->name, name))
				return s;
	}
	return NULL;
}

static struct luo_session *luo_session_alloc(const char *name, bool incoming)
{
	/* On behalf of the caller (or the opener, for incoming ones). */
	struct luo_session *s = kzalloc_obj(*s, GFP_KERNEL_ACCOUNT);

	if (!s)
		return NULL;
	strscpy(s->name, name, sizeof(s->name));
	mutex_init(&s->mutex);
	s->files = RB_ROOT;
	INIT_LIST_HEAD(&s->file_list);
	s->incoming = incoming;
	if (incoming) {
		hash_add(luo_incoming_hash, &s->hnode, luo_name_hash(name));
		list_add_tail(&s->list, &luo_incoming);
	} else {
		hash_add(luo_outgoing_hash, &s->hnode, luo_name_hash(name));
		list_add_tail(&s->list, &luo_outgoing);
	}
	return s;
}

/* Takes a session out of its name hash and list. Caller holds luo_lock. */
static void luo_session_unlink(struct luo_session *s)
{
	hash_del(&s->hnode);
	list_del(&s->list);
}

static void luo_session_free(struct luo_session *s)
{
	luo_session_unlink(s);
	mutex_destroy(&s->mutex);
	kfree(s);
}

/* Drops an outgoing session and everything preserved in it. */
static void luo_session_destroy_outgoing(struct luo_session *s)
{
	luo_file_unpreserve_all(s);
	luo_handover_unreserve(s->reserved);
	luo_session_free(s);
}

/*
 * Ends an incoming session's handover; its unretrieved files are dropped.
 * Caller holds s->mutex.
 */
static void luo_session_finish(struct luo_session *s)
{
	lockdep_assert_held(&s->mutex);
	if (!s->finished) {
		luo_file_drop_all(s);
		s->finished = true;
	}
}

static int luo_session_release(struct inode *inode, struct file *file)
{
	struct luo_session *s = file->private_data;

	if (!s)
		return 0;

	if (s->incoming) {
		scoped_guard(mutex, &s->mutex)
			luo_session_finish(s);
		scoped_guard(mutex, &luo_lock)
			luo_session_free(s);
		return 0;
	}

	/*
	 * Out of sight first (the kexec commit no longer sees it, its name is
	 * free), then its files one by one, without holding luo_lock for all.
	 */
	scoped_guard(mutex, &luo_lock) {
		luo_session_unlink(s);
		luo_handover_unreserve(s->reserved);
	}
	luo_file_unpreserve_all_unlocked(s);
	mutex_destroy(&s->mutex);
	kfree(s);
	return 0;
}

static int luo_session_preserve_fd(struct luo_session *s, struct luo_ucmd *ucmd)
{
	struct liveupdate_session_preserve_fd *arg = ucmd->cmd;
	int ret;

	/* Takes luo_lock itself, not while the file's inode lock is awaited. */
	ret = luo_file_preserve(s, arg->token, arg->fd);
	if (ret)
		return ret;
	/* As upstream: the reply is written back; the file stays preserved. */
	return luo_ucmd_respond(ucmd, sizeof(*arg));
}

static int luo_session_retrieve_fd(struct luo_session *s, struct luo_ucmd *ucmd)
{
	struct liveupdate_session_retrieve_fd *arg = ucmd->cmd;
	struct file *file;
	int ret;

	ret = luo_ucmd_reserve_fd(ucmd);	/* as upstream: EMFILE first */
	if (ret)
		return ret;
	/* Killable: the first retrieve of a file restores it, which takes a while. */
	if (mutex_lock_killable(&s->mutex))
		return -EINTR;
	file = s->finished ? ERR_PTR(-ENOENT) : luo_file_retrieve(s, arg->token);
	mutex_unlock(&s->mutex);
	if (IS_ERR(file))
		return PTR_ERR(file);
	/* The reply goes to user memory, which can take forever: unlocked. */
	ret = luo_install_fd(ucmd, sizeof(*arg), &arg->fd, file);
	if (ret)
		fput(file);
	return ret;
}

static int luo_session_finish_ioctl(struct luo_session *s,
				    struct luo_ucmd *ucmd)
{
	struct liveupdate_session_finish *arg = ucmd->cmd;

	if (arg->reserved)
		return -EINVAL;
	if (mutex_lock_killable(&s->mutex))
		return -EINTR;
	luo_session_finish(s);
	mutex_unlock(&s->mutex);
	/* As upstream: the reply is written back; the session stays finished. */
	return luo_ucmd_respond(ucmd, sizeof(*arg));
}

static int luo_session_get_name(struct luo_session *s, struct luo_ucmd *ucmd)
{
	struct liveupdate_session_get_name *arg = ucmd->cmd;

	if (arg->reserved)
		return -EINVAL;
	/* As upstream: bytes after the NUL are the caller's own. */
	strscpy(arg->name, s->name, sizeof(arg->name));
	return luo_ucmd_respond(ucmd, sizeof(*arg));
}

/* Which sessions an op applies to. */
enum luo_session_kind {
	LUO_OUTGOING,
	LUO_INCOMING,
	LUO_ANY,
};

union luo_session_cmd {
	struct liveupdate_session_preserve_fd preserve;
	struct liveupdate_session_retrieve_fd retrieve;
	struct liveupdate_session_finish finish;
	struct liveupdate_session_get_name get_name;
};

struct luo_session_op {
	unsigned int cmd;
	unsigned int size;
	unsigned int min_size;
	enum luo_session_kind kind;
	int (*fn)(struct luo_session *s, struct luo_ucmd *ucmd);
};

#define LUO_SESSION_OP(_cmd, _fn, _struct, _last, _kind)		\
	{							\
		.cmd = _cmd,						\
		.size = sizeof(_struct) +				\
			BUILD_BUG_ON_ZERO(sizeof(union luo_session_cmd) < \
					  sizeof(_struct)),		\
		.min_size = offsetofend(_struct, _last),		\
		.kind = _kind,						\
		.fn = _fn,						\
	}

/* In command-number order: the number indexes the table. */
static const struct luo_session_op luo_session_ops[] = {
	LUO_SESSION_OP(LIVEUPDATE_SESSION_PRESERVE_FD, luo_session_preserve_fd,
		       struct liveupdate_session_preserve_fd, token,
		       LUO_OUTGOING),
	LUO_SESSION_OP(LIVEUPDATE_SESSION_RETRIEVE_FD, luo_session_retrieve_fd,
		       struct liveupdate_session_retrieve_fd, token,
		       LUO_INCOMING),
	LUO_SESSION_OP(LIVEUPDATE_SESSION_FINISH, luo_session_finish_ioctl,
		       struct liveupdate_session_finish, reserved,
		       LUO_INCOMING),
	LUO_SESSION_OP(LIVEUPDATE_SESSION_GET_NAME, luo_session_get_name,
		       struct liveupdate_session_get_name, name, LUO_ANY),
};

static bool luo_session_kind_ok(const struct luo_session *s,
				enum luo_session_kind kind)
{
	switch (kind) {
	case LUO_OUTGOING:
		return !s->incoming;
	case LUO_INCOMING:
		return s->incoming;
	default:
		return true;
	}
}

static long luo_session_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct luo_session *s = file->private_data;
	const struct luo_session_op *op;
	union luo_session_cmd buf;
	struct luo_ucmd ucmd = { .cmd = &buf, .fd = -1 };
	unsigned int nr = _IOC_NR(cmd);
	int ret;

	if (nr - LIVEUPDATE_CMD_SESSION_BASE >= ARRAY_SIZE(luo_session_ops))
		return -EINVAL;
	ret = luo_ucmd_get_size(&ucmd, arg);
	if (ret)
		return ret;
	op = &luo_session_ops[nr - LIVEUPDATE_CMD_SESSION_BASE];
	if (op->cmd != cmd)
		return -ENOTTY;
	if (!luo_session_kind_ok(s, op->kind))
		return -EINVAL;
	ret = luo_ucmd_copy_in(&ucmd, op->size, op->min_size);
	if (ret)
		return ret;
	/*
	 * Each op takes luo_lock itself and never while it reads or writes
	 * user memory: a reply to a page that faults slowly (userfaultfd) must
	 * stall only its own caller. GET_NAME needs no lock: names never change.
	 */
	ret = op->fn(s, &ucmd);
	luo_ucmd_release_fd(&ucmd);
	return ret;
}

/* As upstream: not seekable (ESPIPE), no 32-bit compat ioctls (ENOTTY). */
static const struct file_operations luo_session_fops = {
	.owner		= THIS_MODULE,
	.release	= luo_session_release,
	.unlocked_ioctl	= luo_session_ioctl,
};

static struct file *luo_session_getfile(struct luo_session *s)
{
	char *name __free(kfree) = kasprintf(GFP_KERNEL_ACCOUNT,
					     "[luo_session] %s", s->name);

	if (!name)
		return ERR_PTR(-ENOMEM);
	return anon_inode_getfile(name, &luo_session_fops, s, O_RDWR);
}

/* A name is 1..63 bytes followed by a NUL inside the 64-byte field. */
static bool luo_session_name_valid(const u8 *name)
{
	size_t len = strnlen(name, LIVEUPDATE_SESSION_NAME_LENGTH);

	return len > 0 && len < LIVEUPDATE_SESSION_NAME_LENGTH;
}

/**
 * luo_session_create() - LIVEUPDATE_IOCTL_CREATE_SESSION
 * @ucmd: the call, holding a struct liveupdate_ioctl_create_session.
 *
 * Return: 0 with the new session's fd in the reply, or -EINVAL (bad name),
 * -EEXIST (an outgoing session has that name), -ENOSPC (no handover space
 * for one more session), -ENOMEM, -EMFILE, -EFAULT.
 */
int luo_session_create(struct luo_ucmd *ucmd)
{
	struct liveupdate_ioctl_create_session *arg = ucmd->cmd;
	const char *name = (const char *)arg->name;
	struct luo_session *s;
	struct file *file;
	int ret;

	ret = luo_ucmd_reserve_fd(ucmd);	/* as upstream: EMFILE first */
	if (ret)
		return ret;
	if (!luo_session_name_valid(arg->name))
		return -EINVAL;

	scoped_guard(mutex, &luo_lock) {
		if (luo_session_find(false, name))
			return -EEXIST;
		ret = luo_handover_reserve(luo_session_cost());
		if (ret)
			return ret;
		s = luo_session_alloc(name, false);
		if (!s) {
			luo_handover_unreserve(luo_session_cost());
			return -ENOMEM;
		}
		s->reserved = luo_session_cost();

		file = luo_session_getfile(s);
		if (IS_ERR(file)) {
			luo_session_destroy_outgoing(s);
			return PTR_ERR(file);
		}
	}

	/* The reply goes to user memory, which can take forever: unlocked. */
	ret = luo_install_fd(ucmd, sizeof(*arg), &arg->fd, file);
	if (ret) {
		/* Nobody saw the session: drop it now, not on the async fput. */
		file->private_data = NULL;
		scoped_guard(mutex, &luo_lock)
			luo_session_destroy_outgoing(s);
		fput(file);
	}
	return ret;
}

/**
 * luo_session_retrieve() - LIVEUPDATE_IOCTL_RETRIEVE_SESSION
 * @ucmd: the call, holding a struct liveupdate_ioctl_retrieve_session.
 *
 * Return: 0 with the session's fd in the reply, or -ENOENT (no incoming
 * session of that name, an empty or unterminated name included, as
 * upstream's plain lookup gives), -EINVAL (already retrieved), -ENOMEM,
 * -EMFILE, -EFAULT.
 */
int luo_session_retrieve(struct luo_ucmd *ucmd)
{
	struct liveupdate_ioctl_retrieve_session *arg = ucmd->cmd;
	struct luo_session *s;
	struct file *file;
	int ret;

	ret = luo_ucmd_reserve_fd(ucmd);	/* as upstream: EMFILE first */
	if (ret)
		return ret;
	/* No such name can exist; the hash below needs the NUL. */
	if (!luo_session_name_valid(arg->name))
		return -ENOENT;

	scoped_guard(mutex, &luo_lock) {
		s = luo_session_find(true, (const char *)arg->name);
		if (!s)
			return -ENOENT;
		if (s->retrieved)
			return -EINVAL;
		file = luo_session_getfile(s);
		if (IS_ERR(file))
			return PTR_ERR(file);
		s->retrieved = true;
	}

	/* The reply goes to user memory, which can take forever: unlocked. */
	ret = luo_install_fd(ucmd, sizeof(*arg), &arg->fd, file);
	if (ret) {
		/* The session stays retrievable: closing this must not finish it. */
		file->private_data = NULL;
		fput(file);
		scoped_guard(mutex, &luo_lock)
			s->retrieved = false;
	}
	return ret;
}

/**
 * luo_session_add_incoming() - record a session the previous kernel handed over
 * @name: its name, already validated.
 *
 * Caller holds luo_lock.
 *
 * Return: the session, ERR_PTR(-EEXIST) if an incoming session already has
 * that name, or ERR_PTR(-ENOMEM).
 */
struct luo_session *luo_session_add_incoming(const char *name)
{
	struct luo_session *s;

	if (luo_session_find(true, name))
		return ERR_PTR(-EEXIST);
	s = luo_session_alloc(name, true);
	return s ?: ERR_PTR(-ENOMEM);
}

/**
 * luo_session_drop_incoming() - forget incoming sessions nobody retrieved
 *
 * Used when a handover turns out unusable halfway through loading, and when
 * the module goes away (a retrieved session pins the module through its fd,
 * so only unretrieved ones can be left then): nobody else can reach their
 * files. Caller holds luo_lock.
 */
void luo_session_drop_incoming(void)
{
	struct luo_session *s, *tmp;

	list_for_each_entry_safe(s, tmp, &luo_incoming, list) {
		luo_file_drop_all(s);
		luo_session_free(s);
		cond_resched();
	}
}
