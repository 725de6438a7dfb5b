/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liveupdate: sessions (session.c) for the device (device.c): create,
 * retrieve, build the incoming ones, serialize the outgoing ones.
 * Layers: docs/design.md.
 */
#ifndef _LIVEUPDATE_SESSION_H
#define _LIVEUPDATE_SESSION_H

#include <linux/fs.h>
#include <linux/types.h>

#include "handover_check.h"
#include "handover_format.h"
#include "store.h"

/* Metadata a session record takes. */
static inline u64 luo_session_cost(void)
{
	return sizeof(struct luo_ser_session);
}

struct file *luo_session_create(const char *name);
struct file *luo_session_retrieve(const char *name);
void luo_session_unretrieve(struct file *file);
int luo_session_build_incoming(const struct luo_image *img,
			       struct luo_verdict *v, u64 *nr_s, u64 *nr_f);
void luo_session_drop_incoming(void);
void luo_session_serialize_all(struct luo_writer *w, u64 *nr_s, u64 *nr_f);

#endif /* _LIVEUPDATE_SESSION_H */
