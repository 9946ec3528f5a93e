/* reports/report_html.c — see report_html.h. Sections, in order: summary and
 * provenance, metric tables, accuracy against resolution (per suite, per category),
 * the detail-loss view (per meta.detail_px: curves and a heat map), POPE metrics
 * against resolution, quantization (bars, accuracy against bits per weight, KL
 * distributions), confusion matrices, ROC curves, the per-sample browser. */
#include "reports/report_html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics/metrics.h"
#include "metrics/stats.h"
#include "reports/cmp.h"
#include "reports/report_esc.h"
#include "reports/report_svg.h"

#define MAX_SET 32            /* distinct suites/quants/categories/sizes drawn per chart */
#define MAX_SAMPLES 2000      /* rows of the sample browser */
#define BOOT_B 1000           /* bootstrap resamples per plotted point */

typedef struct {
    FILE         *f;
    const rp_run *runs;
    size_t        nruns;
    const rp_row **buf;       /* scratch: rows of one cell */
    double       *v;          /* scratch values */
    size_t       *cl;         /* scratch cluster ids */
    int           oom;
} hw;

/* ---- small sets -------------------------------------------------------------------- */

typedef struct {
    const char *s[MAX_SET];
    size_t n;
} sset;

typedef struct {
    int v[MAX_SET];
    size_t n;
} iset;

static const char *nz(const char *s) { return s ? s : ""; }

static void sset_add(sset *x, const char *s)
{
    s = nz(s);
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->s[i], s) == 0) return;
    if (x->n < MAX_SET) x->s[x->n++] = s;
}

static int scmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }
static int icmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    /* native (0) sorts last */
    if (x == 0) x = 1 << 30;
    if (y == 0) y = 1 << 30;
    return (x > y) - (x < y);
}

static void iset_add(iset *x, int v)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->v[i] == v) return;
    if (x->n < MAX_SET) x->v[x->n++] = v;
}

static void suites_of(const rp_run *r, sset *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->nrows; i++) sset_add(out, r->rows[i].suite);
    qsort(out->s, out->n, sizeof out->s[0], scmp);
}

static double quant_key(const char *q) { return rp_quant_bpw(q); }

static void quants_of(const rp_run *r, const char *suite, sset *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->nrows; i++)
        if (!suite || strcmp(nz(r->rows[i].suite), suite) == 0) sset_add(out, r->rows[i].quant);
    /* highest precision first */
    for (size_t i = 1; i < out->n; i++)
        for (size_t j = i; j > 0 && quant_key(out->s[j]) > quant_key(out->s[j - 1]); j--) {
            const char *t = out->s[j];
            out->s[j] = out->s[j - 1];
            out->s[j - 1] = t;
        }
}

static void res_of(const rp_run *r, const char *suite, iset *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->nrows; i++)
        if (strcmp(nz(r->rows[i].suite), suite) == 0) iset_add(out, r->rows[i].resolution);
    qsort(out->v, out->n, sizeof out->v[0], icmp);
}

static void cats_of(const rp_run *r, const char *suite, sset *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->nrows; i++)
        if (strcmp(nz(r->rows[i].suite), suite) == 0 && r->rows[i].category && r->rows[i].category[0])
            sset_add(out, r->rows[i].category);
    qsort(out->s, out->n, sizeof out->s[0], scmp);
}

static void details_of(const rp_run *r, const char *suite, iset *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->nrows; i++)
        if (strcmp(nz(r->rows[i].suite), suite) == 0 && r->rows[i].detail_px >= 0) iset_add(out, r->rows[i].detail_px);
    qsort(out->v, out->n, sizeof out->v[0], icmp);
}

/* ---- cells: accuracy with an interval ------------------------------------------------ */

#define ANY_RES (-1)
#define ANY_DETAIL (-2)

typedef struct {
    double est, lo, hi;
    size_t n, errors;
} agg;

/* Rows of run r matching the filters (NULL / ANY_* match anything) into h->buf. */
static size_t collect(hw *h, const rp_run *r, const char *suite, const char *quant, int res, const char *cat,
                      int detail)
{
    size_t k = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        const rp_row *x = &r->rows[i];
        if (suite && strcmp(nz(x->suite), suite)) continue;
        if (quant && strcmp(nz(x->quant), quant)) continue;
        if (res != ANY_RES && x->resolution != res) continue;
        if (cat && strcmp(nz(x->category), cat)) continue;
        if (detail != ANY_DETAIL && x->detail_px != detail) continue;
        h->buf[k++] = x;
    }
    return k;
}

typedef struct {
    const char *key;
    size_t i;
} keyed;

static int keyed_cmp(const void *a, const void *b) { return strcmp(((const keyed *)a)->key, ((const keyed *)b)->key); }

/* Mean of the rows' values; Wilson interval when right/wrong and one question per
 * image, else an image bootstrap (metrics.md §8.1-8.2). */
static agg agg_rows(hw *h, size_t n)
{
    agg a = {NAN, NAN, NAN, 0, 0};
    size_t k = 0;
    int binary = 1;
    keyed *kk = malloc((n + 1) * sizeof *kk);
    if (!kk) { h->oom = 1; return a; }
    for (size_t i = 0; i < n; i++) {
        double v = rp_row_value(h->buf[i]);
        if (!rp_row_ok(h->buf[i])) a.errors++;
        if (!isfinite(v)) continue;
        if (v != 0 && v != 1) binary = 0;
        h->v[k] = v;
        kk[k].key = h->buf[i]->image ? h->buf[i]->image : nz(h->buf[i]->sample_id);
        kk[k].i = k;
        k++;
    }
    a.n = k;
    if (k == 0) { free(kk); return a; }
    qsort(kk, k, sizeof *kk, keyed_cmp);
    size_t id = 0;
    for (size_t i = 0; i < k; i++) {
        if (i && strcmp(kk[i].key, kk[i - 1].key)) id++;
        h->cl[kk[i].i] = id;
    }
    free(kk);
    double sum = 0;
    for (size_t i = 0; i < k; i++) sum += h->v[i];
    a.est = sum / (double)k;
    if (binary && id + 1 == k) {
        stats_interval w;
        if (stats_wilson((long)(sum + 0.5), (long)k, STATS_Z95, &w) == STATS_OK) { a.lo = w.lo; a.hi = w.hi; }
    } else {
        stats_boot_opts o = {BOOT_B, STATS_DEFAULT_SEED, 0.95};
        stats_boot_result b;
        int rc = stats_bootstrap_mean(h->v, h->cl, k, &o, &b);
        if (rc == STATS_ENOMEM) h->oom = 1;
        if (rc == STATS_OK) { a.lo = b.ci.lo; a.hi = b.ci.hi; }
    }
    return a;
}

/* x position of a resolution: native goes right of the largest. */
static double res_x(int res, const iset *all)
{
    int mx = 0;
    for (size_t i = 0; i < all->n; i++)
        if (all->v[i] > mx) mx = all->v[i];
    if (res > 0) return res;
    return mx > 0 ? mx * 1.6 : 1000;
}

static const char *res_label(int res, char *buf, size_t cap)
{
    if (res == 0) return "native";
    snprintf(buf, cap, "%d", res);
    return buf;
}

/* ---- output helpers ------------------------------------------------------------------- */

static void h_text(hw *h, const char *s) { report_html(h->f, s); }

static void h_pct(hw *h, double v, int dec)
{
    if (isfinite(v)) fprintf(h->f, "%.*f", dec, 100 * v);
    else fputs("&ndash;", h->f);
}

