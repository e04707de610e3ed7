/* SPDX-License-Identifier: MIT */
/*
 * ingest-test.c - unit tests of the kcol format (lib/kcol/kcol.h)
 * and of the bundled 'ingest' plugin, run through the real host side of
 * the ABI (plugin.c loads the .so, task.c runs it and keeps its outputs).
 *
 * The plugin comes from $KILN_PLUGIN_BUILD (default KILN_SRCDIR/plugins/lib)
 * and iris.csv from KILN_SRCDIR/examples/data.  Each test works in a fresh
 * directory under /tmp.
 */
#include <check.h>

#include "testutil.h"
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "plugin.h"
#include "store.h"
#include "task.h"
#include "kcol/kcol.h"
#include "csv/csv.h"

#ifndef KILN_SRCDIR
#define KILN_SRCDIR "."
#endif

static char tmpdir[256];        /* per test: plugins/, cache/, scratch/ */
static char plugdir[300];
static char cachedir[300];
static char scratchdir[300];
static plugin_registry *reg;
static dataroot *roots;         /* the worker's read roots: tmpdir, examples */

/* ------------------------------------------------------------ helpers */

static void
copy_file(const char *src, const char *dst)
{
	FILE *in = fopen(src, "rb");
	ck_assert_msg(in != NULL, "cannot open %s: %s (build the plugin "
	              "first)", src, strerror(errno));
	FILE *out = fopen(dst, "wb");
	ck_assert_msg(out != NULL, "cannot create %s", dst);
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

/* TMPDIR/NAME with TEXT in it; the path is returned in a static slot. */
static const char *
write_csv(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot create %s", path);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}


static void
setup(void)
{
	tu_tmpdir(tmpdir, sizeof tmpdir, "ingest-test");
	snprintf(plugdir, sizeof plugdir, "%s/plugins", tmpdir);
	snprintf(cachedir, sizeof cachedir, "%s/cache", tmpdir);
	snprintf(scratchdir, sizeof scratchdir, "%s/scratch", tmpdir);
	ck_assert_int_eq(mkdir(plugdir, 0700), 0);
	ck_assert_int_eq(mkdir(scratchdir, 0700), 0);

	const char *dir = getenv("KILN_PLUGIN_BUILD");
	if (dir == NULL || *dir == '\0')
		dir = KILN_SRCDIR "/plugins/lib";
	char src[512], dst[512];
	snprintf(src, sizeof src, "%s/ingest.so", dir);
	snprintf(dst, sizeof dst, "%s/ingest.so", plugdir);
	copy_file(src, dst);
	char *err = NULL;
	int rc = plugin_registry_open(plugdir, cachedir, task_host(), &reg,
	                              &err);
	ck_assert_msg(rc == 0, "registry: %s", err ? err : "?");
	roots = dataroot_new("test");
	dataroot_add(roots, tmpdir, "data.read_roots");
	dataroot_add(roots, KILN_SRCDIR "/examples/data", "data.read_roots");
}

static void
teardown(void)
{
	plugin_registry_close(reg);
	reg = NULL;
	dataroot_free(roots);
	roots = NULL;
	tu_rmtree(tmpdir);
}

/* A new task with PARAMS (and input INPUT as "data.csv" if not NULL). */
static kiln_task *
new_task(const char *params, const char *input)
{
	char *err = NULL;
	kiln_task *t = task_new(7, 1, params, scratchdir, 0, &err);
	ck_assert_msg(t != NULL, "task_new: %s", err ? err : "?");
	task_set_dataroot(t, roots);
	if (input != NULL)
		ck_assert_int_eq(task_add_input(t, "data.csv", input), 0);
	return t;
}

static int
run(kiln_task *t)
{
	plugin *p = plugin_acquire(reg, "ingest");
	ck_assert_msg(p != NULL, "plugin ingest not loaded");
	int state = task_run(t, p);
	plugin_release(p);
	return state;
}

/* Run ingest on the file PATH with EXTRA params ("" or ",\"k\":v"). */
static kiln_task *
run_file(const char *path, const char *extra, int *state)
{
	char params[1024];
	snprintf(params, sizeof params, "{\"file\":\"%s\"%s}", path, extra);
	kiln_task *t = new_task(params, NULL);
	*state = run(t);
	return t;
}

static const void *
output(kiln_task *t, const char *name, size_t *len)
{
	for (int i = 0; i < task_output_count(t); i++) {
		const void *data;
		if (strcmp(task_output(t, i, &data, len), name) == 0)
			return data;
	}
	ck_abort_msg("no output %s", name);
	return NULL;
}

/* Partition P of task T, opened (the task owns the bytes). */
static void
open_part(kiln_task *t, int p, struct kcol *k)
{
	char name[32], err[256];
	size_t len;
	snprintf(name, sizeof name, "part-%05d.kcol", p);
	const void *data = output(t, name, &len);
	ck_assert_msg(kcol_open(data, len, k, err, sizeof err) == 0,
	              "%s: %s", name, err);
}

static json_t *
load_json(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *v = json_loadb(text, len, 0, &jerr);
	ck_assert_msg(v != NULL, "bad JSON: %s", jerr.text);
	return v;
}

static json_t *
schema(kiln_task *t)
{
	size_t len;
	const char *s = output(t, "schema.json", &len);
	return load_json(s, len);
}

static int64_t
jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static const char *
jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static void
assert_name(const struct kcol *k, uint32_t i, const char *name)
{
	size_t len;
	const char *n = kcol_name(k, i, &len);
	ck_assert_uint_eq(len, strlen(name));
	ck_assert(memcmp(n, name, len) == 0);
}

static void
assert_level(const struct kcol *k, uint32_t i, uint32_t j, const char *s)
{
	size_t len;
	const char *l = kcol_level(k, i, j, &len);
	ck_assert_msg(len == strlen(s) && memcmp(l, s, len) == 0,
	              "level %u of column %u: '%.*s', expected '%s'", j, i,
	              (int)len, l, s);
}

/* ------------------------------------------------------------ plugin */

/* csv_number's fast path gives strtod's double, bit for bit, on numbers
 * of every shape data files hold, and leaves the rest to strtod. */
START_TEST(numbers_equal_strtod)
{
	static const char *const fixed[] = {
		"0", "-0", "+0", "0.0", "-0.000", "1", "-1", "12345", "0.1", "0.3",
		"-0.12345", "3.14159265358979", "1e5", "1E-5", "2.5e+3", ".5",
		"5.", "007", "0.000001", "123456789012345678", "9007199254740993",
		"1e22", "1e23", "1e-22", "1e-23", "4.9e-324", "1.7976931348623157e308",
		"17.99 ", " 10.38", "1e400", "1e-400", "0.1e1", "99999999999999999",
		"123.456e-2", "8.589", "0.006193", "-3.0000000000000001",
	};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		double a = 0, b = strtod(fixed[i], NULL);
		ck_assert_msg(csv_number(fixed[i], &a) || !isfinite(b),
		              "%s not a number", fixed[i]);
		if (isfinite(b))
			ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "%s: %.17g != %.17g",
			              fixed[i], a, b);
	}
	/* Random decimals: 1-20 digits, a point anywhere, an exponent. */
	srand(7);
	char buf[64];
	for (int n = 0; n < 300000; n++) {
		char *p = buf;
		if (rand() % 3 == 0)
			*p++ = '-';
		int nd = 1 + rand() % 20, point = rand() % (nd + 1);
		for (int k = 0; k < nd; k++) {
			if (k == point && rand() % 2)
				*p++ = '.';
			*p++ = (char)('0' + rand() % 10);
		}
		if (rand() % 4 == 0)
			p += sprintf(p, "e%d", rand() % 61 - 30);
		*p = '\0';
		double a = 0, b = strtod(buf, NULL);
		ck_assert_msg(csv_number(buf, &a), "%s not a number", buf);
		ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "%s: %.17g != %.17g",
		              buf, a, b);
	}
	double d;
	ck_assert(!csv_number("1.2.3", &d));
	ck_assert(!csv_number("1e", &d));
	ck_assert(!csv_number("+-1", &d));
	ck_assert(!csv_number("12a", &d));
	ck_assert(csv_is_missing("") && csv_is_missing("NA") && csv_is_missing("nan"));
	ck_assert(!csv_is_missing("N") && !csv_is_missing("NAB") && !csv_is_missing("0"));
}
END_TEST

