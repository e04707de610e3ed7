/* SPDX-License-Identifier: MIT */
/*
 * fault.h - fault injection for tests: fail the Nth write, sync or read of
 * the store, the artifact store or a worker's cache with a chosen errno,
 * as SQLite tests itself.
 *
 * Armed only by the environment, read once by fault_init():
 *
 *   KILN_FAULT=RULE[,RULE...]   RULE: SITE:OP:N:ERRNO[:COUNT] or trace
 *
 * SITE is store, artifact or cache; OP is write, sync or read (a cache
 * read: a worker taking the output file its executor wrote); the Nth
 * such operation (from 1) and the COUNT - 1 after it fail with ERRNO
 * (ENOSPC, EIO, EDQUOT, EROFS); COUNT 0 fails every one from the Nth on
 * (a disk that stays full).  OP commit (store only) is the point of a
 * group commit that holds submitted jobs where its ops ran and its jobs
 * were handed out early (store_apply_early) but its COMMIT has not
 * begun: an errno fails that COMMIT (rolled back), and STALL stops the
 * committing thread there for 60 s, so that a test can kill the master
 * between a job's dispatch and its durable submission.  Each injected fault is logged as
 * "fault: injected ...".  A rule "trace" logs every write and sync
 * counted ("fault: store sync #7"), armed or not, so that a test can see
 * which N falls in which step of a job's life.  Unarmed, fault_check() is one load and a branch
 * and the store opens SQLite's default VFS: production pays nothing.
 */
#ifndef KILN_FAULT_H
#define KILN_FAULT_H

enum fault_site { FAULT_STORE, FAULT_ARTIFACT, FAULT_CACHE, FAULT_NSITES };
enum fault_op { FAULT_WRITE, FAULT_SYNC, FAULT_READ, FAULT_COMMIT,
                FAULT_NOPS };

/* Arm the faults that SPEC (KILN_FAULT's syntax; NULL or "" arms none)
 * names.  Returns 0, or -EINVAL with *err set (the caller frees). */
int fault_init(const char *spec, char **err);

/* Count one operation OP at SITE: 0 to go on, or the errno it must fail
 * with (also left in errno).  Thread-safe. */
int fault_check(enum fault_site site, enum fault_op op);

/* 1 if any fault is armed at SITE (or "trace" is). */
int fault_armed(enum fault_site site);

/* 1 if "trace" is armed: callers may log what each operation was for. */
int fault_tracing(void);

#endif