static void h_ci(hw *h, double lo, double hi)
{
    if (isfinite(lo) && isfinite(hi)) fprintf(h->f, "[%.1f, %.1f]", 100 * lo, 100 * hi);
    else fputs("&ndash;", h->f);
}

static void run_label(hw *h, const rp_run *r)
{
    report_html_n(h->f, r->name, 60);
    fprintf(h->f, " <span class=\"dim\">#%lld</span>", (long long)r->id);
}

/* "name/quant" for legends (escaped later by the chart). */
static char *series_label(const rp_run *r, const char *quant, char *buf, size_t cap, int many_runs)
{
    if (many_runs) snprintf(buf, cap, "%.24s / %.14s", nz(r->name), nz(quant));
    else snprintf(buf, cap, "%.38s", nz(quant));
    return buf;
}

/* ---- sections ------------------------------------------------------------------------- */

/* Confusion counts of the ok yes/no rows in h->buf[0..n); returns how many counted. */
static long confusion(hw *h, size_t n, metric_confusion *c)
{
    long k = 0;
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        const rp_row *x = h->buf[i];
        if (!rp_row_ok(x) || !rp_label_yesno(x->label)) continue;
        metric_confusion_add(c, metric_pope_parse(rp_row_pope_answer(x)), strcmp(x->label, "yes") == 0 ? METRIC_YES : METRIC_NO);
        k++;
    }
    return k;
}

static int run_suite_yesno(hw *h, const rp_run *r, const char *suite)
{
    size_t n = collect(h, r, suite, NULL, ANY_RES, NULL, ANY_DETAIL), y = 0;
    for (size_t i = 0; i < n; i++) y += rp_label_yesno(h->buf[i]->label);
    return n > 0 && y * 2 >= n;
}

/* ---- cells: one (run, suite, quant) at a time ---------------------------------------- */

typedef struct {
    const rp_run *run;
    const char   *suite, *quant;
    const iset   *rs;            /* the suite's resolutions in this run, ascending, native last */
} cell;

typedef void (*cell_fn)(hw *h, const cell *c, void *ctx);

/* Calls fn for every run, suite and quant (highest precision first, at most
 * max_quants per suite); only yes/no suites when yesno_only. */
static void each_cell(hw *h, size_t max_quants, int yesno_only, cell_fn fn, void *ctx)
{
    for (size_t i = 0; i < h->nruns; i++) {
        const rp_run *r = &h->runs[i];
        sset su;
        suites_of(r, &su);
        for (size_t s = 0; s < su.n; s++) {
            if (yesno_only && !run_suite_yesno(h, r, su.s[s])) continue;
            sset qs;
            iset rs;
            quants_of(r, su.s[s], &qs);
            res_of(r, su.s[s], &rs);
            for (size_t q = 0; q < qs.n && q < max_quants; q++) {
                cell c = {r, su.s[s], qs.s[q], &rs};
                fn(h, &c, ctx);
            }
        }
    }
}

/* "<h3>run · suite · quant</h3>" */
static void cell_heading(hw *h, const cell *c)
{
    fputs("<h3>", h->f);
    run_label(h, c->run);
    fputs(" &middot; ", h->f);
    h_text(h, c->suite);
    fputs(" &middot; ", h->f);
    h_text(h, c->quant);
    fputs("</h3>", h->f);
}

/* "suite / run / quant" for chart titles. */
static void cell_title(const cell *c, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.40s / %.30s / %.20s", c->suite, nz(c->run->name), c->quant);
}

static const char style[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1b1b1b;background:#fafafa}"
    "header{background:#1f2937;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}"
    "header p{margin:4px 0 0;color:#cbd5e1}nav{padding:6px 24px;background:#e5e7eb;position:sticky;top:0;z-index:1}"
    "nav a{margin-right:14px;color:#1f2937}main{padding:8px 24px 40px}"
    "section{margin:18px 0 28px}h2{border-bottom:2px solid #d1d5db;padding-bottom:4px}h3{margin:18px 0 6px}"
    "table{border-collapse:collapse;margin:6px 0;background:#fff}th,td{border:1px solid #d1d5db;padding:3px 7px;"
    "text-align:left;vertical-align:top}th{background:#f3f4f6}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".dim{color:#6b7280}.charts{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}figure.chart{margin:0;background:#fff;"
    "border:1px solid #e5e7eb}svg text{font-family:system-ui,sans-serif}.ct{font-size:13px;font-weight:600}"
    ".tk{font-size:10px;fill:#4b5563}.al{font-size:11px;fill:#374151}.lg{font-size:11px;fill:#111}"
    ".grid{stroke:#eee}.chance{stroke:#b91c1c;stroke-dasharray:6 4;stroke-width:1.2}.frame{fill:none;stroke:#9ca3af}.diag{stroke:#9ca3af;stroke-dasharray:4 3}"
    ".mark{stroke:#6b7280;stroke-dasharray:2 2}.err{stroke:#111;stroke-width:1.2}"
    "pre{white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid #e5e7eb;padding:6px;max-height:300px;overflow:auto}"
    ".ok{background:#dcfce7;color:#14532d}.bad{background:#fee2e2;color:#7f1d1d}.er{background:#fef3c7;color:#78350f}"
    ".na{background:#f3f4f6}.b{display:inline-block;padding:0 5px;margin:1px;border-radius:3px;font-size:12px}"
    "td.heat{text-align:center;font-variant-numeric:tabular-nums;min-width:44px}"
    "#flipsonly:checked~table tbody tr:not(.flip){display:none}.q{max-width:420px}.out{max-width:520px}"
    ".note{color:#4b5563;font-size:13px}";

static void section_summary(hw *h, const char *source)
{
    FILE *f = h->f;
    fputs("<section id=\"summary\"><h2>Runs</h2><table><thead><tr><th>run</th><th>created</th><th>backend / model</th>"
          "<th>suite</th><th>mode</th><th>template / prompt</th><th>quants</th><th>resolutions</th>"
          "<th>results ok</th><th>errors</th><th>version</th></tr></thead><tbody>", f);
    for (size_t i = 0; i < h->nruns; i++) {
        const rp_run *r = &h->runs[i];
        size_t ok = 0;
        for (size_t k = 0; k < r->nrows; k++) ok += rp_row_ok(&r->rows[k]);
        fputs("<tr><td>", f);
        run_label(h, r);
        fputs("</td><td>", f);
        h_text(h, r->created);
        fputs("</td><td>", f);
        h_text(h, r->backend);
        fputs("<br>", f);
        report_html_n(f, r->remote_model ? r->remote_model : r->model_path, 80);
        if (r->model_sha256) {
            fputs("<br><span class=\"dim\">sha256 ", f);
            report_html_n(f, r->model_sha256, 16);
            fputs("</span>", f);
        }
        fputs("</td><td>", f);
        h_text(h, r->suite_name);
        fputs(" <span class=\"dim\">", f);
        h_text(h, r->suite_task);
        fputs("</span></td><td>", f);
        h_text(h, r->mode);
        fputs("</td><td>", f);
        h_text(h, r->template_name);
        fputs("<br><span class=\"dim\">", f);
        report_html_n(f, r->prompt_hash, 12);
        fputs("</span></td><td>", f);
        report_html_n(f, r->quants, 80);
        fputs("</td><td>", f);
        report_html_n(f, r->resolutions, 80);
        fprintf(f, "</td><td class=\"n\">%zu</td><td class=\"n\">%zu</td><td>", ok, r->nrows - ok);
        h_text(h, r->program_version);
        fputs("</td></tr>", f);
    }
    fputs("</tbody></table>", f);
    for (size_t i = 0; i < h->nruns; i++) {
        const rp_run *r = &h->runs[i];
        fputs("<details><summary>Provenance and configuration of ", f);
        run_label(h, r);
        fputs("</summary><table><tbody>", f);
        const struct { const char *k, *v; } kv[] = {
            {"model path", r->model_path}, {"model sha256", r->model_sha256}, {"mmproj sha256", r->mmproj_sha256},
            {"remote url", r->remote_url}, {"remote model", r->remote_model}, {"preprocess", r->preprocess},
            {"prompt hash", r->prompt_hash}, {"shard", r->shard}, {"suite provenance", r->suite_provenance},
            {"generation", r->gen_config}, {"configuration", r->config}};
        for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++) {
            if (!kv[k].v) continue;
            fprintf(f, "<tr><th>%s</th><td><pre>", kv[k].k);
            report_html_n(f, kv[k].v, 20000);
            fputs("</pre></td></tr>", f);
        }
        fputs("</tbody></table></details>", f);
    }
    fputs("<p class=\"note\">Store: ", f);
    h_text(h, source);
    fputs(". Intervals are 95%: Wilson for right/wrong with one question per image, else a percentile "
          "bootstrap over images (seeded, reproducible).</p></section>\n", f);
}

/* Table rows: accuracy of one cell at each resolution. */
static void accuracy_rows(hw *h, const cell *c, void *ctx)
{
    FILE *f = h->f;
    (void)ctx;
    for (size_t k = 0; k < c->rs->n; k++) {
        size_t n = collect(h, c->run, c->suite, c->quant, c->rs->v[k], NULL, ANY_DETAIL);
        if (!n) continue;
        agg a = agg_rows(h, n);
        char rb[16];
        fputs("<tr><td>", f);
        report_html_n(f, c->run->name, 40);
        fputs("</td><td>", f);
        h_text(h, c->suite);
        fputs("</td><td>", f);
        h_text(h, c->quant);
        fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">", res_label(c->rs->v[k], rb, sizeof rb));
        h_pct(h, a.est, 2);
        fputs("</td><td class=\"n\">", f);
        h_ci(h, a.lo, a.hi);
        fprintf(f, "</td><td class=\"n\">%zu</td><td class=\"n\">%zu</td></tr>", a.n, a.errors);
    }
}

