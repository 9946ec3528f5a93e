/* metrics/metrics.h — task metrics exactly as the official evaluators compute them,
 * and the registry that names them.
 *
 * Pure functions over strings, labels and numbers: no I/O, no engine. Every text
 * input is UTF-8 and is handled as Python 3 `str` (code points, Unicode case
 * mapping and whitespace); docs/metrics.md gives each definition and its quirks,
 * which are reproduced on purpose so our numbers compare with published ones.
 *
 * Conventions:
 *   - Functions return METRIC_OK, METRIC_NODATA (the official code would divide by
 *     zero or refuse the input: report null, not NaN) or a negative METRIC_E* code.
 *   - Strings returned are malloc'd; the caller frees them. Structs filled by a
 *     function are released with the matching *_free(); a zeroed struct is empty.
 *   - Scores are raw doubles (fractions, not percentages), never rounded.
 */
#ifndef LV_METRICS_H
#define LV_METRICS_H

#include <stddef.h>

#include "metrics/stats.h"

enum {
    METRIC_OK = 0,
    METRIC_NODATA = 1,    /* defined as 0/0 or rejected by the official code */
    METRIC_ENOMEM = -1,
    METRIC_EUTF8 = -2,    /* an input string is not valid UTF-8 */
    METRIC_EINPUT = -3    /* input outside the metric's domain (bad label, odd MME pairs, ...) */
};

/* A number that may be undefined (0/0): print null when !defined. */
typedef struct {
    double value;
    int    defined;
} metric_num;

/* A short English reason for a METRIC_* code. */
const char *metric_strerror(int rc);

/* ---- VQAv2 / TextVQA (metrics.md §1, §2) ------------------------------------ */

typedef enum {
    METRIC_VQA,       /* `vqa`: EvalAIAnswerProcessor on the prediction, then vqaEval.py */
    METRIC_VQA_RAW,   /* `vqa_raw`: offline vqaEval.py on the raw prediction */
    METRIC_TEXTVQA    /* `textvqa`: EvalAI processor on both sides; needs exactly 10 answers */
} metric_vqa_variant;

/* mmf/LLaVA EvalAIAnswerProcessor applied to s (lowercase, drop , and ?, " 's",
 * punctuation, periods, number words, articles, contractions). */
char *metric_vqa_evalai(const char *s);
/* vqaEval.py's processPunctuation + processDigitArticle after its tab/newline
 * strip (what a prediction becomes when the human answers differ). */
char *metric_vqa_normalize(const char *s);
/* Leave-one-out accuracy of one question, min(1, matches among the others / 3)
 * averaged over the n answers. NODATA for n == 0, and for TEXTVQA unless n == 10. */
int metric_vqa_score(metric_vqa_variant v, const char *pred,
                     const char *const *answers, size_t n, double *out);
/* Single-answer suites (§7): 1 when the processed prediction equals any processed
 * reference, else 0. */
int metric_exact(const char *pred, const char *const *refs, size_t n, double *out);

/* ---- ANLS (§3) -------------------------------------------------------------- */

/* DocVQA/InfographicVQA rule: *anls is the thresholded score (0 below 0.5),
 * *nls_best (may be NULL) is 1 - min normalized distance before the threshold.
 * NODATA when n == 0. */
int metric_anls(const char *pred, const char *const *answers, size_t n,
                double *anls, double *nls_best);
/* mmf STVQAANLSEvaluator variant; NODATA where it divides by zero (both empty). */
int metric_anls_stvqa(const char *pred, const char *const *answers, size_t n, double *out);
/* Levenshtein distance over code points (insert, delete, substitute cost 1). */
int metric_levenshtein(const char *a, const char *b, size_t *out);

/* ---- Yes/no: POPE (§4) and MME (§6) ----------------------------------------- */

typedef enum { METRIC_NO = 0, METRIC_YES = 1, METRIC_OTHER = 2 } metric_yesno;

