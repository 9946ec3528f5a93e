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

/* ---- per-item scorers ------------------------------------------------------------ */

static int item_vqa(const metric_item *it, double *out)
{
    return metric_vqa_score(METRIC_VQA, it->pred, it->refs, it->nrefs, out);
}
static int item_vqa_raw(const metric_item *it, double *out)
{
    return metric_vqa_score(METRIC_VQA_RAW, it->pred, it->refs, it->nrefs, out);
}
static int item_textvqa(const metric_item *it, double *out)
{
    return metric_vqa_score(METRIC_TEXTVQA, it->pred, it->refs, it->nrefs, out);
}
static int item_exact(const metric_item *it, double *out)
{
    return metric_exact(it->pred, it->refs, it->nrefs, out);
}
static int item_anls(const metric_item *it, double *out)
{
    return metric_anls(it->pred, it->refs, it->nrefs, out, NULL);
}
static int item_anls_stvqa(const metric_item *it, double *out)
{
    return metric_anls_stvqa(it->pred, it->refs, it->nrefs, out);
}
/* POPE: 1 when the official parser reads yes. */
static int item_pope(const metric_item *it, double *out)
{
    *out = metric_pope_parse(it->pred) == METRIC_YES;
    return METRIC_OK;
}
/* POPE accuracy per item: 1 when the parsed answer equals the label. */
static int item_pope_correct(const metric_item *it, double *out)
{
    int label = it->label ? metric_label_parse(it->label) : -1;
    if (label < 0) return METRIC_EINPUT;
    *out = (int)metric_pope_parse(it->pred) == label;
    return METRIC_OK;
}
/* CHAIR per caption: 1 when any mention is hallucinated (refs = truth categories). */
static int chair_item(const metric_item *it, metric_chair_caption *c)
{
    metric_chair_words w = {0};
    int rc = metric_chair_extract(it->pred, &w);
    if (!rc) rc = metric_chair_score(&w, it->refs, it->nrefs, c);
    metric_chair_words_free(&w);
    return rc;
}
static int item_chair_s(const metric_item *it, double *out)
{
    metric_chair_caption c = {0};
    int rc = chair_item(it, &c);
    if (!rc) *out = c.chair_s;
    metric_chair_caption_free(&c);
    return rc;
}
static int item_chair_recall(const metric_item *it, double *out)
{
    metric_chair_caption c = {0};
    int rc = chair_item(it, &c);
    if (!rc && !c.recall.defined) rc = METRIC_NODATA;
    if (!rc) *out = c.recall.value;
    metric_chair_caption_free(&c);
    return rc;
}

/* ---- aggregators ------------------------------------------------------------------- */

/* The mean of the per-item values (sum / count, as the official code does). */
static int agg_mean(const metric_item *items, const double *v, size_t n, metric_num *out)
{
    double sum = 0;
    (void)items;
    out->defined = n > 0;
    out->value = 0;
    if (!n) return METRIC_NODATA;
    for (size_t i = 0; i < n; i++) sum += v[i];
    out->value = sum / (double)n;
    return METRIC_OK;
}

static int pope_counts(const metric_item *items, size_t n, metric_pope_result *r)
{
    metric_confusion c = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        int label = items[i].label ? metric_label_parse(items[i].label) : -1;
        if (label < 0) return METRIC_EINPUT;
        metric_confusion_add(&c, metric_pope_parse(items[i].pred), (metric_yesno)label);
    }
    metric_pope_summary(&c, r);
    return METRIC_OK;
}

#define POPE_AGG(field)                                                                   \
    static int agg_pope_##field(const metric_item *items, const double *v, size_t n,      \
                                metric_num *out)                                          \
    {                                                                                     \
        metric_pope_result r;                                                             \
        int rc = pope_counts(items, n, &r);                                               \
        (void)v;                                                                          \
        if (rc) return rc;                                                                \
        *out = r.field;                                                                   \
        return out->defined ? METRIC_OK : METRIC_NODATA;                                  \
    }
