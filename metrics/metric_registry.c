/* metrics/metric_registry.c — the metric table (name -> scorer, aggregator, direction,
 * variant) that the harness, `compare` and the report use to apply metrics by name. */
#include "metrics/metrics.h"

#include <string.h>

const char *metric_strerror(int rc)
{
    switch (rc) {
    case METRIC_OK: return "ok";
    case METRIC_NODATA: return "no data (undefined for this input)";
    case METRIC_ENOMEM: return "out of memory";
    case METRIC_EUTF8: return "text is not valid UTF-8";
    case METRIC_EINPUT: return "input outside the metric's domain";
    }
    return "unknown error";
}

/* ---- per-item parts (num, den) ------------------------------------------------- */

/* A mean: the item's score over 1 (0/0 where the item has no score). */
static int mean_part(int rc, const double *v, double *num, double *den)
{
    *num = rc ? 0 : *v;
    *den = rc ? 0 : 1;
    return rc;
}

/* part_NAME: the per-item score `call` (which writes v) as a mean part. */
#define SCORE_PART(name, call)                                                            \
    static int part_##name(const metric_item *it, double *num, double *den)               \
    {                                                                                     \
        double v = 0;                                                                     \
        int rc = (call);                                                                  \
        return mean_part(rc, &v, num, den);                                               \
    }
SCORE_PART(vqa, metric_vqa_score(METRIC_VQA, it->pred, it->refs, it->nrefs, &v))
SCORE_PART(vqa_raw, metric_vqa_score(METRIC_VQA_RAW, it->pred, it->refs, it->nrefs, &v))
SCORE_PART(textvqa, metric_vqa_score(METRIC_TEXTVQA, it->pred, it->refs, it->nrefs, &v))
SCORE_PART(exact, metric_exact(it->pred, it->refs, it->nrefs, &v))
SCORE_PART(anls, metric_anls(it->pred, it->refs, it->nrefs, &v, NULL))
SCORE_PART(anls_stvqa, metric_anls_stvqa(it->pred, it->refs, it->nrefs, &v))

/* POPE: the official parse and the item's label. */
static int pope_item(const metric_item *it, metric_yesno *pred, metric_yesno *label)
{
    int l = it->label ? metric_label_parse(it->label) : -1;
    if (l < 0) return METRIC_EINPUT;
    *pred = metric_pope_parse(it->pred);
    *label = (metric_yesno)l;
    return METRIC_OK;
}

#define POPE_PART(name, num_expr, den_expr)                                               \
    static int part_pope_##name(const metric_item *it, double *num, double *den)          \
    {                                                                                     \
        metric_yesno p = METRIC_OTHER, l = METRIC_OTHER;                                  \
        int rc = pope_item(it, &p, &l);                                                   \
        int tp = p == METRIC_YES && l == METRIC_YES, fp = p == METRIC_YES && l == METRIC_NO; \
        int fn = p == METRIC_NO && l == METRIC_YES, tn = p == METRIC_NO && l == METRIC_NO; \
        (void)tp; (void)fp; (void)fn; (void)tn;                                           \
        *num = (num_expr);                                                                \
        *den = (den_expr);                                                                \
        return rc;                                                                        \
    }
POPE_PART(accuracy, tp + tn, 1)
POPE_PART(precision, tp, tp + fp)
POPE_PART(recall, tp, tp + fn)
POPE_PART(f1, 2 * tp, 2 * tp + fp + fn) /* 2PR/(P+R) = 2TP/(2TP+FP+FN) */
POPE_PART(yes_ratio, tp + fp, 1)

static int pope_summary(const metric_item *items, size_t n, metric_pope_result *r)
{
    metric_confusion c = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        metric_yesno p, l;
        int rc = pope_item(&items[i], &p, &l);
        if (rc) return rc;
        metric_confusion_add(&c, p, l);
    }
    metric_pope_summary(&c, r);
    return METRIC_OK;
}

/* The official script's own formulas over the set. */
#define POPE_AGG(field)                                                                   \
    static int agg_pope_##field(const metric_item *items, size_t n, metric_num *out)      \
    {                                                                                     \
        metric_pope_result r;                                                             \
        int rc = pope_summary(items, n, &r);                                              \
        if (rc) return rc;                                                                \
        *out = r.field;                                                                   \
        return out->defined ? METRIC_OK : METRIC_NODATA;                                  \
    }
POPE_AGG(precision)
POPE_AGG(recall)
POPE_AGG(f1)

/* CHAIR: pred is the caption, refs the image's ground-truth categories. */
static int chair_item(const metric_item *it, metric_chair_caption *c)
{
    metric_chair_words w = {0};
    int rc = metric_chair_extract(it->pred, &w);
    if (!rc) rc = metric_chair_score(&w, it->refs, it->nrefs, c);
    metric_chair_words_free(&w);
    return rc;
}

