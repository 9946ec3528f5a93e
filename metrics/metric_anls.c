/* metrics/metric_anls.c — ANLS, the RRC DocVQA rule and mmf's ST-VQA variant (§3). */
#include "metrics/metrics.h"
#include "metrics/utext.h"

#include <stdlib.h>

static int urc(int rc) { return rc == UTEXT_EUTF8 ? METRIC_EUTF8 : rc ? METRIC_ENOMEM : METRIC_OK; }

/* Edit distance over code points, two rolling rows. */
static int levenshtein(const utext *a, const utext *b, size_t *out)
{
    size_t *row = malloc((b->n + 1) * sizeof *row);
    if (!row) return METRIC_ENOMEM;
    for (size_t j = 0; j <= b->n; j++) row[j] = j;
    for (size_t i = 1; i <= a->n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b->n; j++) {
            size_t up = row[j];
            size_t best = diag + (a->cp[i - 1] != b->cp[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    *out = row[b->n];
    free(row);
    return METRIC_OK;
}

int metric_levenshtein(const char *a, const char *b, size_t *out)
{
    utext x = {0}, y = {0};
    int rc;
    if (!(rc = urc(utext_from(&x, a))) && !(rc = urc(utext_from(&y, b)))) rc = levenshtein(&x, &y, out);
    utext_free(&x);
    utext_free(&y);
    return rc;
}

/* " ".join(s.strip().lower().split()) */
static int anls_normalize(utext *out, const utext *s)
{
    utext low = {0};
    size_t b, e;
    int rc = METRIC_ENOMEM;
    utext_strip_range(s, &b, &e);
    utext mid = {e > b ? s->cp + b : NULL, e - b, 0};
    if (utext_lower(&low, &mid)) goto done;
    out->n = 0;
    for (size_t i = 0; i < low.n;) {
        if (utext_isspace(low.cp[i])) { i++; continue; }
        if (out->n && utext_push(out, ' ')) goto done;
        for (; i < low.n && !utext_isspace(low.cp[i]); i++)
            if (utext_push(out, low.cp[i])) goto done;
    }
    rc = METRIC_OK;
done:
    utext_free(&low);
    return rc;
}

int metric_anls(const char *pred, const char *const *answers, size_t n, double *anls, double *nls_best)
{
    utext p = {0}, pn = {0}, g = {0}, gn = {0};
    double best = 0; /* the smallest normalized distance seen */
    int rc;
    if (n == 0) return METRIC_NODATA;
    if ((rc = urc(utext_from(&p, pred))) || (rc = anls_normalize(&pn, &p))) goto done;
    for (size_t i = 0; i < n; i++) {
        size_t d;
        if ((rc = urc(utext_from(&g, answers[i]))) || (rc = anls_normalize(&gn, &g)) ||
            (rc = levenshtein(&gn, &pn, &d)))
            goto done;
        /* The length uses the raw strings, upper-cased (ß -> SS counts 2). */
        size_t lg = utext_upper_len(&g), lp = utext_upper_len(&p);
        size_t len = lg > lp ? lg : lp;
        double v = len == 0 ? 0.0 : (double)d / (double)len;
        if (i == 0 || v < best) best = v;
    }
    double s = 1 - best;
    if (nls_best) *nls_best = s;
    *anls = s < 0.5 ? 0.0 : s;
done:
    utext_free(&p); utext_free(&pn); utext_free(&g); utext_free(&gn);
    return rc;
}

/* s.lower().strip() */
static int lower_strip(utext *out, const char *s)
{
    utext raw = {0};
    size_t b, e;
    int rc = urc(utext_from(&raw, s));
    if (!rc) rc = urc(utext_lower(out, &raw));
    if (!rc) {
        utext_strip_range(out, &b, &e);
        for (size_t i = b; i < e; i++) out->cp[i - b] = out->cp[i];
        out->n = e - b;
    }
    utext_free(&raw);
    return rc;
}

int metric_anls_stvqa(const char *pred, const char *const *answers, size_t n, double *out)
{
    utext p = {0}, g = {0};
    double best = 0;
    int rc;
    if (n == 0) return METRIC_NODATA;
    if ((rc = lower_strip(&p, pred))) goto done;
    for (size_t i = 0; i < n; i++) {
        size_t d;
        if ((rc = lower_strip(&g, answers[i])) || (rc = levenshtein(&p, &g, &d))) goto done;
        size_t len = p.n > g.n ? p.n : g.n;
        if (len == 0) { rc = METRIC_NODATA; goto done; } /* mmf divides by zero here */
        double iou = 1 - (double)d / (double)len;
        double s = iou >= 0.5 ? iou : 0.0; /* thresholded per answer, then the max */
        if (i == 0 || s > best) best = s;
    }
    *out = best;
done:
    utext_free(&p);
    utext_free(&g);
    return rc;
}
