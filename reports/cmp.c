/* reports/cmp.c — compare two runs, gate regressions; text, JSON and JUnit output. */
#include "reports/cmp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics/metrics.h"
#include "reports/report_esc.h"

const char *const cmp_metric_names[] = {"accuracy", "score", "pope_precision", "pope_recall",
                                        "pope_f1", "pope_yes_ratio", NULL};

int cmp_metric_known(const char *name)
{
    for (int i = 0; cmp_metric_names[i]; i++)
        if (strcmp(name, cmp_metric_names[i]) == 0) return 1;
    return 0;
}

int cmp_gate_parse(const char *spec, cmp_gate *out, char *why, size_t cap)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        snprintf(why, cap, "'%s': expected METRIC:MAX_DROP", spec);
        return -1;
    }
    size_t len = (size_t)(colon - spec);
    const char *name = NULL;
    for (int i = 0; cmp_metric_names[i]; i++)
        if (strlen(cmp_metric_names[i]) == len && strncmp(spec, cmp_metric_names[i], len) == 0)
            name = cmp_metric_names[i];
    if (!name) {
        snprintf(why, cap, "'%s': unknown metric (accuracy, score, pope_precision, pope_recall, pope_f1, "
                 "pope_yes_ratio)", spec);
        return -1;
    }
    char *end;
    double v = strtod(colon + 1, &end);
    if (end == colon + 1) goto bad;
    if (*end == '%') { v /= 100; end++; }
    if (*end || !isfinite(v) || v < 0 || v > 1) goto bad;
    out->metric = name;
    out->max_drop = v;
    out->spec = spec;
    return 0;
bad:
    snprintf(why, cap, "'%s': MAX_DROP must be a fraction in [0, 1] (or points with %%, e.g. 2%%)", spec);
    return -1;
}

/* ---- setup checks ------------------------------------------------------------- */

static int same_str(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static void append(char *buf, size_t cap, const char *what)
{
    size_t n = strlen(buf);
    if (n + 3 >= cap) return;
    snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", what);
    for (char *p = buf + n; *p; p++)   /* names come from the store: no control bytes in messages */
        if ((unsigned char)*p < 0x20 || *p == 0x7F) *p = '?';
}

void cmp_setup_differences(const rp_run *a, const rp_run *b, char *buf, size_t cap)
{
    buf[0] = 0;
    if (!same_str(a->suite_name, b->suite_name) || !same_str(a->suite_task, b->suite_task)) append(buf, cap, "suite");
    if (!same_str(a->prompt_hash, b->prompt_hash)) append(buf, cap, "prompt");
    if (!same_str(a->template_name, b->template_name)) append(buf, cap, "template");
    for (size_t i = 0; i < a->nmetrics; i++)
        for (size_t j = 0; j < b->nmetrics; j++)
            if (a->metrics[i].name && b->metrics[j].name && strcmp(a->metrics[i].name, b->metrics[j].name) == 0 &&
                !same_str(a->metrics[i].variant, b->metrics[j].variant)) {
                char what[96];
                snprintf(what, sizeof what, "metric variant of %.60s", a->metrics[i].name);
                if (!strstr(buf, what)) append(buf, cap, what);
            }
}

/* ---- pairing ------------------------------------------------------------------ */

static const char *nz(const char *s) { return s ? s : ""; }

static int ignore_quant;   /* set for the duration of a qsort/merge (single-threaded CLI) */

static int key_cmp(const rp_row *x, const rp_row *y)
{
    int c = strcmp(nz(x->sample_id), nz(y->sample_id));
    if (c) return c;
    if (x->resolution != y->resolution) return x->resolution < y->resolution ? -1 : 1;
    return ignore_quant ? 0 : strcmp(nz(x->quant), nz(y->quant));
}

static int row_ptr_cmp(const void *a, const void *b)
{
    return key_cmp(*(const rp_row *const *)a, *(const rp_row *const *)b);
}

static int pair_group_cmp(const void *a, const void *b)
{
    const cmp_pair *x = a, *y = b;
    int c = strcmp(nz(x->base->suite), nz(y->base->suite));
    if (c) return c;
    if (x->base->resolution != y->base->resolution) {
        /* ascending, native (0) last */
        unsigned rx = (unsigned)x->base->resolution - 1u, ry = (unsigned)y->base->resolution - 1u;
        return rx < ry ? -1 : 1;
    }
    if ((c = strcmp(nz(x->base->quant), nz(y->base->quant)))) return c;
    if ((c = strcmp(nz(x->cand->quant), nz(y->cand->quant)))) return c;
    return strcmp(nz(x->base->sample_id), nz(y->base->sample_id));
}

/* Rows of r limited to quant q (NULL = all), as pointers sorted by key. */
static const rp_row **side_rows(const rp_run *r, const char *q, size_t *n)
{
    const rp_row **v = malloc((r->nrows + 1) * sizeof *v);
    if (!v) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < r->nrows; i++)
        if (!q || same_str(q, r->rows[i].quant)) v[k++] = &r->rows[i];
    qsort(v, k, sizeof *v, row_ptr_cmp);
    *n = k;
    return v;
}

