/* reports/report_data.h — the in-memory form of runs and results that every report
 * writer (compare, HTML report, export) renders from.
 *
 * The harness fills these structs from the store (harness/report_load.c); report
 * code never touches SQLite. Every string may hold anything a model or dataset
 * produced (bad UTF-8, markup, control bytes): writers escape on output.
 *
 * Ownership: the rows and metrics arrays are malloc'd; every string and token array
 * lives in the run's arena (rp_arena); rp_run_free() releases all of them. Strings
 * may be NULL (SQL NULL).
 */
#ifndef LV_REPORT_DATA_H
#define LV_REPORT_DATA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A block allocator: allocations are never freed one by one. */
typedef struct rp_block rp_block;
typedef struct {
    rp_block *head;
    int failed;              /* set once an allocation failed */
} rp_arena;

void *rp_alloc(rp_arena *a, size_t size);           /* zeroed; NULL on failure */
char *rp_strdup(rp_arena *a, const char *s);        /* NULL for NULL */
void  rp_arena_free(rp_arena *a);

/* One answer token as generate/choice mode stored it: the chosen id and its
 * log-probability, and the top-k alternatives (natural logs). */
typedef struct {
    int32_t  id;
    double   logp;
    int      ntop;
    int32_t *top_id;         /* [ntop] */
    double  *top_logp;       /* [ntop] */
} rp_token;

/* One results row. */
typedef struct {
    const char *suite, *sample_id, *image, *category, *quant;
    const char *prompt, *output, *parsed, *label, *status, *error, *meta_json;
    int      resolution;     /* longer side in pixels; 0 = native */
    double   score;          /* NAN when not scored */
    int      correct;        /* -1 unknown, 0, 1 */
    double   margin;         /* yes-no log-prob margin (choice mode), NAN if none */
    double   encode_ms, prefill_ms, decode_ms;
    int      detail_px;      /* meta.detail_px, -1 when absent */
    rp_token *tok;           /* [ntok] answer tokens, NULL when none stored */
    int      ntok;
    const char *logprobs_json;        /* as stored */
    int      meta_is_json, logprobs_is_json;   /* the stored text parsed as JSON */
} rp_row;

/* One stored metric (the metrics table). */
typedef struct {
    const char *suite, *quant, *category, *name, *variant;
    int     resolution;
    double  value, lo, hi;   /* NAN when undefined */
    int64_t n;
} rp_metric;

/* One run with everything it recorded. */
typedef struct {
    int64_t id;
    const char *name, *created, *backend, *model_path, *model_sha256, *mmproj_sha256;
    const char *remote_url, *remote_model;
    const char *suite_name, *suite_task, *suite_provenance, *resolutions, *quants, *mode;
    const char *template_name, *prompt_hash, *preprocess, *gen_config, *config, *shard, *program_version;
    rp_row    *rows;          /* [nrows], ordered by (sample_id, resolution, quant) */
    size_t     nrows;
    rp_metric *metrics;       /* [nmetrics] */
    size_t     nmetrics;
    rp_arena   arena;
} rp_run;

void rp_run_free(rp_run *r);   /* frees the arena; the struct itself is the caller's */

/* The value a row contributes to an accuracy: correct when known, else score;
 * NAN when neither (or an error row). */
double rp_row_value(const rp_row *r);
/* 1 when the row is usable (status "ok"). */
int rp_row_ok(const rp_row *r);
/* 1 when label is exactly "yes" or "no" (a yes/no question). */
int rp_label_yesno(const char *label);
/* The answer POPE's parser should read for the row: its stored parsed answer when
 * that is yes/no (any case), else the raw output ("" for NULL). */
const char *rp_row_pope_answer(const rp_row *r);
/* Bits per weight of a GGML quant name ("q4_k", "F16", ...), 0 when unknown. */
double rp_quant_bpw(const char *quant);

#endif