START_TEST(iris_three_partitions)
{
	const char *path = KILN_SRCDIR "/examples/data/iris.csv";
	int state;
	kiln_task *t = run_file(path, ",\"partitions\":3,\"label\":\"species\"",
	                        &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "failed: %s", task_error(t));

	json_t *res = load_json(task_result(t), strlen(task_result(t)));
	ck_assert_int_eq(jint(res, "rows"), 150);
	ck_assert_int_eq(jint(res, "columns"), 5);
	ck_assert_int_eq(jint(res, "partitions"), 3);
	json_decref(res);
	ck_assert_int_eq(task_output_count(t), 4);

	/* The sum of the first column, parsed independently, in row order
	 * so that the two sums are the same double. */
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char line[256];
	double want = 0;
	ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
	while (fgets(line, sizeof line, f) != NULL)
		want += strtod(line, NULL);
	fclose(f);

	double got = 0;
	static const char *species[] = { "setosa", "versicolor", "virginica" };
	for (int p = 0; p < 3; p++) {
		struct kcol k;
		open_part(t, p, &k);
		ck_assert_uint_eq(k.nrows, 50);
		ck_assert_uint_eq(k.ncols, 5);
		assert_name(&k, 0, "sepal_length_(cm)");
		assert_name(&k, 4, "species");
		for (uint32_t i = 0; i < 4; i++)
			ck_assert_int_eq(kcol_type(&k, i), KCOL_NUMERIC);
		ck_assert_int_eq(kcol_type(&k, 4), KCOL_CATEGORICAL);
		ck_assert_ptr_null(kcol_numeric(&k, 4));
		ck_assert_ptr_null(kcol_codes(&k, 0));
		ck_assert_uint_eq(kcol_nlevels(&k, 4), 3);
		for (uint32_t j = 0; j < 3; j++)
			assert_level(&k, 4, j, species[j]);
		const double *sl = kcol_numeric(&k, 0);
		for (uint64_t r = 0; r < k.nrows; r++)
			got += sl[r];
		/* iris is sorted by species: row order was kept. */
		const uint32_t *codes = kcol_codes(&k, 4);
		for (uint64_t r = 0; r < k.nrows; r++)
			ck_assert_uint_eq(codes[r], (uint32_t)p);
		kcol_close(&k);
	}
	ck_assert(got == want);
	ck_assert(fabs(got - 876.5) < 1e-9);

	json_t *s = schema(t);
	ck_assert_int_eq(jint(s, "rows"), 150);
	ck_assert_int_eq(jint(s, "partitions"), 3);
	ck_assert_str_eq(jstr(s, "label"), "species");
	json_t *cols = json_object_get(s, "columns");
	ck_assert_uint_eq(json_array_size(cols), 5);
	ck_assert_str_eq(jstr(json_array_get(cols, 0), "type"), "numeric");
	ck_assert_ptr_null(json_object_get(json_array_get(cols, 0), "levels"));
	json_t *sp = json_array_get(cols, 4);
	ck_assert_str_eq(jstr(sp, "name"), "species");
	ck_assert_str_eq(jstr(sp, "type"), "categorical");
	ck_assert_int_eq(jint(sp, "missing"), 0);
	json_t *lv = json_object_get(sp, "levels");
	ck_assert_uint_eq(json_array_size(lv), 3);
	ck_assert_str_eq(json_string_value(json_array_get(lv, 2)), "virginica");
	json_decref(s);
	task_free(t);
}
END_TEST

