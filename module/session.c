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
#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string_helpers.h>
#include <linux/stringhash.h>
#include <linux/sysfs.h>

#include "compat.h"
#include "file.h"
#include "lock.h"
#include "session.h"
#include "store.h"
#include "ucmd.h"

/* Serialises all sessions, files and the commit at kexec. */
DEFINE_MUTEX(luo_lock);

/**
 * struct luo_session - a named group of preserved files
 * @name:      NUL-terminated name.
 * @hnode:     entry in the outgoing or incoming name hash.
 * @list:      entry in the outgoing or incoming list (creation order).
 * @mutex:     incoming: serialises its files' retrieval (and restoring),
 *             FINISH and close, without luo_lock: restoring a big file
 *             takes seconds.
 * @files:     struct luo_file by token (an rbtree: no memory per token
 *             beyond the file's own node, however sparse the tokens).
 * @file_list: the same files in preservation order.
 * @incoming:  came from the previous kernel.
 * @retrieved: incoming: an fd for it exists (or existed and leaked).
 * @finished:  incoming: FINISH succeeded; no file can be retrieved.
 */
struct luo_session {
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	struct hlist_node hnode;
	struct list_head list;
	struct mutex mutex;	/* see @mutex above */
	struct rb_root files;
	struct list_head file_list;
	bool incoming;
	bool retrieved;
	bool finished;
};

#define LUO_SESSION_HASH_BITS	10

static DEFINE_HASHTABLE(luo_outgoing_hash, LUO_SESSION_HASH_BITS);
static DEFINE_HASHTABLE(luo_incoming_hash, LUO_SESSION_HASH_BITS);
static LIST_HEAD(luo_outgoing);
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

/* Drops an outgoing session nobody saw (it has no files). */
static void luo_session_destroy_outgoing(struct luo_session *s)
{
	luo_store_unreserve(luo_session_cost(), 0);
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
		luo_file_drop_all(&s->file_list, &s->files);
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
		/*
		 * Too late once the handover is written (processes run on
		 * until the machine stops): it lists the files' pages where
		 * they are, so the files, their pins and copies stay as they
		 * are, and so does the session, until the kexec.
		 */
		if (luo_store_committed())
			return 0;
		luo_session_unlink(s);
		luo_store_unreserve(luo_session_cost(), 0);
	}
	luo_file_unpreserve_all_unlocked(&s->file_list);
	mutex_destroy(&s->mutex);
	kfree(s);
	return 0;
}

static int luo_session_preserve_fd(struct luo_session *s, struct luo_ucmd *ucmd)
{
	struct liveupdate_session_preserve_fd *arg = ucmd->cmd;
	int ret;

	/* Takes luo_lock itself, not while the file's inode lock is awaited. */
	ret = luo_file_preserve(&s->file_list, &s->files, arg->token, arg->fd);
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
	file = s->finished ? ERR_PTR(-ENOENT) :
		luo_file_retrieve(&s->files, arg->token, s->name);
	mutex_unlock(&s->mutex);
	if (IS_ERR(file))
		return PTR_ERR(file);
	/* The reply goes to user memory, which can take forever: unlocked. */
	ret = luo_ucmd_install_fd(ucmd, sizeof(*arg), &arg->fd, file);
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
	/*
	 * As upstream 7.2 (measured on 7.2.13): the name and its NUL into
	 * the caller's copied-in argument, whose other bytes go back as the
	 * caller wrote them (strscpy() may zero those in the NUL's word).
	 */
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
	[_IOC_NR(_cmd) - LIVEUPDATE_CMD_SESSION_BASE] = {		\
		.cmd = _cmd,						\
		.size = sizeof(_struct) +				\
			BUILD_BUG_ON_ZERO(sizeof(union luo_session_cmd) < \
					  sizeof(_struct)),		\
		.min_size = offsetofend(_struct, _last),		\
		.kind = _kind,						\
		.fn = _fn,						\
	}

/* Indexed by command number, so order and numbers cannot disagree. */
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

/**
 * luo_session_create() - a new outgoing session
 * @name: its name, 1..63 bytes and a NUL (the core checked).
 *
 * Return: the session's file (the caller installs its fd, or fput()s it,
 * which drops the session), or ERR_PTR(-EEXIST) (an outgoing session has
 * that name), ERR_PTR(-ENOSPC) (no handover space for one more session),
 * ERR_PTR(-ENOMEM).
 */
struct file *luo_session_create(const char *name)
{
	struct luo_session *s;
	struct file *file;
	int ret;

	guard(mutex)(&luo_lock);
	if (luo_session_find(false, name))
		return ERR_PTR(-EEXIST);
	ret = luo_store_reserve(luo_session_cost(), 0);
	if (ret)
		return ERR_PTR(ret);
	s = luo_session_alloc(name, false);
	if (!s) {
		luo_store_unreserve(luo_session_cost(), 0);
		return ERR_PTR(-ENOMEM);
	}
	file = luo_session_getfile(s);
	if (IS_ERR(file))
		luo_session_destroy_outgoing(s);
	return file;
}

/**
 * luo_session_retrieve() - take an incoming session
 * @name: its name, 1..63 bytes and a NUL (the core checked).
 *
 * Return: the session's file, or ERR_PTR(-ENOENT) (no incoming session of
 * that name), ERR_PTR(-EINVAL) (already retrieved), ERR_PTR(-ENOMEM). If
 * the caller cannot give it to userspace, it calls
 * luo_session_unretrieve() instead of fput().
 */
struct file *luo_session_retrieve(const char *name)
{
	struct luo_session *s;
	struct file *file;

	guard(mutex)(&luo_lock);
	s = luo_session_find(true, name);
	if (!s)
		return ERR_PTR(-ENOENT);
	if (s->retrieved)
		return ERR_PTR(-EINVAL);
	file = luo_session_getfile(s);
	if (!IS_ERR(file))
		s->retrieved = true;
	return file;
}

/**
 * luo_session_unretrieve() - give back a session file userspace never got
 * @file: from luo_session_create() or luo_session_retrieve().
 *
 * An outgoing session nobody saw is dropped now, not on the async fput; an
 * incoming one stays retrievable: closing this must not finish it.
 */
void luo_session_unretrieve(struct file *file)
{
	struct luo_session *s = file->private_data;

	file->private_data = NULL;
	scoped_guard(mutex, &luo_lock) {
		if (s->incoming)
			s->retrieved = false;
		else
			luo_session_destroy_outgoing(s);
	}
	fput(file);
}

/* A session the previous kernel handed over; caller holds luo_lock. */
static struct luo_session *luo_session_add_incoming(const char *name)
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

	lockdep_assert_held(&luo_lock);
	list_for_each_entry_safe(s, tmp, &luo_incoming, list) {
		luo_file_drop_all(&s->file_list, &s->files);
		luo_session_free(s);
		cond_resched();
	}
}

