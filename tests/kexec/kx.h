/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Cross-kexec scenarios. `lu-kexec SCENARIO STAGE` runs one stage of one
 * scenario as a single test named kexec/b<LU_STAGE>/SCENARIO/STAGE. Stages
 * that carry something over end with kx_hold(): a detached child keeps the
 * session fds open until the kexec (the device fd is closed so the next
 * program can open it). The chain (tests/kexec/chain.plan) runs every
 * scenario's stage1 in one boot, stage2 in the next, and so on.
 */
#ifndef LU_KX_H
#define LU_KX_H

#include "harness.h"
#include "tools/range.h"

/*
 * A stage: its name, its function and what it asserts, in one line (the
 * --list answer's NAME<TAB>DESCRIPTION, as LU_TEST_D() gives a test's).
 */
struct kx_stage {
	const char *name;
	void (*fn)(void);
	const char *desc;
};

struct kx_scenario {
	const char *name;
	const struct kx_stage *stages;
	size_t nstages;
};

/* a scenario, and a pointer to it in the linker section @sec */
#define KX_DEFINE(var, sname, sec, ...)					\
	static const struct kx_stage var##_stages[] = { __VA_ARGS__ };	\
	static const struct kx_scenario var = { sname, var##_stages,	\
						LU_ARRAY_SIZE(var##_stages) }; \
	static const struct kx_scenario *const var##_reg		\
	__attribute__((used, section(sec))) = &var

/*
 * Defines a scenario and registers it (kselftest style): lu-kexec walks the
 * kx_scenarios section between the linker's __start_/__stop_kx_scenarios.
 * No list to keep by hand.
 */
#define KX_SCENARIO(var, sname, ...) KX_DEFINE(var, sname, "kx_scenarios", __VA_ARGS__)

/*
 * A scenario run only by a maintainer's tool (the golden image's
 * tests/golden/make-format1), never by a plan: lu-kexec runs it, but
 * lu-kexec --scenarios (what every plan must cover) leaves it out.
 */
#define KX_TOOL_SCENARIO(var, sname, ...) KX_DEFINE(var, sname, "kx_tools", __VA_ARGS__)

/* the stage argument as given (for scenarios whose stage is a parameter) */
extern const char *kx_stage_arg;

/* keeps @fds open across the kexec (and closes nothing else of ours) */
void kx_hold(const int *fds, int n);
/* fork() with stdout flushed first (no line printed twice); fails the test if it fails */
pid_t kx_fork(void);
/* a retrieved memfd: size, bytes (pattern @seed), O_RDWR, FD_CLOEXEC, link */
void kx_expect_memfd(int fd, uint64_t size, uint64_t seed);
/* memory.stat's @key of the cgroup directory @cg (bytes), or -1 */
long long kx_memstat(const char *cg, const char *key);
/* /dev/liveupdate, checking the handover_status before and after opening */
int kx_open_dev_status(const char *before, const char *after);

#endif /* LU_KX_H */
