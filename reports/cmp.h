/* reports/cmp.h — compare two runs and gate regressions (metrics.md §8).
 *
 * cmp_run pairs the results of BASE and CAND by (sample, resolution, quant) — or
 * by (sample, resolution) for a quantization comparison, when each side is limited
 * to one quant and those differ — and groups the pairs by (suite, resolution,
 * quant). Per group and metric it computes base, candidate, delta, a paired
 * cluster (image) bootstrap interval of the delta and a paired p-value: McNemar's
 * exact test for right/wrong (`accuracy`), a sign-flip test on per-image mean
 * differences for soft scores (`score`), none for ratio metrics (POPE precision,
 * recall, F1: gate on the interval). p-values are Holm-adjusted over every test
 * the comparison prints. With stored top-k log-probs it also summarizes the
 * answer-token distributions (KL divergence, top-1 agreement, Δp), as llama.cpp's
 * --kl-divergence does.
 *
 * A gate METRIC:MAX_DROP is crossed in a group when the metric gets worse by more
 * than MAX_DROP (a fraction: 0.02 is two points) and the worsening is significant:
 * Holm-adjusted p < alpha, or for metrics without a test, the delta's interval
 * lies wholly on the worse side of 0.
 *
 * Ownership: the result points into the two runs (which must outlive it) and owns
 * its arrays; cmp_free releases them.
 */
#ifndef LV_CMP_H
#define LV_CMP_H

#include "metrics/stats.h"
#include "reports/report_data.h"

enum { CMP_OK = 0, CMP_EREFUSED = 1, CMP_ENOPAIRS = 2, CMP_ENOMEM = -1, CMP_EINPUT = -2 };

#define CMP_MAX_METRICS 8

typedef struct {
    const char *metric;      /* a name from cmp_metric_names */
    double      max_drop;    /* >= 0, a fraction */
    const char *spec;        /* as given, for messages */
} cmp_gate;

typedef struct {
    const char *base_quant, *cand_quant;   /* restrict a side to one quant; NULL = all */
    int         force;                     /* compare even when the runs differ in setup */
    const cmp_gate *gates;
    int         ngates;
    double      alpha;                     /* 0 means 0.05 */
    stats_boot_opts boot;                  /* zeroed = defaults */
} cmp_opts;

/* The metrics compare knows, NULL-terminated. */
extern const char *const cmp_metric_names[];
int cmp_metric_known(const char *name);
/* Parses "METRIC:MAX_DROP" (MAX_DROP a fraction, or points with a trailing %). */
int cmp_gate_parse(const char *spec, cmp_gate *out, char *why, size_t cap);

typedef struct {
    const rp_row *base, *cand;
} cmp_pair;

typedef struct {
    const char *name;
    int     higher_is_better;
    long    n;
    double  base, cand;          /* NAN when undefined */
    stats_interval diff;         /* cand - base with its paired bootstrap interval */
    int     has_p;
    double  p, p_holm;
    const char *test;            /* "mcnemar", "sign-flip" or NULL */
    long    b, c;                /* accuracy: right->wrong, wrong->right */
} cmp_metric;

typedef struct {
    const char *suite, *quant_base, *quant_cand;
    int      resolution;
    cmp_pair *pairs;             /* into cmp_result.pairs */
    size_t   npairs;
    cmp_metric m[CMP_MAX_METRICS];
    int      nm;
    /* answer-token distributions, when both sides stored log-probs */
    int      has_tokens;
    stats_quant_report tokens;
    size_t   token_positions_skipped;
    size_t   n_margin;           /* choice mode: pairs with both margins */
    double   margin_diff;        /* mean of cand - base margin */
} cmp_group;

typedef struct {
    const cmp_gate  *gate;
    const cmp_group *group;
    int     status;              /* 0 pass, 1 crossed, 2 metric not available here */
    double  worsening;           /* how much worse (positive = worse), NAN when skipped */
    double  p_holm;              /* NAN when the metric has no test */
    int     significant;
} cmp_gate_result;

typedef struct {
    const rp_run *base, *cand;
    char      differences[512];  /* what differs in setup ("" when nothing) */
    int       quant_comparison;  /* paired across different quants */
    cmp_pair *pairs;
    size_t    npairs;
    size_t    errors_base, errors_cand, unpaired_base, unpaired_cand;
    cmp_group *groups;
    size_t    ngroups;
    const cmp_pair **regressed;  /* right->wrong (or lower score) pairs */
    size_t    nregressed;
    cmp_gate_result *gates;
    size_t    ngates;
    int       crossed;           /* any gate crossed */
} cmp_result;

/* Returns CMP_OK, CMP_EREFUSED (setup differs and !force; why says what),
 * CMP_ENOPAIRS, or a negative error; why (cap bytes) explains every failure. */
int  cmp_run(const rp_run *base, const rp_run *cand, const cmp_opts *o, cmp_result *out,
             char *why, size_t cap);
void cmp_free(cmp_result *r);

/* What differs between two runs in what makes results comparable: suite,
 * prompt, template, metric variants. Writes "" when nothing. */
void cmp_setup_differences(const rp_run *a, const rp_run *b, char *buf, size_t cap);

/* Per-position answer-token statistics of q against the reference p (same sample):
 * positions up to and including the first where the chosen tokens differ (later
 * ones have different contexts). Writes at most cap entries; returns the count.
 * dp is p_Q(ref) - p_P(ref); a position where Q's list lacks P's token is skipped
 * and counted in *skipped. */
size_t cmp_token_stats(const rp_row *p, const rp_row *q, double *kl, double *dp,
                       unsigned char *same, size_t cap, size_t *skipped);

void cmp_print_text(FILE *f, const cmp_result *r);
void cmp_write_json(FILE *f, const cmp_result *r);
void cmp_write_junit(FILE *f, const cmp_result *r);

#endif
