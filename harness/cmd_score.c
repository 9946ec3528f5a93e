/* harness/cmd_score.c — 'llava-eval score METRIC FILE.jsonl': runs one metric over
 * JSON Lines test cases (the format of shared/fixtures/metrics) and prints one
 * JSON object per case: its id and the fields of its `expect` object we compute.
 * A bad line is reported as `FILE:LINE: why` and skipped; the exit status is then 2. */
#include "harness/cli.h"
#include "harness/run.h"
#include "harness/store.h"
#include "metrics/metrics.h"
#include "metrics/utext.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- output helpers ---------------------------------------------------------- */

/* Shortest %.Ng that reads back exactly, always with a '.' or exponent so a JSON
 * reader sees a float (Python prints 1.0, not 1). */
static void fmt_double(double v, char buf[40])
{
    if (!isfinite(v)) { strcpy(buf, "null"); return; }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 40, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".en")) strcat(buf, ".0");
}

static int add_float(cJSON *o, const char *key, double v)
{
    char buf[40];
    fmt_double(v, buf);
    return cJSON_AddRawToObject(o, key, buf) ? 0 : -1;
}

static int add_num(cJSON *o, const char *key, metric_num v)
{
    if (!v.defined) return cJSON_AddNullToObject(o, key) ? 0 : -1;
    return add_float(o, key, v.value);
}

static int add_int(cJSON *o, const char *key, long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    return cJSON_AddRawToObject(o, key, buf) ? 0 : -1;
}

/* ---- input helpers ----------------------------------------------------------- */

typedef struct {
    char why[256];   /* the reason a line is rejected */
} score_err;

static int fail(score_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(score_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, sizeof e->why, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *get_str(const cJSON *o, const char *key, score_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return fail(e, "missing field '%s'", key), NULL;
    if (!cJSON_IsString(v)) return fail(e, "field '%s' must be a string", key), NULL;
    return v->valuestring;
}

/* A field that must be an array of strings: returns the strings (malloc'd array of
 * borrowed pointers) and their count. */
static const char **get_strs(const cJSON *o, const char *key, size_t *n, score_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key), *it;
    const char **out;
    size_t k = 0;
    if (!v) return fail(e, "missing field '%s'", key), NULL;
    if (!cJSON_IsArray(v)) return fail(e, "field '%s' must be an array of strings", key), NULL;
    out = malloc(((size_t)cJSON_GetArraySize(v) + 1) * sizeof *out);
    if (!out) return fail(e, "out of memory"), NULL;
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsString(it)) { free(out); return fail(e, "field '%s' must be an array of strings", key), NULL; }
        out[k++] = it->valuestring;
    }
    *n = k;
    return out;
}

static const cJSON *get_items(const cJSON *o, score_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "items"), *it;
    if (!v) return fail(e, "missing field '%s'", "items"), NULL;
    if (!cJSON_IsArray(v)) return fail(e, "field '%s' must be an array of objects", "items"), NULL;
    cJSON_ArrayForEach(it, v)
        if (!cJSON_IsObject(it)) return fail(e, "field '%s' must be an array of objects", "items"), NULL;
    return v;
}

/* Prefixes e->why with "items[k]: " (the item of a set line that was bad). */
static int at_item(score_err *e, long k)
{
    char why[sizeof e->why];
    snprintf(why, sizeof why, "%s", e->why);
    snprintf(e->why, sizeof e->why, "items[%ld]: %.200s", k, why);
    return -1;
}

/* Maps a metric return code to a line error; 0 for OK/NODATA. */
static int metric_fail(int rc, score_err *e)
{
    if (rc >= 0) return 0;
    return fail(e, "%s", metric_strerror(rc));
}

/* ---- one scorer per METRIC ---------------------------------------------------- */

typedef int (*score_fn)(const cJSON *in, cJSON *out, score_err *e);

static int score_vqa(const cJSON *in, cJSON *out, score_err *e)
{
    static const struct { const char *key; metric_vqa_variant v; } cols[] = {
        {"vqa", METRIC_VQA}, {"vqa_raw", METRIC_VQA_RAW}, {"textvqa", METRIC_TEXTVQA},
    };
    size_t n = 0;
    const char *pred = get_str(in, "pred", e);
    const char **ans = pred ? get_strs(in, "answers", &n, e) : NULL;
    int rc = 0;
    if (!ans) return -1;
    for (size_t i = 0; i < sizeof cols / sizeof cols[0] && !rc; i++) {
        metric_num v = {0, 0};
        int mrc = metric_vqa_score(cols[i].v, pred, ans, n, &v.value);
        v.defined = mrc == METRIC_OK;
        rc = metric_fail(mrc, e);
        if (!rc) rc = add_num(out, cols[i].key, v);
    }
    free(ans);
    return rc;
}