/* Sizes of the partitions of R rows into N, and the row order. */
static const struct split_case {
	int rows, parts;
	int sizes[5];
} split_cases[] = {
	{ 10, 4, { 3, 3, 2, 2 } },
	{ 2, 3, { 1, 1, 0 } },
	{ 5, 1, { 5 } },
	{ 5, 5, { 1, 1, 1, 1, 1 } },
};

START_TEST(split_sizes)
{
	const struct split_case *sc = &split_cases[_i];
	char text[256] = "x,y\n";
	for (int r = 1; r <= sc->rows; r++) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof text - n, "%d,r%d\n", r, r);
	}
	const char *path = write_csv("split.csv", text);
	char extra[64];
	snprintf(extra, sizeof extra, ",\"partitions\":%d", sc->parts);
	int state;
	kiln_task *t = run_file(path, extra, &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "failed: %s", task_error(t));
	ck_assert_int_eq(task_output_count(t), sc->parts + 1);
	double next = 1;
	for (int p = 0; p < sc->parts; p++) {
		struct kcol k;
		open_part(t, p, &k);
		ck_assert_uint_eq(k.nrows, (uint64_t)sc->sizes[p]);
		const double *x = kcol_numeric(&k, 0);
		const uint32_t *y = kcol_codes(&k, 1);
		for (uint64_t r = 0; r < k.nrows; r++, next++) {
			ck_assert(x[r] == next);
			char want[16];
			snprintf(want, sizeof want, "r%d", (int)next);
			size_t len;
			const char *l = kcol_level(&k, 1, y[r], &len);
			ck_assert(len == strlen(want) &&
			          memcmp(l, want, len) == 0);
		}
		kcol_close(&k);
	}
	ck_assert(next == sc->rows + 1);
	task_free(t);
}
END_TEST

