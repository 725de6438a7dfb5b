/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crash points: the named steps of an operation whose crash safety is
 * tested by killing the process at each of them in turn (docs/crash.md).
 *
 * lu_crash_point("get:after-retrieve-session") does nothing unless the
 * environment asks for it:
 *   LU_CRASH_ONLY=PREFIX  count only the points whose name starts with PREFIX
 *   LU_CRASH_AT=N         SIGKILL this process at the Nth point counted (1..)
 *   LU_CRASH_LOG=FILE     append "PID N NAME" for every point counted, so a
 *                         sweep learns how many steps an operation has
 * The count is per process (all threads). Compiled into the programs that
 * carry crash points; not a library.
 */
#ifndef LIVEUPDATE_CRASH_POINT_H
#define LIVEUPDATE_CRASH_POINT_H

void lu_crash_point(const char *name);

#endif
