/* SPDX-License-Identifier: MIT */
/*
 * config-fuzz.c - libFuzzer target: cluster.yaml as config_load() reads it
 * (from a file: it takes a path), then the queries the nodes make of a
 * loaded configuration.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_LEVEL_ERROR + 1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kiln_config *c = NULL;
	char *err = NULL;
	const char *path = fz_file(data, size, ".yaml");

	if (config_load(path, &c, &err) != 0) {
		FZ_CHECK(c == NULL && err != NULL);
		free(err);
		return 0;
	}
	FZ_CHECK(c != NULL && err == NULL);
	FZ_CHECK(c->master.name != NULL && c->master.port > 0 &&
	         c->master.port <= 65535);
	char *url = config_master_url(c);
	free(url);
	size_t n = 0;
	char **names = config_master_names(c, &n);
	config_names_free(names, n);
	FZ_CHECK(config_is_master(c, c->master.name));
	for (size_t i = 0; i < c->nworkers; i++) {
		FZ_CHECK(config_worker(c, c->workers[i].name) != NULL);
		FZ_CHECK(c->workers[i].slots >= 1);
	}
	config_free(c);
	return 0;
}
