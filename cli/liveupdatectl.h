// SPDX-License-Identifier: GPL-2.0
/*
 * liveupdatectl: what its verbs share. liveupdatectl.c: main(), the verbs'
 * table and their options, errors and file reading; status.c: status and
 * what check reads too; check.c: check; kernels.c: check's kernels and
 * initramfs; sessions.c: check --sessions (who holds a session at the
 * shutdown); hold.c: hold and __keep; get.c: get.
 */
#ifndef LIVEUPDATECTL_H
#define LIVEUPDATECTL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/liveupdate.h>

#include "libliveupdate.h"
#include "sd-notify.h"
#include "crash-point.h"
#include "args.h"

enum {
	EXIT_DONE = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_UNAVAILABLE = 3,
	EXIT_NOTFOUND = 4,
	EXIT_BUSY = 5,
	EXIT_CHECK = 6,
	EXIT_CHECK_UNKNOWN = 7,
};

#define PARAM_DIR "/sys/module/liveupdate/parameters"
/* argv[0] of the process keeping a session get retrieved (cmd_keep()) */
#define KEEPER_GET "@liveupdatectl-get"
enum { OPT_HELP = -3, OPT_BAD = -2 };

#define OPT_DONE(c) ((c) == OPT_HELP ? EXIT_DONE : EXIT_USAGE)

struct status {
	int device;		/* /dev/liveupdate exists */
	const char *provider;	/* "module", "kernel" or "none" */
	char handover[32];	/* handover_status, "" if not the module */
	char addr[32], size[32];
	int have_space;		/* the module's "space" (root-only) was read */
	unsigned long long used, free;
	char last[512];		/* the module's "last_handover", "" if unread */
	int sessions;		/* 1 read, 0 unreadable (not root), -1 busy */
	char sess[8192];	/* the module's "sessions" */
};

/* One line of "sessions", parsed; the name as the module escaped it. */
struct sess_line {
	int in;			/* incoming */
	unsigned long long files, bytes;
	char state[16];		/* incoming: unretrieved, retrieved, finished */
	char name[256];		/* escaped: one word */
};

#define jadd json_object_object_add

enum { CHECK_OK, CHECK_FAIL, CHECK_UNKNOWN };

struct check_count {
	int fail, unknown;
};

#define check_line(n, id, ...) check_line_s(n, id, NULL, __VA_ARGS__)


extern const char *prog;

/* liveupdatectl.c */
void usage(FILE *f);
int usage_error(const char *fmt, ...);
int next_opt(int argc, char **argv, const char *shorts, const struct option *longs);
int fail(int r, const char *fmt, ...);
int open_device(void);
const char *rooted(const char *path);
const char *read_line(const char *path, char *buf, size_t len);
int exists(const char *path);

/* status.c */
int read_sessions(char *buf, size_t len);
int sess_parse(const char **p, struct sess_line *l, unsigned long long *more);
void sess_unescape(const char *s, char *out, size_t len);
void get_status(struct status *st);
struct json_object *jstr(const char *s);
void json_print(struct json_object *doc);
int cmd_status(int argc, char **argv);

/* kernels.c */
int reap(FILE *f, pid_t pid);
int initramfs_has_module(const char *path, char *why, size_t wlen);
const char *kernel_image(const char *kver, char *buf, size_t len);
const char *kernel_initramfs(const char *kver, char *buf, size_t len);
int next_kernel(char *kver, size_t len);

/* check.c */
void check_line_s(struct check_count *n, const char *id, const char *session,
		  int result, const char *what, const char *fmt, ...);
void uname_r(char *kver, size_t len);
int cmd_check(int argc, char **argv);

/* sessions.c */
int run_capture(char *const argv[], char *out, size_t len);
int holder_fate(pid_t pid, int sd, char *why, size_t len);
int sys_pidfd_open(pid_t pid);
int sys_pidfd_getfd(int pidfd, int fd);
int sys_pidfd_send_signal(int pidfd, int sig);
int check_sessions(struct check_count *n, const struct status *st);

/* hold.c */
int broker_up(void);
int cmd_keep(int argc, char **argv, const char *arg0);
int cmd_hold(int argc, char **argv);

/* get.c */
int cmd_get(int argc, char **argv);

#endif /* LIVEUPDATECTL_H */
