/* harness/run.c — the evaluation loop (see run.h). */
#include "harness/run.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/suite.h"
#include "engine/llava.h"
#include "engine/prompt.h"
#include "engine/quant.h"
#include "engine/sha256.h"
#include "harness/remote.h"
#include "metrics/metrics.h"

#ifndef LV_VERSION
#define LV_VERSION "0.1.0"
#endif

#define MAX_IMAGE_BYTES (64u << 20)

/* ------------------------------------------------------------ small helpers */

int run_parse_resolutions(const char *list, int *out, int *n, lv_error *err)
{
    char buf[512];
    *n = 0;
    if (strlen(list) >= sizeof buf) return lv_errorf(err, "--resolutions: list too long");
    strcpy(buf, list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        long v;
        char *end;
        if (*n >= RUN_MAX_RES) return lv_errorf(err, "--resolutions: at most %d values", RUN_MAX_RES);
        if (strcmp(t, "native") == 0) v = 0;
        else {
            errno = 0;
            v = strtol(t, &end, 10);
            if (errno || end == t || *end || v < 1 || v > 100000)
                return lv_errorf(err, "--resolutions: '%s' is not a size in pixels (1..100000) or 'native'", t);
        }
        for (int i = 0; i < *n; i++)
            if (out[i] == (int)v) return lv_errorf(err, "--resolutions: '%s' is listed twice", t);
        out[(*n)++] = (int)v;
    }
    if (*n == 0) return lv_errorf(err, "--resolutions: empty list");
    return 0;
}

static char *read_capped(const char *path, size_t cap, size_t *len, lv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) { lv_errorf(err, "cannot open %s: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size > cap) {
        fclose(f);
        lv_errorf(err, "%s is larger than %zu MiB", path, cap >> 20);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!buf || n != (size_t)st.st_size) { free(buf); lv_errorf(err, "cannot read %s", path); return NULL; }
    *len = n;
    return buf;
}

/* The ground truth as stored in results.label: "yes"/"no" for yes/no samples, else
 * a JSON array of the reference answers (or caption objects). */
static char *label_of(const suite *s, const suite_sample *smp)
{
    if (smp->label) return strdup(smp->label);
    cJSON *a = cJSON_CreateArray();
    char **v = strcmp(s->task, "caption") == 0 ? smp->objects : smp->answers;
    int n = strcmp(s->task, "caption") == 0 ? smp->n_objects : smp->n_answers;
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    char *out = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return out;
}

/* Registry metrics for one of a suite's metric names. */
static int registry_names(const char *suite_metric, const char **out, int cap)
{
    static const struct { const char *suite_name; const char *names[6]; } map[] = {
        {"yesno", {"pope_accuracy", "pope_precision", "pope_recall", "pope_f1", "pope_yes_ratio", NULL}},
        {"pope", {"pope_accuracy", "pope_precision", "pope_recall", "pope_f1", "pope_yes_ratio", NULL}},
        {"chair", {"chair_s", "chair_i", "chair_recall", NULL}},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].suite_name, suite_metric) == 0) {
            for (int k = 0; map[i].names[k] && n < cap; k++) out[n++] = map[i].names[k];
            return n;
        }
    if (metric_find(suite_metric) && cap > 0) out[n++] = suite_metric;
    return n;
}

/* Fills a metric_item from a stored answer and label (refs parsed from JSON). */
typedef struct {
    char  **refs;
    size_t  nrefs;
} refs_buf;

static void refs_free(refs_buf *r)
{
    for (size_t i = 0; i < r->nrefs; i++) free(r->refs[i]);
    free(r->refs);
    r->refs = NULL;
    r->nrefs = 0;
}

static int refs_parse(const char *label, refs_buf *r)
{
    r->refs = NULL;
    r->nrefs = 0;
    if (!label || label[0] != '[') return 0;
    cJSON *a = cJSON_Parse(label);
    if (!cJSON_IsArray(a)) { cJSON_Delete(a); return -1; }
    int n = cJSON_GetArraySize(a);
    r->refs = calloc((size_t)(n ? n : 1), sizeof *r->refs);
    for (cJSON *e = a->child; e && r->refs; e = e->next)
        if (cJSON_IsString(e)) r->refs[r->nrefs++] = strdup(e->valuestring);
    cJSON_Delete(a);
    return r->refs ? 0 : -1;
}

static metric_item make_item(const char *output, const char *label, const refs_buf *r)
{
    metric_item it = {output ? output : "", (const char *const *)r->refs, r->nrefs,
                      label && label[0] != '[' ? label : NULL};
    return it;
}

