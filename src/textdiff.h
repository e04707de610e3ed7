/* SPDX-License-Identifier: MIT */
/*
 * textdiff.h - a line diff of two texts as a unified diff (diff -u), for
 * the versions of a DAG file (dagver.c).  Containers lack diff(1), and
 * shelling out for a master's API reply would be wrong anyway.
 */
#ifndef KILN_TEXTDIFF_H
#define KILN_TEXTDIFF_H

#include <stddef.h>

/* Past this many cells of the LCS table (lines of A times lines of B
 * that differ, after their common head and tail are set aside) the
 * differing middle is given as all of A's lines removed, then all of
 * B's added: still a correct diff, only not the shortest. */
#define TEXTDIFF_CELLS_MAX ((size_t)4 << 20)

struct textdiff_stats {
	size_t added, removed;   /* lines */
	int hunks;
};

/*
 * The unified diff of A and B (NUL-terminated texts; lines end at '\n'),
 * headed "--- LA" and "+++ LB", with CTX lines of context around each
 * change (diff's default is 3).  RET a malloc()ed string the caller frees:
 * "" if the texts are equal.  STATS (may be NULL) is filled.
 */
char *textdiff_unified(const char *a, const char *b, const char *la,
                       const char *lb, int ctx, struct textdiff_stats *stats);

#endif
