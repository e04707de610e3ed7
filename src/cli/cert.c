/* SPDX-License-Identifier: MIT */
/*
 * cert.c - the commands for the cluster's certificates (see ../cert.h):
 * `kiln cert show`, `kiln cert ca` and `kiln cert rotate`.  They work on
 * this machine's files (the secret, the master's data directory), without
 * a master.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "cmd.h"
#include "config.h"
#include "fs.h"
#include "xalloc.h"

/* The cluster secret from the config; 0, or an exit status after saying
 * why. */
static int
cli_cert_secret(struct cli *x, char **secret)
{
	char *err = NULL;

	if (cli_config(x, "the cluster secret") != 0)
		return CLI_EXIT_FAIL;
	if (config_secret(x->conf, 0, secret, &err) < 0) {
		fprintf(stderr, "%s: cannot read the cluster secret: %s\n",
		        x->prog, err != NULL ? err : "unknown error");
		free(err);
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/* Print the description of PEM under TITLE; 0 or CLI_EXIT_FAIL. */
static int
cli_cert_print(struct cli *x, const char *title, const char *pem)
{
	char *text = NULL, *err = NULL;

	if (cert_describe(pem, &text, &err) < 0) {
		fprintf(stderr, "%s: %s: %s\n", x->prog, title, err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	printf("%s\n%s", title, text);
	free(text);
	return 0;
}

static int
cli_cert_ca(struct cli *x, void *opts)
{
	char *secret = NULL, *pem = NULL, *err = NULL;
	int rc;

	(void)opts;
	if ((rc = cli_cert_secret(x, &secret)) != 0)
		return rc;
	rc = cert_ca_pem(secret, &pem, &err);
	xfree_secret(secret);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", x->prog, err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	fputs(pem, stdout);
	free(pem);
	return CLI_EXIT_OK;
}

static int
cli_cert_show(struct cli *x, void *opts)
{
	char *secret = NULL, *pem = NULL, *err = NULL, *path;
	size_t len;
	int rc;

	(void)opts;
	if ((rc = cli_cert_secret(x, &secret)) != 0)
		return rc;
	const struct kiln_config *c = x->conf;
	rc = cert_ca_pem(secret, &pem, &err);
	xfree_secret(secret);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", x->prog, err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	printf("TLS: %s\n\n", !c->master.tls ? "off" :
	       c->master.tls_cert_file != NULL ? "on, with a certificate of "
	       "its own" : "on, with a certificate from the cluster CA");
	rc = cli_cert_print(x, "cluster CA (`kiln cert ca` prints it)", pem);
	free(pem);
	pem = NULL;
	path = c->master.tls_cert_file != NULL ?
	       xstrdup(c->master.tls_cert_file) :
	       xasprintf("%s/tls/server.crt", c->master.data_dir);
	if (rc == 0) {
		if (fs_read_file(path, 1 << 20, &pem, &len, &err) == 0) {
			char title[4200];
			snprintf(title, sizeof title, "\nmaster (%s)", path);
			rc = cli_cert_print(x, title, pem);
		} else {
			printf("\nmaster: %s\n", err);
		}
	}
	free(err);
	free(pem);
	free(path);
	return rc;
}

static int
cli_cert_rotate(struct cli *x, void *opts)
{
	char *secret = NULL, *chain = NULL, *key = NULL, *what = NULL;
	char *err = NULL;
	int rc;

	(void)opts;
	if ((rc = cli_cert_secret(x, &secret)) != 0)
		return rc;
	const struct kiln_config *c = x->conf;
	if (c->master.tls_cert_file != NULL) {
		xfree_secret(secret);
		fprintf(stderr, "%s: the master serves %s, a certificate of its "
		        "own: replace that file (and master.tls.key_file)\n",
		        x->prog, c->master.tls_cert_file);
		return CLI_EXIT_FAIL;
	}
	size_t n;
	char **names = config_master_names(c, &n);
	char *dir = xasprintf("%s/tls", c->master.data_dir);
	rc = cert_server(dir, secret, (const char *const *)names, n, 1, &chain,
	                 &key, &what, &err);
	xfree_secret(secret);
	config_names_free(names, n);
	free(dir);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", x->prog, err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	xfree_secret(key);
	printf("%s\nRestart the master to serve it; workers need nothing "
	       "new.\n", what);
	free(what);
	free(chain);
	return CLI_EXIT_OK;
}

const struct cli_group cli_group_cert = {
	"cert", "Show, print and rotate the cluster's TLS certificates: the\n"
	        "cluster CA, derived from the cluster secret, and the master's\n"
	        "certificate, which that CA signs.\n"
};

const struct cli_cmd cli_cmd_cert_show = {
	.name = "cert show", .args = "",
	.summary = "show the cluster CA and the master's certificate",
	.help =
	"Show whether the master serves TLS, the cluster CA (derived from the\n"
	"cluster secret, the same on every machine that has it) and the\n"
	"master's certificate in its data directory: names, end of validity\n"
	"and SHA-256 fingerprint.\n",
	.flags = CLI_CONFIG,
	.exec = cli_cert_show,
};

const struct cli_cmd cli_cmd_cert_ca = {
	.name = "cert ca", .args = "",
	.summary = "print the cluster CA certificate (PEM)",
	.help =
	"Print the cluster CA certificate, for clients without the secret:\n"
	"curl --cacert, a browser's trust store, or KILN_CA_FILE for the kiln\n"
	"CLI with a token.\n",
	.flags = CLI_CONFIG,
	.exec = cli_cert_ca,
};

const struct cli_cmd cli_cmd_cert_rotate = {
	.name = "cert rotate", .args = "",
	.summary = "make the master a new key and certificate",
	.help =
	"Make a new private key and certificate for the master in its data\n"
	"directory (tls/server.key, tls/server.crt), signed by the cluster CA;\n"
	"the master serves them from its next start.  To rotate the CA itself,\n"
	"rotate the cluster secret (docs/security.md).\n",
	.flags = CLI_CONFIG,
	.exec = cli_cert_rotate,
};
