/* SPDX-License-Identifier: MIT */
/*
 * varconn.c - variables and connections: sealing them into the store,
 * resolving them for templates, masking them wherever they could show
 * (see varconn.h).
 *
 * A sealed value is base64(nonce || secretbox(plaintext)), and the
 * plaintext is {"k": KIND, "n": NAME, "v": VALUE}: opening checks that
 * the row it came from is the row it was sealed for, so that whoever can
 * write the database cannot move a password to another connection's name.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "err.h"
#include "varconn.h"
#include "xalloc.h"

/* The derivation's context: a key used for nothing else. */
#define VC_KDF_CONTEXT "kilnvars"
#define VC_KDF_ID 1
/* At most this many distinct secrets are masked (a bound on memory and on
 * the cost of masking a line). */
#define VC_MASKS_MAX 4096

static struct {
	pthread_mutex_t mu;
	int keyed;
	unsigned char key[crypto_secretbox_KEYBYTES];
	char **masks;            /* longest first */
	size_t nmasks;
} vc = { .mu = PTHREAD_MUTEX_INITIALIZER };

int
varconn_init(const char *secret, char **err)
{
	unsigned char master[crypto_kdf_KEYBYTES];

	if (secret == NULL || *secret == '\0')
		return err_set(err, -EINVAL, "varconn: no cluster secret");
	if (sodium_init() < 0)
		return err_set(err, -EIO, "varconn: libsodium cannot start");
	crypto_generichash(master, sizeof master, (const unsigned char *)secret,
	                   strlen(secret), NULL, 0);
	pthread_mutex_lock(&vc.mu);
	crypto_kdf_derive_from_key(vc.key, sizeof vc.key, VC_KDF_ID,
	                           VC_KDF_CONTEXT, master);
	vc.keyed = 1;
	pthread_mutex_unlock(&vc.mu);
	sodium_memzero(master, sizeof master);
	return 0;
}

void
varconn_fini(void)
{
	pthread_mutex_lock(&vc.mu);
	sodium_memzero(vc.key, sizeof vc.key);
	vc.keyed = 0;
	for (size_t i = 0; i < vc.nmasks; i++) {
		sodium_memzero(vc.masks[i], strlen(vc.masks[i]));
		free(vc.masks[i]);
	}
	free(vc.masks);
	vc.masks = NULL;
	vc.nmasks = 0;
	pthread_mutex_unlock(&vc.mu);
}

int
varconn_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return n > 0 && n <= VARCONN_NAME_MAX &&
	       name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                   "qrstuvwxyz0123456789_-")] == '\0';
}

/* Airflow's sensitive field names, and "key" alone as the brief of
 * issue 15 asks (api_key, private_key, key_file...). */
static const char *const vc_sensitive[] = {
	"password", "passwd", "passphrase", "secret", "token", "key",
	"authorization", "credential", "private",
};

int
varconn_sensitive(const char *name)
{
	for (size_t i = 0; i < sizeof vc_sensitive / sizeof *vc_sensitive; i++)
		if (name != NULL && strcasestr(name, vc_sensitive[i]) != NULL)
			return 1;
	return 0;
}

/* ------------------------------------------------------------ sealing */

/* Seal VALUE (stolen) as NAME of KIND: a malloc()ed base64 text. */
static char *
vc_seal(const char *kind, const char *name, json_t *value)
{
	json_t *p = json_pack("{s:s,s:s,s:o}", "k", kind, "n", name, "v", value);
	char *plain = json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(p);
	size_t mlen = strlen(plain);
	size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + mlen;
	unsigned char *box = xmalloc(blen);
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	pthread_mutex_lock(&vc.mu);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES,
	                      (unsigned char *)plain, mlen, box, vc.key);
	pthread_mutex_unlock(&vc.mu);
	sodium_memzero(plain, mlen);
	free(plain);
	size_t b64len = sodium_base64_encoded_len(blen,
	                                          sodium_base64_VARIANT_ORIGINAL);
	char *out = xmalloc(b64len);
	sodium_bin2base64(out, b64len, box, blen, sodium_base64_VARIANT_ORIGINAL);
	free(box);
	return out;
}

