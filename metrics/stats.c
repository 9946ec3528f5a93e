/* metrics/stats.c — statistics for comparing runs (see stats.h, metrics.md §8). */
#include "metrics/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers ---------------------------------------------------------- */

uint64_t stats_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

void stats_rng_seed(stats_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = stats_splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t stats_rng_next(stats_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t stats_rng_below(stats_rng *r, uint64_t n)
{
    /* Reject the top partial block so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = stats_rng_next(r); while (x >= limit);
    return x % n;
}

/* ---- proportions --------------------------------------------------------------------- */

int stats_wilson(long k, long n, double z, stats_interval *out)
{
    memset(out, 0, sizeof *out);
    if (n < 0 || k < 0 || k > n) return STATS_EINVAL;
    if (n == 0) return STATS_NODATA;
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double denom = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / denom;
    double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
    out->estimate = p;
    out->lo = centre - half < 0 ? 0 : centre - half;  /* clamp rounding at k = 0 / k = n */
    out->hi = centre + half > 1 ? 1 : centre + half;
    out->defined = 1;
    return STATS_OK;
}

/* ---- percentiles and summaries ---------------------------------------------------------- */

const double stats_pct_levels[STATS_NPCT] = {0.001, 0.01, 0.05, 0.10, 0.25, 0.50,
                                             0.75, 0.90, 0.95, 0.99, 0.999};

double stats_percentile(const double *sorted, size_t n, double fraction)
{
    if (fraction <= 0) return sorted[0];
    if (fraction >= 1) return sorted[n - 1];
    double pos = fraction * (double)(n - 1);
    size_t i = (size_t)pos;
    double frac = pos - (double)i;
    size_t j = i + 1 < n ? i + 1 : n - 1;
    return (1 - frac) * sorted[i] + frac * sorted[j];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int stats_summarize(const double *x, size_t n, stats_summary *out)
{
    double s1 = 0, s2 = 0, s4 = 0;
    double *sorted;
    memset(out, 0, sizeof *out);
    if (n == 0) return STATS_NODATA;
    sorted = malloc(n * sizeof *sorted);
    if (!sorted) return STATS_ENOMEM;
    memcpy(sorted, x, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    for (size_t i = 0; i < n; i++) {
        double sq = x[i] * x[i];
        s1 += x[i];
        s2 += sq;
        s4 += sq * sq;
    }
    double nn = (double)n, mean = s1 / nn, m2 = s2 / nn, m4 = s4 / nn;
    out->n = n;
    out->mean = mean;
    out->rms = sqrt(m2);
    if (n > 1) {
        /* llama.cpp: error of a mean = sqrt(variance / (n - 1)); the RMS error by the
         * delta method from the error of E[x²]. */
        double var = m2 - mean * mean, var2 = m4 - m2 * m2;
        out->mean_err = var > 0 ? sqrt(var / (nn - 1)) : 0;
        out->rms_err = var2 > 0 && out->rms > 0 ? 0.5 / out->rms * sqrt(var2 / (nn - 1)) : 0;
    }
    out->min = sorted[0];
    out->max = sorted[n - 1];
    for (int k = 0; k < STATS_NPCT; k++) out->pct[k] = stats_percentile(sorted, n, stats_pct_levels[k]);
    out->defined = 1;
    free(sorted);
    return STATS_OK;
}

double stats_summary_pct(const stats_summary *s, double level)
{
    for (int k = 0; k < STATS_NPCT; k++)
        if (fabs(stats_pct_levels[k] - level) < 1e-12) return s->pct[k];
    return 0;
}

/* ---- bootstrap ------------------------------------------------------------------------------ */

int stats_bootstrap(size_t nclusters, stats_fn fn, void *ctx, const stats_boot_opts *o,
                    stats_boot_result *out)
{
    size_t b = o && o->b ? o->b : STATS_DEFAULT_B;
    uint64_t seed = o ? o->seed : STATS_DEFAULT_SEED;
    double level = o && o->level > 0 && o->level < 1 ? o->level : 0.95;
    size_t *idx = NULL;
    double *vals = NULL, est;
    stats_rng rng;
    int rc;
    memset(out, 0, sizeof *out);
    if (nclusters == 0) return STATS_NODATA;
    idx = malloc(nclusters * sizeof *idx);
    vals = malloc(b * sizeof *vals);
    if (!idx || !vals) { rc = STATS_ENOMEM; goto done; }
    for (size_t i = 0; i < nclusters; i++) idx[i] = i;
    if ((rc = fn(idx, nclusters, ctx, &est)) != STATS_OK) goto done;
    stats_rng_seed(&rng, seed);
    for (size_t r = 0; r < b; r++) {
        double v;
        for (size_t i = 0; i < nclusters; i++) idx[i] = (size_t)stats_rng_below(&rng, nclusters);
        rc = fn(idx, nclusters, ctx, &v);
        if (rc == STATS_NODATA) { out->b_undefined++; continue; }
        if (rc != STATS_OK) goto done;
        vals[out->b_used++] = v;
    }
    if (out->b_used == 0) { rc = STATS_NODATA; goto done; }
    qsort(vals, out->b_used, sizeof *vals, cmp_double);
    out->ci.estimate = est;
    out->ci.lo = stats_percentile(vals, out->b_used, (1 - level) / 2);
    out->ci.hi = stats_percentile(vals, out->b_used, 1 - (1 - level) / 2);
    out->ci.defined = 1;
    rc = STATS_OK;
done:
    free(idx);
    free(vals);
    return rc;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

int stats_cluster_index(const size_t *cluster, size_t n, size_t *index, size_t *nclusters)
{
    size_t *ids, k = 0;
    *nclusters = 0;
    if (!cluster) { /* every item its own cluster */
        for (size_t i = 0; i < n; i++) index[i] = i;
        *nclusters = n;
        return STATS_OK;
    }
    if (!n) return STATS_OK;
    ids = malloc(n * sizeof *ids);
    if (!ids) return STATS_ENOMEM;
    memcpy(ids, cluster, n * sizeof *ids);
    qsort(ids, n, sizeof *ids, cmp_size);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || ids[i] != ids[k - 1]) ids[k++] = ids[i];
    for (size_t i = 0; i < n; i++) {
        size_t *hit = bsearch(&cluster[i], ids, k, sizeof *ids, cmp_size);
        index[i] = (size_t)(hit - ids);
    }
    *nclusters = k;
    free(ids);
    return STATS_OK;
}

/* Per-cluster sums of one or two ratio metrics: run A (na/da) and, when paired,
 * run B (nb/db). */
typedef struct {
    double *na, *da, *nb, *db;
    int     paired;
} cluster_sums;

static int ratio_fn(const size_t *idx, size_t n, void *ctx, double *out)
{
    const cluster_sums *cs = ctx;
    double na = 0, da = 0, nb = 0, db = 0;
    for (size_t i = 0; i < n; i++) {
        na += cs->na[idx[i]];
        da += cs->da[idx[i]];
        if (cs->paired) { nb += cs->nb[idx[i]]; db += cs->db[idx[i]]; }
    }
    if (da == 0 || (cs->paired && db == 0)) return STATS_NODATA;
    *out = cs->paired ? nb / db - na / da : na / da;
    return STATS_OK;
}

/* Groups items into clusters, sums num/den per cluster (den NULL: 1 per item), and
 * bootstraps sum(num)/sum(den), or its paired difference B - A. */
static int bootstrap_ratios(const double *na, const double *da, const double *nb, const double *db,
                            const size_t *cluster, size_t n, const stats_boot_opts *o,
                            stats_boot_result *out)
{
    cluster_sums cs = {0};
    size_t *index = NULL, ncl = 0;
    int rc = STATS_ENOMEM;
    memset(out, 0, sizeof *out);
    if (n == 0) return STATS_NODATA;
    index = malloc(n * sizeof *index);
    cs.na = calloc(n, sizeof *cs.na);
    cs.da = calloc(n, sizeof *cs.da);
    cs.nb = calloc(n, sizeof *cs.nb);
    cs.db = calloc(n, sizeof *cs.db);
    if (!index || !cs.na || !cs.da || !cs.nb || !cs.db) goto done;
    if ((rc = stats_cluster_index(cluster, n, index, &ncl))) goto done;
    cs.paired = nb != NULL;
    for (size_t i = 0; i < n; i++) {
        size_t k = index[i];
        cs.na[k] += na[i];
        cs.da[k] += da ? da[i] : 1;
        if (cs.paired) { cs.nb[k] += nb[i]; cs.db[k] += db ? db[i] : 1; }
    }
    rc = stats_bootstrap(ncl, ratio_fn, &cs, o, out);
done:
    free(index);
    free(cs.na);
    free(cs.da);
    free(cs.nb);
    free(cs.db);
    return rc;
}

int stats_bootstrap_mean(const double *v, const size_t *cluster, size_t n,
                         const stats_boot_opts *o, stats_boot_result *out)
{
    return bootstrap_ratios(v, NULL, NULL, NULL, cluster, n, o, out);
}

int stats_paired_bootstrap_mean(const double *a, const double *b, const size_t *cluster,
                                size_t n, const stats_boot_opts *o, stats_boot_result *out)
{
    return bootstrap_ratios(a, NULL, b, NULL, cluster, n, o, out);
}

int stats_bootstrap_ratio(const double *num, const double *den, const size_t *cluster, size_t n,
                          const stats_boot_opts *o, stats_boot_result *out)
{
    return bootstrap_ratios(num, den, NULL, NULL, cluster, n, o, out);
}

int stats_paired_bootstrap_ratio(const double *num_a, const double *den_a, const double *num_b,
                                 const double *den_b, const size_t *cluster, size_t n,
                                 const stats_boot_opts *o, stats_boot_result *out)
{
    return bootstrap_ratios(num_a, den_a, num_b, den_b, cluster, n, o, out);
}

/* ---- tests for two runs -------------------------------------------------------------------- */

int stats_mcnemar(long b, long c, long n, stats_mcnemar_result *out)
{
    memset(out, 0, sizeof *out);
    if (b < 0 || c < 0 || n < 0 || b + c > n) return STATS_EINVAL;
    out->b = b;
    out->c = c;
    out->n = n;
    out->p = 1;
    if (n == 0) return STATS_NODATA;
    out->diff = (double)(c - b) / (double)n;
    out->defined = 1;
    long d = b + c, m = b < c ? b : c;
    if (d == 0) return STATS_OK;
    /* 2 * sum_{i<=m} C(d,i) 2^-d in log space: terms grow with i (m <= d/2), so
     * scale by the last one to keep the sum finite for d in the millions. */
    double *lt = malloc((size_t)(m + 1) * sizeof *lt);
    if (!lt) return STATS_ENOMEM;
    lt[0] = -(double)d * log(2.0);
    for (long i = 1; i <= m; i++) lt[i] = lt[i - 1] + log((double)(d - i + 1) / (double)i);
    double sum = 0;
    for (long i = 0; i <= m; i++) sum += exp(lt[i] - lt[m]);
    double p = 2 * exp(lt[m]) * sum;
    out->p = p > 1 ? 1 : p;
    free(lt);
    return STATS_OK;
}

int stats_mcnemar_pairs(const unsigned char *a_right, const unsigned char *b_right, size_t n,
                        stats_mcnemar_result *out)
{
    long b = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        if (a_right[i] && !b_right[i]) b++;
        else if (!a_right[i] && b_right[i]) c++;
    }
    return stats_mcnemar(b, c, (long)n, out);
}

int stats_sign_flip(const double *d, size_t n, size_t rounds, uint64_t seed, double *p)
{
    double obs = 0;
    *p = 1;
    if (n == 0) return STATS_NODATA;
    for (size_t i = 0; i < n; i++) obs += d[i];
    obs = fabs(obs);
    /* A relative tolerance so sign patterns equal to the observed sum count as hits. */
    double tol = 1e-12 * (obs > 1 ? obs : 1);
    if (n <= 20) {
        size_t hits = 0, total = (size_t)1 << n;
        for (size_t mask = 0; mask < total; mask++) {
            double s = 0;
            for (size_t i = 0; i < n; i++) s += (mask >> i & 1) ? -d[i] : d[i];
            hits += fabs(s) >= obs - tol;
        }
        *p = (double)hits / (double)total;
        return STATS_OK;
    }
    stats_rng rng;
    size_t hits = 0;
    stats_rng_seed(&rng, seed);
    for (size_t r = 0; r < rounds; r++) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += (stats_rng_next(&rng) >> 63) ? -d[i] : d[i];
        hits += fabs(s) >= obs - tol;
    }
    *p = (double)(hits + 1) / (double)(rounds + 1);
    return STATS_OK;
}

int stats_holm(const double *p, size_t m, double *adjusted)
{
    size_t *order;
    double running = 0;
    for (size_t i = 0; i < m; i++)
        if (!(p[i] >= 0 && p[i] <= 1)) return STATS_EINVAL;
    order = malloc((m + 1) * sizeof *order);
    if (!order) return STATS_ENOMEM;
    for (size_t i = 0; i < m; i++) order[i] = i;
    /* insertion sort by p: m is a handful of metrics; stable for equal p */
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && p[order[j - 1]] > p[order[j]]; j--) {
            size_t t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    for (size_t r = 0; r < m; r++) {
        double v = (double)(m - r) * p[order[r]];
        if (v > 1) v = 1;
        if (v < running) v = running; /* step-down: adjusted p never decreases */
        running = v;
        adjusted[order[r]] = v;
    }
    free(order);
    return STATS_OK;
}

/* ---- quantization ------------------------------------------------------------------------- */

static size_t top_index(const stats_logprob *x, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i].logp > x[best].logp) best = i;
    return best;
}

int stats_kl_topk(const stats_logprob *p, size_t np, const stats_logprob *q, size_t nq,
                  double *kl, int *same_top)
{
    double sum = 0, p_shared = 0, q_shared = 0;
    if (!np || !nq) return STATS_EINVAL;
    for (size_t i = 0; i < np; i++) if (p[i].logp > 1e-9) return STATS_EINVAL;
    for (size_t i = 0; i < nq; i++) if (q[i].logp > 1e-9) return STATS_EINVAL;
    for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < nq; j++) {
            if (p[i].id != q[j].id) continue;
            double pv = exp(p[i].logp);
            sum += pv * (p[i].logp - q[j].logp);
            p_shared += pv;
            q_shared += exp(q[j].logp);
            break;
        }
    /* The "everything else" bin. Masses below 1e-12 are rounding of 1 - sum. */
    double p_rest = 1 - p_shared, q_rest = 1 - q_shared;
    if (p_rest > 1e-12) sum += p_rest * (log(p_rest) - log(q_rest > 1e-12 ? q_rest : 1e-12));
    *kl = sum > 0 ? sum : 0; /* a KL is never negative; tiny negatives are rounding */
    if (same_top) *same_top = p[top_index(p, np)].id == q[top_index(q, nq)].id;
    return STATS_OK;
}

int stats_same_top(size_t same, size_t n, stats_interval *out)
{
    memset(out, 0, sizeof *out);
    if (same > n) return STATS_EINVAL;
    if (n == 0) return STATS_NODATA;
    double p = (double)same / (double)n;
    double err = n > 1 ? sqrt(p * (1 - p) / (double)(n - 1)) : 0;
    out->estimate = p;
    out->lo = p - err;
    out->hi = p + err;
    out->defined = 1;
    return STATS_OK;
}

double stats_delta_p(double logp_ref_p, double logp_ref_q)
{
    return exp(logp_ref_q) - exp(logp_ref_p);
}

int stats_quant_summarize(const double *kl, const double *dp, const unsigned char *same_top,
                          size_t n, stats_quant_report *out)
{
    size_t same = 0;
    int rc;
    memset(out, 0, sizeof *out);
    if (n == 0) return STATS_NODATA;
    for (size_t i = 0; i < n; i++) same += same_top[i] != 0;
    if ((rc = stats_summarize(kl, n, &out->kl)) || (rc = stats_summarize(dp, n, &out->dp)) ||
        (rc = stats_same_top(same, n, &out->same_top)))
        return rc;
    out->n = n;
    return STATS_OK;
}
