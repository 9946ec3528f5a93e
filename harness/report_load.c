/* harness/report_load.c — store rows into report structs; atomic output files. */
#include "harness/report_load.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RL_MAX_TOKENS 4096   /* answer tokens kept per row */
#define RL_MAX_TOP 256       /* alternatives kept per token */

typedef struct {
    rp_run *run;
    size_t  cap;
    int     oom;
} load_ctx;

static int num_of(const cJSON *j, double *v)
{
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble)) return 0;
    *v = j->valuedouble;
    return 1;
}

static int id_of(const cJSON *j, int32_t *id)
{
    double v;
    if (!num_of(j, &v) || v < -2147483648.0 || v > 2147483647.0) return 0;
    *id = (int32_t)v;
    return 1;
}

/* [{"id","logprob","top":[[id,logprob],...]}, ...] (or {"tokens": [...]}). */
static void parse_logprobs(rp_arena *a, rp_row *r, const char *json)
{
    cJSON *root = cJSON_Parse(json);
    const cJSON *arr = root;
    r->logprobs_is_json = root != NULL;
    if (cJSON_IsObject(root)) arr = cJSON_GetObjectItemCaseSensitive(root, "tokens");
    if (!cJSON_IsArray(arr)) goto done;
    int n = cJSON_GetArraySize(arr);
    if (n > RL_MAX_TOKENS) n = RL_MAX_TOKENS;
    if (n <= 0 || !(r->tok = rp_alloc(a, (size_t)n * sizeof *r->tok))) goto done;
    const cJSON *t;
    cJSON_ArrayForEach(t, arr) {
        if (r->ntok >= n) break;
        rp_token *k = &r->tok[r->ntok];
        if (!id_of(cJSON_GetObjectItemCaseSensitive(t, "id"), &k->id) ||
            !num_of(cJSON_GetObjectItemCaseSensitive(t, "logprob"), &k->logp))
            break;   /* positions must stay aligned: stop at the first bad one */
        const cJSON *top = cJSON_GetObjectItemCaseSensitive(t, "top");
        int nt = cJSON_IsArray(top) ? cJSON_GetArraySize(top) : 0;
        if (nt > RL_MAX_TOP) nt = RL_MAX_TOP;
        if (nt > 0) {
            k->top_id = rp_alloc(a, (size_t)nt * sizeof *k->top_id);
            k->top_logp = rp_alloc(a, (size_t)nt * sizeof *k->top_logp);
            if (!k->top_id || !k->top_logp) break;
            const cJSON *e;
            cJSON_ArrayForEach(e, top) {
                if (k->ntop >= nt) break;
                if (cJSON_GetArraySize(e) != 2) continue;
                if (id_of(cJSON_GetArrayItem(e, 0), &k->top_id[k->ntop]) &&
                    num_of(cJSON_GetArrayItem(e, 1), &k->top_logp[k->ntop]))
                    k->ntop++;
            }
        }
        r->ntok++;
    }
    if (r->ntok == 0) r->tok = NULL;
done:
    cJSON_Delete(root);
}

static int parse_detail(const char *json, int *is_json)
{
    int v = -1;
    double d;
    cJSON *root = cJSON_Parse(json);
    *is_json = root != NULL;
    if (cJSON_IsObject(root) && num_of(cJSON_GetObjectItemCaseSensitive(root, "detail_px"), &d) && d >= 0 &&
        d <= 1e6)
        v = (int)d;
    cJSON_Delete(root);
    return v;
}

static int row_cb(void *vctx, const store_result *s)
{
    load_ctx *c = vctx;
    rp_run *run = c->run;
    rp_arena *a = &run->arena;
    if (run->nrows == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        rp_row *rows = realloc(run->rows, cap * sizeof *rows);
        if (!rows) { c->oom = 1; return 1; }
        run->rows = rows;
        c->cap = cap;
    }
    rp_row *r = &run->rows[run->nrows];
    memset(r, 0, sizeof *r);
    r->suite = rp_strdup(a, s->suite);
    r->sample_id = rp_strdup(a, s->sample_id);
    r->image = rp_strdup(a, s->image);
    r->category = rp_strdup(a, s->category);
    r->quant = rp_strdup(a, s->quant);
    r->prompt = rp_strdup(a, s->prompt);
    r->output = rp_strdup(a, s->output);
    r->parsed = rp_strdup(a, s->parsed);
    r->label = rp_strdup(a, s->label);
    r->status = rp_strdup(a, s->status);
    r->error = rp_strdup(a, s->error);
    r->meta_json = rp_strdup(a, s->meta_json);
    r->resolution = s->resolution;
    r->score = s->score;
    r->correct = s->correct;
    r->margin = s->choice_margin;
    r->encode_ms = s->encode_ms;
    r->prefill_ms = s->prefill_ms;
    r->decode_ms = s->decode_ms;
    r->detail_px = s->meta_json ? parse_detail(s->meta_json, &r->meta_is_json) : -1;
    r->logprobs_json = rp_strdup(a, s->logprobs_json);
    if (s->logprobs_json) parse_logprobs(a, r, s->logprobs_json);
    if (a->failed) { c->oom = 1; return 1; }
    run->nrows++;
    return 0;
}