POPE_AGG(precision)
POPE_AGG(recall)
POPE_AGG(f1)
POPE_AGG(yes_ratio)

/* Corpus CHAIR-i: hallucinated mentions / all mentions over every caption. */
static int agg_chair_i(const metric_item *items, const double *v, size_t n, metric_num *out)
{
    metric_chair_corpus corpus = {0, 0, 0, 0};
    (void)v;
    for (size_t i = 0; i < n; i++) {
        metric_chair_caption c = {0};
        int rc = chair_item(&items[i], &c);
        if (!rc) metric_chair_corpus_add(&corpus, &c);
        metric_chair_caption_free(&c);
        if (rc) return rc;
    }
    *out = metric_chair_i(&corpus);
    return out->defined ? METRIC_OK : METRIC_NODATA;
}

#define VQA_VARIANT "GT-Vision-Lab/VQA vqaEval.py"
#define EVALAI "mmf EvalAIAnswerProcessor"

const metric_def metric_registry[] = {
    {"vqa", EVALAI " on the prediction, then " VQA_VARIANT " (EvalAI server; LLaVA's published numbers)",
     1, METRIC_KIND_SOFT, 100, 2, item_vqa, agg_mean},
    {"vqa_raw", VQA_VARIANT " offline, on the raw prediction", 1, METRIC_KIND_SOFT, 100, 2,
     item_vqa_raw, agg_mean},
    {"textvqa", "mmf TextVQAAccuracyEvaluator (" EVALAI " on both sides, 10 answers)", 1,
     METRIC_KIND_SOFT, 100, 2, item_textvqa, agg_mean},
    {"exact", "equality after " EVALAI " (single-answer suites)", 1, METRIC_KIND_BINARY, 100, 2,
     item_exact, agg_mean},
    {"anls", "RRC DocVQA/InfographicVQA evaluate_method (threshold 0.5)", 1, METRIC_KIND_SOFT,
     100, 2, item_anls, agg_mean},
    {"anls_stvqa", "mmf STVQAANLSEvaluator", 1, METRIC_KIND_SOFT, 100, 2, item_anls_stvqa, agg_mean},
    {"pope_accuracy", "RUCAIBox/POPE evaluate.py (= LLaVA eval_pope.py)", 1, METRIC_KIND_BINARY,
     100, 1, item_pope_correct, agg_mean},
    {"pope_precision", "RUCAIBox/POPE evaluate.py", 1, METRIC_KIND_RATIO, 100, 1, NULL,
     agg_pope_precision},
    {"pope_recall", "RUCAIBox/POPE evaluate.py", 1, METRIC_KIND_RATIO, 100, 1, NULL, agg_pope_recall},
    {"pope_f1", "RUCAIBox/POPE evaluate.py", 1, METRIC_KIND_RATIO, 100, 1, NULL, agg_pope_f1},
    {"pope_yes_ratio", "RUCAIBox/POPE evaluate.py (share of predictions that are yes)", 0,
     METRIC_KIND_BINARY, 100, 1, item_pope, agg_pope_yes_ratio},
    {"chair_s", "LisaAnne/Hallucination chair.py", 0, METRIC_KIND_BINARY, 100, 1, item_chair_s,
     agg_mean},
    {"chair_i", "LisaAnne/Hallucination chair.py", 0, METRIC_KIND_RATIO, 100, 1, NULL, agg_chair_i},
    {"chair_recall", "llava-eval coverage (not in chair.py)", 1, METRIC_KIND_SOFT, 100, 1,
     item_chair_recall, agg_mean},
    {NULL, NULL, 0, METRIC_KIND_SOFT, 0, 0, NULL, NULL},
};

const metric_def *metric_find(const char *name)
{
    for (const metric_def *d = metric_registry; d->name; d++)
        if (!strcmp(d->name, name)) return d;
    return NULL;
}