#define CHAIR_PART(name, num_expr, den_expr)                                              \
    static int part_chair_##name(const metric_item *it, double *num, double *den)         \
    {                                                                                     \
        metric_chair_caption c = {0};                                                     \
        int rc = chair_item(it, &c);                                                      \
        *num = rc ? 0 : (double)(num_expr);                                               \
        *den = rc ? 0 : (double)(den_expr);                                               \
        metric_chair_caption_free(&c);                                                    \
        return rc;                                                                        \
    }
CHAIR_PART(s, c.chair_s, 1)
CHAIR_PART(i, c.n_hallucinated, c.n_mentions)
CHAIR_PART(recall, c.recall.value, c.recall.defined) /* images without truth count nothing */

#define VQA_VARIANT "GT-Vision-Lab/VQA vqaEval.py"
#define EVALAI "mmf EvalAIAnswerProcessor"
#define POPE "RUCAIBox/POPE evaluate.py (= LLaVA eval_pope.py)"
#define CHAIR "LisaAnne/Hallucination chair.py"

const metric_def metric_registry[] = {
    {"vqa", EVALAI " on the prediction, then " VQA_VARIANT " (EvalAI server; LLaVA's published numbers)",
     1, METRIC_KIND_SOFT, 100, 2, part_vqa, NULL},
    {"vqa_raw", VQA_VARIANT " offline, on the raw prediction", 1, METRIC_KIND_SOFT, 100, 2,
     part_vqa_raw, NULL},
    {"textvqa", "mmf TextVQAAccuracyEvaluator (" EVALAI " on both sides, 10 answers)", 1,
     METRIC_KIND_SOFT, 100, 2, part_textvqa, NULL},
    {"exact", "equality after " EVALAI " (single-answer suites)", 1, METRIC_KIND_BINARY, 100, 2,
     part_exact, NULL},
    {"anls", "RRC DocVQA/InfographicVQA evaluate_method (threshold 0.5)", 1, METRIC_KIND_SOFT,
     100, 2, part_anls, NULL},
    {"anls_stvqa", "mmf STVQAANLSEvaluator", 1, METRIC_KIND_SOFT, 100, 2, part_anls_stvqa, NULL},
    {"pope_accuracy", POPE, 1, METRIC_KIND_BINARY, 100, 1, part_pope_accuracy, NULL},
    {"pope_precision", POPE, 1, METRIC_KIND_RATIO, 100, 1, part_pope_precision, agg_pope_precision},
    {"pope_recall", POPE, 1, METRIC_KIND_RATIO, 100, 1, part_pope_recall, agg_pope_recall},
    {"pope_f1", POPE, 1, METRIC_KIND_RATIO, 100, 1, part_pope_f1, agg_pope_f1},
    {"pope_yes_ratio", POPE " (share of predictions that are yes)", 0, METRIC_KIND_BINARY, 100, 1,
     part_pope_yes_ratio, NULL},
    {"chair_s", CHAIR, 0, METRIC_KIND_BINARY, 100, 1, part_chair_s, NULL},
    {"chair_i", CHAIR, 0, METRIC_KIND_RATIO, 100, 1, part_chair_i, NULL},
    {"chair_recall", "llava-eval coverage (not in chair.py)", 1, METRIC_KIND_SOFT, 100, 1,
     part_chair_recall, NULL},
    {NULL, NULL, 0, METRIC_KIND_SOFT, 0, 0, NULL, NULL},
};

const metric_def *metric_find(const char *name)
{
    for (const metric_def *d = metric_registry; d->name; d++)
        if (!strcmp(d->name, name)) return d;
    return NULL;
}

int metric_item_value(const metric_def *d, const metric_item *item, double *out)
{
    double num, den;
    int rc = d->parts(item, &num, &den);
    if (rc) return rc;
    if (den == 0) return METRIC_NODATA;
    *out = num / den;
    return METRIC_OK;
}

int metric_apply(const metric_def *d, const metric_item *items, size_t n, metric_num *out)
{
    double num = 0, den = 0;
    out->value = 0;
    out->defined = 0;
    if (d->aggregate) return d->aggregate(items, n, out);
    for (size_t i = 0; i < n; i++) {
        double a, b;
        int rc = d->parts(&items[i], &a, &b);
        if (rc < 0) return rc;
        if (rc == METRIC_NODATA) continue; /* e.g. TextVQA without 10 answers */
        num += a;
        den += b;
    }
    if (den == 0) return METRIC_NODATA;
    out->value = num / den; /* a mean is the sum divided by the count, as officially */
    out->defined = 1;
    return METRIC_OK;
}
