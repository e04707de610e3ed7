/* SPDX-License-Identifier: MIT */
/*
 * alert.h - notifications of DAG runs and tasks (Airflow's on_*_callback
 * and deadline alerts): the master's sender of the `on_failure`,
 * `on_success`, `on_retry` and `on_deadline` targets of a DAG file
 * (dag.h).  alert_fire() records one row per target in the store
 * (store_notif_add) and queues it; ALERT_SENDERS threads of its own send
 * them, one request at a time to a host, so the pipeline and the HTTP
 * threads never wait for a receiver, nor one host for another.  The row
 * keeps the body, its delivery id and the next try's time: what a master
 * left pending, the next sends again (at least once).
 *
 * A webhook is a JSON POST of the event, at most ALERT_ATTEMPTS tries,
 * ALERT_TIMEOUT_MS each, 1 s, 2 s, 4 s apart; any reply but 2xx is a
 * failed try.  Headers: X-Kiln-Event, X-Kiln-Timestamp (unix seconds),
 * X-Kiln-Delivery (the body's delivery_id, one per row, for receivers to
 * dedupe a resend),
 * and X-Kiln-Signature: sha256=HEX, the HMAC-SHA256 of the body's bytes
 * under the webhook key, which is the 64 hex characters
 * alert_key_hex() derives from the cluster secret (the key is those
 * characters, as text), or the value of the variable a webhook names as
 * its `secret:` (varconn.h), read at each try.  A command runs only if master.callback_commands
 * is true, as `/bin/sh -c LINE` with the event's JSON on its stdin and
 * KILN_EVENT, KILN_DAG_ID, KILN_RUN_ID, KILN_TASK in its environment,
 * ALERT_COMMAND_MS at most; else its row says "refused".
 */
#ifndef KILN_ALERT_H
#define KILN_ALERT_H

#include <stdint.h>

#include <jansson.h>

#include "dag.h"
#include "store.h"

#define ALERT_ATTEMPTS 4
#define ALERT_TIMEOUT_MS 5000
#define ALERT_COMMAND_MS 30000
#define ALERT_BODY_MAX 65536    /* error texts are cut to fit */
#define ALERT_QUEUE_MAX 10000   /* more waiting: recorded as failed */
#define ALERT_SENDERS 4         /* threads; one request to a host at once */

typedef struct alert alert;

struct alert_opts {
	const char *secret;      /* the cluster secret (the key's source) */
	const char *link_base;   /* "https://host:port" for the runs' links,
	                          * or NULL */
	int commands;            /* master.callback_commands */
};

/* Start the senders over store ST; what a master before it left pending
 * is queued again, from its tries so far, at its next try's time (rows
 * from before schema 15, with no body, are marked failed; commands are
 * refused if O->commands is now 0).  0, or negative with *err. */
int alert_start(store *st, const struct alert_opts *o, alert **out,
                char **err);
/* Stop it (NULL is fine); what was not sent stays "pending" until the
 * next start. */
void alert_stop(alert *a);

/* An event of run RUN (its store id), of task TASK (NULL: the run) of
 * instance MAP_INDEX (-1 unless mapped): EV (enum dag_event), to the
 * targets CB (none: recorded only).  BODY (borrowed) holds what the
 * caller knows (dag_id, run_id, state, dates...): the event, time, link,
 * and the try, times and error of job JOB (0: none) are added.  RET 0,
 * or negative with *err if it could not be recorded. */
int alert_fire(alert *a, int64_t run, const char *task, int map_index,
               int ev, int64_t job, const json_t *body,
               const struct dag_callbacks *cb, char **err);

/* The webhook key of SECRET: hex of SHA-256("kiln-webhook:" SECRET),
 * into HEX (65 bytes). */
void alert_key_hex(const char *secret, char hex[65]);
/* "sha256=" and the hex HMAC-SHA256 of LEN bytes at BODY under KEY (the
 * text), malloc()ed. */
char *alert_sign(const char *key, const char *body, size_t len);

#endif