/* Official POPE parser: first sentence, commas removed, split on ' ', "No"/"not"/"no"
 * anywhere means no, everything else (even "") is yes. Never METRIC_OTHER. */
metric_yesno metric_pope_parse(const char *answer);
/* "yes"/"no" (exact, lower case) to a label; -1 for anything else. */
int metric_label_parse(const char *label);

typedef struct {
    long tp, fp, tn, fn;
} metric_confusion;

typedef struct {
    metric_confusion c;
    metric_num accuracy, precision, recall, f1, yes_ratio; /* yes_ratio from predictions */
} metric_pope_result;

/* Adds one (prediction, label) pair; label is METRIC_YES or METRIC_NO. */
void metric_confusion_add(metric_confusion *c, metric_yesno pred, metric_yesno label);
/* POPE's accuracy, precision, recall, F1 and yes-ratio from the counts; each is
 * undefined where the official script would divide by zero. */
void metric_pope_summary(const metric_confusion *c, metric_pope_result *out);

/* MME's parser (calculation.py): the answer as the tool reads it from its results
 * line, i.e. with a trailing newline, lowercased; exact yes/no, else "yes" then "no"
 * searched in the first 4 code points, else METRIC_OTHER. */
int metric_mme_parse(const char *answer, metric_yesno *out);

typedef struct {
    double acc, acc_plus, score;   /* score = 100*acc + 100*acc_plus */
    long   other_num;
    metric_confusion c;            /* over the answers that are not "other" */
    long   n_questions, n_images;
} metric_mme_task_result;

/* One MME subtask: labels/preds per question, the two questions of an image on
 * adjacent positions (paired by position, as the tool does). EINPUT for odd n,
 * NODATA for n == 0. */
int metric_mme_task(const metric_yesno *labels, const metric_yesno *preds, size_t n,
                    metric_mme_task_result *out);

typedef enum { METRIC_MME_PERCEPTION, METRIC_MME_COGNITION } metric_mme_group;
/* The 14 subtasks in the official order; NULL-terminated names. */
extern const char *const metric_mme_tasks[];
/* Index of a subtask name in metric_mme_tasks, or -1. */
int metric_mme_task_index(const char *name);
metric_mme_group metric_mme_task_group(int index);

/* ---- CHAIR (§5) ------------------------------------------------------------- */

typedef struct {
    char       *word;       /* the object word after singularization and merging */
    const char *category;   /* its COCO category (static string) */
} metric_chair_mention;

typedef struct {
    metric_chair_mention *m;  /* in caption order */
    size_t n;
} metric_chair_words;

/* chair.py's caption_to_words: lowercase, Treebank tokens per sentence, pattern.en
 * singularize, double-word merges, the toilet/seat rule, synonym lookup. */
int  metric_chair_extract(const char *caption, metric_chair_words *out);
void metric_chair_words_free(metric_chair_words *w);
/* The COCO category of a word or two-word phrase (after singularization), or NULL. */
const char *metric_chair_category(const char *word);
/* pattern.en.singularize as chair.py calls it (malloc'd). */
char *metric_chair_singularize(const char *word);
/* NLTK word_tokenize as the vectors ran it (untrained Punkt sentences, Treebank
 * words). Tokens are malloc'd; free each and the array. */
int  metric_chair_tokenize(const char *text, char ***tokens, size_t *n);

typedef struct {
    size_t n_mentions, n_hallucinated;
    int    *hallucinated;     /* per mention: 1 when its category is not in the truth */
    int    chair_s;           /* 1 when any mention is hallucinated */
    double chair_i;           /* n_hallucinated / n_mentions, 0 without mentions */
    metric_num recall;        /* distinct mentioned truth categories / |truth| (ours) */
} metric_chair_caption;

/* Scores extracted words against the image's ground-truth categories. */
int  metric_chair_score(const metric_chair_words *w, const char *const *truth, size_t ntruth,
                        metric_chair_caption *out);
