/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz share: the entry point
 * each defines, an input as a C string or as a file for loaders that take
 * a path, and a check that stops the run (so libFuzzer keeps the input)
 * when a parser breaks one of its own documented promises.
 */
#ifndef KILN_FUZZ_H
#define KILN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A promise of the parser that the input broke: report it and abort, which
 * libFuzzer records as a crash with its reproducer. */
#define FZ_CHECK(cond) do {                                               \
	if (!(cond)) {                                                    \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,    \
		        __LINE__, #cond);                                 \
		abort();                                                  \
	}                                                                 \
} while (0)

/* DATA as a NUL-terminated string (malloc()ed; the caller frees it).  An
 * embedded NUL ends it early, as it would in the parser's input. */
static inline char *
fz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* DATA written to this process's scratch file (under $TMPDIR, removed at
 * exit), whose path is returned: the loaders that read a file by path. */
static char fz_path[4096];

static inline void
fz_cleanup(void)
{
	if (fz_path[0] != '\0')
		unlink(fz_path);
}

static inline const char *
fz_file(const uint8_t *data, size_t size, const char *suffix)
{
	if (fz_path[0] == '\0') {
		const char *tmp = getenv("TMPDIR");
		snprintf(fz_path, sizeof fz_path, "%s/kiln-fuzz-%ld%s",
		         tmp && *tmp ? tmp : "/tmp", (long)getpid(), suffix);
		atexit(fz_cleanup);
	}
	FILE *f = fopen(fz_path, "wb");
	if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
	    fclose(f) != 0) {
		perror(fz_path);
		abort();
	}
	return fz_path;
}

#endif