static void section_metrics(hw *h)
{
    FILE *f = h->f;
    fputs("<section id=\"metrics\"><h2>Metrics</h2>", f);
    size_t stored = 0;
    for (size_t i = 0; i < h->nruns; i++) stored += h->runs[i].nmetrics;
    if (stored) {
        fputs("<h3>As computed by the run (stored metrics, all categories)</h3><table><thead><tr><th>run</th>"
              "<th>suite</th><th>category</th><th>quant</th><th>resolution</th><th>metric</th><th>value</th>"
              "<th>95% CI</th><th>n</th><th>variant</th></tr></thead><tbody>", f);
        size_t shown = 0;
        for (size_t i = 0; i < h->nruns; i++)
            for (size_t k = 0; k < h->runs[i].nmetrics && shown < 5000; k++, shown++) {
                const rp_metric *m = &h->runs[i].metrics[k];
                const metric_def *d = m->name ? metric_find(m->name) : NULL;
                double scale = d ? d->scale : 1;
                int dec = d ? d->decimals : 4;
                char rb[16];
                fputs("<tr><td>", f);
                report_html_n(f, h->runs[i].name, 40);
                fputs("</td><td>", f);
                h_text(h, m->suite);
                fputs("</td><td>", f);
                h_text(h, m->category && m->category[0] ? m->category : "all");
                fputs("</td><td>", f);
                h_text(h, m->quant);
                fprintf(f, "</td><td class=\"n\">%s</td><td>", res_label(m->resolution, rb, sizeof rb));
                h_text(h, m->name);
                fputs("</td><td class=\"n\">", f);
                if (isfinite(scale * m->value)) fprintf(f, "%.*f", dec, scale * m->value);
                else fputs("null", f);
                fputs("</td><td class=\"n\">", f);
                if (isfinite(scale * m->lo) && isfinite(scale * m->hi))
                    fprintf(f, "[%.*f, %.*f]", dec, scale * m->lo, dec, scale * m->hi);
                else fputs("&ndash;", f);
                fprintf(f, "</td><td class=\"n\">%lld</td><td class=\"dim\">", (long long)m->n);
                report_html_n(f, m->variant, 80);
                fputs("</td></tr>", f);
            }
        fputs("</tbody></table>", f);
    }
    fputs("<h3>Accuracy from the stored results</h3><table><thead><tr><th>run</th><th>suite</th><th>quant</th>"
          "<th>resolution</th><th>accuracy %</th><th>95% CI</th><th>n</th><th>errors</th></tr></thead><tbody>", f);
    each_cell(h, SIZE_MAX, 0, accuracy_rows, NULL);
    fputs("</tbody></table></section>\n", f);
}

/* Series of accuracy against resolution for rows matching (run, suite, quant, cat, detail). */
typedef struct {
    double x[MAX_SET], y[MAX_SET], lo[MAX_SET], hi[MAX_SET];
    char label[96];
} curve;

static void make_curve(hw *h, curve *c, const rp_run *r, const char *suite, const char *quant, const char *cat,
                       int detail, const iset *rs)
{
    for (size_t k = 0; k < rs->n; k++) {
        size_t n = collect(h, r, suite, quant, rs->v[k], cat, detail);
        agg a = n ? agg_rows(h, n) : (agg){NAN, NAN, NAN, 0, 0};
        c->x[k] = res_x(rs->v[k], rs);
        c->y[k] = a.est;
        c->lo[k] = a.lo;
        c->hi[k] = a.hi;
    }
}

static void res_ticks(const iset *rs, double *xt, const char **xl, char lb[][16])
{
    for (size_t k = 0; k < rs->n; k++) {
        xt[k] = res_x(rs->v[k], rs);
        xl[k] = res_label(rs->v[k], lb[k], 16);
    }
}

/* All suites across runs. */
static void all_suites(hw *h, sset *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < h->nruns; i++)
        for (size_t k = 0; k < h->runs[i].nrows; k++) sset_add(out, h->runs[i].rows[k].suite);
    qsort(out->s, out->n, sizeof out->s[0], scmp);
}

static void union_res(hw *h, const char *suite, iset *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < h->nruns; i++)
        for (size_t k = 0; k < h->runs[i].nrows; k++)
            if (strcmp(nz(h->runs[i].rows[k].suite), suite) == 0) iset_add(out, h->runs[i].rows[k].resolution);
    qsort(out->v, out->n, sizeof out->v[0], icmp);
}

