/* harness/run.h — the evaluation loop behind `llava-eval run`: samples ×
 * resolutions × quants of one suite through a backend, every result committed to
 * the store as it is produced, resumable, shardable by image, with the metrics
 * computed at the end.
 *
 * Backends: the native engine (engine/llava.h) or a remote OpenAI-compatible
 * server (harness/remote.h). The remote path walks the same images, resolutions
 * and questions, keeps up to `concurrency` questions in flight and stores each
 * answer as it arrives; its rows have quant "remote".
 *
 * Order of work: for each quant (one model load), for each image of the shard, for
 * each resolution: encode the image once, evaluate the prompt prefix once, then
 * restore that state for every question about the image. Rows already finished
 * ('ok') are skipped; error rows are retried.
 *
 * Ownership: run_config is filled by the caller (strings are borrowed for the
 * duration of run_execute). Nothing here exits; errors come back in lv_error.
 */
#ifndef LV_RUN_H
#define LV_RUN_H

#include <signal.h>

#include "engine/base.h"
#include "harness/store.h"

#define RUN_MAX_QUANTS 16
#define RUN_MAX_RES    32

enum { RUN_MODE_GENERATE = 0, RUN_MODE_CHOICE = 1 };
enum { RUN_BACKEND_NATIVE = 0, RUN_BACKEND_OPENAI = 1 };

typedef struct {
    const char *suite_dir;
    const char *db_path;
    const char *name;             /* run label; default derived from suite and model */
    const char *model, *mmproj;
    const char *quants[RUN_MAX_QUANTS];  /* GGUF files or type names; none: the -m file */
    int         n_quants;
    int         resolutions[RUN_MAX_RES]; /* longer side in pixels; 0 = native */
    int         n_res;
    int         mode;             /* RUN_MODE_* */
    const char *preprocess;       /* "llava" | "llama.cpp" */
    const char *template_name;    /* NULL: from the model */
    int         n_predict;
    double      temp;
    long        seed;
    long        limit;            /* first N samples (0 = all) */
    int         shard_i, shard_n; /* this shard of n (n = 1: all) */
    int         threads;
    int         top_k;            /* alternatives stored per answer token */
    int         progress;         /* 0 quiet, 1 progress on stderr */
    int         no_reuse;         /* encode and prefill again for every question (the
                                     naive path, for benchmarks; same results) */
    volatile sig_atomic_t *stop;  /* set by a signal handler: finish the row, return */

    /* backend; the remote fields matter only for RUN_BACKEND_OPENAI (harness/remote.h) */
    int         backend;          /* RUN_BACKEND_* */
    const char *url;              /* may hold credentials: stored and printed only cleaned */
    const char *remote_model;     /* served model name */
    const char *api_key;          /* from the environment; never stored, never printed */
    int         concurrency;      /* requests in flight */
    double      timeout_s;        /* per request attempt */
    int         retries;          /* extra attempts on retryable failures */
    double      backoff_ms;       /* first retry delay (doubles, capped at 8 s) */
} run_config;

typedef struct {
    int64_t run_id;
    long    done, errors, skipped, total;
    int     interrupted;
} run_summary;

/* Runs (or resumes) the configured evaluation. 0 when every row is done (some may
 * be errors), -1 with err on a failure that stopped the run. */
int run_execute(const run_config *c, run_summary *out, lv_error *err);

/* Recomputes the metrics table of a run from its stored results. */
int run_compute_metrics(store *s, int64_t run_id, lv_error *err);

/* Parses "224,336,native" into resolutions; -1 with err on bad input. */
int run_parse_resolutions(const char *list, int *out, int *n, lv_error *err);

#endif
