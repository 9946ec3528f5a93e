/* tests/test_stats.c — metrics/stats against independently computed values. Each
 * expected number says where it came from. */
#include "tests/test.h"
#include "metrics/stats.h"

#include <math.h>
#include <stdlib.h>

/* Reference outputs from a separate Python implementation of splitmix64 (Vigna's
 * reference: seed 0 gives e220a8397b1dcdaf first) and xoshiro256** (seeded with
 * four splitmix64 outputs of 42). */
static void test_rng_reference(void)
{
    uint64_t st = 0;
    T_CHECK(stats_splitmix64(&st) == 0xe220a8397b1dcdafu, "splitmix64 #1");
    T_CHECK(stats_splitmix64(&st) == 0x6e789e6aa1b965f4u, "splitmix64 #2");
    T_CHECK(stats_splitmix64(&st) == 0x06c45d188009454fu, "splitmix64 #3");
    stats_rng r;
    stats_rng_seed(&r, 42);
    T_CHECK(stats_rng_next(&r) == 0x15780b2e0c2ec716u, "xoshiro #1");
    T_CHECK(stats_rng_next(&r) == 0x6104d9866d113a7eu, "xoshiro #2");
    T_CHECK(stats_rng_next(&r) == 0xae17533239e499a1u, "xoshiro #3");
    /* below(n) stays in range and hits every value */
    int seen[7] = {0};
    for (int i = 0; i < 1000; i++) {
        uint64_t v = stats_rng_below(&r, 7);
        T_CHECK(v < 7, "below");
        if (v < 7) seen[v] = 1;
    }
    for (int i = 0; i < 7; i++) T_CHECK(seen[i], "value %d never drawn", i);
}

/* Newcombe (1998), Stat Med 17:857, Table I, method 3 (Wilson score, no continuity
 * correction), printed to 4 decimals; the 1e-12 values are the closed form
 * evaluated separately in Python with z = 1.959963984540054. */
static void test_wilson(void)
{
    static const struct { long k, n; double lo, hi, lo_py, hi_py; } v[] = {
        {81, 263, 0.2553, 0.3662, 0.255288519878274, 0.366209576982800},
        {15, 148, 0.0624, 0.1605, 0.062386399530736, 0.160487241723308},
        {0, 20, 0.0000, 0.1611, 0.0, 0.161125158052819},
        {1, 29, 0.0061, 0.1718, 0.006113214292763, 0.171755218793203},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        stats_interval ci;
        T_EQ_INT(stats_wilson(v[i].k, v[i].n, STATS_Z95, &ci), STATS_OK);
        T_NEAR(ci.lo, v[i].lo, 5e-5);
        T_NEAR(ci.hi, v[i].hi, 5e-5);
        T_NEAR(ci.lo, v[i].lo_py, 1e-12);
        T_NEAR(ci.hi, v[i].hi_py, 1e-12);
        T_NEAR(ci.estimate, (double)v[i].k / (double)v[i].n, 0);
    }
}

static void test_wilson_edges(void)
{
    stats_interval ci;
    /* all correct: 29/29 -> [0.883030201500259, 1] (Python closed form) */
    T_EQ_INT(stats_wilson(29, 29, STATS_Z95, &ci), STATS_OK);
    T_NEAR(ci.lo, 0.883030201500259, 1e-12);
    T_CHECK(ci.hi <= 1.0 && ci.hi > 1 - 1e-12, "hi %.17g", ci.hi);
    /* n = 0: no data, not NaN */
    T_EQ_INT(stats_wilson(0, 0, STATS_Z95, &ci), STATS_NODATA);
    T_EQ_INT(ci.defined, 0);
    T_CHECK(ci.lo == 0 && ci.hi == 0 && ci.estimate == 0, "zeroed");
    T_EQ_INT(stats_wilson(5, 3, STATS_Z95, &ci), STATS_EINVAL);
    T_EQ_INT(stats_wilson(-1, 3, STATS_Z95, &ci), STATS_EINVAL);
}

/* Exact binomial sums: p = min(1, 2 * sum_{i<=min(b,c)} C(b+c, i) / 2^(b+c)).
 * 1,5: 2*(1+6)/64; 2,10: 2*(1+12+66)/4096; 0,10: 2/1024; 5,5: 2*638/1024 -> 1.
 * The large cases were summed with Python's exact integers (fractions.Fraction). */
static void test_mcnemar(void)
{
    static const struct { long b, c; double p; } v[] = {
        {1, 5, 0.21875}, {5, 1, 0.21875}, {2, 10, 0.03857421875}, {0, 10, 0.001953125},
        {5, 5, 1.0}, {1000, 1100, 0.030720707864242296}, {3000, 3050, 0.5287190384223782},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        stats_mcnemar_result r;
        T_EQ_INT(stats_mcnemar(v[i].b, v[i].c, 10000, &r), STATS_OK);
        T_CHECK(fabs(r.p - v[i].p) <= 1e-9 * v[i].p, "b=%ld c=%ld p=%.17g want %.17g", v[i].b, v[i].c, r.p, v[i].p);
        T_NEAR(r.diff, (double)(v[i].c - v[i].b) / 10000, 1e-15);
    }
}