/* Open row X of KIND: 0 and *VALUE (the "v" of what was sealed; caller
 * decrefs), or -EBADMSG with *err. */
static int
vc_open(const char *kind, const struct store_secret *x, json_t **value,
        char **err)
{
	size_t len = strlen(x->sealed), blen = 0;
	unsigned char *box = xmalloc(len + 1);
	int rc = sodium_base642bin(box, len + 1, x->sealed, len, NULL, &blen,
	                           NULL, sodium_base64_VARIANT_ORIGINAL);
	size_t over = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
	json_t *p = NULL;
	if (rc == 0 && blen > over) {
		size_t mlen = blen - over;
		char *plain = xmalloc(mlen + 1);
		pthread_mutex_lock(&vc.mu);
		rc = vc.keyed ? crypto_secretbox_open_easy((unsigned char *)plain,
			box + crypto_secretbox_NONCEBYTES,
			blen - crypto_secretbox_NONCEBYTES, box, vc.key) : -1;
		pthread_mutex_unlock(&vc.mu);
		if (rc == 0)
			p = json_loadb(plain, mlen, JSON_DECODE_ANY, NULL);
		sodium_memzero(plain, mlen);
		free(plain);
	}
	free(box);
	const char *k = json_string_value(json_object_get(p, "k"));
	const char *n = json_string_value(json_object_get(p, "n"));
	json_t *v = json_object_get(p, "v");
	if (k == NULL || n == NULL || v == NULL || strcmp(k, kind) != 0 ||
	    strcmp(n, x->name) != 0) {
		json_decref(p);
		return err_set(err, -EBADMSG, "%s '%s' cannot be opened: was "
		              "the cluster secret changed?", kind, x->name);
	}
	*value = json_incref(v);
	json_decref(p);
	return 0;
}

/* NAME of KIND, opened: 0 and *VALUE, -ENOENT, or an error. */
static int
vc_get(store *st, const char *kind, const char *name, json_t **value,
       struct store_secret *row, char **err)
{
	struct store_secret x;
	int rc = store_secret_get(st, kind, name, &x, err);
	if (rc == -ENOENT)
		return err_set(err, rc, "no %s '%s'", strcmp(kind, "var") == 0 ?
		              "variable" : "connection", name);
	if (rc == 0)
		rc = vc_open(kind, &x, value, err);
	if (rc == 0 && row != NULL)
		*row = x;
	else
		store_secret_clear(&x);
	return rc;
}

/* ------------------------------------------------------- job params */

#define VC_SEALED_KEY "$kiln_sealed"


/* Does a string in V hold a known secret? */
static int
vc_json_secret(const json_t *v)
{
	size_t i;
	const char *k;
	json_t *e;
	if (json_is_string(v))
		return varconn_mask_needed(json_string_value(v));
	json_array_foreach(v, i, e)
		if (vc_json_secret(e))
			return 1;
	json_object_foreach((json_t *)v, k, e)
		if (vc_json_secret(e))
			return 1;
	return 0;
}

char *
varconn_params_seal(const char *params)
{
	json_t *v = json_loads(params, 0, NULL);
	if (!vc_json_secret(v)) {
		json_decref(v);
		return xstrdup(params);
	}
	char *sealed = vc_seal("params", "", v);
	json_t *o = json_pack("{s:s}", VC_SEALED_KEY, sealed);
	char *out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(sealed);
	return out;
}

char *
varconn_params_open(const char *params)
{
	if (params == NULL || strstr(params, VC_SEALED_KEY) == NULL)
		return xstrdup(params);
	json_t *o = json_loads(params, 0, NULL), *v = NULL;
	const char *sealed = json_string_value(json_object_get(o,
	                                                       VC_SEALED_KEY));
	struct store_secret x = { .name = "", .sealed = (char *)sealed };
	char *out = NULL;
	if (sealed != NULL && json_object_size(o) == 1 &&
	    vc_open("params", &x, &v, NULL) == 0)
		out = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	json_decref(o);
	return out != NULL ? out : xstrdup(params);
}

