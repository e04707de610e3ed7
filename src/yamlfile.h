/* SPDX-License-Identifier: MIT */
/*
 * yamlfile.h - a YAML file with positions: what config.c (cluster.yaml)
 * and dag.c (DAG files) share.
 *
 * A file is loaded whole into one libyaml document (a second document is
 * an error), and every error, from the parser or from the caller's checks,
 * reads "FILE:LINE:COLUMN: message" with 1-based positions, as editors
 * count.  On top of that: a walk of a mapping against a table of known
 * keys (unknown and duplicate keys refused, with a "did you mean"), and
 * typed scalars (bool, int in a range, duration, size) whose errors point
 * at the value; and, on top of both, key tables whose rows say where each
 * value goes (struct yamlfile_key), so that a caller's schema is a table
 * and only its special keys are code.
 *
 * All functions that fail return a negative errno-style code and set
 * *Y->err (malloc()ed, the caller of the loader frees it) via err_set().
 */
#ifndef KILN_YAMLFILE_H
#define KILN_YAMLFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <yaml.h>

struct yamlfile {
	const char *path;            /* for messages, as given; set by caller */
	char **err;                  /* where messages go; set by caller */
	/* How the caller's key tables read values (yamlfile_set()); set by
	 * the caller before a walk: */
	int name_max;                /* longest YF_NAME value */
	int int_plus;                /* YF_INT also takes "+digits" */
	const char *like;            /* duration examples, for messages */
	void *ud;                    /* passed to each YF_OWN row's own() */
	yaml_document_t doc;         /* valid after a load returned 0 */
	int loaded;                  /* doc is to be deleted */
	FILE *f;                     /* the input: a file, */
	const char *buf;             /* or bytes in memory */
	size_t len;
};

/* Load the one document of F (read from where it stands) or of BUF (LEN
 * bytes, kept by the caller until yamlfile_close()).  Y->path and Y->err
 * must be set.  RET 0, or a negative code and "FILE:LINE:COLUMN: syntax
 * error: ..." (or "cannot read: ..." for bytes that are not text). */
int yamlfile_load_file(struct yamlfile *y, FILE *f);
int yamlfile_load_string(struct yamlfile *y, const char *buf, size_t len);
/* Free the document, if one was loaded.  Y may be reused. */
void yamlfile_close(struct yamlfile *y);

/* The root node (NULL for an empty file), and node number I. */
yaml_node_t *yamlfile_root(struct yamlfile *y);
yaml_node_t *yamlfile_node(struct yamlfile *y, int i);

/* "FILE:LINE:COLUMN: message" at N's start into *Y->err; RET -EINVAL. */
__attribute__((format(printf, 3, 4)))
int yamlfile_err(const struct yamlfile *y, const yaml_node_t *n,
                 const char *fmt, ...);

/* "a mapping", "a list" or "a scalar", for messages. */
const char *yamlfile_kind(const yaml_node_t *n);
/* The text of scalar N. */
const char *yamlfile_str(const yaml_node_t *n);
/* Non-zero if N is empty, `~` or `null`, written without quotes. */
int yamlfile_null(const yaml_node_t *n);

/* The closest of the N strings NAMES to S, or NULL if none is a likely
 * typo of it (an edit or two away, a swap of neighbours counting as one). */
const char *yamlfile_suggest(const char *s, const char *const *names,
                             size_t n);

/*
 * Walk mapping MAP against a table of NKEYS known keys at KEYS, each entry
 * SIZE bytes that start with its `const char *name`.  WHERE names MAP in
 * messages ("in WHERE"; NULL: "at the top level").  Keys in DENY (NULL-
 * ended, may be NULL) are known but not allowed here.  FOUND[i] receives
 * the value node of key i, or NULL.  EACH, if not NULL, is called with UD
 * for every key in file order as it is found; its error stops the walk.
 * A null MAP is an empty mapping.
 */
int yamlfile_map(struct yamlfile *y, yaml_node_t *map, const char *where,
                 const void *keys, size_t size, size_t nkeys,
                 const char *const *deny, yaml_node_t **found,
                 int (*each)(void *ud, size_t i, yaml_node_t *v), void *ud);