START_TEST(missing_values)
{
	const char *path = write_csv("missing.csv",
	        "num,cat,empty,mixed\r\n"
	        "1.5,b,,1\r\n"
	        ",NA,NA,inf\r\n"
	        "NaN,\"a,\"\"q\"\"\nz\",NaN,2\r\n"
	        "NA,,,\r\n"
	        " -2e3 ,b,nan,3\r\n");
	int state;
	kiln_task *t = run_file(path, ",\"partitions\":1", &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "failed: %s", task_error(t));
	struct kcol k;
	open_part(t, 0, &k);
	ck_assert_uint_eq(k.nrows, 5);

	const double *num = kcol_numeric(&k, 0);
	ck_assert_ptr_nonnull(num);
	ck_assert(num[0] == 1.5);
	ck_assert(isnan(num[1]) && isnan(num[2]) && isnan(num[3]));
	ck_assert(num[4] == -2000);

	/* Levels sorted by bytes; the quoted one keeps its comma, quotes
	 * and newline. */
	const uint32_t *cat = kcol_codes(&k, 1);
	ck_assert_ptr_nonnull(cat);
	ck_assert_uint_eq(kcol_nlevels(&k, 1), 2);
	assert_level(&k, 1, 0, "a,\"q\"\nz");
	assert_level(&k, 1, 1, "b");
	ck_assert_uint_eq(cat[0], 1);
	ck_assert_uint_eq(cat[1], KCOL_MISSING);
	ck_assert_uint_eq(cat[2], 0);
	ck_assert_uint_eq(cat[3], KCOL_MISSING);
	ck_assert_uint_eq(cat[4], 1);

	/* Nothing but missing values: numeric, all NaN. */
	ck_assert_int_eq(kcol_type(&k, 2), KCOL_NUMERIC);
	for (int r = 0; r < 5; r++)
		ck_assert(isnan(kcol_numeric(&k, 2)[r]));
	/* "inf" is not a finite number: the column is categorical. */
	ck_assert_int_eq(kcol_type(&k, 3), KCOL_CATEGORICAL);
	ck_assert_uint_eq(kcol_nlevels(&k, 3), 4);
	assert_level(&k, 3, 3, "inf");
	kcol_close(&k);

	json_t *s = schema(t);
	json_t *cols = json_object_get(s, "columns");
	static const int missing[] = { 3, 2, 5, 1 };
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(jint(json_array_get(cols, i), "missing"),
		                 missing[i]);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(
	        json_array_get(cols, 1), "levels"), 0)), "a,\"q\"\nz");
	ck_assert(json_is_null(json_object_get(s, "label")));
	json_decref(s);
	task_free(t);
}
END_TEST

START_TEST(zero_rows)
{
	const char *path = write_csv("empty.csv", "a,b,c\n");
	int state;
	kiln_task *t = run_file(path, ",\"partitions\":4", &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "failed: %s", task_error(t));
	ck_assert_int_eq(task_output_count(t), 5);
	for (int p = 0; p < 4; p++) {
		struct kcol k;
		open_part(t, p, &k);
		ck_assert_uint_eq(k.nrows, 0);
		ck_assert_uint_eq(k.ncols, 3);
		assert_name(&k, 2, "c");
		kcol_close(&k);
	}
	json_t *res = load_json(task_result(t), strlen(task_result(t)));
	ck_assert_int_eq(jint(res, "rows"), 0);
	ck_assert_int_eq(jint(res, "columns"), 3);
	ck_assert_int_eq(jint(res, "partitions"), 4);
	json_decref(res);
	json_t *s = schema(t);
	ck_assert_int_eq(jint(s, "rows"), 0);
	json_decref(s);
	task_free(t);
}
END_TEST

/* Dates become time columns (seconds since 1970, UTC): Mon-D-YYYY, ISO
 * date-times with offsets, YYYYMMDD numbers, a time_format; a column
 * with one non-date stays categorical; the schema says where each row is
 * in the CSV, across a quoted newline and a blank line. */
