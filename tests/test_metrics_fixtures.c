/* tests/test_metrics_fixtures.c — every line of every file in shared/fixtures/metrics
 * (produced by the official evaluators) through `llava-eval score` and through the C
 * API: each expected field we compute must match (floats within 1e-9, strings equal). */
#include "tests/test.h"
#include "metrics/metrics.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>

/* Deep comparison: numbers within 1e-9, strings equal, arrays element-wise, objects
 * on every key of `want`. Writes the first difference's path into where. */
static int json_match(const cJSON *want, const cJSON *got, char *where, size_t wl)
{
    if (!got) { snprintf(where, wl, "missing"); return 0; }
    if (cJSON_IsNumber(want)) {
        if (!cJSON_IsNumber(got) || fabs(want->valuedouble - got->valuedouble) > 1e-9) {
            snprintf(where, wl, "%.17g != %.17g", got->valuedouble, want->valuedouble);
            return 0;
        }
        return 1;
    }
    if (cJSON_IsString(want)) {
        if (!cJSON_IsString(got) || strcmp(want->valuestring, got->valuestring)) {
            snprintf(where, wl, "\"%s\" != \"%s\"", cJSON_IsString(got) ? got->valuestring : "?", want->valuestring);
            return 0;
        }
        return 1;
    }
    if (cJSON_IsNull(want)) {
        if (!cJSON_IsNull(got)) snprintf(where, wl, "want null");
        return cJSON_IsNull(got);
    }
    if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(got) || cJSON_GetArraySize(want) != cJSON_GetArraySize(got)) {
            snprintf(where, wl, "array size %d != %d", cJSON_IsArray(got) ? cJSON_GetArraySize(got) : -1, cJSON_GetArraySize(want));
            return 0;
        }
        for (int i = 0; i < cJSON_GetArraySize(want); i++)
            if (!json_match(cJSON_GetArrayItem(want, i), cJSON_GetArrayItem(got, i), where, wl)) return 0;
        return 1;
    }
    if (cJSON_IsObject(want)) {
        const cJSON *w;
        cJSON_ArrayForEach(w, want) {
            if (!json_match(w, cJSON_GetObjectItemCaseSensitive(got, w->string), where, wl)) {
                char sub[200];
                snprintf(sub, sizeof sub, "%s", where);
                snprintf(where, wl, "%s: %s", w->string, sub);
                return 0;
            }
        }
        return 1;
    }
    return cJSON_Compare(want, got, 1);
}

typedef struct {
    const char *metric, *file;
    const char *fields[12];   /* the expect fields `score METRIC` must print */
} fixture_spec;

static const fixture_spec specs[] = {
    {"vqa", "metrics/vqa.jsonl", {"vqa", "vqa_raw", "textvqa"}},
    {"anls", "metrics/anls.jsonl", {"anls", "anls_stvqa", "nls_best"}},
    {"yesno-parse", "metrics/yesno-parse.jsonl", {"pope", "mme"}},
    {"yesno", "metrics/yesno.jsonl",
     {"TP", "FP", "TN", "FN", "accuracy", "precision", "recall", "f1", "yes_ratio"}},
    {"mme", "metrics/mme.jsonl", {"tasks", "perception", "cognition"}},
    {"chair", "metrics/chair.jsonl",
     {"words", "node_words", "hallucinated", "chair_s", "chair_i", "recall", "n_captions",
      "n_mentions", "n_hallucinated_captions", "n_hallucinated_mentions"}},
};

/* Splits a JSONL buffer into parsed objects (caller deletes each). */
static size_t parse_lines(char *buf, cJSON **out, size_t max)
{
    size_t n = 0;
    for (char *line = strtok(buf, "\n"); line && n < max; line = strtok(NULL, "\n"))
        if ((out[n] = cJSON_Parse(line)) != NULL) n++;
    return n;
}