static void section_resolution(hw *h)
{
    FILE *f = h->f;
    sset su;
    all_suites(h, &su);
    fputs("<section id=\"resolution\"><h2>Accuracy against input resolution</h2>"
          "<p class=\"note\">Longer image side in pixels (log scale), bands are 95% intervals.</p>", f);
    curve *cv = calloc(MAX_SET, sizeof *cv);
    rs_series *se = calloc(MAX_SET, sizeof *se);
    if (!cv || !se) { h->oom = 1; goto done; }
    for (size_t s = 0; s < su.n; s++) {
        iset rs;
        union_res(h, su.s[s], &rs);
        double xt[MAX_SET];
        const char *xl[MAX_SET];
        char lb[MAX_SET][16];
        res_ticks(&rs, xt, xl, lb);
        size_t ns = 0;
        fputs("<h3>Suite ", f);
        h_text(h, su.s[s]);
        fputs("</h3><div class=\"charts\">", f);
        for (size_t i = 0; i < h->nruns && ns < MAX_SET; i++) {
            sset qs;
            quants_of(&h->runs[i], su.s[s], &qs);
            for (size_t q = 0; q < qs.n && ns < MAX_SET; q++) {
                make_curve(h, &cv[ns], &h->runs[i], su.s[s], qs.s[q], NULL, ANY_DETAIL, &rs);
                series_label(&h->runs[i], qs.s[q], cv[ns].label, sizeof cv[ns].label, h->nruns > 1);
                se[ns] = (rs_series){cv[ns].label, rs_color(ns), rs.n, cv[ns].x, cv[ns].y, cv[ns].lo, cv[ns].hi, 0};
                ns++;
            }
        }
        char title[160];
        snprintf(title, sizeof title, "%.100s: accuracy vs resolution", su.s[s]);
        int yes_no = 1;
        for (size_t i = 0; i < h->nruns; i++)
            if (collect(h, &h->runs[i], su.s[s], NULL, ANY_RES, NULL, ANY_DETAIL) && !run_suite_yesno(h, &h->runs[i], su.s[s]))
                yes_no = 0;
        rs_chart c = {.title = title, .xlabel = "input resolution (px, longer side)", .ylabel = "accuracy",
                      .xlog = 1, .ypercent = 1, .xticks = xt, .xtick_labels = xl, .nxticks = rs.n,
                      .hline = yes_no ? 0.5 : 0, .hline_label = "chance"};
        rs_line_chart(f, &c, se, ns);
        /* per category, one chart per run and quant */
        for (size_t i = 0; i < h->nruns; i++) {
            sset cats, qs;
            cats_of(&h->runs[i], su.s[s], &cats);
            if (cats.n < 2) continue;
            quants_of(&h->runs[i], su.s[s], &qs);
            for (size_t q = 0; q < qs.n && q < 4; q++) {
                for (size_t k = 0; k < cats.n; k++) {
                    make_curve(h, &cv[k], &h->runs[i], su.s[s], qs.s[q], cats.s[k], ANY_DETAIL, &rs);
                    snprintf(cv[k].label, sizeof cv[k].label, "%.38s", cats.s[k]);
                    se[k] = (rs_series){cv[k].label, rs_color(k), rs.n, cv[k].x, cv[k].y, cv[k].lo, cv[k].hi, 0};
                }
                snprintf(title, sizeof title, "%.40s / %.30s / %.20s: per category", su.s[s], nz(h->runs[i].name),
                         qs.s[q]);
                rs_chart cc = c;
                cc.title = title;
                rs_line_chart(f, &cc, se, cats.n);
            }
        }
        fputs("</div>", f);
    }
done:
    free(cv);
    free(se);
    fputs("</section>\n", f);
}

/* Heat-map colour for an accuracy: red (0) through amber to green (1). */
static void heat_color(double v, char buf[32])
{
    if (!isfinite(v)) { snprintf(buf, 32, "#f3f4f6"); return; }
    double t = v < 0 ? 0 : v > 1 ? 1 : v;
    int r = (int)(t < 0.5 ? 239 : 239 - (t - 0.5) * 2 * (239 - 134));
    int g = (int)(t < 0.5 ? 68 + t * 2 * (191 - 68) : 191 + (t - 0.5) * 2 * (239 - 191));
    int b = (int)(t < 0.5 ? 68 : 68 + (t - 0.5) * 2 * (172 - 68));
    snprintf(buf, 32, "#%02x%02x%02x", r, g, b);
}

/* Detail loss of one cell: a curve per detail size and the same numbers as a heat map. */
typedef struct {
    curve     *cv;       /* [MAX_SET] scratch */
    rs_series *se;       /* [MAX_SET] scratch */
    int        any;
} detail_ctx;

static void detail_cell(hw *h, const cell *c, void *vctx)
{
    FILE *f = h->f;
    detail_ctx *x = vctx;
    curve *cv = x->cv;
    rs_series *se = x->se;
    iset ds;
    details_of(c->run, c->suite, &ds);
    if (ds.n == 0) return;
    x->any = 1;
    const iset *rs = c->rs;
    int yes_no = run_suite_yesno(h, c->run, c->suite);
    double xt[MAX_SET];
    const char *xl[MAX_SET];
    char lb[MAX_SET][16];
    res_ticks(rs, xt, xl, lb);
    cell_heading(h, c);
    fputs("<div class=\"charts\">", f);
    for (size_t k = 0; k < ds.n; k++) {
        make_curve(h, &cv[k], c->run, c->suite, c->quant, NULL, ds.v[k], rs);
        snprintf(cv[k].label, sizeof cv[k].label, "detail %d px", ds.v[k]);
        se[k] = (rs_series){cv[k].label, rs_ramp(k, ds.n), rs->n, cv[k].x, cv[k].y, cv[k].lo, cv[k].hi, 0};
    }
    char title[160];
    snprintf(title, sizeof title, "%.60s: accuracy by detail size", c->suite);
    rs_chart ch = {.title = title, .xlabel = "input resolution (px, longer side)", .ylabel = "accuracy", .xlog = 1,
                   .ypercent = 1, .xticks = xt, .xtick_labels = xl, .nxticks = rs->n, .width = 560, .height = 340,
                   .hline = yes_no ? 0.5 : 0, .hline_label = "chance"};
    rs_line_chart(f, &ch, se, ds.n);
    fputs("<table class=\"heatmap\"><thead><tr><th>detail \\ resolution</th>", f);
    for (size_t k = 0; k < rs->n; k++) fprintf(f, "<th>%s</th>", xl[k]);
    fputs("<th title=\"smallest resolution from which every larger one reaches 90%\">&ge; 90% from</th>"
          "</tr></thead><tbody>", f);
    for (size_t d = 0; d < ds.n; d++) {
        fprintf(f, "<tr><th>%d px</th>", ds.v[d]);
        for (size_t k = 0; k < rs->n; k++) {
            char col[32];
            heat_color(cv[d].y[k], col);
            fprintf(f, "<td class=\"heat\" style=\"background:%s\">", col);
            h_pct(h, cv[d].y[k], 0);
            fputs("</td>", f);
        }
        size_t from = rs->n;
        while (from > 0 && cv[d].y[from - 1] >= 0.9) from--;
        fprintf(f, "<td class=\"n\">%s</td></tr>", from < rs->n ? xl[from] : "never");
    }
    fputs("</tbody></table></div>", f);
}

static void section_detail(hw *h)
{
    FILE *f = h->f;
    detail_ctx x = {calloc(MAX_SET, sizeof *x.cv), calloc(MAX_SET, sizeof *x.se), 0};
    fputs("<section id=\"detail\"><h2>Detail loss: where does each model break?</h2>"
          "<p class=\"note\">Accuracy against input resolution for each detail size (the sample's "
          "<code>meta.detail_px</code>, e.g. the object or text height in the source image). Dark lines are the "
          "smallest details; a line that falls to chance at a resolution shows where that detail is lost.</p>", f);
    if (x.cv && x.se) each_cell(h, 4, 0, detail_cell, &x);
    else h->oom = 1;
    if (!x.any) fputs("<p class=\"note\">No result carries <code>meta.detail_px</code>.</p>", f);
    free(x.cv);
    free(x.se);
    fputs("</section>\n", f);
}