START_TEST(time_columns)
{
	const char *path = write_csv("dates.csv",
	        "DATE,iso,ymd,dmy,mixed,v\n"
	        "Jan-1-1995,2024-03-10T14:30:15+01:00,19580329,31/12/1999,x,1\n"
	        "Feb-1-1995,2024-03-10,19580405,,1995-01-01,\"2\n\"\n"
	        "\n"
	        "Mar-1-1995,,20240229,01/01/2000,1995-02-01,3\n");
	int state;
	kiln_task *t = run_file(path, ",\"partitions\":1,\"time_format\":"
	                        "\"%d/%m/%Y\"", &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "failed: %s", task_error(t));
	struct kcol k;
	open_part(t, 0, &k);
	static const int types[] = { KCOL_TIME, KCOL_TIME, KCOL_TIME, KCOL_TIME,
	                             KCOL_CATEGORICAL, KCOL_CATEGORICAL };
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(kcol_type(&k, i), types[i]);
	const double *d = kcol_numeric(&k, 0);
	ck_assert(d[0] == 788918400.0 && d[1] == 791596800.0 &&
	          d[2] == 794016000.0);
	ck_assert(kcol_numeric(&k, 1)[0] == 1710077415.0);
	ck_assert(isnan(kcol_numeric(&k, 1)[2]));
	ck_assert(kcol_numeric(&k, 2)[0] == -371174400.0);
	ck_assert(kcol_numeric(&k, 3)[2] == 946684800.0);
	kcol_close(&k);
	json_t *s = schema(t);
	json_t *cols = json_object_get(s, "columns");
	ck_assert_str_eq(jstr(json_array_get(cols, 0), "type"), "time");
	ck_assert_str_eq(jstr(json_array_get(cols, 0), "unit"), "date");
	ck_assert_str_eq(jstr(json_array_get(cols, 1), "unit"), "datetime");
	ck_assert_int_eq(jint(json_array_get(cols, 1), "missing"), 1);
	ck_assert_str_eq(jstr(s, "source"), path);
	/* rows 0 and 1 on lines 2 and 3; row 2 on line 6 (after the quoted
	 * newline and the blank line) */
	char *lines = json_dumps(json_object_get(s, "lines"), JSON_COMPACT);
	ck_assert_str_eq(lines, "[[0,2],[2,6]]");
	free(lines);
	json_decref(s);
	task_free(t);

	/* time_columns: only those, and a value that is not a date is an
	 * error naming the line; none: no times at all. */
	path = write_csv("bad.csv", "d,e\n2020-01-01,2020-01-01\n"
	                 "2020-01-02,2020-01-02\n2020-02-30,x\n");
	t = run_file(path, ",\"time_columns\":\"e\"", &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert_msg(strstr(task_error(t), "bad.csv:4: column 'e': 'x' is not "
	              "a time") != NULL, "%s", task_error(t));
	task_free(t);
	t = run_file(path, ",\"time_columns\":\"none\",\"partitions\":1",
	             &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "failed: %s", task_error(t));
	open_part(t, 0, &k);
	ck_assert_int_eq(kcol_type(&k, 0), KCOL_CATEGORICAL);
	kcol_close(&k);
	task_free(t);
	t = run_file(path, ",\"time_columns\":\"zz\"", &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert(strstr(task_error(t), "'zz', which is not a column") != NULL);
	task_free(t);
	t = run_file(path, ",\"time_format\":\"%Y-%j\"", &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert(strstr(task_error(t), "unknown directive") != NULL);
	task_free(t);
}
END_TEST

/* A UTF-8 byte order mark is not part of the first column's name. */
START_TEST(byte_order_mark)
{
	const char *path = write_csv("bom.csv", "\xef\xbb\xbf" "a,b\n1,x\n");
	int state;
	kiln_task *t = run_file(path, ",\"partitions\":1", &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "failed: %s", task_error(t));
	struct kcol k;
	open_part(t, 0, &k);
	ck_assert_uint_eq(k.nrows, 1);
	assert_name(&k, 0, "a");
	ck_assert_int_eq(kcol_type(&k, 0), KCOL_NUMERIC);
	kcol_close(&k);
	task_free(t);
}
END_TEST

START_TEST(first_input)
{
	const char *path = write_csv("in.csv", "a\n1\n\n2\n");
	kiln_task *t = new_task("{\"partitions\":\"1\"}", path);
	ck_assert_msg(run(t) == JOB_SUCCEEDED, "failed: %s", task_error(t));
	struct kcol k;
	open_part(t, 0, &k);
	/* One column: the blank line is a missing value. */
	ck_assert_uint_eq(k.nrows, 3);
	ck_assert(isnan(kcol_numeric(&k, 0)[1]));
	kcol_close(&k);
	task_free(t);

	/* Errors name the input, not the worker's path to it. */
	path = write_csv("bad.csv", "a,b\n1,2\n3\n");
	t = new_task(NULL, path);
	ck_assert_int_eq(run(t), JOB_FAILED);
	ck_assert_ptr_nonnull(strstr(task_error(t), "data.csv:3: expected 2"));
	task_free(t);

	t = new_task(NULL, NULL);
	ck_assert_int_eq(run(t), JOB_FAILED);
	ck_assert_ptr_nonnull(strstr(task_error(t), "no file"));
	task_free(t);
}
END_TEST

static const struct error_case {
	const char *csv;        /* NULL: a file that does not exist */
	const char *extra;      /* more params */
	const char *expect;     /* after "FILE" in the error, or anywhere */
} error_cases[] = {
	{ "a,b\n1,2\n3,4,5\n", "", ":3: expected 2 fields, found 3" },
	{ "a,b\n1,\"2\n3,4\n", "", ":2: unterminated quoted field" },
	{ "", "", ":1: empty file (no header)" },
	{ "\n\r\n", "", "empty file (no header)" },
	{ "a\n1\n", ",\"partitions\":0", "must be an integer from 1 to 1024" },
	{ "a\n1\n", ",\"partitions\":1025", "from 1 to 1024, not 1025" },
	{ "a\n1\n", ",\"partitions\":\"two\"", "not two" },
	{ "a\n1\n", ",\"partitions\":2.5", "not 2.5" },
	{ "a\n1\n", ",\"label\":\"b\"", "label 'b' is not a column" },
	{ NULL, "", "outside the read roots" },
};

START_TEST(errors)
{
	const struct error_case *ec = &error_cases[_i];
	const char *path = ec->csv != NULL ? write_csv("e.csv", ec->csv) :
	                   "/nonexistent/e.csv";
	char where[600];
	snprintf(where, sizeof where, "%s", path);
	int state;
	kiln_task *t = run_file(path, ec->extra, &state);
	ck_assert_int_eq(state, JOB_FAILED);
	const char *e = task_error(t);
	ck_assert_ptr_nonnull(e);
	ck_assert_msg(strstr(e, ec->expect) != NULL, "error '%s', expected "
	              "'%s'", e, ec->expect);
	if (ec->expect[0] == ':') {
		strncat(where, ec->expect, sizeof where - strlen(where) - 1);
		ck_assert_msg(strstr(e, where) != NULL, "'%s' lacks '%s'", e,
		              where);
	}
	ck_assert_int_eq(task_output_count(t), 0);
	task_free(t);
}
END_TEST

START_TEST(too_many_columns)
{
	size_t n = 1000001;
	char *text = malloc(2 * n + 8);
	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < n; i++) {
		text[2 * i] = 'c';
		text[2 * i + 1] = i + 1 < n ? ',' : '\n';
	}
	text[2 * n] = '\0';
	const char *path = write_csv("wide.csv", text);
	free(text);
	int state;
	kiln_task *t = run_file(path, "", &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert_ptr_nonnull(strstr(task_error(t), "wide.csv:1: 1000001 "
	                             "columns, more than"));
	task_free(t);
}
END_TEST

/* ------------------------------------------------------------ format */

/* Random columns; the caller frees with free_random(). */
struct rnd {
	struct kcol_column cols[6];
	uint32_t ncols;
	uint64_t nrows;
	char *names[6];
	char **levels[6];
};

static void
make_random(struct rnd *d, unsigned seed)
{
	srand(seed);
	memset(d, 0, sizeof *d);
	d->ncols = (uint32_t)(rand() % 7);
	d->nrows = (uint64_t)(seed % 4 == 0 ? 0 : rand() % 500);
	for (uint32_t i = 0; i < d->ncols; i++) {
		struct kcol_column *c = &d->cols[i];
		int len = rand() % 12;
		d->names[i] = calloc(1, (size_t)len + 1);
		for (int j = 0; j < len; j++)
			d->names[i][j] = (char)('a' + rand() % 26);
		c->name = d->names[i];
		c->type = rand() % 2;
		if (c->type == KCOL_NUMERIC) {
			double *v = malloc((d->nrows + 1) * sizeof *v);
			for (uint64_t r = 0; r < d->nrows; r++)
				v[r] = rand() % 10 == 0 ? NAN :
				       (rand() - RAND_MAX / 2) / 7.0;
			c->num = v;
			continue;
		}
		c->nlevels = (uint32_t)(rand() % 20);
		d->levels[i] = calloc(c->nlevels + 1, sizeof(char *));
		for (uint32_t j = 0; j < c->nlevels; j++) {
			d->levels[i][j] = malloc(16);
			/* j == 0 may be the empty string */
			snprintf(d->levels[i][j], 16, "%.*s%03u", j ? 3 : 0,
			         "lvl", j);
		}
		c->levels = (const char *const *)d->levels[i];
		uint32_t *codes = malloc((d->nrows + 1) * sizeof *codes);
		for (uint64_t r = 0; r < d->nrows; r++)
			codes[r] = c->nlevels == 0 || rand() % 8 == 0 ?
			           KCOL_MISSING : (uint32_t)rand() % c->nlevels;
		c->codes = codes;
	}
}

static void
free_random(struct rnd *d)
{
	for (uint32_t i = 0; i < d->ncols; i++) {
		free(d->names[i]);
		free((void *)d->cols[i].num);
		free((void *)d->cols[i].codes);
		for (uint32_t j = 0; d->levels[i] && j < d->cols[i].nlevels; j++)
			free(d->levels[i][j]);
		free(d->levels[i]);
	}
}

START_TEST(round_trip)
{
	struct rnd d;
	make_random(&d, (unsigned)_i + 1);
	void *buf;
	size_t len;
	ck_assert_int_eq(kcol_write(d.cols, d.ncols, d.nrows, &buf, &len), 0);

	struct kcol k;
	char err[256];
	ck_assert_msg(kcol_open(buf, len, &k, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(k.ncols, d.ncols);
	ck_assert_uint_eq(k.nrows, d.nrows);
	for (uint32_t i = 0; i < d.ncols; i++) {
		const struct kcol_column *c = &d.cols[i];
		assert_name(&k, i, c->name);
		ck_assert_int_eq(kcol_type(&k, i), c->type);
		/* Data blocks are aligned, so they can be used in place. */
		const void *data = c->type == KCOL_NUMERIC ?
		                   (const void *)kcol_numeric(&k, i) :
		                   (const void *)kcol_codes(&k, i);
		ck_assert_uint_eq((uintptr_t)data % 8, 0);
		if (c->type == KCOL_NUMERIC) {
			/* Bytewise, so that NaN compares equal. */
			ck_assert(d.nrows == 0 ||
			          memcmp(data, c->num, d.nrows * 8) == 0);
			continue;
		}
		ck_assert(d.nrows == 0 ||
		          memcmp(data, c->codes, d.nrows * 4) == 0);
		ck_assert_uint_eq(kcol_nlevels(&k, i), c->nlevels);
		for (uint32_t j = 0; j < c->nlevels; j++)
			assert_level(&k, i, j, c->levels[j]);
	}
	kcol_close(&k);
	free(buf);
	free_random(&d);
}
END_TEST

START_TEST(writer_refuses_bad_code)
{
	static const char *levels[] = { "x", "y" };
	uint32_t codes[3] = { 0, KCOL_MISSING, 2 };
	struct kcol_column c = { .name = "c", .type = KCOL_CATEGORICAL,
	                         .codes = codes, .levels = levels,
	                         .nlevels = 2 };
	void *buf = (void *)1;
	size_t len = 1;
	ck_assert_int_eq(kcol_write(&c, 1, 3, &buf, &len), -EINVAL);
	ck_assert_ptr_null(buf);
	codes[2] = 1;
	ck_assert_int_eq(kcol_write(&c, 1, 3, &buf, &len), 0);
	free(buf);
	c.type = 7;
	ck_assert_int_eq(kcol_write(&c, 1, 3, &buf, &len), -EINVAL);
}
END_TEST

/* A small valid partition: numeric "n" and categorical "c". */
static void *
sample(size_t *len)
{
	static const double num[3] = { 1, NAN, 3 };
	static const uint32_t codes[3] = { 1, KCOL_MISSING, 0 };
	static const char *levels[] = { "a", "bb" };
	struct kcol_column cols[2] = {
		{ .name = "n", .type = KCOL_NUMERIC, .num = num },
		{ .name = "c", .type = KCOL_CATEGORICAL, .codes = codes,
		  .levels = levels, .nlevels = 2 },
	};
	void *buf;
	ck_assert_int_eq(kcol_write(cols, 2, 3, &buf, len), 0);
	return buf;
}

/* kcol_open on a private exact-size copy of BUF, so that ASan sees any
 * read past its end; returns kcol_open's result and closes on success. */
static int
try_open(const void *buf, size_t len, char *err, size_t errlen)
{
	void *copy = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, buf, len);
	struct kcol k;
	int rc = kcol_open(copy, len, &k, err, errlen);
	if (rc == 0) {
		/* Whatever was accepted must be safe to walk. */
		for (uint32_t i = 0; i < k.ncols; i++) {
			size_t n;
			(void)kcol_name(&k, i, &n);
			const uint32_t *codes = kcol_codes(&k, i);
			for (uint64_t r = 0; codes && r < k.nrows; r++)
				if (codes[r] != KCOL_MISSING)
					(void)kcol_level(&k, i, codes[r], &n);
		}
		kcol_close(&k);
	} else {
		ck_assert_uint_eq(k.ncols, 0);
		ck_assert_ptr_null(k.cols);
	}
	free(copy);
	return rc;
}

START_TEST(hostile_truncated)
{
	size_t len;
	unsigned char *buf = sample(&len);
	char err[256];
	ck_assert_int_eq(try_open(buf, len, err, sizeof err), 0);
	for (size_t n = 0; n < len; n++)
		ck_assert_msg(try_open(buf, n, err, sizeof err) < 0,
		              "accepted %zu of %zu bytes", n, len);
	/* One byte too many is refused as well. */
	unsigned char *more = calloc(1, len + 1);
	memcpy(more, buf, len);
	ck_assert_int_eq(try_open(more, len + 1, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "trailing"));
	free(more);
	free(buf);
}
END_TEST

/* Byte offsets in sample(): header 20, then column "n": type 20, name
 * length 21, name 25; column "c": type 26, name length 27, name 31,
 * nlevels 32, level "a" 36 (len) 40, level "bb" 41 (len) 45; data of
 * "n" at 48, codes of "c" at 72, end at 84. */
static const struct hostile_case {
	size_t off;
	int width;              /* 1, 4 or 8 bytes, little-endian */
	uint64_t value;
	const char *expect;
} hostile_cases[] = {
	{ 0, 1, 'X', "bad magic" },
	{ 5, 1, 1, "bad magic" },
	{ 8, 4, 0xFFFFFFFF, "columns cannot fit" },
	{ 8, 4, 3, "" },        /* padding read as a third header */
	{ 12, 8, UINT64_MAX, "rows past the end" },
	{ 12, 8, UINT64_MAX / 8 + 1, "rows past the end" },
	{ 12, 8, 4, "rows past the end" },
	{ 12, 8, 2, "code 1074266112 out of 2" }, /* 3.0 read as codes */
	{ 20, 1, 3, "bad type" },
	{ 21, 4, 0xFFFFFFFF, "past the end" },
	{ 21, 4, 0x7FFFFFFF, "past the end" },
	{ 32, 4, 0xFFFFFFFF, "cannot fit" },
	{ 32, 4, 3, "rows past the end" },
	{ 36, 4, 0xFFFFFFFE, "past the end" },
	{ 41, 4, 0xFFFFFFFF, "past the end" },
	{ 72, 4, 2, "code 2 out of 2 levels" },
	{ 76, 4, 0xFFFFFFFE, "out of 2 levels" },
	{ 26, 1, 0, "trailing bytes" }, /* "c" read as numeric */
};

START_TEST(hostile_fields)
{
	const struct hostile_case *hc = &hostile_cases[_i];
	size_t len;
	unsigned char *buf = sample(&len);
	ck_assert_uint_eq(len, 84);
	for (int b = 0; b < hc->width; b++)
		buf[hc->off + b] = (unsigned char)(hc->value >> (8 * b));
	char err[256] = "";
	ck_assert_int_eq(try_open(buf, len, err, sizeof err), -1);
	ck_assert_msg(strstr(err, hc->expect) != NULL, "error '%s', expected "
	              "'%s'", err, hc->expect);
	free(buf);
}
END_TEST

/* No columns: nothing but this bounds the rows, which must not be more
 * than kcol_write() writes (the fuzzer's find: 2^64 - 2^32 rows in 20
 * bytes, which nrows * 8 wraps). */
START_TEST(hostile_no_columns)
{
	unsigned char buf[KCOL_HEADER_LEN] = "KCOL1";
	char err[256] = "";
	buf[19] = 0x20;         /* 2^61 rows */
	ck_assert_int_eq(try_open(buf, sizeof buf, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "too many"));
	buf[19] = 0x1F;
	ck_assert_int_eq(try_open(buf, sizeof buf, err, sizeof err), 0);
	void *out;
	size_t len;
	ck_assert_int_eq(kcol_write(NULL, 0, (uint64_t)1 << 61, &out, &len),
	                 -EOVERFLOW);
}
END_TEST

START_TEST(hostile_random)
{
	/* Flip bytes at random: kcol_open may accept the result (a changed
	 * value) but must never read out of bounds. */
	size_t len;
	unsigned char *orig = sample(&len);
	unsigned char *buf = malloc(len);
	char err[256];
	srand(12345);
	int accepted = 0;
	for (int round = 0; round < 20000; round++) {
		memcpy(buf, orig, len);
		int flips = 1 + rand() % 4;
		for (int f = 0; f < flips; f++)
			buf[rand() % len] = (unsigned char)rand();
		accepted += try_open(buf, len, err, sizeof err) == 0;
	}
	ck_assert_int_gt(accepted, 0);     /* e.g. flips in the data */
	ck_assert_int_lt(accepted, 20000);

	/* Unaligned buffers are refused rather than read unaligned. */
	unsigned char *mis = malloc(len + 1);
	memcpy(mis + 1, orig, len);
	struct kcol k;
	ck_assert_int_eq(kcol_open(mis + 1, len, &k, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "aligned"));
	ck_assert_int_eq(kcol_open(NULL, 0, &k, err, sizeof err), -1);
	free(mis);
	free(buf);
	free(orig);
}
END_TEST

/* ------------------------------------------------------------ main */

static Suite *
ingest_suite(void)
{
	Suite *s = suite_create("ingest");
	TCase *tc = tcase_create("format");
	tcase_add_loop_test(tc, round_trip, 0, 64);
	tcase_add_test(tc, writer_refuses_bad_code);
	tcase_add_test(tc, hostile_truncated);
	tcase_add_loop_test(tc, hostile_fields, 0,
	                    sizeof hostile_cases / sizeof hostile_cases[0]);
	tcase_add_test(tc, hostile_no_columns);
	tcase_add_test(tc, hostile_random);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("plugin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, numbers_equal_strtod);
	tcase_add_test(tc, iris_three_partitions);
	tcase_add_loop_test(tc, split_sizes, 0,
	                    sizeof split_cases / sizeof split_cases[0]);
	tcase_add_test(tc, missing_values);
	tcase_add_test(tc, zero_rows);
	tcase_add_test(tc, byte_order_mark);
	tcase_add_test(tc, time_columns);
	tcase_add_test(tc, first_input);
	tcase_add_loop_test(tc, errors, 0,
	                    sizeof error_cases / sizeof error_cases[0]);
	tcase_add_test(tc, too_many_columns);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ingest_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