static void check_fixture(const fixture_spec *s)
{
    const char *path = t_fixture(s->file);
    enum { MAXL = 1024 };
    static cJSON *want[MAXL], *got[MAXL];
    size_t nw, ng, compared = 0;
    char *text;
    t_proc p;
    if (!path) T_SKIP("%s not found (set LLAVA_EVAL_FIXTURES)", s->file);
    text = t_read_file(path, NULL);
    T_CHECK(text != NULL, "read %s", path);
    if (!text) return;
    nw = parse_lines(text, want, MAXL);
    free(text);
    const char *argv[] = {"score", s->metric, path, NULL};
    T_CHECK(t_run(&p, NULL, 0, argv) == 0, "run");
    T_EQ_INT(p.rc, 0);
    T_CHECK(p.err_len == 0, "stderr: %s", p.err);
    ng = parse_lines(p.out, got, MAXL);
    T_EQ_INT(ng, nw);
    for (size_t i = 0; i < nw && i < ng; i++) {
        const cJSON *id = cJSON_GetObjectItem(want[i], "id");
        const cJSON *exp = cJSON_GetObjectItem(want[i], "expect");
        T_CHECK(cJSON_Compare(id, cJSON_GetObjectItem(got[i], "id"), 1), "line %zu: id", i + 1);
        for (int f = 0; s->fields[f]; f++) {
            const cJSON *w = cJSON_GetObjectItem(exp, s->fields[f]);
            char where[256] = "";
            if (!w) continue; /* e.g. aggregate CHAIR lines have no `words` */
            compared++;
            T_CHECK(json_match(w, cJSON_GetObjectItem(got[i], s->fields[f]), where, sizeof where),
                    "%s %s.%s: %s", s->metric, id ? id->valuestring : "?", s->fields[f], where);
        }
    }
    T_CHECK(compared > nw, "compared only %zu fields", compared);
    fprintf(stderr, "  %s: %zu lines, %zu fields compared\n", s->file, nw, compared);
    for (size_t i = 0; i < nw; i++) cJSON_Delete(want[i]);
    for (size_t i = 0; i < ng; i++) cJSON_Delete(got[i]);
    t_proc_free(&p);
}

static void test_cli_vqa(void) { check_fixture(&specs[0]); }
static void test_cli_anls(void) { check_fixture(&specs[1]); }
static void test_cli_yesno_parse(void) { check_fixture(&specs[2]); }
static void test_cli_yesno(void) { check_fixture(&specs[3]); }
static void test_cli_mme(void) { check_fixture(&specs[4]); }
static void test_cli_chair(void) { check_fixture(&specs[5]); }

/* Runs fn on every line of a fixture file, parsed. */
static void each_line(const char *rel, void (*fn)(const cJSON *line))
{
    const char *path = t_fixture(rel);
    char *text, *save = NULL;
    if (!path) { t_skipf("%s not found", rel); return; }
    text = t_read_file(path, NULL);
    T_CHECK(text != NULL, "read %s", path);
    for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(l);
        T_CHECK(j != NULL, "parse %s", rel);
        if (j) fn(j);
        cJSON_Delete(j);
    }
    free(text);
}

static const char **strings(const cJSON *arr, size_t *n)
{
    const cJSON *it;
    const char **v = malloc(((size_t)cJSON_GetArraySize(arr) + 1) * sizeof *v);
    *n = 0;
    cJSON_ArrayForEach(it, arr) v[(*n)++] = it->valuestring;
    return v;
}

/* The C API on the same vectors, plus the normalized predictions (`norm`). */
static void api_vqa_line(const cJSON *j)
{
    const char *id = cJSON_GetObjectItem(j, "id")->valuestring;
    const char *pred = cJSON_GetObjectItem(j, "pred")->valuestring;
    const cJSON *exp = cJSON_GetObjectItem(j, "expect"), *norm = cJSON_GetObjectItem(j, "norm");
    static const struct { const char *key; metric_vqa_variant v; } cols[] = {
        {"vqa", METRIC_VQA}, {"vqa_raw", METRIC_VQA_RAW}, {"textvqa", METRIC_TEXTVQA},
    };
    size_t n;
    const char **ans = strings(cJSON_GetObjectItem(j, "answers"), &n);
    for (int c = 0; c < 3; c++) {
        const cJSON *w = cJSON_GetObjectItem(exp, cols[c].key);
        double v = -1;
        int rc = metric_vqa_score(cols[c].v, pred, ans, n, &v);
        if (cJSON_IsNull(w)) T_CHECK(rc == METRIC_NODATA, "%s %s: rc %d, want no data", id, cols[c].key, rc);
        else T_CHECK(rc == METRIC_OK && fabs(v - w->valuedouble) <= 1e-9, "%s %s: %g want %g", id, cols[c].key, v, w->valuedouble);
    }
    char *e = metric_vqa_evalai(pred), *r = metric_vqa_normalize(pred);
    T_EQ_STR(e, cJSON_GetObjectItem(norm, "evalai")->valuestring);
    T_EQ_STR(r, cJSON_GetObjectItem(norm, "vqaeval")->valuestring);
    free(e);
    free(r);
    free(ans);
}