/* ------------------------------------------------------------------ config */

static const char *quant_label(int type)
{
    static char buf[RUN_MAX_QUANTS][16];
    static int k;
    const lv_type_traits *tr = lv_type_info(type);
    char *b = buf[k++ % RUN_MAX_QUANTS];
    snprintf(b, 16, "%s", tr ? tr->name : "?");
    for (char *p = b; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    return b;
}

typedef struct {
    const char *file;     /* model file to load */
    int         requant;  /* -1 or a type */
    char        sha[LV_SHA256_HEX];
} quant_spec;

/* --quants entries: a type name re-quantizes the -m model; anything else is a file. */
static int resolve_quants(const run_config *c, quant_spec *q, int *nq, lv_error *err)
{
    *nq = 0;
    if (c->n_quants == 0) {
        q[0].file = c->model;
        q[0].requant = -1;
        *nq = 1;
    }
    for (int i = 0; i < c->n_quants; i++) {
        int t = lv_type_from_name(c->quants[i]);
        q[*nq].requant = -1;
        q[*nq].file = c->model;
        if (t >= 0) {
            const lv_type_traits *tr = lv_type_info(t);
            if (!tr || !tr->supported || t == LV_TYPE_Q8_1 || t == LV_TYPE_Q8_K)
                return lv_errorf(err, "--quants: %s is not a weight type", c->quants[i]);
            if (!c->model) return lv_errorf(err, "--quants %s re-quantizes -m, which is missing", c->quants[i]);
            q[*nq].requant = t;
        } else {
            if (access(c->quants[i], R_OK) != 0)
                return lv_errorf(err, "--quants: '%s' is neither a type name nor a readable file", c->quants[i]);
            q[*nq].file = c->quants[i];
        }
        (*nq)++;
    }
    for (int i = 0; i < *nq; i++)
        if (!q[i].file) return lv_errorf(err, "no model: give -m FILE");
    return 0;
}

/* ------------------------------------------------------------------ progress */

typedef struct {
    double t_start, t_last;
    long   done_now, total, done_before;
    long   right, scored;
    int    tty;
} progress;

static void progress_show(progress *p, int force)
{
    double now = lv_now_ms();
    if (!force && (p->tty ? now - p->t_last < 200 : now - p->t_last < 30000)) return;
    p->t_last = now;
    long done = p->done_before + p->done_now;
    double el = (now - p->t_start) / 1000.0, rate = el > 0 ? (double)p->done_now / el : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    char acc[32] = "";
    if (p->scored) snprintf(acc, sizeof acc, " acc %.3f", (double)p->right / (double)p->scored);
    fprintf(stderr, "%s%ld/%ld %.1f%% %.2f it/s ETA %dh%02dm%02ds%s%s", p->tty ? "\r" : "", done, p->total,
            p->total ? 100.0 * (double)done / (double)p->total : 100.0, rate, (int)(eta / 3600),
            (int)fmod(eta / 60, 60), (int)fmod(eta, 60), acc, p->tty ? "   " : "\n");
    fflush(stderr);
}

/* ------------------------------------------------------------------ the loop */

typedef struct {
    const char *image;            /* manifest path (the cluster key) */
    const char *path;             /* resolved file */
    size_t     *samples;          /* indices into the suite */
    size_t      n;
} image_group;

static int build_groups(const suite *s, const run_config *c, image_group **out, size_t *ngroups, lv_error *err)
{
    size_t n = s->n_samples;
    if (c->limit > 0 && (size_t)c->limit < n) n = (size_t)c->limit;
    image_group *g = calloc(n ? n : 1, sizeof *g);
    size_t ng = 0;
    if (!g) return lv_errorf(err, "out of memory");
    /* groups in order of first appearance; a linear scan of recent groups is enough
     * for suites where questions about one image are adjacent, a full scan otherwise */
    for (size_t i = 0; i < n; i++) {
        const suite_sample *smp = &s->samples[i];
        size_t k = ng;
        for (size_t j = ng; j-- > 0;)
            if (strcmp(g[j].image, smp->image) == 0) { k = j; break; }
        if (k == ng) {
            g[ng].image = smp->image;
            g[ng].path = smp->image_path;
            g[ng].samples = malloc(sizeof(size_t) * 8);
            ng++;
        } else if ((g[k].n & (g[k].n - 1)) == 0 && g[k].n >= 8) {
            g[k].samples = realloc(g[k].samples, sizeof(size_t) * g[k].n * 2);
        }
        if (!g[k].samples) return lv_errorf(err, "out of memory");
        g[k].samples[g[k].n++] = i;
    }
    /* shard by image: group k belongs to shard k mod N */
    size_t keep = 0;
    for (size_t k = 0; k < ng; k++) {
        if ((int)(k % (size_t)c->shard_n) == c->shard_i) g[keep++] = g[k];
        else free(g[k].samples);
    }
    *out = g;
    *ngroups = keep;
    return 0;
}

static void free_groups(image_group *g, size_t n)
{
    for (size_t i = 0; i < n; i++) free(g[i].samples);
    free(g);
}

/* Stores the answer tokens: [{"id","logprob","top":[[id,logprob],...]},...]. */
static char *logprobs_json(const lv_llava_result *r)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; i < r->n_ids; i++) {
        const lv_llava_step *s = &r->steps[i];
        cJSON *o = cJSON_CreateObject(), *top = cJSON_CreateArray();
        cJSON_AddNumberToObject(o, "id", s->id);
        cJSON_AddNumberToObject(o, "logprob", isfinite(s->logprob) ? s->logprob : -1e30);
        for (int k = 0; k < s->n_top; k++) {
            cJSON *p = cJSON_CreateArray();
            cJSON_AddItemToArray(p, cJSON_CreateNumber(s->top_id[k]));
            cJSON_AddItemToArray(p, cJSON_CreateNumber(isfinite(s->top_logprob[k]) ? s->top_logprob[k] : -1e30));
            cJSON_AddItemToArray(top, p);
        }
        cJSON_AddItemToObject(o, "top", top);
        cJSON_AddItemToArray(a, o);
    }
    char *s = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return s;
}