/**
 * luo_session_build_incoming() - the incoming sessions of a checked image
 * @img:  an image the store checked.
 * @v:    set to "corrupt" and why, if a record turns out unusable.
 * @nr_s: set to the number of sessions built.
 * @nr_f: set to the number of files.
 *
 * On failure nothing is left built.
 *
 * Return: 0, -ENOMEM (try again later), or -EINVAL (refused: see @v).
 */
int luo_session_build_incoming(const struct luo_image *img,
			       struct luo_verdict *v, u64 *nr_s, u64 *nr_f)
{
	struct luo_session *session = NULL;
	struct luo_cursor c;
	struct luo_record r;
	int ret = 0;

	guard(mutex)(&luo_lock);
	*nr_s = 0;
	*nr_f = 0;
	luo_cursor_init(&c, img);
	while (luo_cursor_next(&c, &r)) {
		if (r.session) {
			session = luo_session_add_incoming((const char *)r.session->name);
			if (IS_ERR(session)) {
				ret = PTR_ERR(session);
				if (ret == -EEXIST)
					luo_refuse(v, "two sessions have the same name");
				break;
			}
			(*nr_s)++;
			cond_resched();
			continue;
		}
		ret = luo_file_load(&session->file_list, &session->files, &r);
		if (ret == -EEXIST)
			luo_refuse(v, "two files of a session have the same token");
		else if (ret == -EADDRINUSE)
			luo_refuse(v, "the data of two files overlap");
		else if (ret && ret != -ENOMEM)
			luo_refuse(v, "invalid file record");
		if (ret)
			break;
		(*nr_f)++;
	}
	if (ret) {
		luo_session_drop_incoming();
		if (ret != -ENOMEM)
			ret = -EINVAL;
	}
	return ret;
}

/**
 * luo_session_serialize_all() - write every outgoing session, inside the kexec
 * @w:    the store's metadata writer.
 * @nr_s: set to the sessions written.
 * @nr_f: set to the files written.
 *
 * A file that cannot be written is logged and left out; its session and
 * the other files are not.
 */
void luo_session_serialize_all(struct luo_writer *w, u64 *nr_s, u64 *nr_f)
{
	struct luo_session *s;
	struct luo_file *lf;

	lockdep_assert_held(&luo_lock);
	*nr_s = 0;
	*nr_f = 0;
	list_for_each_entry(s, &luo_outgoing, list) {
		struct luo_ser_session *ss = luo_writer_add(w, sizeof(*ss));
		u32 n = 0;

		if (!ss) {
			pr_err("session '%s': no room left in the handover's metadata; not handed over\n",
			       s->name);
			continue;
		}
		strscpy_pad(ss->name, s->name, sizeof(ss->name));
		list_for_each_entry(lf, &s->file_list, list) {
			int ret = luo_file_serialize(lf, w);

			if (ret) {
				pr_err("session '%s' token %llu: saving the %s failed (%d); not handed over\n",
				       s->name, lf->token, lf->args.handler->name,
				       ret);
				continue;
			}
			n++;
			cond_resched();
		}
		ss->nr_files = cpu_to_le32(n);
		*nr_f += n;
		(*nr_s)++;
	}
}

