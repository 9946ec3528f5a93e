/* harness/run_metrics.c — run_compute_metrics (run.h): the metrics table of a run,
 * rebuilt from its stored 'ok' results, per (suite, resolution, quant) and per
 * category, each with its interval (Wilson, or a bootstrap over images). */
#include "harness/run.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

typedef struct {
    char *suite, *quant, *category, *image, *output, *label;
    int   resolution;
} row;

typedef struct {
    row   *v;
    size_t n, cap;
    char  *config;
} rows;

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static int collect(void *ctx, int nc, const char *const *c, const char *const *names)
{
    rows *r = ctx;
    (void)nc; (void)names;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 256;
        row *nv = realloc(r->v, ncap * sizeof *nv);
        if (!nv) return -1;
        r->v = nv;
        r->cap = ncap;
    }
    row *x = &r->v[r->n++];
    x->suite = dup_or_empty(c[0]);
    x->resolution = c[1] ? atoi(c[1]) : 0;
    x->quant = dup_or_empty(c[2]);
    x->category = dup_or_empty(c[3]);
    x->image = dup_or_empty(c[4]);
    x->output = dup_or_empty(c[5]);
    x->label = c[6] ? strdup(c[6]) : NULL;
    return 0;
}

static int get_config(void *ctx, int nc, const char *const *c, const char *const *names)
{
    (void)nc; (void)names;
    ((rows *)ctx)->config = c[0] ? strdup(c[0]) : NULL;
    return 0;
}

/* Metrics of the suite's list, expanded to registry names (see run.c). */
static int metric_names(const char *config, const char **out, int cap)
{
    static const char *yesno[] = {"pope_accuracy", "pope_precision", "pope_recall", "pope_f1", "pope_yes_ratio", NULL};
    static const char *chair[] = {"chair_s", "chair_i", "chair_recall", NULL};
    int n = 0;
    cJSON *j = cJSON_Parse(config ? config : "{}");
    cJSON *m = cJSON_GetObjectItem(j, "metrics");
    for (cJSON *e = m ? m->child : NULL; e && n < cap; e = e->next) {
        if (!cJSON_IsString(e)) continue;
        const char **list = strcmp(e->valuestring, "yesno") == 0 || strcmp(e->valuestring, "pope") == 0 ? yesno
                          : strcmp(e->valuestring, "chair") == 0 ? chair : NULL;
        if (list) {
            for (int k = 0; list[k] && n < cap; k++) out[n++] = list[k];
        } else if (metric_find(e->valuestring)) {
            out[n++] = metric_find(e->valuestring)->name;
        }
    }
    cJSON_Delete(j);
    return n;
}

/* Items of one group (and category, "" = all) with image clusters. */
typedef struct {
    metric_item *items;
    size_t      *cluster;
    char      ***refs;
    size_t       n;
} itemset;

static void itemset_free(itemset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = 0; s->refs[i] && s->refs[i][k]; k++) free(s->refs[i][k]);
        free(s->refs[i]);
    }
    free(s->items);
    free(s->cluster);
    free(s->refs);
    memset(s, 0, sizeof *s);
}

static int build(const row *r, size_t n, const char *category, itemset *s)
{
    s->items = calloc(n ? n : 1, sizeof *s->items);
    s->cluster = calloc(n ? n : 1, sizeof *s->cluster);
    s->refs = calloc(n ? n : 1, sizeof *s->refs);
    s->n = 0;
    if (!s->items || !s->cluster || !s->refs) return -1;
    for (size_t i = 0; i < n; i++) {
        if (*category && strcmp(r[i].category, category) != 0) continue;
        metric_item *it = &s->items[s->n];
        size_t nr = 0;
        if (r[i].label && r[i].label[0] == '[') {
            cJSON *a = cJSON_Parse(r[i].label);
            int na = cJSON_GetArraySize(a);
            s->refs[s->n] = calloc((size_t)na + 1, sizeof(char *));
            for (cJSON *e = a ? a->child : NULL; e && s->refs[s->n]; e = e->next)
                if (cJSON_IsString(e)) s->refs[s->n][nr++] = strdup(e->valuestring);
            cJSON_Delete(a);
        }
        it->pred = r[i].output;
        it->refs = (const char *const *)s->refs[s->n];
        it->nrefs = nr;
        it->label = r[i].label && r[i].label[0] != '[' ? r[i].label : NULL;
        /* cluster id: index of the first row with this image */
        size_t c = i;
        for (size_t k = 0; k < i; k++)
            if (strcmp(r[k].image, r[i].image) == 0) { c = k; break; }
        s->cluster[s->n] = c;
        s->n++;
    }
    return 0;
}