typedef struct {
    const run_config *c;
    const suite      *s;
    store            *st;
    int64_t           run_id;
    const char       *quant;
    const metric_def *primary;
    progress          prog;
    run_summary      *sum;
} run_state;

/* Scores an answer with the suite's primary metric. */
static void score_answer(run_state *rs, const char *output, const char *label, double *score, int *correct,
                         const char **parsed)
{
    *score = NAN;
    *correct = -1;
    *parsed = NULL;
    if (!rs->primary) return;
    refs_buf r;
    refs_parse(label, &r);
    metric_item it = make_item(output, label, &r);
    double v;
    if (metric_item_value(rs->primary, &it, &v) == METRIC_OK) {
        *score = v;
        *correct = v >= 1.0 - 1e-12;
    }
    if (label && label[0] != '[') {
        metric_yesno p = metric_pope_parse(output ? output : "");
        *parsed = p == METRIC_YES ? "yes" : p == METRIC_NO ? "no" : "other";
    }
    refs_free(&r);
}

static int put_error(run_state *rs, const suite_sample *smp, int res, const char *msg, lv_error *err)
{
    char *label = label_of(rs->s, smp);
    store_result r = {.run_id = rs->run_id, .suite = rs->s->name, .sample_id = smp->id, .image = smp->image,
                      .category = smp->category, .resolution = res, .quant = rs->quant, .label = label,
                      .score = NAN, .correct = -1, .choice_margin = NAN, .encode_ms = NAN, .prefill_ms = NAN,
                      .decode_ms = NAN, .status = "error", .error = msg, .meta_json = smp->meta_json};
    int rc = store_result_put(rs->st, &r, err);
    free(label);
    if (rc < 0) return -1;
    rs->sum->errors++;
    rs->prog.done_now++;
    return 0;
}

/* Scores an answer, commits its row and counts it. */
static int put_answer(run_state *rs, store_result *r, const char *label, lv_error *err)
{
    score_answer(rs, r->output, label, &r->score, &r->correct, &r->parsed);
    if (store_result_put(rs->st, r, err) < 0) return -1;
    rs->sum->done++;
    rs->prog.done_now++;
    if (r->correct >= 0) { rs->prog.scored++; rs->prog.right += r->correct; }
    return 0;
}

/* Choice-mode log-probs as stored: [{"text","logprob"},...] (-1e30 for -inf). */
static char *choice_json(const char *const *names, const double *lp, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "text", names[i]);
        cJSON_AddNumberToObject(o, "logprob", isfinite(lp[i]) ? lp[i] : -1e30);
        cJSON_AddItemToArray(a, o);
    }
    char *js = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return js;
}