static int run_cb(void *vctx, int nc, const char *const *cols, const char *const *names)
{
    rp_run *r = vctx;
    rp_arena *a = &r->arena;
    const char **dst[] = {&r->name, &r->created, &r->backend, &r->model_path, &r->model_sha256, &r->mmproj_sha256,
                          &r->remote_url, &r->remote_model, &r->suite_name, &r->suite_task, &r->suite_provenance,
                          &r->resolutions, &r->quants, &r->mode, &r->template_name, &r->prompt_hash,
                          &r->preprocess, &r->gen_config, &r->config, &r->shard, &r->program_version};
    (void)names;
    for (int i = 0; i < nc && i < (int)(sizeof dst / sizeof dst[0]); i++) *dst[i] = rp_strdup(a, cols[i]);
    return a->failed;
}

typedef struct {
    rp_run *run;
    size_t  cap;
} metric_ctx;

static double real_of(const char *s) { return s ? strtod(s, NULL) : NAN; }

static int metric_cb(void *vctx, int nc, const char *const *c, const char *const *names)
{
    metric_ctx *m = vctx;
    rp_run *r = m->run;
    (void)names;
    if (nc < 11) return 1;
    if (r->nmetrics == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        rp_metric *v = realloc(r->metrics, cap * sizeof *v);
        if (!v) return 1;
        r->metrics = v;
        m->cap = cap;
    }
    rp_metric *x = &r->metrics[r->nmetrics++];
    rp_arena *a = &r->arena;
    x->suite = rp_strdup(a, c[0]);
    x->resolution = c[1] ? atoi(c[1]) : 0;
    x->quant = rp_strdup(a, c[2]);
    x->category = rp_strdup(a, c[3]);
    x->name = rp_strdup(a, c[4]);
    x->variant = rp_strdup(a, c[5]);
    x->value = real_of(c[6]);
    x->lo = real_of(c[7]);
    x->hi = real_of(c[8]);
    x->n = c[9] ? strtoll(c[9], NULL, 10) : 0;
    return a->failed;
}

int rl_load_run(store *s, int64_t id, rp_run *out, lv_error *err)
{
    char idbuf[32];
    const char *params[] = {idbuf};
    memset(out, 0, sizeof *out);
    out->id = id;
    snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
    if (store_query(s, "SELECT name, created, backend, model_path, model_sha256, mmproj_sha256, remote_url,"
                       " remote_model, suite_name, suite_task, suite_provenance, resolutions, quants, mode, template,"
                       " prompt_hash, preprocess, gen_config, config, shard, program_version FROM runs WHERE id = ?1",
                    params, 1, run_cb, out, err))
        goto fail;
    if (!out->name) { lv_errorf(err, "no run with id %lld", (long long)id); goto fail; }
    load_ctx c = {out, 0, 0};
    if (store_results_foreach(s, id, row_cb, &c, err) || c.oom) {
        if (c.oom) lv_errorf(err, "out of memory reading results");
        goto fail;
    }
    metric_ctx m = {out, 0};
    if (store_query(s, "SELECT suite, resolution, quant, category, name, variant, value, ci_low, ci_high, n, run_id"
                       " FROM metrics WHERE run_id = ?1 ORDER BY suite, category, name, quant, resolution",
                    params, 1, metric_cb, &m, err)) {
        if (!err || !err->msg[0]) lv_errorf(err, "reading metrics failed");
        goto fail;
    }
    return 0;
fail:
    rp_run_free(out);
    return -1;
}

typedef struct {
    int64_t *ids;
    size_t n, cap;
} ids_ctx;