/* ------------------------------------------------------------ masking */

static void
vc_mask_add_locked(const char *secret)
{
	size_t n = strlen(secret), i;
	if (n < VARCONN_MASK_MIN || vc.nmasks >= VC_MASKS_MAX)
		return;
	for (i = 0; i < vc.nmasks; i++)
		if (strcmp(vc.masks[i], secret) == 0)
			return;
	/* Longest first: a secret that holds another is masked whole. */
	for (i = 0; i < vc.nmasks && strlen(vc.masks[i]) >= n; i++)
		;
	vc.masks = xrealloc(vc.masks, (vc.nmasks + 1) * sizeof *vc.masks);
	memmove(vc.masks + i + 1, vc.masks + i,
	        (vc.nmasks - i) * sizeof *vc.masks);
	vc.masks[i] = xstrdup(secret);
	vc.nmasks++;
}

void
varconn_mask_add(const char *secret)
{
	if (secret == NULL)
		return;
	pthread_mutex_lock(&vc.mu);
	vc_mask_add_locked(secret);
	pthread_mutex_unlock(&vc.mu);
}

/* S with one secret M replaced; S is freed. */
static char *
vc_replace(char *s, const char *m)
{
	char *hit = strstr(s, m);
	if (hit == NULL)
		return s;
	size_t ml = strlen(m), cap = strlen(s) + 1, len = 0;
	char *out = xmalloc(cap);
	const char *p = s;
	for (; hit != NULL; hit = strstr(p, m)) {
		memcpy(out + len, p, (size_t)(hit - p));
		len += (size_t)(hit - p);
		memcpy(out + len, VARCONN_MASK, sizeof VARCONN_MASK - 1);
		len += sizeof VARCONN_MASK - 1;     /* never longer than M */
		p = hit + ml;
	}
	strcpy(out + len, p);
	free(s);
	return out;
}

char *
varconn_mask_text(const char *s)
{
	if (s == NULL)
		return NULL;
	char *out = xstrdup(s);
	pthread_mutex_lock(&vc.mu);
	for (size_t i = 0; i < vc.nmasks; i++)
		out = vc_replace(out, vc.masks[i]);
	pthread_mutex_unlock(&vc.mu);
	return out;
}

/* Does S hold a known secret?  Most strings do not: they are left as
 * they are without a copy (a worker's exchange carries many). */
int
varconn_mask_needed(const char *s)
{
	int hit = 0;
	pthread_mutex_lock(&vc.mu);
	for (size_t i = 0; i < vc.nmasks && !hit; i++)
		hit = strstr(s, vc.masks[i]) != NULL;
	pthread_mutex_unlock(&vc.mu);
	return hit;
}

void
varconn_mask_json(json_t *v)
{
	if (json_is_string(v)) {
		if (!varconn_mask_needed(json_string_value(v)))
			return;
		char *m = varconn_mask_text(json_string_value(v));
		json_string_set(v, m);
		free(m);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			varconn_mask_json(e);
	} else if (json_is_object(v)) {
		const char *k;
		json_t *e;
		json_object_foreach(v, k, e)
			varconn_mask_json(e);
	}
}

/* The secrets in VALUE, a variable NAME or a connection, to the masker. */
static void
vc_mask_value(const char *kind, const char *name, const json_t *value)
{
	if (strcmp(kind, "var") == 0) {
		if (varconn_sensitive(name))
			varconn_mask_add(json_string_value(value));
		return;
	}
	varconn_mask_add(json_string_value(json_object_get(value, "password")));
	const char *k;
	json_t *e;
	json_object_foreach(json_object_get(value, "extra"), k, e)
		if (varconn_sensitive(k) && json_is_string(e))
			varconn_mask_add(json_string_value(e));
}

struct vc_walk {
	const char *kind;
	json_t *out;             /* varconn_list: the array */
	int rc;
	char *err;
};

static json_t *vc_view(const char *kind, const struct store_secret *x,
                       json_t *value, int reveal);