/* ---- yes/no: POPE curves, confusion matrices, ROC ------------------------------------ */

/* POPE precision, recall, F1 and yes-ratio of one cell against resolution. */
static void pope_cell(hw *h, const cell *c, void *ctx)
{
    const iset *rs = c->rs;
    double xt[MAX_SET], p[MAX_SET], rc[MAX_SET], f1[MAX_SET], yr[MAX_SET];
    const char *xl[MAX_SET];
    char lb[MAX_SET][16];
    res_ticks(rs, xt, xl, lb);
    for (size_t k = 0; k < rs->n; k++) {
        metric_confusion m;
        metric_pope_result pr;
        confusion(h, collect(h, c->run, c->suite, c->quant, rs->v[k], NULL, ANY_DETAIL), &m);
        metric_pope_summary(&m, &pr);
        p[k] = pr.precision.defined ? pr.precision.value : NAN;
        rc[k] = pr.recall.defined ? pr.recall.value : NAN;
        f1[k] = pr.f1.defined ? pr.f1.value : NAN;
        yr[k] = pr.yes_ratio.defined ? pr.yes_ratio.value : NAN;
    }
    rs_series se[4] = {{"F1", rs_color(0), rs->n, xt, f1, NULL, NULL, 0},
                       {"precision", rs_color(1), rs->n, xt, p, NULL, NULL, 0},
                       {"recall", rs_color(2), rs->n, xt, rc, NULL, NULL, 0},
                       {"yes-ratio", rs_color(3), rs->n, xt, yr, NULL, NULL, 1}};
    char title[160];
    cell_title(c, title, sizeof title);
    rs_chart ch = {.title = title, .xlabel = "input resolution (px)", .ylabel = "value", .xlog = 1, .ypercent = 1,
                   .xticks = xt, .xtick_labels = xl, .nxticks = rs->n};
    rs_line_chart(h->f, &ch, se, 4);
    *(int *)ctx = 1;
}

static void section_pope(hw *h)
{
    int any = 0;
    fputs("<section id=\"pope\"><h2>POPE metrics against resolution</h2>"
          "<p class=\"note\">Yes/no suites: precision, recall and F1 of the \"yes\" class, and the share of yes "
          "answers (dashed), which drifts as detail is lost.</p><div class=\"charts\">", h->f);
    each_cell(h, 4, 1, pope_cell, &any);
    fputs("</div>", h->f);
    if (!any) fputs("<p class=\"note\">No yes/no suite in these runs.</p>", h->f);
    fputs("</section>\n", h->f);
}

/* One cell's confusion matrix per resolution, with the POPE metrics. */
static void confusion_cell(hw *h, const cell *c, void *ctx)
{
    FILE *f = h->f;
    *(int *)ctx = 1;
    cell_heading(h, c);
    fputs("<table><thead><tr><th>resolution</th><th>truth yes: said yes (TP)</th>"
          "<th>truth yes: said no (FN)</th><th>truth no: said yes (FP)</th><th>truth no: said no (TN)</th>"
          "<th>accuracy %</th><th>precision %</th><th>recall %</th><th>F1 %</th><th>yes-ratio %</th>"
          "</tr></thead><tbody>", f);
    for (size_t k = 0; k < c->rs->n; k++) {
        metric_confusion m;
        metric_pope_result pr;
        char rb[16];
        confusion(h, collect(h, c->run, c->suite, c->quant, c->rs->v[k], NULL, ANY_DETAIL), &m);
        metric_pope_summary(&m, &pr);
        fprintf(f, "<tr><td class=\"n\">%s</td><td class=\"n ok\">%ld</td><td class=\"n bad\">%ld</td>"
                   "<td class=\"n bad\">%ld</td><td class=\"n ok\">%ld</td>",
                res_label(c->rs->v[k], rb, sizeof rb), m.tp, m.fn, m.fp, m.tn);
        const metric_num *v[] = {&pr.accuracy, &pr.precision, &pr.recall, &pr.f1, &pr.yes_ratio};
        for (int j = 0; j < 5; j++) {
            fputs("<td class=\"n\">", f);
            h_pct(h, v[j]->defined ? v[j]->value : NAN, 1);
            fputs("</td>", f);
        }
        fputs("</tr>", f);
    }
    fputs("</tbody></table>", f);
}

static void section_confusion(hw *h)
{
    int any = 0;
    fputs("<section id=\"confusion\"><h2>Confusion matrices (yes/no)</h2>", h->f);
    each_cell(h, SIZE_MAX, 1, confusion_cell, &any);
    if (!any) fputs("<p class=\"note\">No yes/no suite in these runs.</p>", h->f);
    fputs("</section>\n", h->f);
}

typedef struct {
    double m;
    int yes;
} scored;

static int scored_desc(const void *a, const void *b)
{
    double x = ((const scored *)a)->m, y = ((const scored *)b)->m;
    return (x < y) - (x > y);
}

#define ROC_POINTS 200

typedef struct {
    double fpr[ROC_POINTS + 2], tpr[ROC_POINTS + 2];
    size_t n;
    double auc;
    char label[64];
} roc;

/* ROC of the yes-no margins in h->buf[0..n); 0 when both classes are not present. */
static int make_roc(hw *h, size_t n, roc *out)
{
    scored *v = malloc((n + 1) * sizeof *v);
    size_t k = 0, pos = 0;
    if (!v) { h->oom = 1; return 0; }
    for (size_t i = 0; i < n; i++) {
        const rp_row *x = h->buf[i];
        if (!rp_row_ok(x) || !rp_label_yesno(x->label) || !isfinite(x->margin)) continue;
        v[k].m = x->margin;
        v[k].yes = strcmp(x->label, "yes") == 0;
        pos += (size_t)v[k].yes;
        k++;
    }
    size_t neg = k - pos;
    if (pos == 0 || neg == 0) { free(v); return 0; }
    qsort(v, k, sizeof *v, scored_desc);
    /* sweep thresholds; tied margins move together; keep at most ROC_POINTS points */
    size_t tp = 0, fp = 0, step = k / ROC_POINTS + 1, since = 0;
    double auc = 0, px = 0, py = 0;
    out->n = 0;
    out->fpr[out->n] = 0;
    out->tpr[out->n++] = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j < k && v[j].m == v[i].m) {
            if (v[j].yes) tp++;
            else fp++;
            j++;
        }
        double x = (double)fp / (double)neg, y = (double)tp / (double)pos;
        auc += (x - px) * (y + py) / 2;
        px = x;
        py = y;
        since += j - i;
        if ((since >= step || j == k) && out->n < ROC_POINTS + 2) {
            out->fpr[out->n] = x;
            out->tpr[out->n++] = y;
            since = 0;
        }
        i = j;
    }
    out->auc = auc;
    free(v);
    return 1;
}

/* One cell's ROC curves, one per resolution. */
typedef struct {
    roc *rc;             /* [MAX_SET] scratch */
    int  any;
} roc_ctx;