static void api_anls_line(const cJSON *j)
{
    const char *id = cJSON_GetObjectItem(j, "id")->valuestring;
    const cJSON *exp = cJSON_GetObjectItem(j, "expect");
    size_t n;
    const char **ans = strings(cJSON_GetObjectItem(j, "answers"), &n);
    double a = -1, best = -1, st = -1;
    T_EQ_INT(metric_anls(cJSON_GetObjectItem(j, "pred")->valuestring, ans, n, &a, &best), METRIC_OK);
    T_CHECK(fabs(a - cJSON_GetObjectItem(exp, "anls")->valuedouble) <= 1e-9, "%s anls %g", id, a);
    T_CHECK(fabs(best - cJSON_GetObjectItem(exp, "nls_best")->valuedouble) <= 1e-9, "%s nls_best %g", id, best);
    int rc = metric_anls_stvqa(cJSON_GetObjectItem(j, "pred")->valuestring, ans, n, &st);
    const cJSON *w = cJSON_GetObjectItem(exp, "anls_stvqa");
    if (cJSON_IsNull(w)) T_EQ_INT(rc, METRIC_NODATA);
    else T_CHECK(rc == METRIC_OK && fabs(st - w->valuedouble) <= 1e-9, "%s anls_stvqa %g", id, st);
    free(ans);
}

/* POPE and MME parses of single answers, and the per-item parses of the sets. */
static void api_yesno_parse_line(const cJSON *j)
{
    const char *a = cJSON_GetObjectItem(j, "answer")->valuestring;
    const cJSON *exp = cJSON_GetObjectItem(j, "expect"), *mme = cJSON_GetObjectItem(exp, "mme");
    static const char *names[] = {"no", "yes", "other"};
    T_EQ_STR(names[metric_pope_parse(a)], cJSON_GetObjectItem(exp, "pope")->valuestring);
    if (cJSON_IsString(mme)) {
        metric_yesno m;
        T_EQ_INT(metric_mme_parse(a, &m), METRIC_OK);
        T_EQ_STR(names[m], mme->valuestring);
    }
}

static void api_set_parsed_line(const cJSON *j)
{
    const cJSON *items = cJSON_GetObjectItem(j, "items"), *parsed = cJSON_GetObjectItem(j, "expect_parsed");
    int is_mme = cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "task") != NULL;
    static const char *names[] = {"no", "yes", "other"};
    for (int i = 0; i < cJSON_GetArraySize(items); i++) {
        const char *a = cJSON_GetObjectItem(cJSON_GetArrayItem(items, i), "answer")->valuestring;
        metric_yesno v = METRIC_OTHER;
        if (is_mme) T_EQ_INT(metric_mme_parse(a, &v), METRIC_OK);
        else v = metric_pope_parse(a);
        T_EQ_STR(names[v], cJSON_GetArrayItem(parsed, i)->valuestring);
    }
}

static void test_api_vqa(void) { each_line("metrics/vqa.jsonl", api_vqa_line); }
static void test_api_anls(void) { each_line("metrics/anls.jsonl", api_anls_line); }
static void test_api_yesno_parse(void) { each_line("metrics/yesno-parse.jsonl", api_yesno_parse_line); }
static void test_api_set_parses(void)
{
    each_line("metrics/yesno.jsonl", api_set_parsed_line);
    each_line("metrics/mme.jsonl", api_set_parsed_line);
}

int main(void)
{
    T_RUN(test_cli_vqa);
    T_RUN(test_cli_anls);
    T_RUN(test_cli_yesno_parse);
    T_RUN(test_cli_yesno);
    T_RUN(test_cli_mme);
    T_RUN(test_cli_chair);
    T_RUN(test_api_vqa);
    T_RUN(test_api_anls);
    T_RUN(test_api_yesno_parse);
    T_RUN(test_api_set_parses);
    T_MAIN_END();
}