/* 1 when the side holds exactly one quant, which is written to *q. */
static int single_quant(const rp_row **v, size_t n, const char **q)
{
    if (n == 0) return 0;
    for (size_t i = 1; i < n; i++)
        if (!same_str(v[i]->quant, v[0]->quant)) return 0;
    *q = v[0]->quant;
    return 1;
}

/* ---- statistics per group ----------------------------------------------------------- */

typedef struct {
    const char *key;
    size_t i;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
    return strcmp(((const keyed *)a)->key, ((const keyed *)b)->key);
}

/* cluster[i] = compact id of pair i's image (sample id when no image). */
static int clusters_of(const cmp_pair *p, size_t n, size_t *cluster)
{
    keyed *k = malloc((n + 1) * sizeof *k);
    if (!k) return -1;
    for (size_t i = 0; i < n; i++) {
        k[i].key = p[i].base->image ? p[i].base->image : nz(p[i].base->sample_id);
        k[i].i = i;
    }
    qsort(k, n, sizeof *k, keyed_cmp);
    size_t id = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(k[i].key, k[i - 1].key)) id++;
        cluster[k[i].i] = id;
    }
    free(k);
    return 0;
}

static int is_binary(double v) { return v == 0 || v == 1; }

static void metric_init(cmp_metric *m, const char *name, int hib)
{
    memset(m, 0, sizeof *m);
    m->name = name;
    m->higher_is_better = hib;
    m->base = m->cand = m->p = m->p_holm = NAN;
}

/* accuracy (McNemar) and score (sign flips) from the stored per-row values. */
static int stored_metrics(cmp_group *g, const size_t *cluster_all, const stats_boot_opts *o)
{
    size_t n = g->npairs, k;
    double *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
    size_t *cl = malloc((n + 1) * sizeof *cl), *idx = malloc((n + 1) * sizeof *idx);
    double *sum = calloc(2 * n + 2, sizeof *sum);
    int rc = -1;
    if (!a || !b || !cl || !idx || !sum) goto done;

    /* accuracy */
    k = 0;
    for (size_t i = 0; i < n; i++) {
        const rp_row *x = g->pairs[i].base, *y = g->pairs[i].cand;
        if (x->correct < 0 || x->correct > 1 || y->correct < 0 || y->correct > 1) continue;
        a[k] = x->correct;
        b[k] = y->correct;
        cl[k++] = cluster_all[i];
    }
    if (k > 0) {
        cmp_metric *m = &g->m[g->nm++];
        metric_init(m, "accuracy", 1);
        stats_mcnemar_result mc;
        stats_boot_result br;
        unsigned char *ar = malloc(k), *brt = malloc(k);
        if (!ar || !brt) { free(ar); free(brt); goto done; }
        double sa = 0, sb = 0;
        for (size_t i = 0; i < k; i++) { ar[i] = a[i] > 0.5; brt[i] = b[i] > 0.5; sa += a[i]; sb += b[i]; }
        m->n = (long)k;
        m->base = sa / (double)k;
        m->cand = sb / (double)k;
        if (stats_mcnemar_pairs(ar, brt, k, &mc) == STATS_OK) {
            m->has_p = 1;
            m->p = mc.p;
            m->b = mc.b;
            m->c = mc.c;
            m->test = "mcnemar";
        }
        free(ar);
        free(brt);
        if (stats_paired_bootstrap_mean(a, b, cl, k, o, &br) == STATS_OK) m->diff = br.ci;
        m->diff.estimate = m->cand - m->base;
    }

    /* score, when it carries more than right/wrong */
    k = 0;
    int soft = 0;
    for (size_t i = 0; i < n; i++) {
        const rp_row *x = g->pairs[i].base, *y = g->pairs[i].cand;
        if (!isfinite(x->score) || !isfinite(y->score)) continue;
        a[k] = x->score;
        b[k] = y->score;
        if (!is_binary(a[k]) || !is_binary(b[k])) soft = 1;
        cl[k++] = cluster_all[i];
    }
    if (k > 0 && soft) {
        cmp_metric *m = &g->m[g->nm++];
        metric_init(m, "score", 1);
        stats_boot_result br;
        double sa = 0, sb = 0;
        for (size_t i = 0; i < k; i++) { sa += a[i]; sb += b[i]; }
        m->n = (long)k;
        m->base = sa / (double)k;
        m->cand = sb / (double)k;
        if (stats_paired_bootstrap_mean(a, b, cl, k, o, &br) == STATS_OK) m->diff = br.ci;
        m->diff.estimate = m->cand - m->base;
        /* sign flips over per-image mean differences (metrics.md §8.4) */
        size_t ncl;
        if (stats_cluster_index(cl, k, idx, &ncl) == STATS_OK) {
            double *s = sum, *c = sum + n + 1;
            for (size_t i = 0; i < k; i++) { s[idx[i]] += b[i] - a[i]; c[idx[i]] += 1; }
            size_t m2 = 0;
            for (size_t j = 0; j < ncl; j++)
                if (c[j] > 0) s[m2++] = s[j] / c[j];
            if (stats_sign_flip(s, m2, 10000, o && o->seed ? o->seed : STATS_DEFAULT_SEED, &m->p) == STATS_OK) {
                m->has_p = 1;
                m->test = "sign-flip";
            }
        }
    }
    rc = 0;
done:
    free(a); free(b); free(cl); free(idx); free(sum);
    return rc;
}

