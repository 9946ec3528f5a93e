/* harness/store.c — SQLite results store (see store.h). */
#include "harness/store.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct store {
    sqlite3      *db;
    char         *path;
    sqlite3_stmt *put, *done;
};

/* Schema version 1. Columns are documented in the README ("The store"). */
static const char schema_v1[] =
    "CREATE TABLE runs("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  created TEXT NOT NULL,"
    "  backend TEXT NOT NULL,"
    "  model_path TEXT, model_sha256 TEXT, mmproj_path TEXT, mmproj_sha256 TEXT,"
    "  remote_url TEXT, remote_model TEXT,"
    "  suite_name TEXT, suite_task TEXT, suite_provenance TEXT,"
    "  resolutions TEXT, quants TEXT, mode TEXT, template TEXT, prompt_hash TEXT, preprocess TEXT,"
    "  gen_config TEXT, config TEXT, config_hash TEXT NOT NULL, shard TEXT, program_version TEXT,"
    "  UNIQUE(name, config_hash));"
    "CREATE TABLE results("
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  suite TEXT NOT NULL, sample_id TEXT NOT NULL, image TEXT, category TEXT,"
    "  resolution INTEGER NOT NULL, quant TEXT NOT NULL,"
    "  prompt TEXT, output TEXT, parsed TEXT, score REAL, correct INTEGER, label TEXT,"
    "  logprobs TEXT, choice_margin REAL,"
    "  encode_ms REAL, prefill_ms REAL, decode_ms REAL, n_prompt_tokens INTEGER, n_gen_tokens INTEGER,"
    "  status TEXT NOT NULL CHECK(status IN ('ok','error')), error TEXT, meta TEXT,"
    "  created TEXT NOT NULL,"
    "  UNIQUE(run_id, sample_id, resolution, quant));"
    "CREATE TABLE metrics("
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  suite TEXT NOT NULL, resolution INTEGER NOT NULL, quant TEXT NOT NULL, category TEXT NOT NULL,"
    "  name TEXT NOT NULL, variant TEXT, value REAL, ci_low REAL, ci_high REAL, n INTEGER,"
    "  UNIQUE(run_id, suite, resolution, quant, category, name));"
    "CREATE INDEX results_status ON results(run_id, status);";

/* Migrations: entry v upgrades a file from user_version v to v+1. */
static const char *const migrations[] = {schema_v1};

