/* SPDX-License-Identifier: GPL-2.0 */
/*
 * common/conf.c: the one reader of the project's configuration files
 * (/etc/liveupdate/liveupdated.conf, liveupdated(8)): lines of
 * "KEY = VALUE", as systemd's environment files and many Debian daemons
 * write them.
 */
#ifndef LU_COMMON_CONF_H
#define LU_COMMON_CONF_H

#include <stddef.h>

/* the longest line a configuration file may have, newline excluded */
#define LU_CONF_LINE_MAX	1023

/*
 * lu_conf_fn - called for each "KEY = VALUE" line, in order, with the key
 * and the value (blanks around each removed; the value may be empty).
 * Return: 0 to go on; -errno to stop, with a message in @err (@len bytes,
 * without the file and line: lu_conf_read() puts those in front).
 */
typedef int (*lu_conf_fn)(void *ctx, const char *key, const char *value, unsigned int line,
			  char *err, size_t len);

/*
 * lu_conf_read() - reads configuration file @path and calls @fn for each
 * setting. A line is blank, a comment ('#' or ';' its first non-blank
 * character) or KEY = VALUE; KEY is letters, digits, '-' and '_'. No
 * sections, quoting or continuation lines: a value is the rest of the line.
 * Return: 0; -errno of fopen() if it cannot be opened ("PATH: reason" in
 * @err); -EINVAL for a line that is not one of the above, longer than
 * LU_CONF_LINE_MAX or holding a NUL byte, and whatever @fn returned: then
 * @err is "PATH:LINE: what" (LINE counts from 1).
 */
int lu_conf_read(const char *path, lu_conf_fn fn, void *ctx, char *err, size_t len);

#endif /* LU_COMMON_CONF_H */