/* One question about an encoded image: generate or choose, score, store. */
static int ask(run_state *rs, lv_llava *l, lv_llava_prefix *pre, const suite_sample *smp, int res,
               double encode_ms, double prefix_ms, lv_error *err)
{
    char *prompt = suite_prompt(rs->s, smp), *label = label_of(rs->s, smp), *lp = NULL;
    lv_llava_result out = {0};
    lv_error qerr = {{0}};
    int rc = -1;
    store_result r = {.run_id = rs->run_id, .suite = rs->s->name, .sample_id = smp->id, .image = smp->image,
                      .category = smp->category, .resolution = res, .quant = rs->quant, .prompt = prompt,
                      .label = label, .choice_margin = NAN, .encode_ms = encode_ms, .meta_json = smp->meta_json,
                      .status = "ok"};
    if (!prompt || !label) { lv_errorf(err, "out of memory"); goto done; }
    if (rs->c->mode == RUN_MODE_CHOICE) {
        const char *yn[2] = {"Yes", "No"};
        const char *const *cands = smp->n_choices ? (const char *const *)smp->choices : yn;
        int nc = smp->n_choices ? smp->n_choices : 2;
        double lp_c[16];
        double t0 = lv_now_ms();
        if (nc > 16 || lv_llava_choice(l, pre, prompt, cands, nc, lp_c, &qerr)) {
            rc = put_error(rs, smp, res, nc > 16 ? "too many choices" : qerr.msg, err);
            goto done;
        }
        int best = 0;
        for (int i = 1; i < nc; i++) if (lp_c[i] > lp_c[best]) best = i;
        r.output = cands[best];
        if (!smp->n_choices) r.choice_margin = lp_c[0] - lp_c[1];
        r.prefill_ms = prefix_ms + (lv_now_ms() - t0);
        r.decode_ms = 0;
        lp = choice_json(cands, lp_c, nc);
        r.logprobs_json = lp;
    } else {
        lv_llava_gen gp = {rs->c->n_predict, (float)rs->c->temp, (uint64_t)rs->c->seed, rs->c->top_k, NULL, 0};
        if (lv_llava_generate(l, pre, prompt, &gp, &out, &qerr)) {
            rc = put_error(rs, smp, res, qerr.msg, err);
            goto done;
        }
        /* trim the leading space SentencePiece puts on the first piece */
        const char *text = out.text;
        while (*text == ' ') text++;
        r.output = text;
        r.prefill_ms = prefix_ms + out.prefill_ms;
        r.decode_ms = out.decode_ms;
        r.n_prompt_tokens = (int)out.n_prompt;
        r.n_gen_tokens = (int)out.n_ids;
        lp = logprobs_json(&out);
        r.logprobs_json = lp;
    }
    rc = put_answer(rs, &r, label, err);
done:
    lv_llava_result_free(&out);
    free(lp);
    free(prompt);
    free(label);
    return rc;
}

static const char *mode_name(int m) { return m == RUN_MODE_CHOICE ? "choice" : "generate"; }

/* The configuration that defines the results, as canonical JSON; its SHA-256 is
 * the run's identity (threads, progress and the shard are not part of it). */
static char *config_json(const run_config *c, const suite *s, const char *samples_sha, quant_spec *q, int nq,
                         const char *mmproj_sha, const char *remote_url)
{
    cJSON *o = cJSON_CreateObject(), *a;
    cJSON_AddStringToObject(o, "suite", s->name);
    cJSON_AddStringToObject(o, "task", s->task);
    cJSON_AddStringToObject(o, "samples_sha256", samples_sha);
    cJSON_AddStringToObject(o, "prompt", s->prompt);
    a = cJSON_AddArrayToObject(o, "metrics");
    for (int i = 0; i < s->n_metrics; i++) cJSON_AddItemToArray(a, cJSON_CreateString(s->metrics[i]));
    a = cJSON_AddArrayToObject(o, "quants");
    for (int i = 0; i < nq; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "model_sha256", q[i].sha);
        if (q[i].requant >= 0) cJSON_AddStringToObject(e, "requant", quant_label(q[i].requant));
        cJSON_AddItemToArray(a, e);
    }
    cJSON_AddStringToObject(o, "mmproj_sha256", mmproj_sha);
    if (remote_url) {   /* the remote backend: the served name defines the results (never the key);
                           the URL is recorded in runs.remote_url but a server that moved may resume */
        cJSON_AddStringToObject(o, "backend", "openai");
        cJSON_AddStringToObject(o, "remote_model", c->remote_model);
    }
    a = cJSON_AddArrayToObject(o, "resolutions");
    for (int i = 0; i < c->n_res; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(c->resolutions[i]));
    cJSON_AddStringToObject(o, "mode", mode_name(c->mode));
    cJSON_AddStringToObject(o, "preprocess", c->preprocess);
    cJSON_AddStringToObject(o, "template", c->template_name ? c->template_name : "auto");
    cJSON_AddNumberToObject(o, "n_predict", c->n_predict);
    cJSON_AddNumberToObject(o, "temp", c->temp);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddNumberToObject(o, "top_k", c->top_k);
    cJSON_AddNumberToObject(o, "limit", (double)c->limit);
    cJSON_AddNumberToObject(o, "shard_n", c->shard_n);
    char *js = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return js;
}