static void test_mcnemar_edges(void)
{
    stats_mcnemar_result r;
    /* no discordant pairs: nothing to test, p = 1, difference 0 */
    T_EQ_INT(stats_mcnemar(0, 0, 50, &r), STATS_OK);
    T_NEAR(r.p, 1.0, 0);
    T_NEAR(r.diff, 0.0, 0);
    T_EQ_INT(r.defined, 1);
    /* no samples at all */
    T_EQ_INT(stats_mcnemar(0, 0, 0, &r), STATS_NODATA);
    T_EQ_INT(r.defined, 0);
    T_CHECK(r.p == 1 && r.diff == 0, "no NaN");
    T_EQ_INT(stats_mcnemar(3, 4, 5, &r), STATS_EINVAL);
    /* from outcomes: A right on 0..5, B right on 2..7 of 8 -> b = 2 (0,1), c = 2 (6,7) */
    unsigned char a[8] = {1, 1, 1, 1, 1, 1, 0, 0}, b[8] = {0, 0, 1, 1, 1, 1, 1, 1};
    T_EQ_INT(stats_mcnemar_pairs(a, b, 8, &r), STATS_OK);
    T_EQ_INT(r.b, 2);
    T_EQ_INT(r.c, 2);
    T_NEAR(r.p, 1.0, 0); /* 2*(1+4+6)/16 = 1.375 -> 1 */
    /* huge n stays finite: b = 0, c = 2000 -> 2^-1999 underflows to 0, never NaN */
    T_EQ_INT(stats_mcnemar(0, 2000, 2000, &r), STATS_OK);
    T_CHECK(r.p >= 0 && r.p < 1e-300, "p %.17g", r.p);
}

/* Holm by hand: sorted p 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06,
 * 0.04 -> running max 0.02, 0.03, 0.06, 0.06. */
static void test_holm(void)
{
    double p[4] = {0.01, 0.04, 0.03, 0.005}, adj[4];
    T_EQ_INT(stats_holm(p, 4, adj), STATS_OK);
    T_NEAR(adj[0], 0.03, 1e-15);
    T_NEAR(adj[1], 0.06, 1e-15);
    T_NEAR(adj[2], 0.06, 1e-15);
    T_NEAR(adj[3], 0.02, 1e-15);
    double q[3] = {0.5, 0.9, 0.6}, adj2[3];
    T_EQ_INT(stats_holm(q, 3, adj2), STATS_OK); /* 1.5 -> 1 capped, then max */
    T_NEAR(adj2[0], 1.0, 0);
    T_NEAR(adj2[1], 1.0, 0);
    T_NEAR(adj2[2], 1.0, 0);
    double bad[1] = {1.5};
    T_EQ_INT(stats_holm(bad, 1, adj2), STATS_EINVAL);
    T_EQ_INT(stats_holm(p, 0, adj), STATS_OK);
}

/* numpy.percentile(linear) of [1,2,3,4]: 0.5 -> 2.5; 0.999 -> 3.997; 0 -> 1. */
static void test_percentile_and_summary(void)
{
    double s[4] = {1, 2, 3, 4};
    T_NEAR(stats_percentile(s, 4, 0.5), 2.5, 1e-15);
    T_NEAR(stats_percentile(s, 4, 0.999), 3.997, 1e-12);
    T_NEAR(stats_percentile(s, 4, 0.0), 1, 0);
    T_NEAR(stats_percentile(s, 1, 0.3), 1, 0);
    /* 10..1 (unsorted on purpose): mean 5.5; err sqrt((38.5-30.25)/9); rms sqrt(38.5);
     * 99% at position 8.91 -> 9.91; 1% at 0.09 -> 1.09. */
    double x[10] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    stats_summary sm;
    T_EQ_INT(stats_summarize(x, 10, &sm), STATS_OK);
    T_NEAR(sm.mean, 5.5, 1e-15);
    T_NEAR(sm.mean_err, sqrt(8.25 / 9), 1e-12);
    T_NEAR(sm.rms, sqrt(38.5), 1e-12);
    T_NEAR(sm.min, 1, 0);
    T_NEAR(sm.max, 10, 0);
    T_NEAR(stats_summary_pct(&sm, 0.99), 9.91, 1e-12);
    T_NEAR(stats_summary_pct(&sm, 0.01), 1.09, 1e-12);
    T_NEAR(stats_summary_pct(&sm, 0.5), 5.5, 1e-12);
    T_NEAR(x[0], 10, 0); /* input untouched */
    T_EQ_INT(stats_summarize(x, 0, &sm), STATS_NODATA);
    T_EQ_INT(sm.defined, 0);
}