/*
 * Key tables.  A row names a key, the type of its value and where the value
 * goes: at OFF bytes from the BASE the walk is given.  Strings are
 * malloc()ed, replacing (and freeing) what the field held.
 */
enum yamlfile_type {
	YF_STR,           /* char *: a non-empty string */
	YF_TEXT,          /* char *: any string; null gives NULL */
	YF_NAME,          /* char *: yamlfile_name() up to Y->name_max */
	YF_INT,           /* int in [min, max] */
	YF_SIZE,          /* int64_t bytes in [min, max] */
	YF_DURATION,      /* int64_t milliseconds in [min, max] */
	YF_DURATION_INT,  /* int milliseconds in [min, max] */
	YF_BOOL,          /* int 0 or 1 */
	YF_OWN,           /* parsed by own(), or by the caller if NULL */
};

struct yamlfile_key {
	const char *name;            /* first: yamlfile_map() reads it */
	enum yamlfile_type type;
	size_t off;                  /* of the field, from the base */
	int64_t min, max;
	/* YF_OWN: parse V for row K into BASE; UD is Y->ud. */
	int (*own)(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
	           void *base);
};

/* Parse V as row K says and store it at BASE + K->off. */
int yamlfile_set(struct yamlfile *y, const struct yamlfile_key *k,
                 yaml_node_t *v, void *base);
/* yamlfile_set() of each FOUND[i] that is not NULL, in table order. */
int yamlfile_set_found(struct yamlfile *y, const struct yamlfile_key *keys,
                       size_t nkeys, yaml_node_t **found, void *base);
/* yamlfile_map() of MAP against KEYS that stores each value into BASE as
 * it is met, so that errors come in file order. */
int yamlfile_walk(struct yamlfile *y, yaml_node_t *map, const char *where,
                  const struct yamlfile_key *keys, size_t nkeys, void *base,
                  yaml_node_t **found);

/*
 * Typed values.  NAME is the key V belongs to, for messages.  Each first
 * requires a scalar that is not null ("'NAME' expects a single value",
 * "'NAME' needs a value").
 */
int yamlfile_scalar(struct yamlfile *y, const char *name, yaml_node_t *v,
                    const char **s);
/* A string that is not empty. */
int yamlfile_string(struct yamlfile *y, const char *name, yaml_node_t *v,
                    const char **s);
/* A name for ids, URLs and paths: 1 to MAX characters from A-Z a-z 0-9
 * _ . - */
int yamlfile_name(struct yamlfile *y, const char *name, yaml_node_t *v,
                  int max, const char **s);
/* "[-]digits" (also "+digits" if PLUS) from MIN to MAX. */
int yamlfile_int(struct yamlfile *y, const char *name, yaml_node_t *v,
                 int64_t min, int64_t max, int plus, int64_t *out);
/* A size (yamlfile_parse_size()) from MIN to MAX bytes. */
int yamlfile_size(struct yamlfile *y, const char *name, yaml_node_t *v,
                  int64_t min, int64_t max, int64_t *out);
/* A duration (yamlfile_parse_duration_ms()) from MIN to MAX ms; LIKE lists
 * examples for the message ("500ms, 2s, 5m, 1h"). */
int yamlfile_duration(struct yamlfile *y, const char *name, yaml_node_t *v,
                      int64_t min, int64_t max, const char *like,
                      int64_t *out);
/* true/yes or false/no, in any case. */
int yamlfile_bool(struct yamlfile *y, const char *name, yaml_node_t *v,
                  int *out);

/* Parse "[+-]digits" into *V: -EINVAL if not that, -ERANGE if too big. */
int yamlfile_parse_int(const char *s, int64_t *v);
/* Durations: digits, then (blanks allowed) ms, s, m, h or d; bare digits
 * are seconds.  Into *MS; -EINVAL if not that, -ERANGE if too big. */
int yamlfile_parse_duration_ms(const char *s, int64_t *ms);
/* Sizes: digits, then (blanks allowed) B, K/KB/KiB, M/MB/MiB, G/GB/GiB or
 * T/TB/TiB in any case, all powers of 1024.  Into *BYTES; as above. */
int yamlfile_parse_size(const char *s, int64_t *bytes);

#endif