static int score_anls(const cJSON *in, cJSON *out, score_err *e)
{
    size_t n = 0;
    const char *pred = get_str(in, "pred", e);
    const char **ans = pred ? get_strs(in, "answers", &n, e) : NULL;
    metric_num anls = {0, 0}, best = {0, 0}, st = {0, 0};
    int rc, rc2;
    if (!ans) return -1;
    rc = metric_anls(pred, ans, n, &anls.value, &best.value);
    anls.defined = best.defined = rc == METRIC_OK;
    rc2 = metric_anls_stvqa(pred, ans, n, &st.value);
    st.defined = rc2 == METRIC_OK;
    free(ans);
    if (metric_fail(rc, e) || metric_fail(rc2, e)) return -1;
    return add_num(out, "anls", anls) || add_num(out, "anls_stvqa", st) || add_num(out, "nls_best", best);
}

static const char *yesno_name(metric_yesno v)
{
    return v == METRIC_YES ? "yes" : v == METRIC_NO ? "no" : "other";
}

static int score_yesno_parse(const cJSON *in, cJSON *out, score_err *e)
{
    const char *a = get_str(in, "answer", e);
    metric_yesno m;
    if (!a) return -1;
    if (!utext_valid_utf8(a, strlen(a))) return fail(e, "field '%s' is not valid UTF-8", "answer");
    if (!cJSON_AddStringToObject(out, "pope", yesno_name(metric_pope_parse(a)))) return -1;
    /* MME reads tab-separated lines: an answer with a tab or line break has no value. */
    if (strpbrk(a, "\t\n\r")) return cJSON_AddNullToObject(out, "mme") ? 0 : -1;
    if (metric_fail(metric_mme_parse(a, &m), e)) return -1;
    return cJSON_AddStringToObject(out, "mme", yesno_name(m)) ? 0 : -1;
}

static int score_yesno(const cJSON *in, cJSON *out, score_err *e)
{
    const cJSON *items = get_items(in, e), *it;
    metric_confusion c = {0, 0, 0, 0};
    metric_pope_result r;
    long k = 0;
    if (!items) return -1;
    cJSON_ArrayForEach(it, items) {
        const char *a = get_str(it, "answer", e), *l = a ? get_str(it, "label", e) : NULL;
        int label = l ? metric_label_parse(l) : -1;
        if (l && label < 0) fail(e, "label must be \"yes\" or \"no\"");
        else if (l && !utext_valid_utf8(a, strlen(a))) fail(e, "answer is not valid UTF-8");
        if (label < 0 || e->why[0]) return at_item(e, k);
        k++;
        metric_confusion_add(&c, metric_pope_parse(a), (metric_yesno)label);
    }
    metric_pope_summary(&c, &r);
    return add_int(out, "TP", c.tp) || add_int(out, "FP", c.fp) || add_int(out, "TN", c.tn) ||
           add_int(out, "FN", c.fn) || add_num(out, "accuracy", r.accuracy) ||
           add_num(out, "precision", r.precision) || add_num(out, "recall", r.recall) ||
           add_num(out, "f1", r.f1) || add_num(out, "yes_ratio", r.yes_ratio);
}

/* MME: items grouped by task (order kept within a task), scored per task, then
 * summed over the tasks present in the official order. */