/* POPE precision, recall, F1 and yes-ratio through the metric registry. */
static int pope_metrics(cmp_group *g, const size_t *cluster, const stats_boot_opts *o)
{
    size_t n = g->npairs;
    for (size_t i = 0; i < n; i++)
        if (!rp_label_yesno(g->pairs[i].base->label)) return 0;
    if (n == 0) return 0;
    metric_item *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
    if (!a || !b) { free(a); free(b); return -1; }
    for (size_t i = 0; i < n; i++) {
        a[i].pred = rp_row_pope_answer(g->pairs[i].base);
        b[i].pred = rp_row_pope_answer(g->pairs[i].cand);
        a[i].label = b[i].label = g->pairs[i].base->label;
    }
    static const char *const names[] = {"pope_precision", "pope_recall", "pope_f1", "pope_yes_ratio"};
    for (int j = 0; j < 4 && g->nm < CMP_MAX_METRICS; j++) {
        const metric_def *d = metric_find(names[j]);
        if (!d) continue;
        cmp_metric *m = &g->m[g->nm++];
        metric_init(m, names[j], d->higher_is_better);
        m->n = (long)n;
        metric_num va, vb;
        if (metric_apply(d, a, n, &va) == METRIC_OK && va.defined) m->base = va.value;
        if (metric_apply(d, b, n, &vb) == METRIC_OK && vb.defined) m->cand = vb.value;
        metric_comparison mc;
        if (metric_compare(d, a, b, n, cluster, o, &mc) == METRIC_OK) {
            m->diff = mc.diff;
            m->has_p = mc.has_p;
            m->p = mc.has_p ? mc.p : NAN;
            m->test = mc.test;
            m->b = mc.b;
            m->c = mc.c;
        }
        m->diff.estimate = m->cand - m->base;
    }
    free(a);
    free(b);
    return 0;
}

/* ---- answer-token distributions ------------------------------------------------ */

#define CMP_MAX_TOP 256

/* The distribution a token's record gives: its top list, or the chosen token alone. */
static size_t token_dist(const rp_token *t, stats_logprob *out)
{
    size_t n = 0;
    for (int i = 0; i < t->ntop && n < CMP_MAX_TOP; i++) {
        if (!(t->top_logp[i] <= 0) || !isfinite(t->top_logp[i])) continue;
        out[n].id = t->top_id[i];
        out[n++].logp = t->top_logp[i];
    }
    if (n == 0 && t->logp <= 0 && isfinite(t->logp)) {
        out[0].id = t->id;
        out[0].logp = t->logp;
        n = 1;
    }
    return n;
}

/* Q's log-probability of token id at this position, or 1 (unknown). */
static double token_logp(const rp_token *t, int32_t id)
{
    if (t->id == id && t->logp <= 0) return t->logp;
    for (int i = 0; i < t->ntop; i++)
        if (t->top_id[i] == id && t->top_logp[i] <= 0) return t->top_logp[i];
    return 1;
}

size_t cmp_token_stats(const rp_row *p, const rp_row *q, double *kl, double *dp, unsigned char *same,
                       size_t cap, size_t *skipped)
{
    static stats_logprob lp[CMP_MAX_TOP], lq[CMP_MAX_TOP];
    size_t n = 0;
    int npos = p->ntok < q->ntok ? p->ntok : q->ntok;
    for (int i = 0; i < npos && n < cap; i++) {
        const rp_token *tp = &p->tok[i], *tq = &q->tok[i];
        size_t np = token_dist(tp, lp), nq = token_dist(tq, lq);
        double k, lq_ref = token_logp(tq, tp->id);
        int st;
        if (np && nq && lq_ref <= 0 && tp->logp <= 0 && stats_kl_topk(lp, np, lq, nq, &k, &st) == STATS_OK) {
            kl[n] = k;
            dp[n] = stats_delta_p(tp->logp, lq_ref);
            same[n] = (unsigned char)st;
            n++;
        } else if (skipped) {
            (*skipped)++;
        }
        if (tp->id != tq->id) break;   /* later positions have different contexts */
    }
    return n;
}