int run_compute_metrics(store *st, int64_t run_id, lv_error *err)
{
    rows r = {0};
    char id[32];
    const char *params[1] = {id};
    store_metric *out = NULL;
    size_t n_out = 0, cap_out = 0;
    int rc = -1;
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    if (store_query(st, "SELECT config FROM runs WHERE id = ?1", params, 1, get_config, &r, err)) goto done;
    if (store_query(st, "SELECT suite, resolution, quant, coalesce(category,''), coalesce(image,''), output, label"
                        " FROM results WHERE run_id = ?1 AND status = 'ok' ORDER BY suite, resolution, quant, sample_id",
                    params, 1, collect, &r, err))
        goto done;
    const char *names[16];
    int nm = metric_names(r.config, names, 16);
    for (size_t g0 = 0; g0 < r.n;) {
        size_t g1 = g0;
        while (g1 < r.n && strcmp(r.v[g1].suite, r.v[g0].suite) == 0 && r.v[g1].resolution == r.v[g0].resolution &&
               strcmp(r.v[g1].quant, r.v[g0].quant) == 0)
            g1++;
        /* categories of this group: "" (all) then each distinct one */
        const char **cats = calloc(g1 - g0 + 1, sizeof *cats);
        size_t nc = 0;
        if (!cats) { lv_errorf(err, "out of memory"); goto done; }
        cats[nc++] = "";
        for (size_t i = g0; i < g1; i++) {
            size_t k;
            if (!*r.v[i].category) continue;
            for (k = 1; k < nc; k++) if (strcmp(cats[k], r.v[i].category) == 0) break;
            if (k == nc) cats[nc++] = r.v[i].category;
        }
        for (size_t ci = 0; ci < nc; ci++) {
            itemset is;
            if (build(r.v + g0, g1 - g0, cats[ci], &is)) { free(cats); itemset_free(&is); lv_errorf(err, "out of memory"); goto done; }
            for (int mi = 0; mi < nm; mi++) {
                const metric_def *d = metric_find(names[mi]);
                metric_num v;
                stats_interval iv = {0};
                if (!d || metric_apply(d, is.items, is.n, &v) < 0) continue;
                metric_interval(d, is.items, is.n, is.cluster, NULL, &iv, NULL);
                if (n_out == cap_out) {
                    cap_out = cap_out ? 2 * cap_out : 64;
                    store_metric *no = realloc(out, cap_out * sizeof *no);
                    if (!no) { free(cats); itemset_free(&is); lv_errorf(err, "out of memory"); goto done; }
                    out = no;
                }
                out[n_out++] = (store_metric){run_id, r.v[g0].suite, r.v[g0].quant, cats[ci], r.v[g0].resolution, d->name,
                                              d->variant, v.defined ? v.value : NAN, iv.defined ? iv.lo : NAN,
                                              iv.defined ? iv.hi : NAN, (int64_t)is.n};
            }
            itemset_free(&is);
        }
        /* cats point into r.v (kept until the store write below) */
        free(cats);
        g0 = g1;
    }
    rc = store_metrics_replace(st, run_id, out, (int64_t)n_out, err);
done:
    for (size_t i = 0; i < r.n; i++) {
        free(r.v[i].suite); free(r.v[i].quant); free(r.v[i].category);
        free(r.v[i].image); free(r.v[i].output); free(r.v[i].label);
    }
    free(r.v);
    free(r.config);
    free(out);
    return rc;
}