static void roc_cell(hw *h, const cell *c, void *vctx)
{
    roc_ctx *x = vctx;
    roc *rc = x->rc;
    rs_series se[MAX_SET];
    size_t ns = 0;
    for (size_t k = 0; k < c->rs->n; k++) {
        size_t n = collect(h, c->run, c->suite, c->quant, c->rs->v[k], NULL, ANY_DETAIL);
        if (!make_roc(h, n, &rc[ns])) continue;
        char rb[16];
        snprintf(rc[ns].label, sizeof rc[ns].label, "%s px, AUC %.3f", res_label(c->rs->v[k], rb, sizeof rb),
                 rc[ns].auc);
        se[ns] = (rs_series){rc[ns].label, rs_ramp(ns, c->rs->n), rc[ns].n, rc[ns].fpr, rc[ns].tpr, NULL, NULL, 0};
        ns++;
    }
    if (!ns) return;
    x->any = 1;
    char title[160];
    cell_title(c, title, sizeof title);
    rs_chart ch = {.title = title, .xlabel = "false positive rate", .ylabel = "true positive rate", .xmin = 0,
                   .xmax = 1, .diagonal = 1, .width = 520, .height = 340};
    rs_line_chart(h->f, &ch, se, ns);
}

static void section_roc(hw *h)
{
    roc_ctx x = {calloc(MAX_SET, sizeof *x.rc), 0};
    if (!x.rc) { h->oom = 1; return; }
    fputs("<section id=\"roc\"><h2>ROC curves from choice-mode margins</h2>"
          "<p class=\"note\">Score: log p(yes) &minus; log p(no) from one forward pass; one curve per resolution. "
          "AUC in the legend.</p><div class=\"charts\">", h->f);
    each_cell(h, 4, 0, roc_cell, &x);
    fputs("</div>", h->f);
    if (!x.any) fputs("<p class=\"note\">No choice-mode margins with yes/no labels in these runs.</p>", h->f);
    fputs("</section>\n", h->f);
    free(x.rc);
}

/* ---- quantization ------------------------------------------------------------------- */

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* KL values of quant q against the reference quant of run r, suite s (rows of one
 * (sample, resolution) are adjacent in a run). Returns the count; *flips gets b, c. */
static size_t kl_values(const rp_run *r, const char *suite, const char *ref, const char *q, double *kl, double *dp,
                        unsigned char *same, size_t cap, long *b, long *c)
{
    size_t n = 0;
    *b = *c = 0;
    for (size_t i = 0; i < r->nrows;) {
        size_t j = i;
        const rp_row *pr = NULL, *qr = NULL;
        while (j < r->nrows && strcmp(nz(r->rows[j].sample_id), nz(r->rows[i].sample_id)) == 0 &&
               r->rows[j].resolution == r->rows[i].resolution) {
            const rp_row *x = &r->rows[j];
            if (rp_row_ok(x) && strcmp(nz(x->suite), suite) == 0) {
                if (strcmp(nz(x->quant), ref) == 0) pr = x;
                else if (strcmp(nz(x->quant), q) == 0) qr = x;
            }
            j++;
        }
        if (pr && qr) {
            if (pr->correct == 1 && qr->correct == 0) (*b)++;
            if (pr->correct == 0 && qr->correct == 1) (*c)++;
            if (pr->ntok && qr->ntok) n += cmp_token_stats(pr, qr, kl + n, dp + n, same + n, cap - n, NULL);
        }
        i = j;
    }
    return n;
}