static int image_done(run_state *rs, const image_group *g, int res)
{
    for (size_t k = 0; k < g->n; k++)
        if (!store_result_done(rs->st, rs->run_id, rs->s->samples[g->samples[k]].id, res, rs->quant)) return 0;
    return 1;
}

/* ------------------------------------------------------------ remote backend */

/* One question in flight: a slot of the pool, its pointer is the request's tag. */
typedef struct {
    const suite_sample *smp;
    int                 res, used;
} remote_item;

/* Stores one reply (an answer, or an error row with the reason). */
static int remote_store(run_state *rs, const remote_reply *rep, const remote_item *it, int choice, lv_error *err)
{
    if (!rep->ok) return put_error(rs, it->smp, it->res, rep->error, err);
    char *prompt = suite_prompt(rs->s, it->smp), *label = label_of(rs->s, it->smp), *lp = NULL;
    int rc = -1;
    store_result r = {.run_id = rs->run_id, .suite = rs->s->name, .sample_id = it->smp->id, .image = it->smp->image,
                      .category = it->smp->category, .resolution = it->res, .quant = rs->quant, .prompt = prompt,
                      .label = label, .choice_margin = NAN, .encode_ms = NAN, .prefill_ms = rep->prefill_ms,
                      .decode_ms = isnan(rep->decode_ms) ? rep->wall_ms : rep->decode_ms,
                      .n_prompt_tokens = rep->n_prompt_tokens > 0 ? rep->n_prompt_tokens : 0,
                      .n_gen_tokens = rep->n_gen_tokens > 0 ? rep->n_gen_tokens : 0,
                      .meta_json = it->smp->meta_json, .status = "ok"};
    if (!prompt || !label) { lv_errorf(err, "out of memory"); goto done; }
    const char *text = rep->content;
    while (*text == ' ' || *text == '\n' || *text == '\t') text++;
    r.output = text;
    r.logprobs_json = rep->logprobs_json;
    if (choice && rep->first_has_top && (isfinite(rep->first_yes) || isfinite(rep->first_no))) {
        /* Yes/No from the first token's alternatives; a spelling missing from the
         * top list is bounded by the lowest logprob listed */
        double y = isfinite(rep->first_yes) ? rep->first_yes : rep->first_floor;
        double n = isfinite(rep->first_no) ? rep->first_no : rep->first_floor;
        r.output = y >= n ? "Yes" : "No";
        r.choice_margin = isfinite(y - n) ? y - n : NAN;
        const char *names[2] = {"Yes", "No"};
        double v[2] = {rep->first_yes, rep->first_no};
        lp = choice_json(names, v, 2);
        r.logprobs_json = lp;
    }
    rc = put_answer(rs, &r, label, err);
done:
    free(lp);
    free(prompt);
    free(label);
    return rc;
}

/* Waits for one reply and stores it. 0 when nothing was pending or it was stored. */
static int remote_drain_one(run_state *rs, remote *rm, int choice, lv_error *err)
{
    remote_reply rep;
    void *tag;
    if (!remote_wait(rm, &rep, &tag)) return 0;
    remote_item *it = tag;
    int rc = remote_store(rs, &rep, it, choice, err);
    it->used = 0;
    remote_reply_free(&rep);
    if (rs->c->progress) progress_show(&rs->prog, 0);
    return rc;
}

/* The remote loop: same images, resolutions and questions as the native loop,
 * up to c->concurrency questions in flight, answers stored as they arrive. */
