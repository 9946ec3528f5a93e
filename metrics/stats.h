/* metrics/stats.h — the statistics a regression gate needs (metrics.md §8):
 * Wilson intervals, cluster (image) bootstrap and paired bootstrap with a fixed-seed
 * PRNG, McNemar's exact test, a sign-flip permutation test, Holm correction, and
 * the KL-divergence / top-1 / Δp summaries llama.cpp's --kl-divergence prints.
 *
 * Pure functions over numbers: no I/O, no global state. Results that would be 0/0
 * (n = 0, no resample defined) come back with status STATS_NODATA and
 * `defined = 0`, never as NaN, so a report can print "no data".
 * Memory: callers own every array they pass; functions that need scratch space
 * allocate and free it themselves and return STATS_ENOMEM when they cannot.
 * Random numbers come from our own xoshiro256** seeded through splitmix64, so a
 * seed gives identical intervals on every machine and compiler.
 */
#ifndef LV_STATS_H
#define LV_STATS_H

#include <stddef.h>
#include <stdint.h>

enum { STATS_OK = 0, STATS_NODATA = 1, STATS_EINVAL = -1, STATS_ENOMEM = -2 };

#define STATS_Z95 1.959963984540054   /* two-sided 95% normal quantile */
#define STATS_DEFAULT_B 2000          /* bootstrap resamples */
#define STATS_DEFAULT_SEED 20240607u  /* recorded with every interval */

/* An estimate with its interval; defined == 0 means "no data" (fields are 0). */
typedef struct {
    double estimate, lo, hi;
    int    defined;
} stats_interval;

/* ---- random numbers ---------------------------------------------------------- */

typedef struct {
    uint64_t s[4];   /* xoshiro256** state, never all zero */
} stats_rng;

/* The splitmix64 step: advances *state, returns the next output. */
uint64_t stats_splitmix64(uint64_t *state);
/* Seeds xoshiro256** with four splitmix64 outputs of seed. */
void     stats_rng_seed(stats_rng *r, uint64_t seed);
uint64_t stats_rng_next(stats_rng *r);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t stats_rng_below(stats_rng *r, uint64_t n);

/* ---- proportions ------------------------------------------------------------------ */

/* Wilson score interval for k successes out of n at normal quantile z (§8.1).
 * NODATA for n == 0, EINVAL unless 0 <= k <= n. */
int stats_wilson(long k, long n, double z, stats_interval *out);

/* ---- percentiles and summaries ------------------------------------------------------ */

/* Linear-interpolation percentile of sorted[0..n) at fraction in [0,1] (llama.cpp's
 * and numpy's default rule); n > 0. */
double stats_percentile(const double *sorted, size_t n, double fraction);

/* Percentiles reported by llama.cpp --kl-divergence, in this order (as fractions). */
#define STATS_NPCT 11
extern const double stats_pct_levels[STATS_NPCT]; /* .001 .01 .05 .10 .25 .50 .75 .90 .95 .99 .999 */

typedef struct {
    size_t n;
    double mean, mean_err;   /* mean ± sqrt((E[x²]-mean²)/(n-1)) */
    double rms, rms_err;     /* sqrt(E[x²]) and its delta-method error */
    double min, max;
    double pct[STATS_NPCT];  /* at stats_pct_levels */
    int    defined;
} stats_summary;

/* Summary of x[0..n) (x is not modified). NODATA for n == 0. */
int stats_summarize(const double *x, size_t n, stats_summary *out);
/* The summary's percentile at a level of stats_pct_levels (e.g. 0.999); NaN-free:
 * returns 0 for an unknown level. */
double stats_summary_pct(const stats_summary *s, double level);

/* ---- bootstrap --------------------------------------------------------------------- */

typedef struct {
    size_t   b;       /* resamples; 0 means STATS_DEFAULT_B */
    uint64_t seed;    /* STATS_DEFAULT_SEED unless the caller records another */
    double   level;   /* central coverage, 0 means 0.95 */
} stats_boot_opts;

typedef struct {
    stats_interval ci;        /* estimate on the full sample, percentile interval */
    size_t b_used;            /* resamples where the statistic was defined */
    size_t b_undefined;       /* resamples skipped (e.g. F1 with no positive) */
} stats_boot_result;

/* A statistic over a resample of clusters: idx[0..n) are cluster indices drawn with
 * replacement (the identity on the full sample). Returns STATS_OK with *out, or
 * STATS_NODATA when undefined on this resample. For a paired comparison, return
 * metric(B) - metric(A) computed on the same clusters. */
typedef int (*stats_fn)(const size_t *idx, size_t n, void *ctx, double *out);

/* Percentile bootstrap over nclusters units (images, not questions: §8.2). NODATA
 * when nclusters == 0 or the statistic is undefined on the full sample. */
int stats_bootstrap(size_t nclusters, stats_fn fn, void *ctx, const stats_boot_opts *o,
                    stats_boot_result *out);