static int score_mme(const cJSON *in, cJSON *out, score_err *e)
{
    enum { NT = 14 };
    const cJSON *items = get_items(in, e), *it;
    metric_yesno *labels[NT] = {0}, *preds[NT] = {0};
    size_t n[NT] = {0}, total;
    double group_sum[2] = {0, 0};
    int group_seen[2] = {0, 0}, rc = -1;
    cJSON *tasks = NULL;
    long k = 0;
    if (!items) return -1;
    total = (size_t)cJSON_GetArraySize(items);
    for (int t = 0; t < NT; t++) {
        labels[t] = malloc((total + 1) * sizeof **labels);
        preds[t] = malloc((total + 1) * sizeof **preds);
        if (!labels[t] || !preds[t]) { fail(e, "out of memory"); goto done; }
    }
    cJSON_ArrayForEach(it, items) {
        const char *task = get_str(it, "task", e);
        const char *label = task ? get_str(it, "label", e) : NULL;
        const char *answer = label ? get_str(it, "answer", e) : NULL;
        int t = task ? metric_mme_task_index(task) : -1, l = -1;
        if (!answer) { at_item(e, k); goto done; }
        if (t < 0) { fail(e, "unknown MME task '%.100s'", task); at_item(e, k); goto done; }
        /* The tool lowercases the label and asserts yes or no. */
        if (!strcasecmp(label, "yes")) l = METRIC_YES;
        else if (!strcasecmp(label, "no")) l = METRIC_NO;
        if (l < 0) fail(e, "label must be Yes or No");
        else if (strpbrk(answer, "\t\n\r")) fail(e, "an MME answer cannot hold a tab or line break");
        else metric_fail(metric_mme_parse(answer, &preds[t][n[t]]), e);
        if (e->why[0]) { at_item(e, k); goto done; }
        labels[t][n[t]++] = (metric_yesno)l;
        k++;
    }
    tasks = cJSON_AddObjectToObject(out, "tasks");
    if (!tasks) goto done;
    for (int t = 0; t < NT; t++) {
        metric_mme_task_result r;
        if (!n[t]) continue;
        int mrc = metric_mme_task(labels[t], preds[t], n[t], &r);
        if (mrc) { fail(e, "task %s needs two questions per image (an even count)", metric_mme_tasks[t]); goto done; }
        cJSON *o = cJSON_AddObjectToObject(tasks, metric_mme_tasks[t]);
        if (!o || add_float(o, "acc", r.acc) || add_float(o, "acc_plus", r.acc_plus) ||
            add_float(o, "score", r.score) || add_int(o, "other_num", r.other_num) ||
            add_int(o, "TP", r.c.tp) || add_int(o, "FP", r.c.fp) || add_int(o, "TN", r.c.tn) ||
            add_int(o, "FN", r.c.fn))
            goto done;
        int g = metric_mme_task_group(t);
        group_sum[g] += r.score;
        group_seen[g] = 1;
    }
    if (add_num(out, "perception", (metric_num){group_sum[0], group_seen[0]}) ||
        add_num(out, "cognition", (metric_num){group_sum[1], group_seen[1]}))
        goto done;
    rc = 0;
done:
    for (int t = 0; t < NT; t++) { free(labels[t]); free(preds[t]); }
    return rc;
}

/* One caption: extract, score, and (when out != NULL) print the per-caption fields. */
static int chair_caption(const cJSON *in, cJSON *out, metric_chair_corpus *corpus, score_err *e)
{
    size_t ngt = 0;
    const char *cap = get_str(in, "caption", e);
    const char **gt = cap ? get_strs(in, "gt_objects", &ngt, e) : NULL;
    metric_chair_words w = {0};
    metric_chair_caption c = {0};
    int rc = -1;
    if (!gt) return -1;
    int mrc = metric_chair_extract(cap, &w);
    if (!mrc) mrc = metric_chair_score(&w, gt, ngt, &c);
    if (metric_fail(mrc, e)) goto done;
    if (corpus) metric_chair_corpus_add(corpus, &c);
    if (out) {
        cJSON *words = cJSON_AddArrayToObject(out, "words");
        cJSON *nodes = cJSON_AddArrayToObject(out, "node_words");
        cJSON *hall = cJSON_AddArrayToObject(out, "hallucinated");
        if (!words || !nodes || !hall) goto done;
        for (size_t i = 0; i < w.n; i++) {
            cJSON_AddItemToArray(words, cJSON_CreateString(w.m[i].word));
            cJSON_AddItemToArray(nodes, cJSON_CreateString(w.m[i].category));
            if (c.hallucinated[i]) {
                const char *pair[2] = {w.m[i].word, w.m[i].category};
                cJSON_AddItemToArray(hall, cJSON_CreateStringArray(pair, 2));
            }
        }
        if (add_int(out, "chair_s", c.chair_s) || add_float(out, "chair_i", c.chair_i) ||
            add_num(out, "recall", c.recall))
            goto done;
    }
    rc = 0;
done:
    free(gt);
    metric_chair_words_free(&w);
    metric_chair_caption_free(&c);
    return rc;
}

static int score_chair(const cJSON *in, cJSON *out, score_err *e)
{
    const cJSON *rule = cJSON_GetObjectItemCaseSensitive(in, "rule"), *it;
    metric_chair_corpus corpus = {0, 0, 0, 0};
    long k = 0;
    if (!cJSON_HasObjectItem(in, "items") || (cJSON_IsString(rule) && !strcmp(rule->valuestring, "caption")))
        return chair_caption(in, out, NULL, e);
    const cJSON *items = get_items(in, e);
    if (!items) return -1;
    cJSON_ArrayForEach(it, items) {
        if (chair_caption(it, NULL, &corpus, e)) return at_item(e, k);
        k++;
    }
    return add_num(out, "chair_s", metric_chair_s(&corpus)) ||
           add_num(out, "chair_i", metric_chair_i(&corpus)) ||
           add_int(out, "n_captions", (long)corpus.n_captions) ||
           add_int(out, "n_mentions", (long)corpus.n_mentions) ||
           add_int(out, "n_hallucinated_captions", (long)corpus.n_hallucinated_captions) ||
           add_int(out, "n_hallucinated_mentions", (long)corpus.n_hallucinated_mentions);
}