static int sqlerr(store *s, lv_error *err, const char *what)
{
    int code = sqlite3_extended_errcode(s->db), se = sqlite3_system_errno(s->db);
    /* ENOSPC comes back as SQLITE_FULL; a quota or a file size limit (EDQUOT, EFBIG)
     * as an I/O error whose errno SQLite does not always keep */
    if ((code & 0xFF) == SQLITE_FULL ||
        ((code & 0xFF) == SQLITE_IOERR && (se == ENOSPC || se == EFBIG || se == EDQUOT)))
        return lv_errorf(err, "store: disk full (%s)", what);
    if (code == SQLITE_IOERR_WRITE || code == SQLITE_IOERR_FSYNC || code == SQLITE_IOERR_TRUNCATE)
        return lv_errorf(err, "store: disk full or write error (%s: %s)", what, sqlite3_errmsg(s->db));
    if ((code & 0xFF) == SQLITE_READONLY) return lv_errorf(err, "store: read-only (%s)", what);
    return lv_errorf(err, "%s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(store *s, const char *sql, lv_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sqlerr(s, err, msg ? msg : "sql");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

void store_close(store *s)
{
    if (!s) return;
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->done);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

const char *store_path(const store *s) { return s->path; }

static int migrate(store *s, lv_error *err)
{
    sqlite3_stmt *st;
    int v = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return sqlerr(s, err, "schema");
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (v > STORE_SCHEMA_VERSION)
        return lv_errorf(err, "schema version %d is newer than this program's (%d)", v, STORE_SCHEMA_VERSION);
    for (; v < STORE_SCHEMA_VERSION; v++) {
        char pragma[64];
        if (exec(s, "BEGIN IMMEDIATE", err)) return -1;
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
        if (exec(s, migrations[v], err) || exec(s, pragma, err)) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        if (exec(s, "COMMIT", err)) return -1;
    }
    return 0;
}

store *store_open(const char *path, int readonly, lv_error *err)
{
    store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        lv_errorf(err, "out of memory");
        return NULL;
    }
    if (!readonly && access(path, F_OK) == 0 && access(path, W_OK) != 0) {
        lv_errorf(err, "store: read-only: cannot write %s: %s", path, strerror(errno));
        goto fail;
    }
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        lv_errorf(err, "cannot open: %s", s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 10000);
    sqlite3_extended_result_codes(s->db, 1);
    if (!readonly) {
        /* A store opened for writing must really be writable (a read-only
         * directory or file system is refused here, before any work). */
        if (exec(s, "PRAGMA journal_mode=WAL", err) || exec(s, "PRAGMA synchronous=FULL", err) ||
            exec(s, "PRAGMA foreign_keys=ON", err) || migrate(s, err))
            goto fail;
        if (exec(s, "BEGIN IMMEDIATE; COMMIT", err)) goto fail;
    } else {
        sqlite3_stmt *st;
        int v = -1;
        if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int(st, 0);
        else {
            sqlerr(s, err, "not a llava-eval store");
            sqlite3_finalize(st);
            goto fail;
        }
        sqlite3_finalize(st);
        if (v != STORE_SCHEMA_VERSION) {
            lv_errorf(err, v == 0 ? "not a llava-eval store (empty or foreign database)"
                                  : "schema version %d; this program reads version %d", v, STORE_SCHEMA_VERSION);
            goto fail;
        }
    }
    return s;
fail:
    store_close(s);
    return NULL;
}

static void now_iso(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

int store_run_open(store *s, const store_run *r, int64_t *run_id, int *created, lv_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    *created = 0;
    if (!r->name || !*r->name || !r->config_hash) return lv_errorf(err, "a run needs a name and a configuration");
    if (exec(s, "BEGIN IMMEDIATE", err)) return -1;
    if (sqlite3_prepare_v2(s->db, "SELECT id, config_hash FROM runs WHERE name = ?1", -1, &st, NULL) != SQLITE_OK) {
        sqlerr(s, err, "runs");
        goto done;
    }
    bind_text(st, 1, r->name);
    int found = 0, other = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (strcmp((const char *)sqlite3_column_text(st, 1), r->config_hash) == 0) {
            *run_id = sqlite3_column_int64(st, 0);
            found = 1;
        } else {
            other = 1;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (found) { rc = 0; goto done; }
    if (other) {
        lv_errorf(err, "a run named '%s' already exists with a different configuration; choose another --name", r->name);
        goto done;
    }
    static const char *ins =
        "INSERT INTO runs(name, created, backend, model_path, model_sha256, mmproj_path, mmproj_sha256,"
        " remote_url, remote_model, suite_name, suite_task, suite_provenance, resolutions, quants, mode,"
        " template, prompt_hash, preprocess, gen_config, config, config_hash, shard, program_version)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23)";
    if (sqlite3_prepare_v2(s->db, ins, -1, &st, NULL) != SQLITE_OK) { sqlerr(s, err, "runs"); goto done; }
    char ts[32];
    now_iso(ts, sizeof ts);
    const char *v[] = {r->name, ts, r->backend ? r->backend : "native", r->model_path, r->model_sha256,
                       r->mmproj_path, r->mmproj_sha256, r->remote_url, r->remote_model, r->suite_name,
                       r->suite_task, r->suite_provenance_json, r->resolutions_json, r->quants_json, r->mode,
                       r->template_name, r->prompt_hash, r->preprocess, r->gen_json, r->config_json,
                       r->config_hash, r->shard, r->program_version};
    for (int i = 0; i < (int)(sizeof v / sizeof v[0]); i++) bind_text(st, i + 1, v[i]);
    if (sqlite3_step(st) != SQLITE_DONE) { sqlerr(s, err, "new run"); goto done; }
    *run_id = sqlite3_last_insert_rowid(s->db);
    *created = 1;
    rc = 0;
done:
    sqlite3_finalize(st);
    if (rc == 0 && exec(s, "COMMIT", err)) rc = -1;
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int64_t store_run_lookup(store *s, const char *name_or_id, lv_error *err)
{
    sqlite3_stmt *st;
    int64_t id = -1;
    int n = 0;
    char *end;
    long long asnum = strtoll(name_or_id, &end, 10);
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM runs WHERE name = ?1 OR (?2 AND id = ?3)", -1, &st, NULL) != SQLITE_OK)
        return sqlerr(s, err, "runs");
    bind_text(st, 1, name_or_id);
    sqlite3_bind_int(st, 2, *name_or_id && !*end);
    sqlite3_bind_int64(st, 3, asnum);
    while (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0) return lv_errorf(err, "no run named '%s'", name_or_id);
    if (n > 1) return lv_errorf(err, "'%s' names %d runs; use the run id", name_or_id, n);
    return id;
}

int store_result_done(store *s, int64_t run_id, const char *sample_id, int resolution, const char *quant)
{
    int done = 0;
    if (!s->done &&
        sqlite3_prepare_v2(s->db, "SELECT 1 FROM results WHERE run_id=?1 AND sample_id=?2 AND resolution=?3"
                                  " AND quant=?4 AND status='ok'", -1, &s->done, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(s->done, 1, run_id);
    bind_text(s->done, 2, sample_id);
    sqlite3_bind_int(s->done, 3, resolution);
    bind_text(s->done, 4, quant);
    done = sqlite3_step(s->done) == SQLITE_ROW;
    sqlite3_reset(s->done);
    return done;
}

int store_result_put(store *s, const store_result *r, lv_error *err)
{
    /* The conflict clause keeps a finished row and lets a retry replace an error. */
    static const char *sql =
        "INSERT INTO results(run_id, suite, sample_id, image, category, resolution, quant, prompt, output,"
        " parsed, score, correct, label, logprobs, choice_margin, encode_ms, prefill_ms, decode_ms,"
        " n_prompt_tokens, n_gen_tokens, status, error, meta, created)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24)"
        " ON CONFLICT(run_id, sample_id, resolution, quant) DO UPDATE SET"
        " suite=excluded.suite, image=excluded.image, category=excluded.category, prompt=excluded.prompt,"
        " output=excluded.output, parsed=excluded.parsed, score=excluded.score, correct=excluded.correct,"
        " label=excluded.label, logprobs=excluded.logprobs, choice_margin=excluded.choice_margin,"
        " encode_ms=excluded.encode_ms, prefill_ms=excluded.prefill_ms, decode_ms=excluded.decode_ms,"
        " n_prompt_tokens=excluded.n_prompt_tokens, n_gen_tokens=excluded.n_gen_tokens,"
        " status=excluded.status, error=excluded.error, meta=excluded.meta, created=excluded.created"
        " WHERE results.status = 'error'";
    if (!s->put && sqlite3_prepare_v2(s->db, sql, -1, &s->put, NULL) != SQLITE_OK) return sqlerr(s, err, "results");
    if (!r->status || (strcmp(r->status, "ok") && strcmp(r->status, "error")))
        return lv_errorf(err, "result status must be ok or error");
    char ts[32];
    now_iso(ts, sizeof ts);
    sqlite3_stmt *st = s->put;
    sqlite3_bind_int64(st, 1, r->run_id);
    bind_text(st, 2, r->suite);
    bind_text(st, 3, r->sample_id);
    bind_text(st, 4, r->image);
    bind_text(st, 5, r->category);
    sqlite3_bind_int(st, 6, r->resolution);
    bind_text(st, 7, r->quant);
    bind_text(st, 8, r->prompt);
    bind_text(st, 9, r->output);
    bind_text(st, 10, r->parsed);
    bind_real(st, 11, r->score);
    if (r->correct < 0) sqlite3_bind_null(st, 12);
    else sqlite3_bind_int(st, 12, r->correct);
    bind_text(st, 13, r->label);
    bind_text(st, 14, r->logprobs_json);
    bind_real(st, 15, r->choice_margin);
    bind_real(st, 16, r->encode_ms);
    bind_real(st, 17, r->prefill_ms);
    bind_real(st, 18, r->decode_ms);
    sqlite3_bind_int(st, 19, r->n_prompt_tokens);
    sqlite3_bind_int(st, 20, r->n_gen_tokens);
    bind_text(st, 21, r->status);
    bind_text(st, 22, r->error);
    bind_text(st, 23, r->meta_json);
    bind_text(st, 24, ts);
    int rc = sqlite3_step(st);
    int changed = sqlite3_changes(s->db);
    if (rc != SQLITE_DONE) sqlerr(s, err, "saving a result");   /* before reset clears the codes */
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return -1;
    return changed ? 0 : 1;
}

int64_t store_count(store *s, int64_t run_id, const char *status)
{
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM results WHERE run_id=?1 AND (?2 IS NULL OR status=?2)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    bind_text(st, 2, status);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static const char *col_text(sqlite3_stmt *st, int i) { return (const char *)sqlite3_column_text(st, i); }
static double col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int store_results_foreach(store *s, int64_t run_id, store_result_fn fn, void *ctx, lv_error *err)
{
    sqlite3_stmt *st;
    static const char *sql =
        "SELECT suite, sample_id, image, category, resolution, quant, prompt, output, parsed, score, correct,"
        " label, logprobs, choice_margin, encode_ms, prefill_ms, decode_ms, n_prompt_tokens, n_gen_tokens,"
        " status, error, meta FROM results WHERE run_id=?1 ORDER BY sample_id, resolution, quant";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return sqlerr(s, err, "results");
    sqlite3_bind_int64(st, 1, run_id);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        store_result r = {
            .run_id = run_id, .suite = col_text(st, 0), .sample_id = col_text(st, 1), .image = col_text(st, 2),
            .category = col_text(st, 3), .resolution = sqlite3_column_int(st, 4), .quant = col_text(st, 5),
            .prompt = col_text(st, 6), .output = col_text(st, 7), .parsed = col_text(st, 8),
            .score = col_real(st, 9),
            .correct = sqlite3_column_type(st, 10) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 10),
            .label = col_text(st, 11), .logprobs_json = col_text(st, 12), .choice_margin = col_real(st, 13),
            .encode_ms = col_real(st, 14), .prefill_ms = col_real(st, 15), .decode_ms = col_real(st, 16),
            .n_prompt_tokens = sqlite3_column_int(st, 17), .n_gen_tokens = sqlite3_column_int(st, 18),
            .status = col_text(st, 19), .error = col_text(st, 20), .meta_json = col_text(st, 21),
        };
        if ((rc = fn(ctx, &r)) != 0) break;
    }
    if (rc == 0 && step != SQLITE_DONE) rc = sqlerr(s, err, "reading results");
    sqlite3_finalize(st);
    return rc;
}

int store_metrics_replace(store *s, int64_t run_id, const store_metric *m, int64_t n, lv_error *err)
{
    sqlite3_stmt *del = NULL, *ins = NULL;
    int rc = -1;
    if (exec(s, "BEGIN IMMEDIATE", err)) return -1;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM metrics WHERE run_id=?1", -1, &del, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO metrics(run_id, suite, resolution, quant, category, name,"
                                  " variant, value, ci_low, ci_high, n) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                           -1, &ins, NULL) != SQLITE_OK) {
        sqlerr(s, err, "metrics");
        goto done;
    }
    sqlite3_bind_int64(del, 1, run_id);
    if (sqlite3_step(del) != SQLITE_DONE) { sqlerr(s, err, "metrics"); goto done; }
    for (int64_t i = 0; i < n; i++) {
        sqlite3_bind_int64(ins, 1, run_id);
        bind_text(ins, 2, m[i].suite);
        sqlite3_bind_int(ins, 3, m[i].resolution);
        bind_text(ins, 4, m[i].quant);
        bind_text(ins, 5, m[i].category ? m[i].category : "");
        bind_text(ins, 6, m[i].name);
        bind_text(ins, 7, m[i].variant);
        bind_real(ins, 8, m[i].value);
        bind_real(ins, 9, m[i].ci_low);
        bind_real(ins, 10, m[i].ci_high);
        sqlite3_bind_int64(ins, 11, m[i].n);
        if (sqlite3_step(ins) != SQLITE_DONE) { sqlerr(s, err, "saving a metric"); goto done; }
        sqlite3_reset(ins);
    }
    rc = 0;
done:
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    if (rc == 0 && exec(s, "COMMIT", err)) rc = -1;
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int store_integrity_ok(store *s, lv_error *err)
{
    sqlite3_stmt *st;
    int ok = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) return sqlerr(s, err, "integrity");
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = col_text(st, 0);
        ok = v && strcmp(v, "ok") == 0;
        if (!ok) lv_errorf(err, "integrity check: %s", v ? v : "?");
    }
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

int store_query(store *s, const char *sql, const char *const *params, int nparams, store_row_fn fn, void *ctx,
                lv_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return sqlerr(s, err, "query");
    for (int i = 0; i < nparams; i++) bind_text(st, i + 1, params[i]);
    int nc = sqlite3_column_count(st), rc = 0, step;
    const char **cols = calloc((size_t)(nc ? nc : 1), sizeof *cols);
    const char **names = calloc((size_t)(nc ? nc : 1), sizeof *names);
    if (!cols || !names) { free(cols); free(names); sqlite3_finalize(st); return lv_errorf(err, "out of memory"); }
    for (int i = 0; i < nc; i++) names[i] = sqlite3_column_name(st, i);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < nc; i++) cols[i] = col_text(st, i);
        if ((rc = fn(ctx, nc, cols, names)) != 0) break;
    }
    if (rc == 0 && step != SQLITE_DONE) rc = sqlerr(s, err, "query");
    free(cols);
    free(names);
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ merge */

int store_merge(store *s, const char *in_path, int64_t *run_ids, int cap, int *n, lv_error *err)
{
    sqlite3_stmt *runs = NULL, *find = NULL, *conflict = NULL, *copy = NULL;
    int rc = -1;
    lv_error e2;
    char *uri = sqlite3_mprintf("file:%s?mode=ro", in_path);
    if (!uri) return lv_errorf(err, "out of memory");
    /* the input must be a store of this schema (opening it checks) */
    store *in = store_open(in_path, 1, &e2);
    if (!in) { sqlite3_free(uri); return lv_errorf(err, "%s: %s", in_path, e2.msg); }
    store_close(in);
    sqlite3_stmt *att;
    if (sqlite3_prepare_v2(s->db, "ATTACH DATABASE ?1 AS src", -1, &att, NULL) != SQLITE_OK) { sqlite3_free(uri); return sqlerr(s, err, "attach"); }
    bind_text(att, 1, uri);
    int arc = sqlite3_step(att);
    sqlite3_finalize(att);
    sqlite3_free(uri);
    if (arc != SQLITE_DONE) return sqlerr(s, err, in_path);
    if (exec(s, "BEGIN IMMEDIATE", err)) goto detach;
    static const char *cols =
        "suite, sample_id, image, category, resolution, quant, prompt, output, parsed, score, correct, label,"
        " logprobs, choice_margin, encode_ms, prefill_ms, decode_ms, n_prompt_tokens, n_gen_tokens, status, error,"
        " meta, created";
    char copy_sql[2048], *p = copy_sql;
    p += snprintf(p, sizeof copy_sql, "INSERT INTO main.results(run_id, %s) SELECT ?1, %s FROM src.results WHERE run_id = ?2"
                  " AND true ON CONFLICT(run_id, sample_id, resolution, quant) DO UPDATE SET", cols, cols);
    static const char *upd[] = {"suite", "image", "category", "prompt", "output", "parsed", "score", "correct", "label",
                                "logprobs", "choice_margin", "encode_ms", "prefill_ms", "decode_ms", "n_prompt_tokens",
                                "n_gen_tokens", "status", "error", "meta", "created"};
    for (size_t i = 0; i < sizeof upd / sizeof upd[0]; i++)
        p += snprintf(p, sizeof copy_sql - (size_t)(p - copy_sql), "%s %s=excluded.%s", i ? "," : "", upd[i], upd[i]);
    snprintf(p, sizeof copy_sql - (size_t)(p - copy_sql), " WHERE main.results.status = 'error'");
    if (sqlite3_prepare_v2(s->db, "SELECT id, name, config_hash FROM src.runs ORDER BY id", -1, &runs, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "SELECT id, config_hash FROM main.runs WHERE name = ?1", -1, &find, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "SELECT d.sample_id FROM src.results x JOIN main.results d ON d.run_id = ?1 AND"
                           " d.sample_id = x.sample_id AND d.resolution = x.resolution AND d.quant = x.quant"
                           " WHERE x.run_id = ?2 AND x.status = 'ok' AND d.status = 'ok' AND d.output IS NOT x.output LIMIT 1",
                           -1, &conflict, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, copy_sql, -1, &copy, NULL) != SQLITE_OK) {
        sqlerr(s, err, "merge");
        goto rollback;
    }
    while (sqlite3_step(runs) == SQLITE_ROW) {
        int64_t src_id = sqlite3_column_int64(runs, 0), dst_id = -1;
        const char *name = col_text(runs, 1), *hash = col_text(runs, 2);
        sqlite3_reset(find);
        bind_text(find, 1, name);
        while (sqlite3_step(find) == SQLITE_ROW) {
            if (strcmp(col_text(find, 1), hash) == 0) dst_id = sqlite3_column_int64(find, 0);
            else {
                lv_errorf(err, "%s: run '%s' has a different configuration than the run of that name here", in_path, name);
                goto rollback;
            }
        }
        if (dst_id < 0) {
            sqlite3_stmt *ins;
            /* the merged run is the union of its shards: no shard label */
            if (sqlite3_prepare_v2(s->db,
                                   "INSERT INTO main.runs(name, created, backend, model_path, model_sha256, mmproj_path,"
                                   " mmproj_sha256, remote_url, remote_model, suite_name, suite_task, suite_provenance,"
                                   " resolutions, quants, mode, template, prompt_hash, preprocess, gen_config, config,"
                                   " config_hash, shard, program_version) SELECT name, created, backend, model_path,"
                                   " model_sha256, mmproj_path, mmproj_sha256, remote_url, remote_model, suite_name,"
                                   " suite_task, suite_provenance, resolutions, quants, mode, template, prompt_hash,"
                                   " preprocess, gen_config, config, config_hash, NULL, program_version FROM src.runs"
                                   " WHERE id = ?1", -1, &ins, NULL) != SQLITE_OK) {
                sqlerr(s, err, "merge");
                goto rollback;
            }
            sqlite3_bind_int64(ins, 1, src_id);
            int irc = sqlite3_step(ins);
            sqlite3_finalize(ins);
            if (irc != SQLITE_DONE) { sqlerr(s, err, "merge"); goto rollback; }
            dst_id = sqlite3_last_insert_rowid(s->db);
        }
        sqlite3_reset(conflict);
        sqlite3_bind_int64(conflict, 1, dst_id);
        sqlite3_bind_int64(conflict, 2, src_id);
        if (sqlite3_step(conflict) == SQLITE_ROW) {
            lv_errorf(err, "%s: sample '%s' of run '%s' has a different output here (conflicting rows)", in_path,
                      col_text(conflict, 0), name);
            goto rollback;
        }
        sqlite3_reset(copy);
        sqlite3_bind_int64(copy, 1, dst_id);
        sqlite3_bind_int64(copy, 2, src_id);
        if (sqlite3_step(copy) != SQLITE_DONE) { sqlerr(s, err, "merge"); goto rollback; }
        int seen = 0;
        for (int i = 0; i < *n && i < cap; i++) seen |= run_ids[i] == dst_id;
        if (!seen && *n < cap) run_ids[(*n)++] = dst_id;
    }
    sqlite3_finalize(runs); runs = NULL;
    sqlite3_finalize(find); find = NULL;
    sqlite3_finalize(conflict); conflict = NULL;
    sqlite3_finalize(copy); copy = NULL;
    if (exec(s, "COMMIT", err)) goto rollback;
    rc = 0;
    goto detach;
rollback:
    sqlite3_finalize(runs);
    sqlite3_finalize(find);
    sqlite3_finalize(conflict);
    sqlite3_finalize(copy);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
detach:
    sqlite3_exec(s->db, "DETACH DATABASE src", NULL, NULL, NULL);
    return rc;
}