void metric_chair_caption_free(metric_chair_caption *c);

typedef struct {
    size_t n_captions, n_mentions, n_hallucinated_captions, n_hallucinated_mentions;
} metric_chair_corpus;

void metric_chair_corpus_add(metric_chair_corpus *corpus, const metric_chair_caption *c);
/* Corpus CHAIR-s and CHAIR-i; undefined with no captions / no mentions. */
metric_num metric_chair_s(const metric_chair_corpus *corpus);
metric_num metric_chair_i(const metric_chair_corpus *corpus);

/* ---- Registry --------------------------------------------------------------- */

/* One scored item, as the harness stores it. */
typedef struct {
    const char        *pred;    /* the model's raw answer (caption for CHAIR) */
    const char *const *refs;    /* references: human answers, ground truths, COCO categories */
    size_t             nrefs;
    const char        *label;   /* "yes"/"no" for yes/no metrics, else NULL */
} metric_item;

typedef enum {
    METRIC_KIND_BINARY,  /* per-item right/wrong: Wilson interval, McNemar */
    METRIC_KIND_SOFT,    /* per-item score in [0,1]: bootstrap, paired bootstrap, sign flips */
    METRIC_KIND_RATIO    /* only defined over a set (F1, CHAIR-i): bootstrap */
} metric_kind;

/* A row of the registry. Every registered metric is a ratio of sums over items:
 * item i contributes num_i and den_i (den 1 for a mean; CHAIR-i: hallucinated and
 * all mentions; F1: 2TP and 2TP+FP+FN), which is what resampling needs. MME's
 * per-subtask pairs do not fit this and are computed by metric_mme_task. */
typedef struct {
    const char *name;       /* e.g. "vqa" */
    const char *variant;    /* which official code it reproduces, stored with each number */
    int         higher_is_better;
    metric_kind kind;
    double      scale;      /* report multiplier (100 for percentages) */
    int         decimals;   /* report decimals after scaling */
    int (*parts)(const metric_item *item, double *num, double *den);
    /* The official formula over a whole set where its floating-point order differs
     * from sum(num)/sum(den) (POPE's precision, recall, F1); NULL otherwise. */
    int (*aggregate)(const metric_item *items, size_t n, metric_num *out);
} metric_def;

/* The table, terminated by a row with name == NULL. */
extern const metric_def metric_registry[];
/* The row with that name, or NULL. */
const metric_def *metric_find(const char *name);

/* One item's value num/den; NODATA where den is 0 (precision of a "no" answer). */
int metric_item_value(const metric_def *d, const metric_item *item, double *out);
/* The metric over items[0..n), unscaled; NODATA (out->defined 0) when undefined. */
int metric_apply(const metric_def *d, const metric_item *items, size_t n, metric_num *out);

/* Its 95%-type interval (level from o): Wilson for a binary metric with one item
 * per cluster (cluster NULL means one cluster per item), else a percentile
 * bootstrap resampling clusters (images), B and seed from o (NULL: defaults).
 * *method (may be NULL) is set to "wilson" or "bootstrap". */
int metric_interval(const metric_def *d, const metric_item *items, size_t n, const size_t *cluster,
                    const stats_boot_opts *o, stats_interval *out, const char **method);

/* Run B against run A on the same items (a[i] and b[i] are the same sample). */
typedef struct {
    stats_interval diff;   /* metric(B) - metric(A), paired cluster-bootstrap interval */
    int    has_p;          /* 1 when a test applies */
    double p;              /* McNemar exact (binary) or sign-flip over clusters (soft) */
    const char *test;      /* "mcnemar", "sign-flip" or NULL (ratio metrics: gate on diff) */
    long   b, c;           /* binary metrics: right->wrong, wrong->right */
} metric_comparison;

int metric_compare(const metric_def *d, const metric_item *a, const metric_item *b, size_t n,
                   const size_t *cluster, const stats_boot_opts *o, metric_comparison *out);

#endif