static const struct {
    const char *name;
    score_fn    fn;
} scorers[] = {
    {"vqa", score_vqa},
    {"anls", score_anls},
    {"yesno-parse", score_yesno_parse},
    {"yesno", score_yesno},
    {"mme", score_mme},
    {"chair", score_chair},
};

/* ---- the command --------------------------------------------------------------- */

static const char *o_db;

static const cli_opt score_opts[] = {
    {0, "db", CLI_STR, &o_db, "FILE", "recompute the metrics table of runs in a store (all runs, or those named)", 0, 0},
    {0, NULL, CLI_FLAG, NULL, NULL, NULL, 0, 0}};

static const cli_spec score_spec = {
    "score", "score METRIC FILE.jsonl | score --db FILE [RUN...]",
    "compute a metric over a JSONL file of cases",
    "METRIC and the input fields of each line (see shared/fixtures/metrics/README.md):\n"
    "  vqa          pred, answers[]          -> vqa, vqa_raw, textvqa (null unless 10 answers)\n"
    "  anls         pred, answers[]          -> anls, anls_stvqa, nls_best\n"
    "  yesno-parse  answer                   -> pope, mme\n"
    "  yesno        items[{answer,label}]    -> TP FP TN FN accuracy precision recall f1 yes_ratio\n"
    "  mme          items[{task,label,answer}] -> tasks{acc acc_plus score ...}, perception, cognition\n"
    "  chair        caption, gt_objects[]    -> words node_words hallucinated chair_s chair_i recall\n"
    "               items[{caption,gt_objects}] -> chair_s chair_i and their counts\n"
    "Every line also needs an `id`, copied to the output. FILE '-' reads standard input.\n"
    "A bad line is reported on stderr as FILE:LINE and skipped; the exit status is then 2.\n"
    "With --db, the metrics of the named runs (label or id; default all) are computed\n"
    "again from their stored results, with intervals, into the store's metrics table.",
    score_opts,
};

/* Scores one line; prints its result to out or returns -1 with e->why set. */
static int score_line(score_fn fn, const char *line, size_t len, FILE *out_f, score_err *e)
{
    cJSON *in = NULL, *out = NULL, *id;
    int rc = -1;
    if (!utext_valid_utf8(line, len)) return fail(e, "not valid UTF-8");
    in = cJSON_ParseWithLength(line, len);
    if (!in) return fail(e, "not valid JSON");
    if (!cJSON_IsObject(in)) { fail(e, "not a JSON object"); goto done; }
    id = cJSON_GetObjectItemCaseSensitive(in, "id");
    if (!id) { fail(e, "missing field '%s'", "id"); goto done; }
    if (!cJSON_IsString(id) && !cJSON_IsNumber(id)) { fail(e, "field '%s' must be a string or number", "id"); goto done; }
    out = cJSON_CreateObject();
    if (!out || !cJSON_AddItemToObject(out, "id", cJSON_Duplicate(id, 1))) { fail(e, "out of memory"); goto done; }
    e->why[0] = 0;
    if (fn(in, out, e)) { if (!e->why[0]) fail(e, "out of memory"); goto done; }
    char *s = cJSON_PrintUnformatted(out);
    if (!s) { fail(e, "out of memory"); goto done; }
    fputs(s, out_f);
    fputc('\n', out_f);
    free(s);
    rc = 0;
done:
    cJSON_Delete(in);
    cJSON_Delete(out);
    return rc;
}

static score_fn find_scorer(const char *metric)
{
    for (size_t i = 0; i < sizeof scorers / sizeof scorers[0]; i++)
        if (!strcmp(metric, scorers[i].name)) return scorers[i].fn;
    return NULL;
}

int score_text_line(const char *metric, const char *line, size_t len, FILE *out, char *why, size_t cap)
{
    score_fn fn = find_scorer(metric);
    score_err e;
    if (!fn) { snprintf(why, cap, "unknown metric '%s'", metric); return -1; }
    if (len > SCORE_MAX_LINE) { snprintf(why, cap, "line longer than %u bytes", SCORE_MAX_LINE); return -1; }
    if (memchr(line, 0, len)) { snprintf(why, cap, "contains a NUL byte"); return -1; }
    if (score_line(fn, line, len, out, &e)) { snprintf(why, cap, "%s", e.why); return -1; }
    return 0;
}