static int remote_loop(run_state *rs, remote *rm, int choice, int top_k, image_group *groups, size_t ngroups,
                       lv_error *err)
{
    const run_config *c = rs->c;
    int conc = c->concurrency > 0 ? c->concurrency : 1, rc = -1;
    remote_item *pool = calloc((size_t)conc, sizeof *pool);
    if (!pool) return lv_errorf(err, "out of memory");
    for (size_t gi = 0; gi < ngroups && !(c->stop && *c->stop); gi++) {
        image_group *g = &groups[gi];
        char *bytes = NULL;
        size_t len = 0;
        for (int ri = 0; ri < c->n_res && !(c->stop && *c->stop); ri++) {
            int res = c->resolutions[ri];
            if (image_done(rs, g, res)) continue;
            lv_error ierr = {{0}};
            char *uri = NULL;
            if (!bytes && !(bytes = read_capped(g->path, MAX_IMAGE_BYTES, &len, &ierr))) {
            } else remote_image_uri(bytes, len, res, &uri, &ierr);
            for (size_t k = 0; k < g->n && !(c->stop && *c->stop); k++) {
                const suite_sample *smp = &rs->s->samples[g->samples[k]];
                if (store_result_done(rs->st, rs->run_id, smp->id, res, rs->quant)) continue;
                if (!uri) {
                    if (put_error(rs, smp, res, ierr.msg, err)) { free(bytes); goto done; }
                    continue;
                }
                while (remote_pending(rm) >= conc)
                    if (remote_drain_one(rs, rm, choice, err)) { free(uri); free(bytes); goto done; }
                remote_item *it = pool;
                while (it->used) it++;          /* a slot is free: pending < conc */
                *it = (remote_item){smp, res, 1};
                char *prompt = suite_prompt(rs->s, smp);
                remote_request q = {prompt, uri, choice ? 1 : c->n_predict, c->temp, c->seed, top_k};
                int src = prompt ? remote_submit(rm, &q, it, err) : lv_errorf(err, "out of memory");
                free(prompt);
                if (src) { free(uri); free(bytes); goto done; }
            }
            free(uri);
        }
        free(bytes);
    }
    while (remote_pending(rm) > 0)   /* after a stop too: the answers in flight are kept */
        if (remote_drain_one(rs, rm, choice, err)) goto done;
    rc = 0;
done:
    free(pool);   /* on failure the caller closes rm, which drops the requests that point here */
    return rc;
}

/* Opens the client, probes logprobs and settles the effective mode: choice mode
 * needs the first token's top_logprobs (and a yes/no suite), else it falls back
 * to generate with a notice. *out is c with that mode. */
static int remote_setup(const run_config *c, const suite *s, run_config *out, remote **rm, char **clean_url,
                        int *choice, int *top_k, lv_error *err)
{
    char notice[700];
    remote_caps caps;
    *out = *c;
    if (!c->url || !c->remote_model) return lv_errorf(err, "--backend openai needs --url URL and --model-name NAME");
    if (!(*clean_url = remote_url_clean(c->url, err))) return -1;
    remote_config rc = {c->url, c->remote_model, c->api_key, c->concurrency > 0 ? c->concurrency : 1,
                        c->timeout_s > 0 ? c->timeout_s : 600, 0, 8u << 20, c->retries,
                        c->backoff_ms > 0 ? c->backoff_ms : 500, 8000};
    rc.connect_timeout_s = rc.timeout_s < 10 ? rc.timeout_s : 10;
    if (!(*rm = remote_open(&rc, err))) return -1;
    int want = c->mode == RUN_MODE_CHOICE ? 10 : c->top_k;
    if (remote_probe(*rm, want > 0 ? want : 1, &caps, notice, sizeof notice, err)) return -1;
    if (notice[0]) fprintf(stderr, "llava-eval: run: notice: %s\n", notice);
    *top_k = caps.logprobs ? want : 0;
    *choice = 0;
    if (c->mode == RUN_MODE_CHOICE) {
        if (caps.top_logprobs && strcmp(s->task, "yesno") == 0) *choice = 1;
        else {
            fprintf(stderr, "llava-eval: run: notice: choice mode needs %s; falling back to generate mode\n",
                    strcmp(s->task, "yesno") ? "a yes/no suite with a remote backend"
                                             : "top_logprobs for the first answer token, which this server does not give");
            out->mode = RUN_MODE_GENERATE;
        }
    }
    return 0;
}