static int token_metrics(cmp_group *g)
{
    size_t cap = 0;
    for (size_t i = 0; i < g->npairs; i++) {
        const rp_row *x = g->pairs[i].base, *y = g->pairs[i].cand;
        if (x->ntok > 0 && y->ntok > 0) cap += (size_t)(x->ntok < y->ntok ? x->ntok : y->ntok);
        if (isfinite(x->margin) && isfinite(y->margin)) {
            g->margin_diff += y->margin - x->margin;
            g->n_margin++;
        }
    }
    if (g->n_margin) g->margin_diff /= (double)g->n_margin;
    if (cap == 0) return 0;
    double *kl = malloc(cap * sizeof *kl), *dp = malloc(cap * sizeof *dp);
    unsigned char *same = malloc(cap);
    size_t n = 0;
    if (!kl || !dp || !same) { free(kl); free(dp); free(same); return -1; }
    for (size_t i = 0; i < g->npairs; i++)
        n += cmp_token_stats(g->pairs[i].base, g->pairs[i].cand, kl + n, dp + n, same + n, cap - n,
                             &g->token_positions_skipped);
    if (n && stats_quant_summarize(kl, dp, same, n, &g->tokens) == STATS_OK) g->has_tokens = 1;
    free(kl);
    free(dp);
    free(same);
    return 0;
}

/* ---- the comparison ----------------------------------------------------------------- */

static int regressed(const cmp_pair *p)
{
    if (p->base->correct == 1 && p->cand->correct == 0) return 1;
    if (p->base->correct < 0 && isfinite(p->base->score) && isfinite(p->cand->score))
        return p->cand->score < p->base->score;
    return 0;
}

int cmp_run(const rp_run *base, const rp_run *cand, const cmp_opts *o, cmp_result *out, char *why, size_t cap)
{
    const rp_row **va = NULL, **vb = NULL;
    size_t na = 0, nb = 0, *cluster = NULL;
    int rc = CMP_ENOMEM;
    double alpha = o->alpha > 0 ? o->alpha : 0.05;
    memset(out, 0, sizeof *out);
    out->base = base;
    out->cand = cand;
    snprintf(why, cap, "out of memory");

    cmp_setup_differences(base, cand, out->differences, sizeof out->differences);
    if (out->differences[0] && !o->force) {
        snprintf(why, cap, "the runs differ in %s; results are not comparable (--force compares anyway)",
                 out->differences);
        return CMP_EREFUSED;
    }
    ignore_quant = 0;
    if (!(va = side_rows(base, o->base_quant, &na)) || !(vb = side_rows(cand, o->cand_quant, &nb))) goto done;
    const char *qa, *qb;
    if (single_quant(va, na, &qa) && single_quant(vb, nb, &qb) && !same_str(qa, qb)) {
        out->quant_comparison = 1;
        ignore_quant = 1;
        qsort(va, na, sizeof *va, row_ptr_cmp);
        qsort(vb, nb, sizeof *vb, row_ptr_cmp);
    }
    for (size_t i = 0; i < na; i++) out->errors_base += !rp_row_ok(va[i]);
    for (size_t i = 0; i < nb; i++) out->errors_cand += !rp_row_ok(vb[i]);

    /* merge join on the sorted keys; duplicates (a hostile store) pair first with first */
    out->pairs = malloc((na < nb ? na : nb) * sizeof *out->pairs + sizeof *out->pairs);
    if (!out->pairs) goto done;
    size_t i = 0, j = 0;
    while (i < na && j < nb) {
        int c = key_cmp(va[i], vb[j]);
        if (c < 0) { out->unpaired_base++; i++; continue; }
        if (c > 0) { out->unpaired_cand++; j++; continue; }
        if (rp_row_ok(va[i]) && rp_row_ok(vb[j])) {
            out->pairs[out->npairs].base = va[i];
            out->pairs[out->npairs++].cand = vb[j];
        }
        i++;
        j++;
    }
    out->unpaired_base += na - i;
    out->unpaired_cand += nb - j;
    ignore_quant = 0;
    if (out->npairs == 0) {
        snprintf(why, cap, "no results pair up (same sample, resolution and quant, both ok)");
        rc = CMP_ENOPAIRS;
        goto done;
    }
    qsort(out->pairs, out->npairs, sizeof *out->pairs, pair_group_cmp);

    /* groups: runs of pairs with the same suite, resolution and quants */
    out->groups = calloc(out->npairs, sizeof *out->groups);
    cluster = malloc(out->npairs * sizeof *cluster);
    if (!out->groups || !cluster) goto done;
    for (size_t s = 0, e; s < out->npairs; s = e) {
        const cmp_pair *p0 = &out->pairs[s];
        for (e = s + 1; e < out->npairs; e++) {
            const cmp_pair *p = &out->pairs[e];
            if (!same_str(p->base->suite, p0->base->suite) || p->base->resolution != p0->base->resolution ||
                !same_str(p->base->quant, p0->base->quant) || !same_str(p->cand->quant, p0->cand->quant))
                break;
        }
        cmp_group *g = &out->groups[out->ngroups++];
        g->suite = nz(p0->base->suite);
        g->resolution = p0->base->resolution;
        g->quant_base = nz(p0->base->quant);
        g->quant_cand = nz(p0->cand->quant);
        g->pairs = &out->pairs[s];
        g->npairs = e - s;
        if (clusters_of(g->pairs, g->npairs, cluster) || stored_metrics(g, cluster, &o->boot) ||
            pope_metrics(g, cluster, &o->boot) || token_metrics(g))
            goto done;
    }

    /* Holm over every test printed */
    size_t ntests = 0;
    for (size_t gi = 0; gi < out->ngroups; gi++)
        for (int m = 0; m < out->groups[gi].nm; m++) ntests += out->groups[gi].m[m].has_p;
    if (ntests) {
        double *p = malloc(ntests * sizeof *p), *adj = malloc(ntests * sizeof *adj);
        if (!p || !adj) { free(p); free(adj); goto done; }
        size_t k = 0;
        for (size_t gi = 0; gi < out->ngroups; gi++)
            for (int m = 0; m < out->groups[gi].nm; m++)
                if (out->groups[gi].m[m].has_p) p[k++] = out->groups[gi].m[m].p;
        if (stats_holm(p, ntests, adj) == STATS_OK) {
            k = 0;
            for (size_t gi = 0; gi < out->ngroups; gi++)
                for (int m = 0; m < out->groups[gi].nm; m++)
                    if (out->groups[gi].m[m].has_p) out->groups[gi].m[m].p_holm = adj[k++];
        }
        free(p);
        free(adj);
    }

    /* regressed samples */
    out->regressed = malloc(out->npairs * sizeof *out->regressed);
    if (!out->regressed) goto done;
    for (size_t k = 0; k < out->npairs; k++)
        if (regressed(&out->pairs[k])) out->regressed[out->nregressed++] = &out->pairs[k];

    /* gates: one result per gate and group */
    if (o->ngates > 0) {
        out->gates = calloc((size_t)o->ngates * out->ngroups, sizeof *out->gates);
        if (!out->gates) goto done;
    }
    for (int gt = 0; gt < o->ngates; gt++)
        for (size_t gi = 0; gi < out->ngroups; gi++) {
            cmp_gate_result *r = &out->gates[out->ngates++];
            const cmp_group *g = &out->groups[gi];
            const cmp_metric *m = NULL;
            r->gate = &o->gates[gt];
            r->group = g;
            r->status = 2;
            r->worsening = r->p_holm = NAN;
            for (int k = 0; k < g->nm; k++)
                if (strcmp(g->m[k].name, o->gates[gt].metric) == 0) m = &g->m[k];
            if (!m || !isfinite(m->base) || !isfinite(m->cand)) continue;
            double sign = m->higher_is_better ? -1 : 1;
            r->worsening = sign * (m->cand - m->base);
            r->p_holm = m->p_holm;
            if (m->has_p && isfinite(m->p_holm)) r->significant = m->p_holm < alpha;
            else if (m->diff.defined)
                r->significant = m->higher_is_better ? m->diff.hi < 0 : m->diff.lo > 0;
            r->status = (r->worsening > o->gates[gt].max_drop && r->significant) ? 1 : 0;
            if (r->status == 1) out->crossed = 1;
        }
    rc = CMP_OK;
    why[0] = 0;
done:
    ignore_quant = 0;
    free(va);
    free(vb);
    free(cluster);
    if (rc != CMP_OK && rc != CMP_EREFUSED) {
        cmp_free(out);
        out->base = base;
        out->cand = cand;
    }
    return rc;
}