/* Bootstrap: reproducible with a seed; all-correct gives [1, 1]; resampling images
 * rather than questions widens the interval when an image's questions agree. */
static void test_bootstrap(void)
{
    enum { IMAGES = 60, Q = 6, N = IMAGES * Q };
    static double v[N];
    static size_t img[N], item[N];
    stats_boot_opts o = {2000, 7, 0.95};
    stats_boot_result r1, r2, ri;
    stats_rng rng;
    stats_rng_seed(&rng, 1);
    for (size_t i = 0; i < IMAGES; i++) {
        double right = stats_rng_below(&rng, 2) ? 1 : 0; /* the 6 questions agree */
        for (size_t q = 0; q < Q; q++) {
            v[i * Q + q] = right;
            img[i * Q + q] = 1000 + i * 3; /* arbitrary ids */
            item[i * Q + q] = i * Q + q;
        }
    }
    T_EQ_INT(stats_bootstrap_mean(v, img, N, &o, &r1), STATS_OK);
    T_EQ_INT(stats_bootstrap_mean(v, img, N, &o, &r2), STATS_OK);
    T_CHECK(r1.ci.lo == r2.ci.lo && r1.ci.hi == r2.ci.hi, "same seed, same interval");
    T_CHECK(r1.ci.lo <= r1.ci.estimate && r1.ci.estimate <= r1.ci.hi, "estimate inside");
    T_EQ_INT(stats_bootstrap_mean(v, item, N, &o, &ri), STATS_OK);
    T_NEAR(ri.ci.estimate, r1.ci.estimate, 1e-15);
    /* perfectly correlated clusters of 6: the width ratio is about sqrt(6) = 2.45 */
    double wide = r1.ci.hi - r1.ci.lo, narrow = ri.ci.hi - ri.ci.lo;
    T_CHECK(wide > 1.8 * narrow, "cluster width %g vs item width %g", wide, narrow);
    /* all correct */
    for (size_t i = 0; i < N; i++) v[i] = 1;
    T_EQ_INT(stats_bootstrap_mean(v, img, N, &o, &r1), STATS_OK);
    T_NEAR(r1.ci.lo, 1, 0);
    T_NEAR(r1.ci.hi, 1, 0);
    T_EQ_INT(r1.b_used, 2000);
    /* no data */
    T_EQ_INT(stats_bootstrap_mean(v, img, 0, &o, &r1), STATS_NODATA);
    T_EQ_INT(r1.ci.defined, 0);
}

/* Paired: B = A + 0.1 on every item -> the difference is 0.1 on every resample. */
static void test_paired_bootstrap(void)
{
    double a[40], b[40];
    size_t img[40];
    stats_boot_result r;
    for (int i = 0; i < 40; i++) {
        a[i] = (i % 3) / 3.0;
        b[i] = a[i] + 0.1;
        img[i] = (size_t)i / 4;
    }
    T_EQ_INT(stats_paired_bootstrap_mean(a, b, img, 40, NULL, &r), STATS_OK);
    T_NEAR(r.ci.estimate, 0.1, 1e-12);
    T_NEAR(r.ci.lo, 0.1, 1e-12);
    T_NEAR(r.ci.hi, 0.1, 1e-12);
}

/* A statistic that is undefined on some resamples (a ratio with a zero denominator)
 * skips them and counts them. */
static int first_is_zero_fn(const size_t *idx, size_t n, void *ctx, double *out)
{
    const double *den = ctx;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += den[idx[i]];
    if (s == 0) return STATS_NODATA;
    *out = 1 / s;
    return STATS_OK;
}

static void test_bootstrap_undefined(void)
{
    double den[2] = {0, 1};
    stats_boot_opts o = {400, 3, 0.9};
    stats_boot_result r;
    T_EQ_INT(stats_bootstrap(2, first_is_zero_fn, den, &o, &r), STATS_OK);
    T_EQ_INT(r.b_used + r.b_undefined, 400);
    T_CHECK(r.b_undefined > 50 && r.b_undefined < 150, "about a quarter undefined: %zu", r.b_undefined);
}

/* Sign flips, exact: d = {1, 2, 3}: sums over the 8 sign patterns are ±6, ±4, ±2, ±0
 * (|s| >= 6 twice) -> p = 2/8. */