int run_execute(const run_config *c, run_summary *sum, lv_error *err)
{
    suite *s = NULL;
    store *st = NULL;
    image_group *groups = NULL;
    size_t ngroups = 0;
    quant_spec q[RUN_MAX_QUANTS];
    int nq = 0, rc = -1;
    char *cfg = NULL, samples_sha[LV_SHA256_HEX] = "", mmproj_sha[LV_SHA256_HEX] = "", hash[LV_SHA256_HEX];
    char path[4096];
    lv_llava *l = NULL;
    remote *rm = NULL;
    run_config rc_remote;
    char *clean_url = NULL;
    int choice = 0, top_k = 0;
    memset(sum, 0, sizeof *sum);

    if (!(s = suite_load(c->suite_dir, err))) goto done;
    if (c->mode == RUN_MODE_CHOICE && strcmp(s->task, "yesno") != 0 && strcmp(s->task, "choice") != 0) {
        lv_errorf(err, "--mode choice needs a yesno or choice suite (this one is %s)", s->task);
        goto done;
    }
    if (c->backend == RUN_BACKEND_OPENAI) {
        if (remote_setup(c, s, &rc_remote, &rm, &clean_url, &choice, &top_k, err)) goto done;
        c = &rc_remote;
        nq = 1;
        q[0].file = NULL;
        q[0].requant = -1;
        q[0].sha[0] = 0;
    } else if (resolve_quants(c, q, &nq, err)) goto done;
    snprintf(path, sizeof path, "%s/samples.jsonl", s->dir);
    if (lv_sha256_file(path, samples_sha, NULL, err)) goto done;
    for (int i = 0; i < nq && !rm; i++) {
        int dup = 0;
        for (int k = 0; k < i; k++)
            if (q[k].file == q[i].file || strcmp(q[k].file, q[i].file) == 0) { dup = 1; memcpy(q[i].sha, q[k].sha, sizeof q[i].sha); }
        if (!dup && lv_sha256_file(q[i].file, q[i].sha, NULL, err)) goto done;
    }
    if (c->mmproj && lv_sha256_file(c->mmproj, mmproj_sha, NULL, err)) goto done;
    if (!(cfg = rm ? config_json(c, s, samples_sha, q, 0, mmproj_sha, clean_url)
                   : config_json(c, s, samples_sha, q, nq, mmproj_sha, NULL))) { lv_errorf(err, "out of memory"); goto done; }
    lv_sha256_hex(cfg, strlen(cfg), hash);
    if (build_groups(s, c, &groups, &ngroups, err)) goto done;

    if (!(st = store_open(c->db_path, 0, err))) goto done;
    char resj[512] = "[", quantsj[1024] = "[", shard[32] = "", name[256];
    for (int i = 0; i < c->n_res; i++)
        snprintf(resj + strlen(resj), sizeof resj - strlen(resj), "%s%d", i ? "," : "", c->resolutions[i]);
    strcat(resj, "]");
    if (c->shard_n > 1) snprintf(shard, sizeof shard, "%d/%d", c->shard_i, c->shard_n);
    snprintf(name, sizeof name, "%s", c->name ? c->name : s->name);
    /* quant labels are known once each model is loaded; record the requested list */
    for (int i = 0; i < nq; i++) {
        const char *qs = rm ? "remote" : q[i].requant >= 0 ? quant_label(q[i].requant) : q[i].file;
        cJSON *tmp = cJSON_CreateString(qs);
        char *js = cJSON_PrintUnformatted(tmp);
        snprintf(quantsj + strlen(quantsj), sizeof quantsj - strlen(quantsj), "%s%s", i ? "," : "", js);
        free(js);
        cJSON_Delete(tmp);
    }
    strcat(quantsj, "]");
    char gen[256];
    snprintf(gen, sizeof gen, "{\"n_predict\":%d,\"temp\":%g,\"seed\":%ld,\"top_k\":%d}", c->n_predict, c->temp, c->seed, c->top_k);
    store_run sr = {.name = name, .backend = "native", .model_path = c->model ? c->model : q[0].file,
                    .model_sha256 = q[0].sha, .mmproj_path = c->mmproj, .mmproj_sha256 = c->mmproj ? mmproj_sha : NULL,
                    .suite_name = s->name, .suite_task = s->task, .suite_provenance_json = s->provenance_json,
                    .resolutions_json = resj, .quants_json = quantsj, .mode = mode_name(c->mode),
                    .template_name = c->template_name ? c->template_name : "auto", .prompt_hash = NULL,
                    .preprocess = c->preprocess, .gen_json = gen, .config_json = cfg, .config_hash = hash,
                    .shard = c->shard_n > 1 ? shard : NULL, .program_version = LV_VERSION};
    if (rm) {
        sr.backend = "openai";
        sr.model_path = sr.model_sha256 = NULL;
        sr.remote_url = clean_url;
        sr.remote_model = c->remote_model;
    }
    char phash[LV_SHA256_HEX];
    lv_sha256_hex(s->prompt, strlen(s->prompt), phash);
    sr.prompt_hash = phash;
    int created;
    if (store_run_open(st, &sr, &sum->run_id, &created, err)) goto done;

    run_state rs = {.c = c, .s = s, .st = st, .run_id = sum->run_id, .sum = sum};
    const char *pm[8];
    if (s->n_metrics > 0 && registry_names(s->metrics[0], pm, 8) > 0) rs.primary = metric_find(pm[0]);
    size_t n_items = 0;
    for (size_t k = 0; k < ngroups; k++) n_items += groups[k].n;
    sum->total = (long)(n_items * (size_t)c->n_res * (size_t)nq);
    rs.prog.total = sum->total;
    rs.prog.done_before = (long)store_count(st, sum->run_id, "ok");
    if (rs.prog.done_before > sum->total) rs.prog.done_before = sum->total;
    rs.prog.tty = isatty(2);
    rs.prog.t_start = rs.prog.t_last = lv_now_ms();
    sum->skipped = rs.prog.done_before;

    int mode = lv_image_mode_from_name(c->preprocess);
    int tpl = c->template_name ? lv_template_from_name(c->template_name) : -1;
    if (rm) {
        rs.quant = "remote";
        if (remote_loop(&rs, rm, choice, top_k, groups, ngroups, err)) goto done;
    }
    for (int qi = 0; qi < nq && !rm && !(c->stop && *c->stop); qi++) {
        lv_llava_params lp = {q[qi].file, c->mmproj, q[qi].requant, 0, c->threads, (lv_image_mode)mode, tpl};
        if (!(l = lv_llava_load(&lp, err))) goto done;
        rs.quant = quant_label(lv_llava_weight_type(l));
        static const char *seen[RUN_MAX_QUANTS];
        for (int k = 0; k < qi; k++)
            if (strcmp(seen[k], rs.quant) == 0) {
                /* rows are keyed by quant: two entries of one type would share them */
                lv_errorf(err, "--quants: two entries load weights of type %s; run them under separate --name", rs.quant);
                goto done;
            }
        seen[qi] = rs.quant;
        for (size_t gi = 0; gi < ngroups && !(c->stop && *c->stop); gi++) {
            image_group *g = &groups[gi];
            char *bytes = NULL;
            size_t len = 0;
            for (int ri = 0; ri < c->n_res && !(c->stop && *c->stop); ri++) {
                int res = c->resolutions[ri];
                if (image_done(&rs, g, res)) continue;
                lv_error ierr = {{0}};
                lv_llava_image img = {0};
                lv_llava_prefix *pre = NULL;
                double t_prefix = 0;
                if (!bytes && !(bytes = read_capped(g->path, MAX_IMAGE_BYTES, &len, &ierr))) {
                } else if (c->mmproj && lv_llava_encode(l, bytes, len, res, 0, &img, &ierr)) {
                } else if (lv_llava_prefix_eval(l, c->mmproj ? &img : NULL, NULL, &pre, &t_prefix, &ierr)) {
                }
                for (size_t k = 0; k < g->n && !(c->stop && *c->stop); k++) {
                    const suite_sample *smp = &s->samples[g->samples[k]];
                    if (store_result_done(st, sum->run_id, smp->id, res, rs.quant)) continue;
                    if (c->no_reuse && pre && k > 0) {
                        /* naive path: the whole image prefix again for this question */
                        lv_llava_prefix_free(pre);
                        lv_llava_image_free(&img);
                        pre = NULL;
                        if (!(c->mmproj && lv_llava_encode(l, bytes, len, res, 0, &img, &ierr)))
                            lv_llava_prefix_eval(l, c->mmproj ? &img : NULL, NULL, &pre, &t_prefix, &ierr);
                    }
                    int r = pre ? ask(&rs, l, pre, smp, res, img.encode_ms, k == 0 || c->no_reuse ? t_prefix : 0, err)
                                : put_error(&rs, smp, res, ierr.msg, err);
                    if (r) {
                        lv_llava_prefix_free(pre);
                        lv_llava_image_free(&img);
                        free(bytes);
                        goto done;
                    }
                    if (c->progress) progress_show(&rs.prog, 0);
                }
                lv_llava_prefix_free(pre);
                lv_llava_image_free(&img);
            }
            free(bytes);
        }
        lv_llava_free(l);
        l = NULL;
    }
    if (c->progress) { progress_show(&rs.prog, 1); if (rs.prog.tty) fputc('\n', stderr); }
    sum->interrupted = c->stop && *c->stop;
    if (!sum->interrupted && run_compute_metrics(st, sum->run_id, err)) goto done;
    rc = 0;
done:
    lv_llava_free(l);
    remote_close(rm);
    free(clean_url);
    free_groups(groups, ngroups);
    free(cfg);
    store_close(st);
    suite_free(s);
    return rc;
}