void cmp_free(cmp_result *r)
{
    free(r->pairs);
    free(r->groups);
    free(r->regressed);
    free(r->gates);
    memset(r, 0, sizeof *r);
}

/* ---- output ------------------------------------------------------------------------- */

static const char *res_name(int res, char buf[16])
{
    if (res == 0) return "native";
    snprintf(buf, 16, "%d", res);
    return buf;
}

/* Text output: strings from the store are printed as they are, except control
 * bytes, which would let a model's output rewrite the terminal. */
static void put_plain(FILE *f, const char *s, size_t max)
{
    size_t n = 0;
    if (!s) { fputs("(null)", f); return; }
    for (; *s && n < max; s++, n++) fputc((unsigned char)*s < 0x20 || *s == 0x7F ? ' ' : *s, f);
    if (*s) fputs("...", f);
}

/* s cut or padded to exactly w columns (bytes). */
static void put_pad(FILE *f, const char *s, size_t w)
{
    size_t n = 0;
    for (; s && s[n] && n < w; n++) fputc((unsigned char)s[n] < 0x20 || s[n] == 0x7F ? ' ' : s[n], f);
    for (; n < w; n++) fputc(' ', f);
}

static void pct(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%7.2f", 100 * v);
    else fputs("      -", f);
}

void cmp_print_text(FILE *f, const cmp_result *r)
{
    char rb[16];
    fputs("compare: base '", f);
    put_plain(f, r->base->name, 80);
    fprintf(f, "' (run %lld) vs candidate '", (long long)r->base->id);
    put_plain(f, r->cand->name, 80);
    fprintf(f, "' (run %lld)%s\n", (long long)r->cand->id, r->quant_comparison ? ", quantization comparison" : "");
    if (r->differences[0]) fprintf(f, "warning: compared with --force although they differ in %s\n", r->differences);
    fprintf(f, "paired results: %zu (errors: base %zu, candidate %zu; unpaired: base %zu, candidate %zu)\n\n",
            r->npairs, r->errors_base, r->errors_cand, r->unpaired_base, r->unpaired_cand);
    fprintf(f, "%-16s %6s %-12s %-15s %6s %7s %7s %7s %17s %-9s %8s %8s\n", "suite", "res", "quant", "metric", "n",
            "base%", "cand%", "delta", "95% CI of delta", "test", "p", "p(Holm)");
    for (size_t gi = 0; gi < r->ngroups; gi++) {
        const cmp_group *g = &r->groups[gi];
        char q[64];
        if (strcmp(g->quant_base, g->quant_cand)) snprintf(q, sizeof q, "%.20s>%.20s", g->quant_base, g->quant_cand);
        else snprintf(q, sizeof q, "%.40s", g->quant_base);
        for (int k = 0; k < g->nm; k++) {
            const cmp_metric *m = &g->m[k];
            put_pad(f, g->suite, 16);
            fprintf(f, " %6s ", res_name(g->resolution, rb));
            put_pad(f, q, 12);
            fprintf(f, " %-15s %6ld ", m->name, m->n);
            pct(f, m->base); fputc(' ', f);
            pct(f, m->cand); fputc(' ', f);
            pct(f, m->diff.estimate); fputc(' ', f);
            if (m->diff.defined) fprintf(f, " [%+6.2f, %+6.2f]", 100 * m->diff.lo, 100 * m->diff.hi);
            else fprintf(f, "%17s", "-");
            fprintf(f, " %-9s", m->test ? m->test : "-");
            if (m->has_p) fprintf(f, " %8.4g %8.4g\n", m->p, m->p_holm);
            else fprintf(f, " %8s %8s\n", "-", "-");
        }
    }
    size_t ntests = 0;
    for (size_t gi = 0; gi < r->ngroups; gi++)
        for (int k = 0; k < r->groups[gi].nm; k++) ntests += r->groups[gi].m[k].has_p;
    fprintf(f, "p: McNemar exact (right/wrong) or sign-flip over images (scores); p(Holm): Holm-Bonferroni over "
               "the %zu tests above. CI: paired bootstrap over images.\n", ntests);
    fputs("\nflips (right->wrong / wrong->right):\n", f);
    for (size_t gi = 0; gi < r->ngroups; gi++) {
        const cmp_group *g = &r->groups[gi];
        for (int k = 0; k < g->nm; k++)
            if (strcmp(g->m[k].name, "accuracy") == 0) {
                fputs("  ", f);
                put_plain(f, g->suite, 40);
                fprintf(f, " res %s quant ", res_name(g->resolution, rb));
                put_plain(f, g->quant_base, 20);
                fprintf(f, ": %ld / %ld\n", g->m[k].b, g->m[k].c);
            }
    }
    size_t show = r->nregressed < 20 ? r->nregressed : 20;
    fprintf(f, "\nregressed samples: %zu%s\n", r->nregressed, show < r->nregressed ? " (first 20)" : "");
    for (size_t k = 0; k < show; k++) {
        const cmp_pair *p = r->regressed[k];
        fputs("  ", f);
        put_plain(f, p->base->sample_id, 40);
        fprintf(f, " res %s quant ", res_name(p->base->resolution, rb));
        put_plain(f, p->cand->quant, 20);
        fputs(": base \"", f);
        put_plain(f, p->base->output, 60);
        fputs("\" -> cand \"", f);
        put_plain(f, p->cand->output, 60);
        fputs("\"\n", f);
    }
    for (size_t gi = 0; gi < r->ngroups; gi++) {
        const cmp_group *g = &r->groups[gi];
        if (!g->has_tokens) continue;
        const stats_quant_report *t = &g->tokens;
        fputs("\nanswer tokens ", f);
        put_plain(f, g->suite, 40);
        fprintf(f, " res %s ", res_name(g->resolution, rb));
        put_plain(f, g->quant_base, 20);
        fputs(" -> ", f);
        put_plain(f, g->quant_cand, 20);
        fprintf(f, ": %zu positions\n", t->n);
        fprintf(f, "  mean KLD %.6f +/- %.6f, max %.6f, 99.9%% %.6f, 99%% %.6f, median %.6f, min %.6f\n",
                t->kl.mean, t->kl.mean_err, t->kl.max, stats_summary_pct(&t->kl, 0.999),
                stats_summary_pct(&t->kl, 0.99), stats_summary_pct(&t->kl, 0.5), t->kl.min);
        fprintf(f, "  same top p %.3f +/- %.3f %%, RMS dp %.3f %%, mean dp %.3f %%\n", 100 * t->same_top.estimate,
                100 * (t->same_top.hi - t->same_top.estimate), 100 * t->dp.rms, 100 * t->dp.mean);
        if (g->n_margin) fprintf(f, "  choice margin (yes-no) change: %+.4f over %zu pairs\n", g->margin_diff, g->n_margin);
    }
    if (r->ngates) fputs("\ngates:\n", f);
    for (size_t k = 0; k < r->ngates; k++) {
        const cmp_gate_result *gr = &r->gates[k];
        static const char *const st[] = {"pass", "CROSSED", "n/a"};
        fprintf(f, "  %-7s %s (", st[gr->status], gr->gate->metric);
        put_plain(f, gr->group->suite, 40);
        fprintf(f, " res %s quant ", res_name(gr->group->resolution, rb));
        put_plain(f, gr->group->quant_cand, 20);
        fputc(')', f);
        if (gr->status != 2)
            fprintf(f, ": %s by %.2f points, allowed %.2f worse, %s\n", gr->worsening > 0 ? "worse" : "not worse",
                    fabs(100 * gr->worsening), 100 * gr->gate->max_drop,
                    gr->significant ? "significant" : "not significant");
        else fputs(": metric not available\n", f);
    }
}