static int collect_id(void *ctx, int nc, const char *const *c, const char *const *names)
{
    int64_t **v = ctx;
    (void)nc; (void)names;
    int64_t n = (*v)[0];
    int64_t *nv = realloc(*v, sizeof *nv * (size_t)(n + 2));
    if (!nv) return -1;
    nv[n + 1] = atoll(c[0]);
    nv[0] = n + 1;
    *v = nv;
    return 0;
}

/* score --db FILE [RUN...]: the metrics table rebuilt from stored results. */
static int score_db(const char *db, char **runs, int nruns)
{
    lv_error err = {{0}};
    store *st = store_open(db, 0, &err);
    int64_t *ids = calloc(1, sizeof *ids);   /* ids[0] = count */
    int rc = CLI_OK;
    if (!st) { free(ids); return cli_error(db, "%s", err.msg); }
    if (nruns == 0) {
        if (store_query(st, "SELECT id FROM runs ORDER BY id", NULL, 0, collect_id, &ids, &err)) { rc = cli_error(db, "%s", err.msg); goto done; }
    }
    for (int i = 0; i < nruns; i++) {
        int64_t id = store_run_lookup(st, runs[i], &err);
        if (id < 0) { rc = cli_error("score", "%s", err.msg); goto done; }
        int64_t *nv = realloc(ids, sizeof *nv * (size_t)(ids[0] + 2));
        if (!nv) { rc = cli_error("score", "out of memory"); goto done; }
        ids = nv;
        ids[++ids[0]] = id;
    }
    for (int64_t i = 1; i <= ids[0]; i++)
        if (run_compute_metrics(st, ids[i], &err)) { rc = cli_error(db, "%s", err.msg); goto done; }
done:
    free(ids);
    store_close(st);
    return rc;
}

/* One line of at most SCORE_MAX_LINE bytes into *buf (grown as needed): its
 * length, -1 at EOF, -2 for a longer line (consumed up to its newline). */
static ssize_t read_capped_line(FILE *f, char **buf, size_t *cap)
{
    size_t n = 0;
    int c, over = 0;
    while ((c = getc(f)) != EOF) {
        if (!over) {
            if (n + 2 > *cap) {
                size_t nc = *cap ? *cap * 2 : 4096;
                char *g = realloc(*buf, nc);
                if (!g) return -1;
                *buf = g;
                *cap = nc;
            }
            (*buf)[n++] = (char)c;
            if (n > SCORE_MAX_LINE) over = 1;
        }
        if (c == '\n') break;
    }
    if (c == EOF && n == 0 && !over) return -1;
    if (over) return -2;
    (*buf)[n] = 0;
    return (ssize_t)n;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i])) return 0;
    return 1;
}

int cmd_score(int argc, char **argv)
{
    char *pos[2], *line = NULL;
    int npos, r, bad = 0;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    score_fn fn = NULL;
    FILE *f;
    if ((r = cli_parse(&score_spec, argc, argv, pos, 2, &npos))) return r > 0 ? CLI_OK : CLI_USAGE;
    if (o_db) return score_db(o_db, pos, npos);
    if (npos != 2) return cli_error("score", "needs METRIC and FILE.jsonl (see --help)");
    fn = find_scorer(pos[0]);
    if (!fn) return cli_error("score", "unknown metric '%s' (vqa, anls, yesno-parse, yesno, mme, chair)", pos[0]);
    f = strcmp(pos[1], "-") ? fopen(pos[1], "rb") : stdin;
    if (!f) return cli_error("score", "%s: %s", pos[1], strerror(errno));
    while ((len = read_capped_line(f, &line, &cap)) != -1) {
        char why[300];
        lineno++;
        if (len == -2) {   /* the rest of an over-long line was skipped, never held */
            cli_error("score", "%s:%ld: line longer than %u bytes", pos[1], lineno, SCORE_MAX_LINE);
            bad = 1;
            continue;
        }
        if (blank(line, (size_t)len)) continue;
        if (score_text_line(pos[0], line, (size_t)len, stdout, why, sizeof why)) {
            cli_error("score", "%s:%ld: %s", pos[1], lineno, why);
            bad = 1;
        }
    }
    if (ferror(f)) { cli_error("score", "%s: read error", pos[1]); bad = 1; }
    free(line);
    if (f != stdin) fclose(f);
    fflush(stdout);
    return bad ? CLI_USAGE : CLI_OK;
}
