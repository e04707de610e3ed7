/* SPDX-License-Identifier: MIT */
/*
 * varconn.h - variables and connections (Airflow's Variables and
 * Connections): named values and credentials kept in the master's store,
 * sealed with a key derived from the cluster secret, read by DAG templates
 * ("{{ var.NAME }}", "{{ conn.NAME.host }}") when a task is dispatched,
 * and masked wherever they could be shown.
 *
 * What is secret.  Every value is sealed at rest (libsodium secretbox, a
 * fresh nonce per value, the kind and name sealed with it so that rows
 * cannot be swapped).  What is *shown* masked ("***") by the read routes
 * and replaced in logs: a connection's password, the values of the keys of
 * its extra whose names look sensitive, and the values of variables whose
 * names look sensitive (varconn_sensitive(): "password", "secret",
 * "token", "key", ... as Airflow's secrets masker).  Other variables are
 * configuration, shown as they are.
 *
 * The masker is process-wide: every secret value the master has loaded or
 * rendered since it started, so that a task's log lines, errors and
 * results, and the rendered params of its job, never show one (values
 * shorter than VARCONN_MASK_MIN are not masked: they would mask common
 * words).  Thread-safe.
 */
#ifndef KILN_VARCONN_H
#define KILN_VARCONN_H

#include <jansson.h>

#include "store.h"

#define VARCONN_NAME_MAX 128    /* bytes of a name */
#define VARCONN_VALUE_MAX 65536 /* bytes of a value (as JSON for a conn) */
#define VARCONN_MASK_MIN 4      /* shorter secrets are not masked */
#define VARCONN_MASK "***"

/* Derive the sealing key from the cluster SECRET (crypto_generichash, then
 * crypto_kdf with context "kilnvars").  Called once by the master before
 * anything else here; varconn_fini() wipes the key and the masks. */
int varconn_init(const char *secret, char **err);
void varconn_fini(void);

/* 1 if NAME is a valid variable or connection name: 1 to VARCONN_NAME_MAX
 * letters, digits, '_' and '-' (no '.': templates split at dots). */
int varconn_name_ok(const char *name);
/* 1 if a variable or extra key called NAME holds a secret. */
int varconn_sensitive(const char *name);

/* ---- changes (the caller logs them for the audit) */

/* Set variable NAME to VALUE (a string); BY says who. */
int varconn_var_set(store *st, const char *name, const char *value,
                    const char *by, char **err);
/* Add or replace connection NAME: CONN is an object with "type" (a string,
 * required) and optional "host", "login", "password" (strings), "port"
 * (0..65535), "extra" (an object).  -EINVAL naming the bad field. */
int varconn_conn_set(store *st, const char *name, const json_t *conn,
                     const char *by, char **err);
/* Delete NAME of KIND ("var" or "conn"): 0 or -ENOENT. */
int varconn_delete(store *st, const char *kind, const char *name,
                   char **err);

/* ---- reads */

/* NAME of KIND as the API shows it, masked unless REVEAL: 0 and *OUT
 * (caller decrefs), -ENOENT, or an error (a value that cannot be opened:
 * the cluster secret changed). */
int varconn_show(store *st, const char *kind, const char *name, int reveal,
                 json_t **out, char **err);
/* Every NAME of KIND, masked, by name: 0 and *OUT (an array). */
int varconn_list(store *st, const char *kind, json_t **out, char **err);

/* ---- templates */

/* The text of template EXPR, "var.NAME" or "conn.NAME.FIELD" (FIELD:
 * type, host, port, login, password, extra.KEY): 0 and *VALUE
 * (malloc()ed), or -ENOENT / -EINVAL with *err ("no variable 'x'").  A
 * secret value is added to the masker. */
int varconn_template(store *st, const char *expr, char **value, char **err);

/* ---- a job's params */

/* A task's rendered PARAMS (JSON text) as the store keeps them: sealed as
 * {"$kiln_sealed": "..."} if they hold a secret the masker knows, so that
 * the store file never does; else a copy.  malloc()ed. */
char *varconn_params_seal(const char *params);
/* PARAMS as a worker must receive them: opened if sealed, else a copy
 * (also when they cannot be opened: the task then fails on its own).
 * malloc()ed; NULL for NULL. */
char *varconn_params_open(const char *params);

/* ---- masking */

/* Mask SECRET from now on (copied; ignored if shorter than
 * VARCONN_MASK_MIN). */
void varconn_mask_add(const char *secret);
/* Add every secret in the store to the masker (the master, at start). */
int varconn_masks_load(store *st, char **err);
/* S with every known secret replaced by VARCONN_MASK; malloc()ed, or NULL
 * if S is NULL. */
char *varconn_mask_text(const char *s);
/* Does S hold a known secret (then varconn_mask_text() changes it)? */
int varconn_mask_needed(const char *s);
/* The same for every string in V, in place (keys are left alone). */
void varconn_mask_json(json_t *v);

#endif