static void jkey(FILE *f, const char *k, int *first)
{
    if (!*first) fputc(',', f);
    *first = 0;
    fprintf(f, "\"%s\":", k);
}

static void json_run(FILE *f, const rp_run *r)
{
    fprintf(f, "{\"id\":%lld,\"name\":", (long long)r->id);
    report_json_str(f, r->name);
    fputs(",\"suite\":", f);
    report_json_str(f, r->suite_name);
    fputc('}', f);
}

static void json_row(FILE *f, const rp_row *x)
{
    fputs("{\"output\":", f);
    report_json_str(f, x->output);
    fputs(",\"parsed\":", f);
    report_json_str(f, x->parsed);
    fputs(",\"score\":", f);
    report_json_num(f, x->score);
    fputs(",\"correct\":", f);
    if (x->correct == 0 || x->correct == 1) fprintf(f, "%d", x->correct);
    else fputs("null", f);
    fputc('}', f);
}

void cmp_write_json(FILE *f, const cmp_result *r)
{
    int first = 1;
    fputc('{', f);
    jkey(f, "base", &first); json_run(f, r->base);
    jkey(f, "cand", &first); json_run(f, r->cand);
    jkey(f, "forced_differences", &first); report_json_str(f, r->differences[0] ? r->differences : NULL);
    jkey(f, "quant_comparison", &first); fputs(r->quant_comparison ? "true" : "false", f);
    jkey(f, "pairs", &first); fprintf(f, "%zu", r->npairs);
    jkey(f, "errors", &first); fprintf(f, "{\"base\":%zu,\"cand\":%zu}", r->errors_base, r->errors_cand);
    jkey(f, "unpaired", &first); fprintf(f, "{\"base\":%zu,\"cand\":%zu}", r->unpaired_base, r->unpaired_cand);
    jkey(f, "groups", &first);
    fputc('[', f);
    for (size_t gi = 0; gi < r->ngroups; gi++) {
        const cmp_group *g = &r->groups[gi];
        fputs(gi ? ",{\"suite\":" : "{\"suite\":", f);
        report_json_str(f, g->suite);
        fprintf(f, ",\"resolution\":%d,\"quant_base\":", g->resolution);
        report_json_str(f, g->quant_base);
        fputs(",\"quant_cand\":", f);
        report_json_str(f, g->quant_cand);
        fprintf(f, ",\"n\":%zu,\"metrics\":[", g->npairs);
        for (int k = 0; k < g->nm; k++) {
            const cmp_metric *m = &g->m[k];
            fprintf(f, "%s{\"name\":\"%s\",\"n\":%ld,\"base\":", k ? "," : "", m->name, m->n);
            report_json_num(f, m->base);
            fputs(",\"cand\":", f);
            report_json_num(f, m->cand);
            fputs(",\"delta\":", f);
            report_json_num(f, m->diff.estimate);
            fputs(",\"ci\":", f);
            if (m->diff.defined) {
                fputc('[', f); report_json_num(f, m->diff.lo); fputc(',', f); report_json_num(f, m->diff.hi); fputc(']', f);
            } else fputs("null", f);
            fputs(",\"test\":", f);
            report_json_str(f, m->test);
            fputs(",\"p\":", f);
            report_json_num(f, m->has_p ? m->p : NAN);
            fputs(",\"p_holm\":", f);
            report_json_num(f, m->has_p ? m->p_holm : NAN);
            if (strcmp(m->name, "accuracy") == 0)
                fprintf(f, ",\"flips\":{\"right_to_wrong\":%ld,\"wrong_to_right\":%ld}", m->b, m->c);
            fputc('}', f);
        }
        fputc(']', f);
        if (g->has_tokens) {
            const stats_quant_report *t = &g->tokens;
            fprintf(f, ",\"tokens\":{\"n\":%zu,\"skipped\":%zu,\"kld_mean\":", t->n, g->token_positions_skipped);
            report_json_num(f, t->kl.mean);
            fputs(",\"kld_mean_err\":", f); report_json_num(f, t->kl.mean_err);
            fputs(",\"kld_max\":", f); report_json_num(f, t->kl.max);
            fputs(",\"kld_p99\":", f); report_json_num(f, stats_summary_pct(&t->kl, 0.99));
            fputs(",\"kld_median\":", f); report_json_num(f, stats_summary_pct(&t->kl, 0.5));
            fputs(",\"same_top\":", f); report_json_num(f, t->same_top.estimate);
            fputs(",\"dp_mean\":", f); report_json_num(f, t->dp.mean);
            fputs(",\"dp_rms\":", f); report_json_num(f, t->dp.rms);
            fputc('}', f);
        }
        if (g->n_margin) {
            fprintf(f, ",\"margin\":{\"n\":%zu,\"mean_change\":", g->n_margin);
            report_json_num(f, g->margin_diff);
            fputc('}', f);
        }
        fputc('}', f);
    }
    fputc(']', f);
    jkey(f, "regressed", &first);
    fputc('[', f);
    for (size_t k = 0; k < r->nregressed; k++) {
        const cmp_pair *p = r->regressed[k];
        fputs(k ? ",{\"sample_id\":" : "{\"sample_id\":", f);
        report_json_str(f, p->base->sample_id);
        fputs(",\"suite\":", f);
        report_json_str(f, p->base->suite);
        fprintf(f, ",\"resolution\":%d,\"quant\":", p->base->resolution);
        report_json_str(f, p->cand->quant);
        fputs(",\"label\":", f);
        report_json_str(f, p->base->label);
        fputs(",\"base\":", f);
        json_row(f, p->base);
        fputs(",\"cand\":", f);
        json_row(f, p->cand);
        fputc('}', f);
    }
    fputc(']', f);
    jkey(f, "gates", &first);
    fputc('[', f);
    for (size_t k = 0; k < r->ngates; k++) {
        const cmp_gate_result *gr = &r->gates[k];
        static const char *const st[] = {"pass", "fail", "skipped"};
        fprintf(f, "%s{\"metric\":\"%s\",\"max_drop\":", k ? "," : "", gr->gate->metric);
        report_json_num(f, gr->gate->max_drop);
        fputs(",\"suite\":", f);
        report_json_str(f, gr->group->suite);
        fprintf(f, ",\"resolution\":%d,\"quant\":", gr->group->resolution);
        report_json_str(f, gr->group->quant_cand);
        fprintf(f, ",\"status\":\"%s\",\"worsening\":", st[gr->status]);
        report_json_num(f, gr->worsening);
        fputs(",\"p_holm\":", f);
        report_json_num(f, gr->p_holm);
        fprintf(f, ",\"significant\":%s}", gr->significant ? "true" : "false");
    }
    fputc(']', f);
    jkey(f, "gate_crossed", &first);
    fputs(r->crossed ? "true" : "false", f);
    fputs("}\n", f);
}