static void section_quant(hw *h)
{
    FILE *f = h->f;
    int any = 0;
    fputs("<section id=\"quant\"><h2>Quantization</h2>", f);
    /* accuracy against bits per weight, pooled over resolutions */
    {
        sset su;
        all_suites(h, &su);
        for (size_t s = 0; s < su.n; s++) {
            double x[MAX_SET][MAX_SET], y[MAX_SET][MAX_SET], lo[MAX_SET][MAX_SET], hi[MAX_SET][MAX_SET];
            char lab[MAX_SET][64];
            rs_series se[MAX_SET];
            size_t ns = 0, npts = 0;
            for (size_t i = 0; i < h->nruns && ns < MAX_SET; i++) {
                sset qs;
                quants_of(&h->runs[i], su.s[s], &qs);
                size_t k = 0;
                for (size_t q = qs.n; q-- > 0;) {
                    double bpw = rp_quant_bpw(qs.s[q]);
                    if (bpw <= 0) continue;
                    agg a = agg_rows(h, collect(h, &h->runs[i], su.s[s], qs.s[q], ANY_RES, NULL, ANY_DETAIL));
                    x[ns][k] = bpw;
                    y[ns][k] = a.est;
                    lo[ns][k] = a.lo;
                    hi[ns][k] = a.hi;
                    k++;
                }
                if (!k) continue;
                npts += k;
                snprintf(lab[ns], sizeof lab[ns], "%.40s", nz(h->runs[i].name));
                se[ns] = (rs_series){lab[ns], rs_color(ns), k, x[ns], y[ns], lo[ns], hi[ns], 0};
                ns++;
            }
            if (npts < 2) continue;
            any = 1;
            char title[160];
            snprintf(title, sizeof title, "%.80s: accuracy vs bits per weight", su.s[s]);
            /* ticks at the quants drawn, named */
            double bt[MAX_SET];
            const char *bl[MAX_SET];
            char bn[MAX_SET][48];
            size_t nb = 0;
            for (size_t i = 0; i < h->nruns; i++) {
                sset qs;
                quants_of(&h->runs[i], su.s[s], &qs);
                for (size_t q = 0; q < qs.n && nb < MAX_SET; q++) {
                    double bpw = rp_quant_bpw(qs.s[q]);
                    int dup = 0;
                    for (size_t t = 0; t < nb; t++) dup |= bt[t] == bpw;
                    if (bpw <= 0 || dup) continue;
                    snprintf(bn[nb], sizeof bn[nb], "%.12s (%g)", qs.s[q], bpw);
                    bt[nb] = bpw;
                    bl[nb] = bn[nb];
                    nb++;
                }
            }
            rs_chart c = {.title = title, .xlabel = "bits per weight (quant type)", .ylabel = "accuracy (all resolutions)",
                          .xlog = 1, .ypercent = 1, .xticks = bt, .xtick_labels = bl, .nxticks = nb};
            fputs("<div class=\"charts\">", f);
            rs_line_chart(f, &c, se, ns);
            fputs("</div>", f);
        }
    }
    for (size_t i = 0; i < h->nruns; i++) {
        const rp_run *r = &h->runs[i];
        sset su;
        suites_of(r, &su);
        for (size_t s = 0; s < su.n; s++) {
            sset qs;
            iset rs;
            quants_of(r, su.s[s], &qs);
            if (qs.n < 2) continue;
            any = 1;
            res_of(r, su.s[s], &rs);
            fputs("<h3>", f);
            run_label(h, r);
            fputs(" &middot; ", f);
            h_text(h, su.s[s]);
            fputs("</h3><div class=\"charts\">", f);
            /* bars: resolution groups, one bar per quant */
            double y[MAX_SET][MAX_SET], lo[MAX_SET][MAX_SET], hi[MAX_SET][MAX_SET];
            const char *groups[MAX_SET];
            char lb[MAX_SET][16];
            rs_series se[MAX_SET];
            for (size_t k = 0; k < rs.n; k++) groups[k] = res_label(rs.v[k], lb[k], 16);
            for (size_t q = 0; q < qs.n; q++) {
                for (size_t k = 0; k < rs.n; k++) {
                    agg a = agg_rows(h, collect(h, r, su.s[s], qs.s[q], rs.v[k], NULL, ANY_DETAIL));
                    y[q][k] = a.est;
                    lo[q][k] = a.lo;
                    hi[q][k] = a.hi;
                }
                se[q] = (rs_series){qs.s[q], rs_color(q), rs.n, NULL, y[q], lo[q], hi[q], 0};
            }
            rs_chart c = {.title = "accuracy per resolution and quant", .xlabel = "input resolution (px)",
                          .ylabel = "accuracy", .ypercent = 1};
            rs_bar_chart(f, &c, groups, rs.n, se, qs.n);
            sset cats;
            cats_of(r, su.s[s], &cats);
            if (cats.n > 1) {
                for (size_t q = 0; q < qs.n; q++) {
                    for (size_t k = 0; k < cats.n; k++) {
                        agg a = agg_rows(h, collect(h, r, su.s[s], qs.s[q], ANY_RES, cats.s[k], ANY_DETAIL));
                        y[q][k] = a.est;
                        lo[q][k] = a.lo;
                        hi[q][k] = a.hi;
                    }
                    se[q] = (rs_series){qs.s[q], rs_color(q), cats.n, NULL, y[q], lo[q], hi[q], 0};
                }
                rs_chart cc = {.title = "accuracy per category and quant (all resolutions)", .xlabel = "category",
                               .ylabel = "accuracy", .ypercent = 1, .width = 560};
                rs_bar_chart(f, &cc, cats.s, cats.n, se, qs.n);
            }
            /* KL divergence of answer tokens against the highest-precision quant */
            size_t cap = 0;
            for (size_t k = 0; k < r->nrows; k++) cap += (size_t)r->rows[k].ntok;
            double *kl = malloc((cap + 1) * sizeof *kl), *dp = malloc((cap + 1) * sizeof *dp);
            unsigned char *same = malloc(cap + 1);
            double cx[MAX_SET][ROC_POINTS], cy[MAX_SET][ROC_POINTS];
            char lab[MAX_SET][64];
            size_t ns = 0;
            stats_quant_report rep[MAX_SET];
            long fb[MAX_SET], fc[MAX_SET];
            size_t nk[MAX_SET];
            if (!kl || !dp || !same) { h->oom = 1; free(kl); free(dp); free(same); fputs("</div>", f); continue; }
            for (size_t q = 1; q < qs.n; q++) {
                size_t n = kl_values(r, su.s[s], qs.s[0], qs.s[q], kl, dp, same, cap, &fb[q], &fc[q]);
                nk[q] = n;
                memset(&rep[q], 0, sizeof rep[q]);
                if (!n) continue;
                stats_quant_summarize(kl, dp, same, n, &rep[q]);
                qsort(kl, n, sizeof *kl, dbl_cmp);
                size_t m = n < ROC_POINTS ? n : ROC_POINTS;
                for (size_t t = 0; t < m; t++) {
                    size_t at = m == 1 ? n - 1 : t * (n - 1) / (m - 1);
                    cx[ns][t] = kl[at] > 1e-6 ? kl[at] : 1e-6;
                    cy[ns][t] = (double)(at + 1) / (double)n;
                }
                snprintf(lab[ns], sizeof lab[ns], "%.20s vs %.20s", qs.s[q], qs.s[0]);
                se[ns] = (rs_series){lab[ns], rs_color(q), m, cx[ns], cy[ns], NULL, NULL, 0};
                ns++;
            }
            if (ns) {
                double marks[3] = {0}, *mk = NULL;
                const char *ml[3] = {"90%", "99%", "99.9%"};
                size_t nm = 0;
                if (ns == 1) {   /* percentile marks are unambiguous with one curve */
                    for (size_t q = 1; q < qs.n; q++)
                        if (nk[q]) {
                            marks[0] = stats_summary_pct(&rep[q].kl, 0.90);
                            marks[1] = stats_summary_pct(&rep[q].kl, 0.99);
                            marks[2] = stats_summary_pct(&rep[q].kl, 0.999);
                        }
                    mk = marks;
                    nm = 3;
                }
                rs_chart c2 = {.title = "KL divergence of answer tokens (CDF)", .xlabel = "KL(ref || quant), nats",
                               .ylabel = "share of positions", .xlog = 1, .ypercent = 1, .vmarks = mk,
                               .vmark_labels = ml, .nvmarks = nm, .width = 520};
                rs_line_chart(f, &c2, se, ns);
            }
            fputs("</div>", f);
            fputs("<table><thead><tr><th>quant vs reference</th><th>positions</th><th>mean KLD</th><th>90%</th>"
                  "<th>99%</th><th>99.9%</th><th>max</th><th>same top %</th><th>RMS &Delta;p %</th>"
                  "<th>right&rarr;wrong</th><th>wrong&rarr;right</th></tr></thead><tbody>", f);
            for (size_t q = 1; q < qs.n; q++) {
                fputs("<tr><td>", f);
                h_text(h, qs.s[q]);
                fputs(" vs ", f);
                h_text(h, qs.s[0]);
                fprintf(f, "</td><td class=\"n\">%zu</td>", nk[q]);
                if (nk[q]) {
                    const stats_quant_report *t = &rep[q];
                    fprintf(f, "<td class=\"n\">%.5f &plusmn; %.5f</td><td class=\"n\">%.5f</td><td class=\"n\">%.5f</td>"
                               "<td class=\"n\">%.5f</td><td class=\"n\">%.5f</td><td class=\"n\">%.2f</td>"
                               "<td class=\"n\">%.3f</td>",
                            t->kl.mean, t->kl.mean_err, stats_summary_pct(&t->kl, 0.90), stats_summary_pct(&t->kl, 0.99),
                            stats_summary_pct(&t->kl, 0.999), t->kl.max, 100 * t->same_top.estimate, 100 * t->dp.rms);
                } else {
                    fputs("<td colspan=\"7\" class=\"dim\">no stored log-probs</td>", f);
                }
                fprintf(f, "<td class=\"n\">%ld</td><td class=\"n\">%ld</td></tr>", fb[q], fc[q]);
            }
            fputs("</tbody></table>", f);
            free(kl);
            free(dp);
            free(same);
        }
    }
    if (!any) fputs("<p class=\"note\">No run holds more than one quant.</p>", f);
    fputs("</section>\n", f);
}

/* ---- the sample browser ---------------------------------------------------------------- */

typedef struct {
    const rp_row *r;
    size_t run;
} srow;

static int srow_cmp(const void *a, const void *b)
{
    const srow *x = a, *y = b;
    int c = strcmp(nz(x->r->suite), nz(y->r->suite));
    if (c) return c;
    if ((c = strcmp(nz(x->r->sample_id), nz(y->r->sample_id)))) return c;
    if (x->run != y->run) return x->run < y->run ? -1 : 1;
    if ((c = strcmp(nz(x->r->quant), nz(y->r->quant)))) return c;
    return icmp(&x->r->resolution, &y->r->resolution);
}