/* The mean of per-item values v[0..n), resampling whole clusters: cluster[i] names
 * the image of item i (any ids; items of a cluster need not be adjacent). */
int stats_bootstrap_mean(const double *v, const size_t *cluster, size_t n,
                         const stats_boot_opts *o, stats_boot_result *out);
/* Paired: mean(b) - mean(a) over the same items, resampling clusters (§8.4). */
int stats_paired_bootstrap_mean(const double *a, const double *b, const size_t *cluster,
                                size_t n, const stats_boot_opts *o, stats_boot_result *out);
/* Ratio metrics (CHAIR-i, precision, F1 = 2TP / (2TP+FP+FN)): sum(num) / sum(den)
 * over resampled clusters; resamples with sum(den) == 0 are skipped and counted. */
int stats_bootstrap_ratio(const double *num, const double *den, const size_t *cluster, size_t n,
                          const stats_boot_opts *o, stats_boot_result *out);
/* Paired ratio difference: ratio(B) - ratio(A) on the same resampled clusters. */
int stats_paired_bootstrap_ratio(const double *num_a, const double *den_a, const double *num_b,
                                 const double *den_b, const size_t *cluster, size_t n,
                                 const stats_boot_opts *o, stats_boot_result *out);
/* index[i] = 0-based number of item i's cluster (ids compacted in sorted order);
 * cluster NULL makes each item its own cluster. */
int stats_cluster_index(const size_t *cluster, size_t n, size_t *index, size_t *nclusters);

/* ---- tests for two runs on the same samples -------------------------------------- */

typedef struct {
    long   b, c;         /* right->wrong, wrong->right (the flip table) */
    long   n;            /* all paired samples */
    double p;            /* exact two-sided p; 1 when b + c == 0 */
    double diff;         /* (c - b) / n: accuracy of the second run minus the first */
    int    defined;      /* 0 when n == 0 */
} stats_mcnemar_result;

/* McNemar's exact test from the discordant counts (§8.3). NODATA when n == 0,
 * EINVAL for negative counts or b + c > n. */
int stats_mcnemar(long b, long c, long n, stats_mcnemar_result *out);
/* The same from per-sample outcomes (nonzero = right) of run A and run B. */
int stats_mcnemar_pairs(const unsigned char *a_right, const unsigned char *b_right, size_t n,
                        stats_mcnemar_result *out);

/* Sign-flip permutation test on paired differences d[0..n) (per-image mean
 * differences): two-sided p of |mean|. Exact over all 2^n signs for n <= 20,
 * else Monte Carlo with `rounds` draws (p = (hits + 1) / (rounds + 1)). NODATA for n == 0. */
int stats_sign_flip(const double *d, size_t n, size_t rounds, uint64_t seed, double *p);

/* Holm–Bonferroni: adjusted[i] for p[i] (step-down, monotone, capped at 1); reject
 * hypothesis i at level alpha when adjusted[i] <= alpha. EINVAL for p outside [0,1]. */
int stats_holm(const double *p, size_t m, double *adjusted);

/* ---- quantization: next-token distributions (§8.6) ------------------------------- */

typedef struct {
    int32_t id;       /* token id */
    double  logp;     /* natural log-probability under the full-vocabulary softmax */
} stats_logprob;

/* KL(P||Q) at one position from stored top-k lists of the reference run (P) and
 * the quantized run (Q). Both full distributions are coarse-grained onto the same
 * partition of the vocabulary: one bin per token in both lists, and one bin for
 * everything else (P's remaining top-k tokens, Q's, and both tails, with masses
 * 1 - the listed ones). The KL of a coarse-graining never exceeds the true KL, so
 * this is an exact lower bound, equal to it when the lists hold all the mass.
 * *same_top (may be NULL) is 1 when both lists' most probable token agree.
 * EINVAL for empty lists or log-probs above 0. */
int stats_kl_topk(const stats_logprob *p, size_t np, const stats_logprob *q, size_t nq,
                  double *kl, int *same_top);
/* Δp at one position: p_Q(ref token) - p_P(ref token), from the forced reference
 * token's log-probabilities under each run. */
double stats_delta_p(double logp_ref_p, double logp_ref_q);

/* Everything llama.cpp --kl-divergence prints, over n positions: KL summary (mean ±
 * error, max, 99.9/99/50/10/5/1 %, min), Δp summary (mean ± error, RMS ± error,
 * percentiles) and the same-top share. NODATA for n == 0. */
typedef struct {
    size_t n;
    stats_summary  kl, dp;
    stats_interval same_top;
} stats_quant_report;

int stats_quant_summarize(const double *kl, const double *dp, const unsigned char *same_top,
                          size_t n, stats_quant_report *out);

/* llama.cpp's "Same top p": estimate = same/n, lo/hi = estimate -/+ its binomial
 * standard error sqrt(p(1-p)/(n-1)). NODATA for n == 0. */
int stats_same_top(size_t same, size_t n, stats_interval *out);

#endif