void cmp_write_junit(FILE *f, const cmp_result *r)
{
    char rb[16];
    size_t fails = 0, skips = 0;
    for (size_t k = 0; k < r->ngates; k++) {
        fails += r->gates[k].status == 1;
        skips += r->gates[k].status == 2;
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<testsuites name=\"llava-eval compare\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\">\n",
            r->ngates, fails, skips);
    /* one <testsuite> per suite, gates in group order */
    for (size_t gi = 0; gi < r->ngroups; gi++) {
        const char *suite = r->groups[gi].suite;
        int seen = 0;
        for (size_t gj = 0; gj < gi; gj++)
            if (strcmp(r->groups[gj].suite, suite) == 0) seen = 1;
        if (seen) continue;
        size_t t = 0, fl = 0, sk = 0;
        for (size_t k = 0; k < r->ngates; k++)
            if (strcmp(r->gates[k].group->suite, suite) == 0) {
                t++;
                fl += r->gates[k].status == 1;
                sk += r->gates[k].status == 2;
            }
        fputs("  <testsuite name=\"", f);
        report_xml(f, suite);
        fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"0\">\n", t, fl, sk);
        for (size_t k = 0; k < r->ngates; k++) {
            const cmp_gate_result *gr = &r->gates[k];
            if (strcmp(gr->group->suite, suite)) continue;
            fputs("    <testcase classname=\"llava-eval.compare.", f);
            report_xml(f, suite);
            fprintf(f, "\" name=\"%s res=%s quant=", gr->gate->metric, res_name(gr->group->resolution, rb));
            report_xml(f, gr->group->quant_cand);
            fputs("\" time=\"0\">", f);
            if (gr->status == 2) {
                fputs("<skipped message=\"metric not available for these results\"/>", f);
            } else if (gr->status == 1) {
                fprintf(f, "<failure type=\"regression\" message=\"%s got worse by %.2f points (allowed %.2f), "
                        "significant", gr->gate->metric, 100 * gr->worsening, 100 * gr->gate->max_drop);
                if (isfinite(gr->p_holm)) fprintf(f, " (Holm-adjusted p = %.3g)", gr->p_holm);
                fputs("\">base '", f);
                report_xml(f, r->base->name);
                fputs("' vs candidate '", f);
                report_xml(f, r->cand->name);
                fputs("'</failure>", f);
            }
            fputs("</testcase>\n", f);
        }
        fputs("  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
}