static void test_sign_flip(void)
{
    double d[3] = {1, 2, 3}, p;
    T_EQ_INT(stats_sign_flip(d, 3, 0, 1, &p), STATS_OK);
    T_NEAR(p, 0.25, 0);
    double z[4] = {0, 0, 0, 0};
    T_EQ_INT(stats_sign_flip(z, 4, 0, 1, &p), STATS_OK);
    T_NEAR(p, 1.0, 0);
    T_EQ_INT(stats_sign_flip(d, 0, 0, 1, &p), STATS_NODATA);
    /* Monte Carlo for n > 20: a clear shift gives a small p, reproducibly */
    double big[30];
    for (int i = 0; i < 30; i++) big[i] = 1 + (i % 2) * 0.5;
    double p1, p2;
    T_EQ_INT(stats_sign_flip(big, 30, 5000, 9, &p1), STATS_OK);
    T_EQ_INT(stats_sign_flip(big, 30, 5000, 9, &p2), STATS_OK);
    T_CHECK(p1 == p2 && p1 < 0.001, "p %g %g", p1, p2);
}

/* KL: full distributions P = {0.5, 0.5}, Q = {0.25, 0.75} give
 * 0.5 ln 2 + 0.5 ln(2/3) = 0.14384103622589042 (Python math.log). With a tail,
 * P = {a .6, b .3}, Q = {a .5, c .3}: bins {a} and the rest, (.6,.4) vs (.5,.5):
 * .6 ln 1.2 + .4 ln .8 = 0.020135513550688863. */
static void test_kl(void)
{
    stats_logprob p1[2] = {{1, log(0.5)}, {2, log(0.5)}}, q1[2] = {{2, log(0.75)}, {1, log(0.25)}};
    double kl;
    int same = -1;
    T_EQ_INT(stats_kl_topk(p1, 2, q1, 2, &kl, &same), STATS_OK);
    T_NEAR(kl, 0.14384103622589042, 1e-12);
    stats_logprob p2[2] = {{10, log(0.6)}, {11, log(0.3)}}, q2[2] = {{10, log(0.5)}, {12, log(0.3)}};
    T_EQ_INT(stats_kl_topk(p2, 2, q2, 2, &kl, &same), STATS_OK);
    T_NEAR(kl, 0.020135513550688863, 1e-12);
    T_EQ_INT(same, 1);
    /* identical lists: 0; different argmax: same_top 0 */
    T_EQ_INT(stats_kl_topk(p2, 2, p2, 2, &kl, &same), STATS_OK);
    T_NEAR(kl, 0, 1e-15);
    stats_logprob q3[2] = {{11, log(0.6)}, {10, log(0.3)}};
    T_EQ_INT(stats_kl_topk(p2, 2, q3, 2, &kl, &same), STATS_OK);
    T_EQ_INT(same, 0);
    T_CHECK(kl > 0, "kl %g", kl);
    T_EQ_INT(stats_kl_topk(p2, 0, q3, 2, &kl, &same), STATS_EINVAL);
    stats_interval st;
    /* llama.cpp "Same top p": 90/100 -> 0.9 ± sqrt(0.09/99) */
    T_EQ_INT(stats_same_top(90, 100, &st), STATS_OK);
    T_NEAR(st.estimate, 0.9, 1e-15);
    T_NEAR(st.hi - st.estimate, sqrt(0.09 / 99), 1e-15);
    T_EQ_INT(stats_same_top(0, 0, &st), STATS_NODATA);
    /* Δp = 0.3 - 0.5 */
    T_NEAR(stats_delta_p(log(0.5), log(0.3)), -0.2, 1e-15);
    /* the combined report: KL {0, 0.1, 0.2}, Δp {-0.1, 0, 0.1}, top agrees 2 of 3 */
    double kls[3] = {0, 0.1, 0.2}, dps[3] = {-0.1, 0, 0.1};
    unsigned char same3[3] = {1, 1, 0};
    stats_quant_report q;
    T_EQ_INT(stats_quant_summarize(kls, dps, same3, 3, &q), STATS_OK);
    T_NEAR(q.kl.mean, 0.1, 1e-15);
    T_NEAR(q.kl.max, 0.2, 0);
    T_NEAR(q.dp.rms, sqrt(0.02 / 3), 1e-15);
    T_NEAR(q.same_top.estimate, 2.0 / 3, 1e-15);
    T_EQ_INT(stats_quant_summarize(kls, dps, same3, 0, &q), STATS_NODATA);
}

int main(void)
{
    T_RUN(test_rng_reference);
    T_RUN(test_wilson);
    T_RUN(test_wilson_edges);
    T_RUN(test_mcnemar);
    T_RUN(test_mcnemar_edges);
    T_RUN(test_holm);
    T_RUN(test_percentile_and_summary);
    T_RUN(test_bootstrap);
    T_RUN(test_paired_bootstrap);
    T_RUN(test_bootstrap_undefined);
    T_RUN(test_sign_flip);
    T_RUN(test_kl);
    T_MAIN_END();
}
