/* SPDX-License-Identifier: MIT */
/*
 * proto-test.c - the worker<->master messages: every message survives
 * encode -> text -> decode unchanged, and a decoder refuses a body with a
 * missing key, a wrong type or a value out of range, naming the field.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/plugin.h"
#include "proto.h"
#include "xalloc.h"

/* J through the wire: dumped and parsed again (J is consumed). */
static json_t *
wire(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	ck_assert_ptr_nonnull(s);
	json_t *back = json_loads(s, 0, NULL);
	ck_assert_ptr_nonnull(back);
	free(s);
	return back;
}

/* The exchange reply M as the worker receives it: its text, parsed. */
static json_t *
reply_wire(const struct proto_exchange_reply *m)
{
	size_t len;
	char *s = proto_exchange_reply_text(m, &len);
	ck_assert_uint_eq(len, strlen(s));
	json_t *back = json_loads(s, 0, NULL);
	ck_assert_ptr_nonnull(back);
	free(s);
	return back;
}

/* E1 and E2 equal as JSON (both consumed). */
static void
same_json(json_t *e1, json_t *e2)
{
	char *a = json_dumps(e1, JSON_COMPACT | JSON_SORT_KEYS);
	char *b = json_dumps(e2, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	json_decref(e1);
	json_decref(e2);
}

static void
same_attempts(const struct proto_attempt *a, size_t na,
              const struct proto_attempt *b, size_t nb)
{
	ck_assert_uint_eq(na, nb);
	for (size_t i = 0; i < na; i++) {
		ck_assert_int_eq(a[i].id, b[i].id);
		ck_assert_int_eq(a[i].attempt, b[i].attempt);
	}
}

static void
same_files(const struct proto_file *a, size_t na, const struct proto_file *b,
           size_t nb)
{
	ck_assert_uint_eq(na, nb);
	for (size_t i = 0; i < na; i++) {
		ck_assert_str_eq(a[i].name, b[i].name);
		ck_assert_str_eq(a[i].sha, b[i].sha);
		ck_assert_int_eq(a[i].size, b[i].size);
	}
}

static const struct proto_attempt attempts[] = {
	{ 7, 1 }, { INT64_MAX, 3 }, { -9223372036854775807LL, 1 },
};
#define SHA_A "ab12000000000000000000000000000000000000000000000000000000000000"
#define SHA_B "cd34000000000000000000000000000000000000000000000000000000000000"
static const struct proto_file files[] = {
	{ "part-0.kcol", SHA_A, 123456789012LL }, { "schema.json", SHA_B, 0 },
};

/* A decoded message keeps its body alive by its own reference. */
#define DECODE(fn, m, j) do { \
	json_t *j_ = (j); \
	char *e_ = NULL; \
	int rc_ = fn(j_, (m), &e_); \
	ck_assert_msg(rc_ == 0, "%s: %s", #fn, e_ ? e_ : "?"); \
	json_decref(j_); \
} while (0)

START_TEST(register_round_trip)
{
	struct kiln_param params[] = {
		{ "n", "int", NULL, "how many" }, { "s", "string", "x", NULL },
		{ NULL, NULL, NULL, NULL },
	};
	struct kiln_plugin d = { .name = "noop", .version = "1.0",
	                         .params = params };
	json_t *decl = json_loads("[{\"name\":\"n\",\"type\":\"int\","
	                          "\"required\":true}]", 0, NULL);
	json_t *plugins = json_array();
	json_array_append_new(plugins, proto_plugin_json(&d, decl));
	json_array_append_new(plugins, proto_plugin_json(&d, NULL));
	json_t *perrs = json_loads("[{\"file\":\"x.so\",\"error\":\"bad\"}]", 0, NULL);
	struct proto_register m = {
		.name = "w1", .host = "h", .slots = 4, .memory = 1LL << 40,
		.plugins = plugins, .plugin_errors = perrs,
		.held = (struct proto_attempt *)attempts, .nheld = 3,
	};
	struct proto_register got;
	DECODE(proto_register_decode, &got, wire(proto_register_encode(&m)));
	ck_assert_str_eq(got.name, "w1");
	ck_assert_str_eq(got.host, "h");
	ck_assert_int_eq(got.slots, 4);
	ck_assert_int_eq(got.memory, 1LL << 40);
	same_attempts(got.held, got.nheld, attempts, 3);
	ck_assert(json_equal(got.plugins, plugins));
	ck_assert(json_equal(got.plugin_errors, perrs));
	ck_assert(json_equal(proto_plugin_decl(json_array_get(got.plugins, 0)), decl));
	ck_assert_ptr_null(proto_plugin_decl(json_array_get(got.plugins, 1)));
	same_json(proto_register_encode(&got), proto_register_encode(&m));
	proto_release(&got.own);
	json_decref(plugins);
	json_decref(perrs);
	json_decref(decl);

	struct proto_register_reply r = { .session = "00ff", .heartbeat_ms = 1000,
		.cancel = (struct proto_attempt *)attempts, .ncancel = 2 };
	struct proto_register_reply rg;
	DECODE(proto_register_reply_decode, &rg, wire(proto_register_reply_encode(&r)));
	ck_assert_str_eq(rg.session, "00ff");
	ck_assert_int_eq(rg.heartbeat_ms, 1000);
	same_attempts(rg.cancel, rg.ncancel, attempts, 2);
	proto_release(&rg.own);
}
END_TEST

START_TEST(exchange_round_trip)
{
	struct proto_result res[] = {
		{ .id = 1, .attempt = 2, .state = JOB_SUCCEEDED, .code = 0,
		  .result = "{\"x\":1.5}", .log = "a\nb\n", .finished_ms = 1700000000000LL,
		  .duration_ms = 12, .outputs = (struct proto_file *)files,
		  .noutputs = 2 },
		{ .id = 2, .attempt = 1, .state = JOB_FAILED, .code = -22,
		  .error = "bad \"input\"", .finished_ms = 5, .duration_ms = -1 },
		{ .id = 3, .attempt = 1, .state = JOB_CANCELLED, .code = -125,
		  .error = "cancelled", .log = "", .duration_ms = 0 },
	};
	struct proto_progress prog[] = {
		{ 1, 2, "line\n", 0.5 }, { 4, 1, NULL, 1 },
	};
	struct proto_exchange m = {
		.name = "w1", .session = "0123456789abcdef", .results = res,
		.nresults = 3, .running = (struct proto_attempt *)attempts,
		.nrunning = 3, .want = 1024, .wait_ms = 30000,
		.progress = prog, .nprogress = 2,
		.cache_bytes = 5000000000LL, .cache_files = 3,
		.cache_budget = 10737418240LL,
	};
	struct proto_exchange g;
	DECODE(proto_exchange_decode, &g, wire(proto_exchange_encode(&m)));
	ck_assert_str_eq(g.name, "w1");
	ck_assert_str_eq(g.session, m.session);
	ck_assert_int_eq(g.want, 1024);
	ck_assert_int_eq(g.wait_ms, 30000);
	ck_assert_int_eq(g.cache_bytes, 5000000000LL);
	ck_assert_int_eq(g.cache_files, 3);
	ck_assert_int_eq(g.cache_budget, 10737418240LL);
	same_attempts(g.running, g.nrunning, attempts, 3);
	ck_assert_uint_eq(g.nresults, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(g.results[i].id, res[i].id);
		ck_assert_int_eq(g.results[i].attempt, res[i].attempt);
		ck_assert_int_eq(g.results[i].state, res[i].state);
		ck_assert_int_eq(g.results[i].code, res[i].code);
		ck_assert_pstr_eq(g.results[i].result, res[i].result);
		ck_assert_pstr_eq(g.results[i].error, res[i].error);
		ck_assert_str_eq(g.results[i].log, res[i].log ? res[i].log : "");
		ck_assert_int_eq(g.results[i].finished_ms, res[i].finished_ms);
		ck_assert_int_eq(g.results[i].duration_ms, res[i].duration_ms);
		same_files(g.results[i].outputs, g.results[i].noutputs,
		           res[i].outputs, res[i].noutputs);
	}
	ck_assert_uint_eq(g.nprogress, 2);
	ck_assert_str_eq(g.progress[0].log, "line\n");
	ck_assert_ptr_null(g.progress[1].log);
	ck_assert(g.progress[0].progress == 0.5 && g.progress[1].progress == 1);
	same_json(proto_exchange_encode(&g), proto_exchange_encode(&m));
	proto_release(&g.own);
	/* The master reads it from its text: the same message. */
	json_t *e = proto_exchange_encode(&m);
	char *text = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	char *err = NULL;
	ck_assert_msg(proto_exchange_parse(text, strlen(text), &g, &err) == 0,
	              "%s", err);
	free(text);
	same_json(proto_exchange_encode(&g), proto_exchange_encode(&m));
	proto_release(&g.own);

	json_t *params = json_loads("{\"n\":3,\"s\":\"x\",\"d\":{\"a\":[1,2.5]}}",
	                            0, NULL);
	struct proto_task tasks[] = {
		{ .id = 10, .attempt = 1, .plugin = "noop",
		  .params = params, .slots = 2,
		  .memory = 1 << 20, .timeout_ms = 5000,
		  .inputs = (struct proto_file *)files, .ninputs = 2 },
		{ .id = INT64_MIN + 5, .attempt = 2, .plugin = "logreg",
		  .slots = 1, .stage = 1 },
		/* The text encoder's escapes and its widest integer. */
		{ .id = INT64_MIN, .attempt = 0, .plugin = "q\"b\\c\x01\n\xc3\xa9",
		  .slots = 1 },
	};
	struct proto_exchange_reply r = { .tasks = tasks, .ntasks = 3,
		.cancel = (struct proto_attempt *)attempts + 1, .ncancel = 1,
		.acked = 3, .heartbeat_ms = 5000 };
	struct proto_exchange_reply rg;
	DECODE(proto_exchange_reply_decode, &rg, reply_wire(&r));
	ck_assert_uint_eq(rg.ntasks, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(rg.tasks[i].id, tasks[i].id);
		ck_assert_int_eq(rg.tasks[i].attempt, tasks[i].attempt);
		ck_assert_str_eq(rg.tasks[i].plugin, tasks[i].plugin);
		json_t *want = tasks[i].params ? json_incref(tasks[i].params)
		                               : json_object();   /* absent: {} */
		ck_assert(json_equal(rg.tasks[i].params, want));
		json_decref(want);
		ck_assert_int_eq(rg.tasks[i].slots, tasks[i].slots);
		ck_assert_int_eq(rg.tasks[i].memory, tasks[i].memory);
		ck_assert_int_eq(rg.tasks[i].timeout_ms, tasks[i].timeout_ms);
		ck_assert_int_eq(rg.tasks[i].stage, tasks[i].stage);
		same_files(rg.tasks[i].inputs, rg.tasks[i].ninputs, tasks[i].inputs,
		           tasks[i].ninputs);
	}
	same_attempts(rg.cancel, rg.ncancel, attempts + 1, 1);
	ck_assert_int_eq(rg.acked, 3);
	ck_assert_int_eq(rg.heartbeat_ms, 5000);
	same_json(reply_wire(&rg), reply_wire(&r));
	proto_release(&rg.own);
	/* A worker reads it from its text, params kept as text: the same. */
	size_t rlen;
	char *rtext = proto_exchange_reply_text(&r, &rlen);
	ck_assert_msg(proto_exchange_reply_parse(rtext, rlen, &rg, &err) == 0,
	              "%s", err);
	free(rtext);
	ck_assert_ptr_null(rg.tasks[0].params);
	ck_assert_str_eq(rg.tasks[1].params_text, "{}");
	ck_assert_int_eq(rg.tasks[0].slots, 2);
	ck_assert_int_eq(rg.tasks[1].slots, 1);
	ck_assert_int_eq(rg.tasks[1].stage, 1);
	same_json(reply_wire(&rg), reply_wire(&r));
	proto_release(&rg.own);
	/* From a master before heartbeats_per_second: not said, 0. */
	json_t *old = reply_wire(&r);
	json_object_del(old, "heartbeat_ms");
	DECODE(proto_exchange_reply_decode, &rg, old);
	ck_assert_int_eq(rg.heartbeat_ms, 0);
	proto_release(&rg.own);
	json_decref(params);
}
END_TEST

/* The outbox's copies own what they hold. */
START_TEST(result_dup)
{
	struct proto_result r = { .id = 1, .attempt = 2, .state = JOB_FAILED,
		.error = "e", .log = "l", .duration_ms = -1,
		.outputs = (struct proto_file *)files, .noutputs = 2 };
	struct proto_result *d = proto_result_dup(&r);
	ck_assert_ptr_ne(d->error, r.error);
	ck_assert_str_eq(d->error, "e");
	ck_assert_ptr_null(d->result);
	same_files(d->outputs, d->noutputs, files, 2);
	ck_assert_ptr_ne(d->outputs[1].sha, files[1].sha);
	proto_result_free(d);
	proto_result_free(NULL);
}
END_TEST

START_TEST(leave_and_stage_round_trip)
{
	struct proto_leave l = { .session = "abc" }, lg;
	DECODE(proto_leave_decode, &lg, wire(proto_leave_encode(&l)));
	ck_assert_str_eq(lg.session, "abc");
	proto_release(&lg.own);
	json_t *ok = proto_leave_reply_encode();
	ck_assert(json_is_true(json_object_get(ok, "ok")));
	json_decref(ok);

	json_t *arg = json_loads("[1,\"a\"]", 0, NULL);
	json_t *bc = json_loads("{\"w\":[0.25]}", 0, NULL);
	json_t *p0 = proto_map_params("grad", 0, 2, arg, bc);
	json_t *p1 = proto_map_params("grad", 1, 2, NULL, NULL);
	char *p1s = json_dumps(p1, JSON_COMPACT);
	/* As workers always wrote it: absent values are null. */
	ck_assert_str_eq(p1s, "{\"__stage\":{\"fn\":\"grad\",\"index\":1,\"count\":2},"
	                 "\"__arg\":null,\"__broadcast\":null}");
	free(p1s);
	ck_assert(json_equal(json_object_get(p0, "__broadcast"), bc));
	struct proto_stage_task t[] = {
		{ .params = p0, .inputs = (struct proto_file *)files, .ninputs = 1,
		  .locality = "ab12" },
		{ .params = p1 },
	};
	struct proto_stage s = { .job = 42, .attempt = 2, .plugin = "logreg",
	                         .wait_ms = 1000, .tasks = t, .ntasks = 2 }, sg;
	DECODE(proto_stage_decode, &sg, wire(proto_stage_encode(&s)));
	ck_assert_int_eq(sg.job, 42);
	ck_assert_int_eq(sg.attempt, 2);
	ck_assert_str_eq(sg.plugin, "logreg");
	ck_assert_int_eq(sg.wait_ms, 1000);
	ck_assert_uint_eq(sg.ntasks, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert(json_equal(sg.tasks[i].params, t[i].params));
		ck_assert_pstr_eq(sg.tasks[i].locality, t[i].locality);
		same_files(sg.tasks[i].inputs, sg.tasks[i].ninputs, t[i].inputs,
		           t[i].ninputs);
	}
	same_json(proto_stage_encode(&sg), proto_stage_encode(&s));
	proto_release(&sg.own);
	json_decref(p0);
	json_decref(p1);
	json_decref(arg);
	json_decref(bc);

	const char *texts[] = { "{\"g\":[1.0000000000000002,-3]}", "null", "\"s\"" };
	struct proto_stage_reply r = { .stage = 9, .done = 1, .results = texts,
	                               .nresults = 3 }, rg;
	DECODE(proto_stage_reply_decode, &rg, wire(proto_stage_reply_encode(&r)));
	ck_assert_int_eq(rg.stage, 9);
	ck_assert_int_eq(rg.done, 1);
	ck_assert_uint_eq(rg.nresults, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(rg.results[i], texts[i]);
	proto_release(&rg.own);
	struct proto_stage_reply w = { .stage = 9 };
	DECODE(proto_stage_reply_decode, &rg, wire(proto_stage_reply_encode(&w)));
	ck_assert_int_eq(rg.done, 0);
	ck_assert_uint_eq(rg.nresults, 0);
	proto_release(&rg.own);
	json_t *c = proto_stage_cancelled_encode(9);
	ck_assert_str_eq(json_string_value(json_object_get(c, "state")), "cancelled");
	json_decref(c);
}
END_TEST

/* What older workers send: keys added since are absent. */
START_TEST(older_workers_decode)
{
	struct proto_exchange g;
	DECODE(proto_exchange_decode, &g, json_loads("{\"name\":\"w\",\"session\":"
		"\"1\",\"results\":[{\"id\":1,\"attempt\":1,\"state\":\"weird\","
		"\"result\":null}]}", 0, NULL));
	ck_assert_int_eq(g.results[0].state, JOB_FAILED);
	ck_assert_int_eq(g.results[0].code, 0);
	ck_assert_int_eq(g.results[0].duration_ms, -1);
	ck_assert_ptr_null(g.results[0].result);
	ck_assert_int_eq(g.want, 0);
	ck_assert_uint_eq(g.nrunning + g.nprogress, 0);
	ck_assert_int_eq(g.cache_bytes, -1);    /* not said */
	proto_release(&g.own);
	struct proto_register r;
	DECODE(proto_register_decode, &r, json_loads("{\"name\":\"w\",\"slots\":1,"
		"\"memory\":0,\"plugins\":[{\"name\":\"noop\"}]}", 0, NULL));
	ck_assert_str_eq(r.host, "");
	ck_assert_ptr_null(r.plugin_errors);
	ck_assert_uint_eq(r.nheld, 0);
	proto_release(&r.own);
	struct proto_file *f;
	size_t n;
	struct proto_own own;
	char *err = NULL;
	ck_assert_int_eq(proto_files_parse("[{\"name\":\"a\",\"sha\":\"" SHA_A "\",\"size\":3}]",
	                 &f, &n, &own, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(f[0].name, "a");
	proto_release(&own);
	ck_assert_int_eq(proto_files_parse("{}", &f, &n, &own, &err), -EINVAL);
	free(err);
	ck_assert_int_eq(proto_files_parse(NULL, &f, &n, &own, &err), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

enum kind { REG, REG_REPLY, EXCH, EXCH_REPLY, STAGE, STAGE_REPLY };

static const struct {
	enum kind kind;
	const char *body;
	const char *err;        /* what the error names */
} bad[] = {
	{ REG, "{\"slots\":1,\"memory\":0,\"plugins\":[]}", "name: missing" },
	{ REG, "{\"name\":3,\"slots\":1,\"memory\":0,\"plugins\":[]}", "name: must be a string" },
	{ REG, "{\"name\":\"w\",\"slots\":0,\"memory\":0,\"plugins\":[]}", "slots: 0 is out of range" },
	{ REG, "{\"name\":\"w\",\"slots\":4097,\"memory\":0,\"plugins\":[]}", "slots: 4097" },
	{ REG, "{\"name\":\"w\",\"slots\":1,\"memory\":-1,\"plugins\":[]}", "memory: -1" },
	{ REG, "{\"name\":\"w\",\"slots\":1,\"memory\":0,\"plugins\":{}}", "plugins: must be an array" },
	{ REG, "{\"name\":\"w\",\"slots\":1,\"memory\":0,\"plugins\":[{}]}", "plugins[0].name: missing" },
	{ REG, "{\"name\":\"w\",\"slots\":1,\"memory\":0,\"plugins\":[],\"held\":[{\"id\":1}]}", "held[0].attempt: missing" },
	{ REG, "{\"name\":\"w\",\"slots\":1,\"memory\":0,\"plugins\":[],\"held\":[7]}", "held[0]: must be an object" },
	{ REG, "{\"name\":\"w\",\"slots\":\"2\",\"memory\":0,\"plugins\":[]}", "slots: must be an integer" },
	{ REG_REPLY, "{\"heartbeat_ms\":1}", "session: missing" },
	{ EXCH, "{\"name\":\"w\"}", "session: missing" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"results\":[{\"id\":1,\"attempt\":1}]}", "results[0].state: missing" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"results\":[{\"id\":1,\"attempt\":1,\"state\":\"failed\",\"code\":\"x\"}]}", "results[0].code: must be an integer" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"results\":[{\"id\":1,\"attempt\":1,\"state\":\"succeeded\",\"outputs\":[{\"name\":\"a\",\"sha\":\"b\"}]}]}", "results[0].outputs[0].size: missing" },
	/* Names and hashes become paths on the worker (issue 13). */
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"results\":[{\"id\":1,\"attempt\":1,\"state\":\"succeeded\",\"outputs\":[{\"name\":\"a\",\"sha\":\"../../../../tmp/x\",\"size\":1}]}]}", "results[0].outputs[0].sha: not a SHA-256" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"results\":[{\"id\":1,\"attempt\":1,\"state\":\"succeeded\",\"outputs\":[{\"name\":\"a\",\"sha\":\"" SHA_A "0\",\"size\":1}]}]}", "results[0].outputs[0].sha: not a SHA-256" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"results\":[{\"id\":1,\"attempt\":1,\"state\":\"succeeded\",\"outputs\":[{\"name\":\"a/b\",\"sha\":\"" SHA_A "\",\"size\":1}]}]}", "results[0].outputs[0].name: not a file name" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"results\":[{\"id\":1,\"attempt\":1,\"state\":\"succeeded\",\"outputs\":[{\"name\":\"a\\u001b[2J\",\"sha\":\"" SHA_A "\",\"size\":1}]}]}", "results[0].outputs[0].name: not a file name" },
	{ EXCH_REPLY, "{\"tasks\":[{\"id\":1,\"attempt\":1,\"plugin\":\"p\",\"params\":{},\"inputs\":[{\"name\":\"up/../../x\",\"sha\":\"" SHA_A "\",\"size\":1}]}]}", "tasks[0].inputs[0].name: not a file name" },
	{ EXCH_REPLY, "{\"tasks\":[{\"id\":1,\"attempt\":1,\"plugin\":\"p\",\"params\":{},\"inputs\":[{\"name\":\"/etc/x\",\"sha\":\"" SHA_A "\",\"size\":1}]}]}", "tasks[0].inputs[0].name: not a file name" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"want\":-1}", "want: -1" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"wait_ms\":-5}", "wait_ms: -5" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"running\":\"x\"}", "running: must be an array" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"cache\":5}", "cache: must be an object" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"cache\":{\"bytes\":-1,\"files\":0,\"budget\":0}}", "cache.bytes: -1" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"cache\":{\"bytes\":1,\"budget\":0}}", "cache.files: missing" },
	{ EXCH, "{\"name\":\"w\",\"session\":\"1\",\"progress\":[{\"id\":1,\"attempt\":1,\"progress\":\"x\"}]}", "progress[0].progress: must be a number" },
	{ EXCH_REPLY, "{\"tasks\":[{\"id\":1,\"attempt\":1,\"plugin\":\"p\"}]}", "tasks[0].params: missing" },
	{ EXCH_REPLY, "{\"tasks\":[{\"id\":1,\"attempt\":1,\"plugin\":\"p\",\"params\":[]}]}", "tasks[0].params: must be an object" },
	{ EXCH_REPLY, "{\"tasks\":[{\"id\":1,\"attempt\":1,\"plugin\":\"p\",\"params\":{},\"stage\":1}]}", "tasks[0].stage: must be true or false" },
	{ EXCH_REPLY, "{\"cancel\":[{\"id\":1,\"attempt\":-1}]}", "cancel[0].attempt: -1" },
	{ STAGE, "{\"attempt\":1,\"plugin\":\"p\",\"tasks\":[{\"params\":{}}]}", "job: missing" },
	{ STAGE, "{\"job\":1,\"attempt\":1,\"plugin\":\"p\",\"tasks\":[]}", "tasks: must not be empty" },
	{ STAGE, "{\"job\":1,\"attempt\":1,\"plugin\":\"p\",\"tasks\":[{\"params\":3}]}", "tasks[0].params: must be an object" },
	{ STAGE, "{\"job\":1,\"attempt\":1,\"plugin\":\"p\",\"tasks\":[{\"params\":{},\"inputs\":{}}]}", "tasks[0].inputs: must be an array" },
	{ STAGE_REPLY, "{\"stage\":1}", "done: missing" },
	{ STAGE_REPLY, "{\"stage\":1,\"done\":true}", "results: missing" },
};

START_TEST(bad_input_names_the_field)
{
	json_t *j = json_loads(bad[_i].body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	char *err = NULL;
	int rc;
	union {
		struct proto_register reg;
		struct proto_register_reply reg_reply;
		struct proto_exchange exch;
		struct proto_exchange_reply exch_reply;
		struct proto_stage stage;
		struct proto_stage_reply stage_reply;
	} m;
	switch (bad[_i].kind) {
	case REG: rc = proto_register_decode(j, &m.reg, &err); break;
	case REG_REPLY: rc = proto_register_reply_decode(j, &m.reg_reply, &err); break;
	case EXCH: rc = proto_exchange_decode(j, &m.exch, &err); break;
	case EXCH_REPLY: rc = proto_exchange_reply_decode(j, &m.exch_reply, &err); break;
	case STAGE: rc = proto_stage_decode(j, &m.stage, &err); break;
	default: rc = proto_stage_reply_decode(j, &m.stage_reply, &err); break;
	}
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, bad[_i].err) != NULL, "%s: got \"%s\", want \"%s\"",
	              bad[_i].body, err, bad[_i].err);
	/* Nothing is held after a refusal: the body has its one reference. */
	ck_assert_int_eq(j->refcount, 1);
	free(err);
	json_decref(j);
	if (bad[_i].kind != EXCH && bad[_i].kind != EXCH_REPLY)
		return;
	/* The exchange and its reply are read from their text: the same
	 * message. */
	err = NULL;
	const char *b = bad[_i].body;
	rc = bad[_i].kind == EXCH ?
	     proto_exchange_parse(b, strlen(b), &m.exch, &err) :
	     proto_exchange_reply_parse(b, strlen(b), &m.exch_reply, &err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, bad[_i].err) != NULL, "text %s: got \"%s\", want \"%s\"",
	              bad[_i].body, err, bad[_i].err);
	free(err);
}
END_TEST

/* What the text reader refuses as JSON, as json_loadb() does. */
static const struct {
	const char *body;
	const char *err;
} bad_text[] = {
	{ "", "unexpected end" },
	{ "[]", "must be a JSON object" },
	{ "{\"name\":\"w\",\"session\":\"1\",}", "a key expected" },
	{ "{\"name\":\"w\",\"session\":\"1\"} x", "end of text expected" },
	{ "{\"name\":\"w\",\"session\":\"1\",\"x\":[1,]}", "invalid token" },
	{ "{\"name\":\"w\",\"session\":\"1\",\"x\":[1 2]}", "',' or ']' expected" },
	{ "{\"name\":\"w\\u0000\",\"session\":\"1\"}", "\\u0000 is not allowed" },
	{ "{\"name\":\"w\\ud800\",\"session\":\"1\"}", "a high surrogate alone" },
	{ "{\"name\":\"w\xc0\xaf\",\"session\":\"1\"}", "invalid UTF-8" },
	{ "{\"name\":\"w\xed\xa0\x80\",\"session\":\"1\"}", "invalid UTF-8" },
	{ "{\"name\":\"w\x01\",\"session\":\"1\"}", "control character" },
	{ "{\"name\":\"w\",\"session\":\"1\",\"want\":01}", "',' or '}' expected" },
	{ "{\"name\":\"w\",\"session\":\"1\",\"want\":9223372036854775808}", "integer out of range" },
	{ "{\"name\":\"w\",\"session\":\"1\",\"x\":1e999}", "real number overflow" },
	{ "{\"name\":\"w\",\"session\":\"1\",\"x\":tru}", "invalid token" },
	{ "{\"name\":\"w\",\"session\":\"1\",\"want\":1.5}", "want: must be an integer" },
	{ "{\"name\":\"w\",\"session\":\"1\",\"results\":[{\"id\":1,\"id\":null,\"attempt\":1,\"state\":\"x\"}]}", "results[0].id: missing" },
};

START_TEST(bad_text_refused)
{
	struct proto_exchange m;
	char *err = NULL;
	const char *b = bad_text[_i].body;
	/* jansson refuses it too (or it is valid JSON but a bad message). */
	json_t *j = json_loadb(b, strlen(b), 0, NULL);
	int valid = j != NULL;
	json_decref(j);
	ck_assert_int_eq(proto_exchange_parse(b, strlen(b), &m, &err), -EINVAL);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, bad_text[_i].err) != NULL, "%s: got \"%s\", want \"%s\"",
	              b, err, bad_text[_i].err);
	ck_assert(valid == (strstr(err, "malformed JSON") == NULL));
	free(err);
}
END_TEST

/* What a task prints need not be UTF-8; what a worker sends is. */
START_TEST(result_text_not_utf8)
{
	struct proto_result r = { .id = 1, .attempt = 1, .state = JOB_FAILED,
		.error = "bad \xff byte", .log = "\xc3\xa9t\xc3\n\x01",
		.duration_ms = -1 };
	struct proto_exchange m = { .name = "w", .session = "s", .results = &r,
		.nresults = 1, .cache_bytes = -1 }, g;
	size_t len;
	char *text = proto_exchange_text(&m, &len);
	char *err = NULL;
	ck_assert_msg(proto_exchange_parse(text, len, &g, &err) == 0, "%s", err);
	free(text);
	ck_assert_str_eq(g.results[0].error, "bad ? byte");
	ck_assert_str_eq(g.results[0].log, "\xc3\xa9t?\n\x01");
	ck_assert_int_eq(g.results[0].code, 0);
	proto_release(&g.own);
}
END_TEST

/* Escapes, UTF-8, nesting and keys it does not know: read as jansson
 * reads them. */
START_TEST(text_reads_as_jansson)
{
	const char *b = "{\"name\":\"w\\u00e9\\ud83d\\ude00\\n\\\"\\/\xc3\xa9\","
		"\"x\":{\"a\":[[[{\"b\":\"\\u0041\"}]]],\"c\":-1.5e3},"
		"\"session\":\"s\",\"want\":3,\"wait_ms\":null,"
		"\"results\":[{\"id\":-9223372036854775808,\"attempt\":2,"
		"\"state\":\"lost\",\"log\":\"a\\tb\",\"y\":[1,{\"z\":null}],"
		"\"outputs\":[{\"name\":\"o\\u0031\",\"sha\":\"" SHA_A "\",\"size\":7}]}],"
		"\"progress\":[{\"id\":4,\"attempt\":1,\"progress\":1}],"
		"\"cache\":null }";
	struct proto_exchange t, g;
	char *err = NULL;
	ck_assert_msg(proto_exchange_parse(b, strlen(b), &t, &err) == 0, "%s", err);
	json_t *j = json_loadb(b, strlen(b), 0, NULL);
	ck_assert_ptr_nonnull(j);
	DECODE(proto_exchange_decode, &g, j);
	ck_assert_str_eq(t.name, "w\xc3\xa9\xf0\x9f\x98\x80\n\"/\xc3\xa9");
	ck_assert_int_eq(t.results[0].id, INT64_MIN);
	ck_assert_int_eq(t.results[0].state, JOB_FAILED);
	ck_assert_str_eq(t.results[0].outputs[0].name, "o1");
	ck_assert_int_eq(t.cache_bytes, -1);
	same_json(proto_exchange_encode(&t), proto_exchange_encode(&g));
	proto_release(&t.own);
	proto_release(&g.own);
}
END_TEST

/* A heartbeat's wait: the first after a registration anywhere in 10% to
 * 100% of the interval, later ones within 10% of it, covering the range
 * (not a few values) and averaging the interval. */
START_TEST(heartbeat_spread)
{
	const int64_t hb = 1000;
	int64_t lo[2] = { INT64_MAX, INT64_MAX }, hi[2] = { 0, 0 }, sum = 0;
	uint32_t r = 12345;
	for (int i = 0; i < 20000; i++) {
		r = r * 1103515245u + 12345u;
		for (int first = 0; first < 2; first++) {
			int64_t w = proto_heartbeat_wait(hb, first, r >> 8);
			ck_assert_int_ge(w, first ? 100 : 900);
			ck_assert_int_le(w, first ? 1000 : 1100);
			lo[first] = w < lo[first] ? w : lo[first];
			hi[first] = w > hi[first] ? w : hi[first];
			if (!first)
				sum += w;
		}
	}
	ck_assert_int_le(lo[1], 110);
	ck_assert_int_ge(hi[1], 990);
	ck_assert_int_le(lo[0], 905);
	ck_assert_int_ge(hi[0], 1095);
	ck_assert_int_ge(sum / 20000, 990);
	ck_assert_int_le(sum / 20000, 1010);
	/* Extremes of R, and a short interval. */
	ck_assert_int_eq(proto_heartbeat_wait(hb, 0, 0), 900);
	ck_assert_int_le(proto_heartbeat_wait(hb, 0, UINT32_MAX), 1100);
	ck_assert_int_ge(proto_heartbeat_wait(10, 1, 0), 1);
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("messages");
	tcase_add_test(tc, register_round_trip);
	tcase_add_test(tc, exchange_round_trip);
	tcase_add_test(tc, result_dup);
	tcase_add_test(tc, leave_and_stage_round_trip);
	tcase_add_test(tc, older_workers_decode);
	tcase_add_test(tc, heartbeat_spread);
	tcase_add_test(tc, text_reads_as_jansson);
	tcase_add_test(tc, result_text_not_utf8);
	tcase_add_loop_test(tc, bad_text_refused, 0,
	                    sizeof bad_text / sizeof *bad_text);
	tcase_add_loop_test(tc, bad_input_names_the_field, 0,
	                    sizeof bad / sizeof bad[0]);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proto_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