static int id_cb(void *vctx, int nc, const char *const *c, const char *const *names)
{
    ids_ctx *x = vctx;
    (void)names;
    if (nc < 1 || !c[0]) return 0;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 16;
        int64_t *v = realloc(x->ids, cap * sizeof *v);
        if (!v) return 1;
        x->ids = v;
        x->cap = cap;
    }
    x->ids[x->n++] = strtoll(c[0], NULL, 10);
    return 0;
}

int rl_all_runs(store *s, int64_t **ids, size_t *n, lv_error *err)
{
    ids_ctx x = {0};
    if (store_query(s, "SELECT id FROM runs ORDER BY id", NULL, 0, id_cb, &x, err)) {
        free(x.ids);
        return -1;
    }
    *ids = x.ids;
    *n = x.n;
    return 0;
}

int rl_load_runs(store *s, char *const *names, int nnames, size_t max, rp_run **runs, size_t *nruns,
                 lv_error *err)
{
    int64_t *ids = NULL;
    size_t nids = 0;
    int rc = -1;
    *runs = NULL;
    *nruns = 0;
    if (nnames > 0) {
        if (!(ids = calloc((size_t)nnames, sizeof *ids))) return lv_errorf(err, "out of memory");
        for (int i = 0; i < nnames; i++)
            if ((ids[i] = store_run_lookup(s, names[i], err)) < 0) goto done;
        nids = (size_t)nnames;
    } else if (rl_all_runs(s, &ids, &nids, err)) {
        goto done;
    }
    if (nids == 0) { lv_errorf(err, "the store holds no runs"); goto done; }
    if (nids > max) {
        fprintf(stderr, "llava-eval: %zu runs; using the first %zu\n", nids, max);
        nids = max;
    }
    if (!(*runs = calloc(nids, sizeof **runs))) { lv_errorf(err, "out of memory"); goto done; }
    for (size_t i = 0; i < nids; i++, (*nruns)++)
        if (rl_load_run(s, ids[i], &(*runs)[i], err)) goto done;
    rc = 0;
done:
    free(ids);
    if (rc) {
        rl_free_runs(*runs, *nruns);
        *runs = NULL;
        *nruns = 0;
    }
    return rc;
}

void rl_free_runs(rp_run *runs, size_t nruns)
{
    for (size_t i = 0; i < nruns; i++) rp_run_free(&runs[i]);
    free(runs);
}

/* Removes PATH.tmp.PID files whose writer is gone (a SIGKILLed report or export
 * cannot clean up after itself); files of live processes are left alone. */
static void remove_stale_tmp(const char *path)
{
    char dir[4096], base[4096];
    snprintf(dir, sizeof dir, "%s", path);
    snprintf(base, sizeof base, "%s", path);
    const char *d = dirname(dir), *b = basename(base);
    size_t bl = strlen(b);
    DIR *dh = opendir(d);
    if (!dh) return;
    for (struct dirent *e; (e = readdir(dh));) {
        const char *n = e->d_name;
        if (strncmp(n, b, bl) || strncmp(n + bl, ".tmp.", 5)) continue;
        char *end;
        long pid = strtol(n + bl + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char full[8300];
        snprintf(full, sizeof full, "%s/%s", d, n);
        unlink(full);
    }
    closedir(dh);
}

int rl_open(rl_file *o, const char *path, lv_error *err)
{
    memset(o, 0, sizeof *o);
    if (strlen(path) >= sizeof o->path) return lv_errorf(err, "path too long");
    snprintf(o->path, sizeof o->path, "%s", path);
    remove_stale_tmp(path);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
        int e = errno;
        if (fd >= 0) close(fd);
        return lv_errorf(err, "cannot write %s: %s", o->tmp, strerror(e));
    }
    return 0;
}

int rl_commit(rl_file *o, lv_error *err)
{
    int bad = ferror(o->f);
    if (fflush(o->f) || fsync(fileno(o->f))) bad = 1;
    if (fclose(o->f)) bad = 1;
    o->f = NULL;
    if (bad) {
        int e = errno;
        unlink(o->tmp);
        return lv_errorf(err, "writing %s: %s", o->path, strerror(e ? e : EIO));
    }
    if (rename(o->tmp, o->path)) {
        int e = errno;
        unlink(o->tmp);
        return lv_errorf(err, "cannot rename to %s: %s", o->path, strerror(e));
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", o->path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

void rl_abort(rl_file *o)
{
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->tmp[0]) unlink(o->tmp);
}
