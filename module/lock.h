/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: the module's one lock (defined in session.c), for every layer
 * that takes it or asserts it is not held.
 *
 * One mutex, luo_lock, serialises outgoing sessions and files, the commit at
 * kexec and building incoming sessions. None of them is hot, and one lock
 * keeps the kexec path trivially consistent. It is never held across a copy
 * to or from user memory (which userfaultfd can stall for ever): ioctl
 * arguments are copied in before it is taken and replies are written after
 * it is dropped.
 */
#ifndef _LIVEUPDATE_LOCK_H
#define _LIVEUPDATE_LOCK_H

#include <linux/mutex.h>

extern struct mutex luo_lock;

#endif /* _LIVEUPDATE_LOCK_H */
