/* tests/test_store.c — the SQLite store: schema, run identity, resume semantics
 * (ok rows kept, error rows replaced), metrics, and refusal of foreign files. */
#include "tests/test.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness/store.h"

static store_run base_run(const char *name, const char *hash)
{
    store_run r = {0};
    r.name = name;
    r.backend = "native";
    r.config_hash = hash;
    r.config_json = "{}";
    r.mode = "generate";
    return r;
}

static store_result res(int64_t run, const char *id, int resolution, const char *status, const char *out)
{
    store_result r = {0};
    r.run_id = run;
    r.suite = "s";
    r.sample_id = id;
    r.resolution = resolution;
    r.quant = "q4_0";
    r.output = out;
    r.status = status;
    r.score = status[0] == 'o' ? 1.0 : NAN;
    r.correct = status[0] == 'o' ? 1 : -1;
    r.choice_margin = NAN;
    return r;
}

static int count_cb(void *ctx, const store_result *r)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

static void test_runs_and_results(void)
{
    char path[256];
    lv_error err;
    snprintf(path, sizeof path, "%s/a.db", t_tmpdir());
    unlink(path);
    store *s = store_open(path, 0, &err);
    T_CHECK(s != NULL, "open: %s", err.msg);
    if (!s) return;
    int64_t id, id2, id3;
    int created;
    store_run r = base_run("base", "h1");
    T_CHECK(store_run_open(s, &r, &id, &created, &err) == 0 && created, "create: %s", err.msg);
    T_CHECK(store_run_open(s, &r, &id2, &created, &err) == 0 && !created && id2 == id, "same run found again");
    store_run other = base_run("base", "h2");
    T_CHECK(store_run_open(s, &other, &id3, &created, &err) != 0 && strstr(err.msg, "different configuration"),
            "same name, other config refused: %s", err.msg);
    T_EQ_INT(store_run_lookup(s, "base", &err), id);
    char idstr[32];
    snprintf(idstr, sizeof idstr, "%lld", (long long)id);
    T_EQ_INT(store_run_lookup(s, idstr, &err), id);
    T_CHECK(store_run_lookup(s, "nope", &err) < 0, "unknown run");

    store_result a = res(id, "x1", 224, "ok", "yes");
    T_EQ_INT(store_result_put(s, &a, &err), 0);
    store_result a2 = res(id, "x1", 224, "ok", "no");
    T_EQ_INT(store_result_put(s, &a2, &err), 1);        /* finished rows are never replaced */
    store_result b = res(id, "x2", 224, "error", NULL);
    b.error = "bad image";
    T_EQ_INT(store_result_put(s, &b, &err), 0);
    T_CHECK(!store_result_done(s, id, "x2", 224, "q4_0"), "error row is not done");
    T_CHECK(store_result_done(s, id, "x1", 224, "q4_0"), "ok row is done");
    T_CHECK(!store_result_done(s, id, "x1", 112, "q4_0"), "other resolution is not done");
    store_result b2 = res(id, "x2", 224, "ok", "yes");
    T_EQ_INT(store_result_put(s, &b2, &err), 0);        /* the retry replaces the error */
    T_EQ_INT(store_count(s, id, NULL), 2);
    T_EQ_INT(store_count(s, id, "error"), 0);
    int n = 0;
    T_CHECK(store_results_foreach(s, id, count_cb, &n, &err) == 0 && n == 2, "foreach %d", n);

    store_metric m[2] = {{id, "s", "q4_0", "", 224, "accuracy", "exact", 0.5, 0.1, 0.9, 2},
                         {id, "s", "q4_0", "", 224, "f1", NULL, NAN, NAN, NAN, 0}};
    T_CHECK(store_metrics_replace(s, id, m, 2, &err) == 0, "metrics: %s", err.msg);
    T_CHECK(store_metrics_replace(s, id, m, 1, &err) == 0, "metrics again: %s", err.msg);
    T_CHECK(store_integrity_ok(s, &err) == 0, "integrity: %s", err.msg);
    store_close(s);

    /* the sqlite3 shell's view: plain SQL works on the file */
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT count(*), (SELECT count(*) FROM metrics) FROM results WHERE status='ok'", -1, &st, NULL);
    T_CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2 && sqlite3_column_int(st, 1) == 1, "sql view");
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    T_CHECK(sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0, "WAL mode");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* read-only open sees the same data */
    s = store_open(path, 1, &err);
    T_CHECK(s != NULL, "read-only open: %s", err.msg);
    if (s) { T_EQ_INT(store_count(s, id, "ok"), 2); store_close(s); }
}

static void test_foreign_files(void)
{
    char path[256];
    lv_error err;
    snprintf(path, sizeof path, "%s/foreign.db", t_tmpdir());
    t_write_file(path, "this is not a database, just text that is long enough to be a header....", 72);
    T_CHECK(store_open(path, 0, &err) == NULL && err.msg[0], "text file refused");
    unlink(path);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA user_version=99; CREATE TABLE t(x)", NULL, NULL, NULL);
    sqlite3_close(db);
    T_CHECK(store_open(path, 0, &err) == NULL && strstr(err.msg, "newer"), "newer schema refused: %s", err.msg);
    T_CHECK(store_open("/nonexistent/dir/x.db", 0, &err) == NULL, "missing directory");
    char empty[256];
    snprintf(empty, sizeof empty, "%s/none.db", t_tmpdir());
    T_CHECK(store_open(empty, 1, &err) == NULL, "read-only open of a missing store");
}

int main(void)
{
    T_RUN(test_runs_and_results);
    T_RUN(test_foreign_files);
    T_MAIN_END();
}
