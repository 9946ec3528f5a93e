/* harness/store.h — the results store: one SQLite file in WAL mode holding runs,
 * every result row and the computed metrics. This is the only module that
 * includes sqlite3.h.
 *
 * Durability: WAL with synchronous=FULL, and every result is committed as it is
 * produced (store_result_put is one transaction), so a killed process never loses
 * a finished row and never leaves half a row. The schema is versioned with
 * PRAGMA user_version; store_open migrates older files forward.
 *
 * Identity: a run is (name, config_hash). Running the same command again finds
 * the same run and resumes it; the same name with a different configuration is
 * refused. Results are keyed UNIQUE (run, sample, resolution, quant): a finished
 * ('ok') row is never replaced; an 'error' row is replaced by its retry.
 *
 * Ownership: store_open returns a handle the caller closes with store_close.
 * Strings passed in are copied by SQLite; strings handed to callbacks live only
 * for the duration of the callback.
 */
#ifndef LV_STORE_H
#define LV_STORE_H

#include <stdint.h>

#include "engine/base.h"

#define STORE_SCHEMA_VERSION 1

typedef struct store store;

/* Opens (creating if needed, unless readonly) and migrates. A read-only or
 * unwritable file with readonly == 0 is refused with a clear message. */
store *store_open(const char *path, int readonly, lv_error *err);
void   store_close(store *s);
const char *store_path(const store *s);

/* What a run records to be reproducible and to refuse unfair comparisons. JSON
 * fields are stored as given (caller makes them valid JSON). */
typedef struct {
    const char *name;            /* --name label */
    const char *backend;         /* "native" | "openai" */
    const char *model_path, *model_sha256;
    const char *mmproj_path, *mmproj_sha256;
    const char *remote_url, *remote_model;   /* URL without credentials */
    const char *suite_name, *suite_task, *suite_provenance_json;
    const char *resolutions_json, *quants_json;
    const char *mode;            /* "generate" | "choice" */
    const char *template_name, *prompt_hash, *preprocess;
    const char *gen_json;        /* generation settings */
    const char *config_json;     /* the whole configuration (no secrets) */
    const char *config_hash;     /* SHA-256 hex of the configuration that defines results */
    const char *shard;           /* "I/N" or NULL */
    const char *program_version;
} store_run;

/* Finds the run (name, config_hash) or creates it. *created tells which. */
int store_run_open(store *s, const store_run *r, int64_t *run_id, int *created, lv_error *err);
/* Run id by id ("3") or name; -1 with err when absent or ambiguous. */
int64_t store_run_lookup(store *s, const char *name_or_id, lv_error *err);

typedef struct {
    int64_t     run_id;
    const char *suite, *sample_id, *image, *category;
    int         resolution;      /* longer side in pixels; 0 = native */
    const char *quant;
    const char *prompt, *output, *parsed;
    double      score;           /* NAN when not scored */
    int         correct;         /* -1 unknown, 0, 1 */
    const char *label;           /* ground truth summary (e.g. "yes") */
    const char *logprobs_json;   /* answer tokens with top-k, or NULL */
    double      choice_margin;   /* yes-no log-prob margin (choice mode), NAN if none */
    double      encode_ms, prefill_ms, decode_ms;
    int         n_prompt_tokens, n_gen_tokens;
    const char *status;          /* "ok" | "error" */
    const char *error;
    const char *meta_json;       /* sample meta (detail size ...) */
} store_result;

/* Commits one result. An existing 'ok' row is kept (returns 1: already done);
 * an 'error' row is replaced. 0 on insert/replace, -1 on failure. */
int store_result_put(store *s, const store_result *r, lv_error *err);
/* 1 if an 'ok' row exists for the key, 0 if not (or only an error row). */
int store_result_done(store *s, int64_t run_id, const char *sample_id, int resolution, const char *quant);
int64_t store_count(store *s, int64_t run_id, const char *status);   /* status NULL = all */

/* Calls fn for each result of run (ordered by sample, resolution, quant). */
typedef int (*store_result_fn)(void *ctx, const store_result *r);
int store_results_foreach(store *s, int64_t run_id, store_result_fn fn, void *ctx, lv_error *err);

typedef struct {
    int64_t     run_id;
    const char *suite, *quant, *category;   /* category "" = all */
    int         resolution;
    const char *name, *variant;
    double      value, ci_low, ci_high;     /* NAN when undefined */
    int64_t     n;
} store_metric;

/* Replaces every metric of run_id by the given set, in one transaction. */
int store_metrics_replace(store *s, int64_t run_id, const store_metric *m, int64_t n, lv_error *err);

/* Runs the SQLite integrity check: 0 if "ok". */
int store_integrity_ok(store *s, lv_error *err);

/* Low-level access for commands that read (report, compare, export): a prepared
 * statement API kept inside this module would leak sqlite3 types, so readers
 * get rows as strings through a callback. cols[i] is NULL for SQL NULL. */
typedef int (*store_row_fn)(void *ctx, int ncols, const char *const *cols, const char *const *names);
int store_query(store *s, const char *sql, const char *const *params, int nparams,
                store_row_fn fn, void *ctx, lv_error *err);

/* Merges every run of the store at in_path into s: runs are matched by (name,
 * config hash) and created when missing; a run of the same name with another
 * configuration is refused. Rows are copied with the resume rule (an 'ok' row is
 * never replaced; an error row is replaced by an 'ok' one); an 'ok' row that
 * exists on both sides with a different output is a conflict and refused. Each
 * input is merged in one transaction, so merging again changes nothing. The ids
 * of the runs touched are appended to run_ids (up to cap; *n counts them). */
int store_merge(store *s, const char *in_path, int64_t *run_ids, int cap, int *n, lv_error *err);

#endif