/*
 * Introspection: the "sessions" parameter. Root-only and read-only, as
 * "space" and "last_handover".
 */

/* Room kept at the end of the page for "more N\n". */
#define LUO_SESSIONS_MORE_ROOM	32
/* "in " FILES BYTES "unretrieved " NAME (4 bytes per byte at most) "\n" */
#define LUO_SESSIONS_LINE_MAX	(3 + 21 + 21 + 12 + \
				 4 * LIVEUPDATE_SESSION_NAME_LENGTH + 1)

/*
 * Appends @s's line to @buf (a page holding @n bytes) if it fits with room
 * for the "more" line. Caller holds luo_lock and, for an incoming session,
 * its mutex. Return: the bytes appended, 0 if it does not fit.
 */
static int luo_session_emit(char *buf, int n, const struct luo_session *s)
{
	char line[LUO_SESSIONS_LINE_MAX];
	u64 files, bytes;
	int len;

	luo_file_count(&s->file_list, &files, &bytes);
	if (s->incoming)
		len = scnprintf(line, sizeof(line), "in %llu %llu %s ", files,
				bytes, s->finished ? "finished" :
				s->retrieved ? "retrieved" : "unretrieved");
	else
		len = scnprintf(line, sizeof(line), "out %llu %llu ", files,
				bytes);
	/*
	 * Printable ASCII but space and backslash as is; \\, \a, \e, \f, \n,
	 * \r, \t, \v as in C; any other byte as \ooo. %pE cannot do this:
	 * with its "p" flag a backslash passes unescaped.
	 */
	len += string_escape_mem(s->name, strlen(s->name), line + len,
				 sizeof(line) - len - 1,
				 ESCAPE_SPACE | ESCAPE_SPECIAL | ESCAPE_OCTAL |
				 ESCAPE_NAP | ESCAPE_APPEND, " \\");
	line[len++] = '\n';
	if (n + len > PAGE_SIZE - LUO_SESSIONS_MORE_ROOM)
		return 0;
	memcpy(buf + n, line, len);
	return len;
}

/**
 * luo_param_get_sessions() - the outgoing and incoming sessions
 * @buf: the sysfs page.
 * @kp:  the parameter.
 *
 * One line per session, outgoing ones first, each in creation order:
 * "out FILES BYTES NAME" and "in FILES BYTES STATE NAME", STATE one of
 * unretrieved, retrieved, finished. FILES and BYTES are what the session
 * holds now (an incoming session's files are dropped at FINISH): the number
 * of files and the sum of their sizes (outgoing: frozen at PRESERVE_FD;
 * incoming: from the handover). NAME is escaped so that it is one word
 * (see luo_session_emit()). If the page is full, a last line "more N"
 * counts the sessions not shown.
 *
 * Never waits: if luo_lock or an incoming session's mutex is held (a
 * session being created or closed, the commit, the handover being loaded,
 * a file being restored or a session finished), the read fails with
 * -EAGAIN; try again.
 *
 * Return: the bytes in @buf, or -EAGAIN.
 */
static int luo_param_get_sessions(char *buf, const struct kernel_param *kp)
{
	struct luo_session *s;
	struct list_head *lists[] = { &luo_outgoing, &luo_incoming };
	u64 more = 0;
	int i, n = 0, len;

	if (!mutex_trylock(&luo_lock))
		return -EAGAIN;
	for (i = 0; i < ARRAY_SIZE(lists); i++) {
		list_for_each_entry(s, lists[i], list) {
			if (more) {
				more++;
				continue;
			}
			if (s->incoming && !mutex_trylock(&s->mutex)) {
				mutex_unlock(&luo_lock);
				return -EAGAIN;
			}
			len = luo_session_emit(buf, n, s);
			if (s->incoming)
				mutex_unlock(&s->mutex);
			if (!len)
				more++;
			n += len;
		}
	}
	mutex_unlock(&luo_lock);
	if (more)
		n += sysfs_emit_at(buf, n, "more %llu\n", more);
	return n;
}

static const struct kernel_param_ops luo_sessions_ops = {
	.set = luo_param_set_readonly,
	.get = luo_param_get_sessions,
};

module_param_cb(sessions, &luo_sessions_ops, NULL, 0400);
MODULE_PARM_DESC(sessions, "The outgoing and incoming sessions: out FILES BYTES NAME, in FILES BYTES STATE NAME");