static int
vc_walk_row(const struct store_secret *x, void *ud)
{
	struct vc_walk *w = ud;
	json_t *v = NULL;
	char *err = NULL;
	if (vc_open(w->kind, x, &v, &err) < 0) {
		if (w->out != NULL)     /* listed, flagged */
			json_array_append_new(w->out, json_pack("{s:s,s:s}",
				"name", x->name, "error", err));
		else if (w->rc == 0) {
			w->rc = -EBADMSG;
			w->err = err;
			err = NULL;
		}
		free(err);
		return 0;
	}
	if (w->out != NULL)
		json_array_append_new(w->out, vc_view(w->kind, x, v, 0));
	else
		vc_mask_value(w->kind, x->name, v);
	json_decref(v);
	return 0;
}

int
varconn_masks_load(store *st, char **err)
{
	static const char *const kinds[] = { "var", "conn" };
	for (size_t i = 0; i < 2; i++) {
		struct vc_walk w = { .kind = kinds[i] };
		int rc = store_secret_list(st, kinds[i], vc_walk_row, &w, err);
		if (rc == 0 && w.rc < 0) {
			rc = err_set(err, w.rc, "%s", w.err);
		}
		free(w.err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ changes */

int
varconn_var_set(store *st, const char *name, const char *value,
                const char *by, char **err)
{
	if (!varconn_name_ok(name))
		return err_set(err, -EINVAL, "name: 1 to %d letters, digits, "
		              "'_' or '-'", VARCONN_NAME_MAX);
	if (value == NULL || strlen(value) > VARCONN_VALUE_MAX)
		return err_set(err, -EINVAL, "value: a string of at most %d "
		              "bytes", VARCONN_VALUE_MAX);
	if (varconn_sensitive(name))
		varconn_mask_add(value);
	char *sealed = vc_seal("var", name, json_string(value));
	int rc = store_secret_put(st, "var", name, sealed, by, err);
	free(sealed);
	return rc;
}

/* Is CONN's field K (value V) as varconn_conn_set() wants it?  NULL or
 * what it must be. */
static const char *
vc_conn_field(const char *k, const json_t *v)
{
	static const char *const strs[] = { "type", "host", "login",
	                                    "password" };
	for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
		if (strcmp(k, strs[i]) == 0)
			return json_is_string(v) ? NULL : "must be a string";
	if (strcmp(k, "port") == 0)
		return json_is_integer(v) && json_integer_value(v) >= 0 &&
		       json_integer_value(v) <= 65535 ? NULL :
		       "must be an integer from 0 to 65535";
	if (strcmp(k, "extra") == 0)
		return json_is_object(v) ? NULL : "must be an object";
	return "unknown field (type, host, port, login, password, extra)";
}

int
varconn_conn_set(store *st, const char *name, const json_t *conn,
                 const char *by, char **err)
{
	if (!varconn_name_ok(name))
		return err_set(err, -EINVAL, "name: 1 to %d letters, digits, "
		              "'_' or '-'", VARCONN_NAME_MAX);
	if (!json_is_object(conn))
		return err_set(err, -EINVAL, "a connection is a JSON object");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)conn, k, v) {
		const char *why = vc_conn_field(k, v);
		if (why != NULL)
			return err_set(err, -EINVAL, "%s: %s", k, why);
	}
	if (json_object_get(conn, "type") == NULL)
		return err_set(err, -EINVAL, "type: missing (e.g. postgres, "
		              "http, s3)");
	char *text = json_dumps(conn, JSON_COMPACT);
	size_t len = strlen(text);
	free(text);
	if (len > VARCONN_VALUE_MAX)
		return err_set(err, -EINVAL, "a connection is at most %d bytes "
		              "as JSON", VARCONN_VALUE_MAX);
	vc_mask_value("conn", name, conn);
	char *sealed = vc_seal("conn", name, json_deep_copy(conn));
	int rc = store_secret_put(st, "conn", name, sealed, by, err);
	free(sealed);
	return rc;
}

int
varconn_delete(store *st, const char *kind, const char *name, char **err)
{
	int rc = store_secret_delete(st, kind, name, err);
	if (rc == -ENOENT)
		return err_set(err, rc, "no %s '%s'", strcmp(kind, "var") == 0 ?
		              "variable" : "connection", name);
	return rc;
}

/* -------------------------------------------------------------- reads */

/* What the API shows of row X (VALUE opened), masked unless REVEAL. */
static json_t *
vc_view(const char *kind, const struct store_secret *x, json_t *value,
        int reveal)
{
	json_t *o;
	if (strcmp(kind, "var") == 0) {
		int secret = varconn_sensitive(x->name);
		o = json_pack("{s:s,s:b}", "name", x->name, "secret", secret);
		json_object_set_new(o, "value", secret && !reveal ?
		                    json_string(VARCONN_MASK) :
		                    json_incref(value));
	} else {
		o = json_deep_copy(value);
		json_object_set_new(o, "name", json_string(x->name));
		if (!reveal && json_object_get(o, "password") != NULL)
			json_object_set_new(o, "password",
			                    json_string(VARCONN_MASK));
		const char *k;
		json_t *e;
		json_object_foreach(json_object_get(o, "extra"), k, e)
			if (!reveal && varconn_sensitive(k))
				json_object_set_new(json_object_get(o, "extra"),
				                    k, json_string(VARCONN_MASK));
	}
	json_object_set_new(o, "updated_ms", json_integer(x->updated_ms));
	json_object_set_new(o, "updated_by", x->updated_by ?
	                    json_string(x->updated_by) : json_null());
	return o;
}

int
varconn_show(store *st, const char *kind, const char *name, int reveal,
             json_t **out, char **err)
{
	struct store_secret x;
	json_t *v = NULL;
	int rc = vc_get(st, kind, name, &v, &x, err);
	if (rc < 0)
		return rc;
	*out = vc_view(kind, &x, v, reveal);
	json_decref(v);
	store_secret_clear(&x);
	return 0;
}

int
varconn_list(store *st, const char *kind, json_t **out, char **err)
{
	struct vc_walk w = { .kind = kind, .out = json_array() };
	int rc = store_secret_list(st, kind, vc_walk_row, &w, err);
	if (rc < 0) {
		json_decref(w.out);
		return rc;
	}
	*out = w.out;
	return 0;
}

/* ---------------------------------------------------------- templates */

/* FIELD of connection NAME (opened as C): 0 and *VALUE, or an error. */
static int
vc_conn_text(const char *name, const json_t *c, const char *field,
             char **value, char **err)
{
	const json_t *v;
	int secret = strcmp(field, "password") == 0;
	if (strncmp(field, "extra.", 6) == 0) {
		v = json_object_get(json_object_get(c, "extra"), field + 6);
		secret = varconn_sensitive(field + 6);
	} else {
		v = json_object_get(c, field);
	}
	if (v == NULL)
		return err_set(err, -ENOENT, "connection '%s' has no %s", name,
		              field);
	*value = json_is_string(v) ? xstrdup(json_string_value(v)) :
	         json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (secret)
		varconn_mask_add(*value);
	return 0;
}

int
varconn_template(store *st, const char *expr, char **value, char **err)
{
	json_t *v = NULL;
	int rc;
	*value = NULL;
	if (strncmp(expr, "var.", 4) == 0) {
		if ((rc = vc_get(st, "var", expr + 4, &v, NULL, err)) < 0)
			return rc;
		*value = xstrdup(json_string_value(v));
		if (varconn_sensitive(expr + 4))
			varconn_mask_add(*value);
		json_decref(v);
		return 0;
	}
	const char *dot = strncmp(expr, "conn.", 5) == 0 ?
	                  strchr(expr + 5, '.') : NULL;
	if (dot == NULL)
		return err_set(err, -EINVAL, "'%s' is neither var.NAME nor "
		              "conn.NAME.FIELD", expr);
	char *name = xstrndup(expr + 5, (size_t)(dot - expr - 5));
	rc = vc_get(st, "conn", name, &v, NULL, err);
	if (rc == 0)
		rc = vc_conn_text(name, v, dot + 1, value, err);
	json_decref(v);
	free(name);
	return rc;
}
