/* SPDX-License-Identifier: GPL-2.0 */
/*
 * common/args.c: the command-line values liveupdatectl and liveupdated
 * share, parsed by one set of rules (a size is the same everywhere), and
 * the package version they print for --version.
 */
#ifndef LU_COMMON_ARGS_H
#define LU_COMMON_ARGS_H

#include <stdint.h>

/* debian/changelog's version, passed in by the Makefiles */
#ifndef LU_VERSION
#define LU_VERSION "unknown"
#endif

/*
 * lu_parse_size() - a size: decimal or 0x hexadecimal digits, then
 * optionally one of K, M, G, T (either case; powers of 1024).
 * Return: 0 and *@out set; -EINVAL for anything else (empty, a sign,
 * blanks, other suffixes, trailing characters), -ERANGE past UINT64_MAX.
 */
int lu_parse_size(const char *s, uint64_t *out);

/*
 * lu_parse_uint() - a count: decimal digits only, at most @max.
 * Return: 0 and *@out set; -EINVAL if not digits, -ERANGE above @max.
 */
int lu_parse_uint(const char *s, unsigned long max, unsigned long *out);

#endif /* LU_COMMON_ARGS_H */
