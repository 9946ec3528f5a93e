/* metrics/metric_stats.c — intervals and run-vs-run comparisons of registered metrics,
 * choosing the statistics metrics.md §8 prescribes from the metric's kind. */
#include "metrics/metrics.h"

#include <stdlib.h>
#include <string.h>

/* Every item's (num, den); items a metric leaves undefined (NODATA) contribute 0/0. */
static int all_parts(const metric_def *d, const metric_item *items, size_t n, double *num, double *den)
{
    for (size_t i = 0; i < n; i++) {
        int rc = d->parts(&items[i], &num[i], &den[i]);
        if (rc < 0) return rc;
        if (rc == METRIC_NODATA) num[i] = den[i] = 0;
    }
    return METRIC_OK;
}

/* 1 when every cluster holds one item. */
static int singletons(const size_t *cluster, size_t n, size_t *index)
{
    size_t ncl;
    if (!cluster) return 1;
    if (stats_cluster_index(cluster, n, index, &ncl)) return -1;
    return ncl == n;
}

static int stats_to_metric(int rc)
{
    return rc == STATS_ENOMEM ? METRIC_ENOMEM : rc == STATS_NODATA ? METRIC_NODATA :
           rc ? METRIC_EINPUT : METRIC_OK;
}

int metric_interval(const metric_def *d, const metric_item *items, size_t n, const size_t *cluster,
                    const stats_boot_opts *o, stats_interval *out, const char **method)
{
    double *num = NULL, *den = NULL;
    size_t *index = NULL;
    metric_num est;
    int rc;
    memset(out, 0, sizeof *out);
    if (method) *method = NULL;
    if ((rc = metric_apply(d, items, n, &est)) != METRIC_OK) return rc;
    num = malloc((n + 1) * sizeof *num);
    den = malloc((n + 1) * sizeof *den);
    index = malloc((n + 1) * sizeof *index);
    if (!num || !den || !index) { rc = METRIC_ENOMEM; goto done; }
    if ((rc = all_parts(d, items, n, num, den))) goto done;
    int single = singletons(cluster, n, index);
    if (single < 0) { rc = METRIC_ENOMEM; goto done; }
    if (d->kind == METRIC_KIND_BINARY && single) {
        /* k successes out of n (den is 1 per defined item) */
        double k = 0, m = 0;
        for (size_t i = 0; i < n; i++) { k += num[i]; m += den[i]; }
        rc = stats_to_metric(stats_wilson((long)(k + 0.5), (long)(m + 0.5), STATS_Z95, out));
        if (method) *method = "wilson";
    } else {
        stats_boot_result r;
        rc = stats_to_metric(stats_bootstrap_ratio(num, den, cluster, n, o, &r));
        *out = r.ci;
        if (method) *method = "bootstrap";
    }
    if (rc == METRIC_OK) out->estimate = est.value; /* the official formula's value */
done:
    free(num);
    free(den);
    free(index);
    return rc;
}

int metric_compare(const metric_def *d, const metric_item *a, const metric_item *b, size_t n,
                   const size_t *cluster, const stats_boot_opts *o, metric_comparison *out)
{
    double *na = NULL, *da = NULL, *nb = NULL, *db = NULL, *diffs = NULL;
    size_t *index = NULL, ncl = 0;
    metric_num ea, eb;
    stats_boot_result r;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = metric_apply(d, a, n, &ea)) != METRIC_OK || (rc = metric_apply(d, b, n, &eb)) != METRIC_OK)
        return rc;
    na = malloc((n + 1) * sizeof *na);
    da = malloc((n + 1) * sizeof *da);
    nb = malloc((n + 1) * sizeof *nb);
    db = malloc((n + 1) * sizeof *db);
    index = malloc((n + 1) * sizeof *index);
    diffs = calloc(2 * n + 1, sizeof *diffs);
    if (!na || !da || !nb || !db || !index || !diffs) { rc = METRIC_ENOMEM; goto done; }
    if ((rc = all_parts(d, a, n, na, da)) || (rc = all_parts(d, b, n, nb, db))) goto done;
    if ((rc = stats_to_metric(stats_paired_bootstrap_ratio(na, da, nb, db, cluster, n, o, &r))))
        goto done;
    out->diff = r.ci;
    out->diff.estimate = eb.value - ea.value;
    if (d->kind == METRIC_KIND_BINARY) {
        /* the flip table over items both runs define */
        stats_mcnemar_result m;
        long pairs = 0;
        for (size_t i = 0; i < n; i++) {
            if (da[i] != 1 || db[i] != 1) continue;
            pairs++;
            if (na[i] > 0.5 && nb[i] <= 0.5) out->b++;
            else if (na[i] <= 0.5 && nb[i] > 0.5) out->c++;
        }
        if (stats_mcnemar(out->b, out->c, pairs, &m) == STATS_OK) {
            out->p = m.p;
            out->has_p = 1;
            out->test = "mcnemar";
        }
    } else if (d->kind == METRIC_KIND_SOFT) {
        /* sign flips on the per-image mean differences */
        double *sum = diffs, *cnt = diffs + n;
        if ((rc = stats_to_metric(stats_cluster_index(cluster, n, index, &ncl)))) goto done;
        for (size_t i = 0; i < n; i++) {
            if (da[i] == 0 || db[i] == 0) continue;
            sum[index[i]] += nb[i] / db[i] - na[i] / da[i];
            cnt[index[i]] += 1;
        }
        size_t k = 0;
        for (size_t c = 0; c < ncl; c++)
            if (cnt[c] > 0) sum[k++] = sum[c] / cnt[c];
        uint64_t seed = o ? o->seed : STATS_DEFAULT_SEED;
        if (stats_sign_flip(sum, k, 10000, seed, &out->p) == STATS_OK) {
            out->has_p = 1;
            out->test = "sign-flip";
        }
    }
    rc = METRIC_OK;
done:
    free(na); free(da); free(nb); free(db); free(index); free(diffs);
    return rc;
}