static void section_samples(hw *h)
{
    FILE *f = h->f;
    size_t total = 0;
    for (size_t i = 0; i < h->nruns; i++) total += h->runs[i].nrows;
    srow *v = malloc((total + 1) * sizeof *v);
    if (!v) { h->oom = 1; return; }
    size_t k = 0;
    for (size_t i = 0; i < h->nruns; i++)
        for (size_t j = 0; j < h->runs[i].nrows; j++) v[k++] = (srow){&h->runs[i].rows[j], i};
    qsort(v, k, sizeof *v, srow_cmp);
    fputs("<section id=\"samples\"><h2>Samples</h2><input type=\"checkbox\" id=\"flipsonly\"> "
          "<label for=\"flipsonly\">show only samples whose outcome flips across resolutions, quants or runs</label>"
          "<table id=\"sample-table\"><thead><tr><th>sample</th><th>category</th><th class=\"q\">question</th>"
          "<th>truth</th><th>outcomes (run &middot; quant &middot; resolution)</th><th class=\"out\">outputs</th>"
          "</tr></thead><tbody>", f);
    size_t shown = 0, groups = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        int right = 0, wrong = 0;
        while (j < k && strcmp(nz(v[j].r->suite), nz(v[i].r->suite)) == 0 &&
               strcmp(nz(v[j].r->sample_id), nz(v[i].r->sample_id)) == 0) {
            if (rp_row_ok(v[j].r) && v[j].r->correct == 1) right = 1;
            if (rp_row_ok(v[j].r) && v[j].r->correct == 0) wrong = 1;
            j++;
        }
        groups++;
        if (shown < MAX_SAMPLES) {
            const rp_row *x = v[i].r;
            shown++;
            fprintf(f, "<tr class=\"%s\"><td>", right && wrong ? "flip" : "same");
            report_html_n(f, x->sample_id, 60);
            fputs("<br><span class=\"dim\">", f);
            report_html_n(f, x->suite, 40);
            fputs("</span></td><td>", f);
            report_html_n(f, x->category, 40);
            fputs("</td><td class=\"q\">", f);
            report_html_n(f, x->prompt, 400);
            fputs("</td><td>", f);
            report_html_n(f, x->label, 120);
            fputs("</td><td>", f);
            for (size_t t = i; t < j; t++) {
                const rp_row *y = v[t].r;
                const char *cls = !rp_row_ok(y) ? "er" : y->correct == 1 ? "ok" : y->correct == 0 ? "bad" : "na";
                char rb[16];
                fprintf(f, "<span class=\"b %s\" title=\"", cls);
                report_html_n(f, rp_row_ok(y) ? y->output : y->error, 200);
                fprintf(f, "\">#%lld ", (long long)h->runs[v[t].run].id);
                report_html_n(f, y->quant, 12);
                fprintf(f, " %s %s</span>", res_label(y->resolution, rb, sizeof rb),
                        !rp_row_ok(y) ? "error" : y->correct == 1 ? "&#10003;" : y->correct == 0 ? "&#10007;" : "?");
            }
            fputs("</td><td class=\"out\"><details><summary>", f);
            report_html_n(f, rp_row_ok(x) ? x->output : x->error, 80);
            fputs("</summary><table>", f);
            for (size_t t = i; t < j; t++) {
                const rp_row *y = v[t].r;
                char rb[16];
                fprintf(f, "<tr><td>#%lld ", (long long)h->runs[v[t].run].id);
                report_html_n(f, y->quant, 12);
                fprintf(f, " %s</td><td>", res_label(y->resolution, rb, sizeof rb));
                report_html_n(f, rp_row_ok(y) ? y->output : y->error, 2000);
                if (y->parsed) {
                    fputs(" <span class=\"dim\">&rarr; ", f);
                    report_html_n(f, y->parsed, 200);
                    fputs("</span>", f);
                }
                fputs("</td></tr>", f);
            }
            fputs("</table></details></td></tr>\n", f);
        }
        i = j;
    }
    fputs("</tbody></table>", f);
    if (groups > shown)
        fprintf(f, "<p class=\"note\">Showing the first %zu of %zu samples; <code>llava-eval export</code> "
                   "or the store has them all.</p>", shown, groups);
    fputs("<p class=\"note\">Thumbnails are not embedded: the report never reads image files.</p></section>\n", f);
    free(v);
}

/* ---- embedded data ---------------------------------------------------------------------- */

/* One cell's accuracy points for the JSON data block. */
static void data_cell(hw *h, const cell *c, void *ctx)
{
    FILE *f = h->f;
    int *first = ctx;
    for (size_t k = 0; k < c->rs->n; k++) {
        size_t n = collect(h, c->run, c->suite, c->quant, c->rs->v[k], NULL, ANY_DETAIL);
        if (!n) continue;
        agg a = agg_rows(h, n);
        fprintf(f, "%s{\"run_id\":%lld,\"suite\":", *first ? "" : ",", (long long)c->run->id);
        *first = 0;
        report_json_str(f, c->suite);
        fputs(",\"quant\":", f);
        report_json_str(f, c->quant);
        fprintf(f, ",\"resolution\":%d,\"n\":%zu,\"value\":", c->rs->v[k], a.n);
        report_json_num(f, a.est);
        fputs(",\"ci\":[", f);
        report_json_num(f, a.lo);
        fputc(',', f);
        report_json_num(f, a.hi);
        fputs("]}", f);
    }
}

static void data_block(hw *h)
{
    FILE *f = h->f;
    fputs("<script type=\"application/json\" id=\"llava-eval-data\">{\"generator\":\"llava-eval report\",\"runs\":[", f);
    for (size_t i = 0; i < h->nruns; i++) {
        const rp_run *r = &h->runs[i];
        fprintf(f, "%s{\"id\":%lld,\"name\":", i ? "," : "", (long long)r->id);
        report_json_str(f, r->name);
        fputs(",\"suite\":", f);
        report_json_str(f, r->suite_name);
        fputs(",\"mode\":", f);
        report_json_str(f, r->mode);
        fputs(",\"model_sha256\":", f);
        report_json_str(f, r->model_sha256);
        fputc('}', f);
    }
    fputs("],\"accuracy\":[", f);
    int first = 1;
    each_cell(h, SIZE_MAX, 0, data_cell, &first);
    fputs("]}</script>\n", f);
}

int report_html_write(FILE *f, const rp_run *runs, size_t nruns, const char *source)
{
    hw h = {f, runs, nruns, NULL, NULL, NULL, 0};
    size_t maxrows = 1;
    for (size_t i = 0; i < nruns; i++)
        if (runs[i].nrows > maxrows) maxrows = runs[i].nrows;
    h.buf = malloc(maxrows * sizeof *h.buf);
    h.v = malloc(maxrows * sizeof *h.v);
    h.cl = malloc(maxrows * sizeof *h.cl);
    if (!h.buf || !h.v || !h.cl) { free(h.buf); free(h.v); free(h.cl); return -1; }

    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "img-src data:; script-src 'none'; base-uri 'none'; form-action 'none'\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"referrer\" content=\"no-referrer\">\n<title>llava-eval report</title>\n<style>", f);
    fputs(style, f);
    fputs("</style></head><body>\n<header><h1>llava-eval report</h1><p>", f);
    fprintf(f, "%zu run%s: ", nruns, nruns == 1 ? "" : "s");
    for (size_t i = 0; i < nruns; i++) {
        if (i) fputs(", ", f);
        report_html_n(f, runs[i].name, 60);
    }
    fputs("</p></header>\n<nav><a href=\"#summary\">runs</a><a href=\"#metrics\">metrics</a>"
          "<a href=\"#resolution\">resolution</a><a href=\"#detail\">detail loss</a><a href=\"#pope\">POPE</a>"
          "<a href=\"#quant\">quantization</a><a href=\"#confusion\">confusion</a><a href=\"#roc\">ROC</a>"
          "<a href=\"#samples\">samples</a></nav>\n<main>\n", f);
    section_summary(&h, source);
    section_detail(&h);
    section_resolution(&h);
    section_metrics(&h);
    section_pope(&h);
    section_quant(&h);
    section_confusion(&h);
    section_roc(&h);
    section_samples(&h);
    fputs("</main>\n", f);
    data_block(&h);
    fputs("</body></html>\n", f);
    free(h.buf);
    free(h.v);
    free(h.cl);
    return h.oom ? -1 : 0;
}
