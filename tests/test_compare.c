/* tests/test_compare.c — 'llava-eval compare' on stores built from known results:
 * deltas, McNemar p-values, Holm adjustment, flips, regressed samples, answer-token
 * KL / same-top / Δp, refusal of incomparable runs, gate exit codes, and JUnit XML
 * parsed by python3's xml.etree (tests/tools/junit_check.py).
 *
 * Expected values are computed here from the construction of the data, not by the
 * code under test: the flip counts are set by hand, McNemar's p is the binomial sum
 * written out with integer binomial coefficients, Holm is the step-down rule for two
 * p-values done by hand, KL is the three-bin sum written out with log(). */
#include "tests/test.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/store.h"

static store_run mkrun(const char *name, const char *hash, const char *prompt_hash)
{
    store_run r = {0};
    r.name = name;
    r.backend = "native";
    r.config_hash = hash;
    r.config_json = "{}";
    r.mode = "generate";
    r.suite_name = "objects";
    r.suite_task = "vqa";
    r.template_name = "llava-1.5";
    r.prompt_hash = prompt_hash;
    return r;
}

static void put(store *s, int64_t run, const char *id, const char *image, int res, const char *quant, int correct,
                const char *out, const char *logprobs)
{
    lv_error err;
    store_result r = {0};
    r.run_id = run;
    r.suite = "objects";
    r.sample_id = id;
    r.image = image;
    r.resolution = res;
    r.quant = quant;
    r.output = out;
    r.parsed = out;
    r.prompt = "What is it?";
    r.status = correct < 0 ? "error" : "ok";
    r.error = correct < 0 ? "bad image" : NULL;
    r.score = correct < 0 ? NAN : correct;
    r.correct = correct;
    r.choice_margin = NAN;
    r.logprobs_json = logprobs;
    T_CHECK(store_result_put(s, &r, &err) == 0, "put: %s", err.msg);
}

/* Store A: runs "base" and "cand" on 40 samples at 224 and 112 px, quant q4_0.
 * At 224: 20 both right, 9 right->wrong, 1 wrong->right, 10 both wrong.
 * At 112: no flips (the same outcomes in both runs: 25 right, 15 wrong).
 * Run "other" has a different prompt hash. One error row in cand (not paired). */
static const char *store_a(void)
{
    static char path[256];
    lv_error err;
    snprintf(path, sizeof path, "%s/cmp-a.db", t_tmpdir());
    unlink(path);
    store *s = store_open(path, 0, &err);
    if (!s) return NULL;
    int64_t b, c, o;
    int created;
    store_run rb = mkrun("base", "h1", "p1"), rc = mkrun("cand", "h2", "p1"), ro = mkrun("other", "h3", "p2");
    store_run_open(s, &rb, &b, &created, &err);
    store_run_open(s, &rc, &c, &created, &err);
    store_run_open(s, &ro, &o, &created, &err);
    for (int i = 0; i < 40; i++) {
        char id[32], img[32];
        snprintf(id, sizeof id, "s%02d", i);
        snprintf(img, sizeof img, "img%02d.png", i);
        int a224 = i < 20 ? 1 : i < 29 ? 1 : i < 30 ? 0 : 0;
        int c224 = i < 20 ? 1 : i < 29 ? 0 : i < 30 ? 1 : 0;
        int a112 = i < 25;
        put(s, b, id, img, 224, "q4_0", a224, a224 ? "a cat" : "a dog", NULL);
        put(s, c, id, img, 224, "q4_0", c224, c224 ? "a cat" : "<b>a dog</b>", NULL);
        put(s, b, id, img, 112, "q4_0", a112, "x", NULL);
        put(s, c, id, img, 112, "q4_0", a112, "x", NULL);
        put(s, o, id, img, 224, "q4_0", a224, "x", NULL);
    }
    put(s, c, "s99", "img99.png", 224, "q4_0", -1, NULL, NULL);
    store_close(s);
    return path;
}

static double binom(int n, int k)
{
    double c = 1;
    for (int i = 0; i < k; i++) c = c * (n - i) / (i + 1);
    return c;
}

static const cJSON *find_metric(const cJSON *root, int res, const char *name)
{
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItem(root, "groups")) {
        if (cJSON_GetObjectItem(g, "resolution")->valueint != res) continue;
        const cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItem(g, "metrics"))
            if (strcmp(cJSON_GetObjectItem(m, "name")->valuestring, name) == 0) return m;
    }
    return NULL;
}

static void test_numbers(void)
{
    const char *db = store_a();
    T_CHECK(db != NULL, "store");
    if (!db) return;
    t_proc p;
    const char *argv[] = {"compare", "--db", db, "base", "cand", "--json", NULL};
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 0);
    cJSON *root = cJSON_Parse(p.out);
    T_CHECK(root != NULL, "JSON output parses: %s", p.err);
    if (!root) { t_proc_free(&p); return; }
    T_EQ_INT(cJSON_GetObjectItem(root, "pairs")->valueint, 80);
    T_EQ_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "errors"), "cand")->valueint, 1);
    const cJSON *m = find_metric(root, 224, "accuracy");
    T_CHECK(m != NULL, "accuracy at 224");
    if (m) {
        /* base 29/40, cand 21/40, delta (c - b)/N = (1 - 9)/40 */
        T_NEAR(cJSON_GetObjectItem(m, "base")->valuedouble, 29.0 / 40, 1e-12);
        T_NEAR(cJSON_GetObjectItem(m, "cand")->valuedouble, 21.0 / 40, 1e-12);
        T_NEAR(cJSON_GetObjectItem(m, "delta")->valuedouble, -8.0 / 40, 1e-12);
        /* exact two-sided McNemar: 2 * sum_{i<=1} C(10,i) / 2^10 */
        double p_exact = 2 * (binom(10, 0) + binom(10, 1)) / 1024.0;
        T_NEAR(cJSON_GetObjectItem(m, "p")->valuedouble, p_exact, 1e-12);
        /* Holm over the two tests (224: p_exact, 112: 1): smallest times 2 */
        T_NEAR(cJSON_GetObjectItem(m, "p_holm")->valuedouble, 2 * p_exact, 1e-12);
        const cJSON *fl = cJSON_GetObjectItem(m, "flips");
        T_EQ_INT(cJSON_GetObjectItem(fl, "right_to_wrong")->valueint, 9);
        T_EQ_INT(cJSON_GetObjectItem(fl, "wrong_to_right")->valueint, 1);
        const cJSON *ci = cJSON_GetObjectItem(m, "ci");
        double lo = cJSON_GetArrayItem(ci, 0)->valuedouble, hi = cJSON_GetArrayItem(ci, 1)->valuedouble;
        T_CHECK(lo < -0.2 && hi > -0.2 && hi < 0, "CI [%g, %g] holds the delta and excludes 0", lo, hi);
    }
    const cJSON *m112 = find_metric(root, 112, "accuracy");
    T_CHECK(m112 && cJSON_GetObjectItem(m112, "p")->valuedouble == 1, "no flips: p = 1");
    T_CHECK(m112 && cJSON_GetObjectItem(m112, "delta")->valuedouble == 0, "no flips: delta 0");
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "regressed")), 9);
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "regressed"), 0);
    T_CHECK(r0 && strcmp(cJSON_GetObjectItem(r0, "sample_id")->valuestring, "s20") == 0, "first regressed is s20");
    T_CHECK(r0 && strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(r0, "cand"), "output")->valuestring,
                         "<b>a dog</b>") == 0, "outputs round-trip through JSON");
    T_CHECK(strstr(p.out, "\\u003cb\\u003e") != NULL, "< escaped in JSON output");
    cJSON_Delete(root);
    t_proc_free(&p);

    /* the text table names the flips and the regressed samples */
    const char *argv2[] = {"compare", "--db", db, "base", "cand", NULL};
    t_run(&p, NULL, 0, argv2);
    T_EQ_INT(p.rc, 0);
    T_CHECK(strstr(p.out, "accuracy") && strstr(p.out, "mcnemar") && strstr(p.out, ": 9 / 1"),
            "text output: %s", p.out);
    t_proc_free(&p);
}

static void test_gates_and_junit(void)
{
    const char *db = store_a();
    if (!db) T_SKIP("no store");
    char junit[256], cmd[600];
    snprintf(junit, sizeof junit, "%s/junit.xml", t_tmpdir());
    t_proc p;
    /* drop 0.2 > 0.1 with Holm p 0.043 < 0.05: crossed at 224; 112 passes */
    const char *argv[] = {"compare", "--db", db, "base", "cand", "--gate", "accuracy:0.1", "--gate", "pope_f1:0.01",
                          "--junit", junit, NULL};
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 3);
    T_CHECK(strstr(p.out, "CROSSED") != NULL, "gate shown crossed: %s", p.out);
    t_proc_free(&p);
    snprintf(cmd, sizeof cmd, "python3 tests/tools/junit_check.py %s > %s.txt 2>&1", junit, junit);
    int rc = system(cmd);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127) {
        fprintf(stderr, "  python3 not installed: JUnit not parsed\n");
    } else if (rc != 0) {
        T_CHECK(0, "JUnit does not parse");
    } else {
        snprintf(cmd, sizeof cmd, "%s.txt", junit);
        char *txt = t_read_file(cmd, NULL);
        /* 2 gates x 2 groups; pope_f1 is not available (no yes/no labels): skipped */
        T_CHECK(txt && strstr(txt, "root=testsuites testsuites=1 testcases=4 failures=1 skipped=2 tests_attr=4 "
                                   "failures_attr=1"), "counts: %s", txt ? txt : "");
        T_CHECK(txt && strstr(txt, "case llava-eval.compare.objects|accuracy res=224 quant=q4_0|failure"), "%s", txt ? txt : "");
        T_CHECK(txt && strstr(txt, "case llava-eval.compare.objects|accuracy res=112 quant=q4_0|pass"), "%s", txt ? txt : "");
        free(txt);
    }
    /* a larger allowance passes */
    const char *argv2[] = {"compare", "--db", db, "base", "cand", "--gate", "accuracy:25%", NULL};
    t_run(&p, NULL, 0, argv2);
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    /* candidate better than base: never crossed */
    const char *argv3[] = {"compare", "--db", db, "cand", "base", "--gate", "accuracy:0", NULL};
    t_run(&p, NULL, 0, argv3);
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    /* bad gates and runs */
    const char *bad[][8] = {
        {"compare", "--db", db, "base", "cand", "--gate", "accuracy", NULL},
        {"compare", "--db", db, "base", "cand", "--gate", "nope:0.1", NULL},
        {"compare", "--db", db, "base", "cand", "--gate", "accuracy:-1", NULL},
        {"compare", "--db", db, "base", "missing", NULL},
        {"compare", "--db", db, "base", NULL},
        {"compare", "--db", "/nonexistent/x.db", "base", "cand", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t_run(&p, NULL, 0, bad[i]);
        T_CHECK(p.rc == 2 && strncmp(p.err, "llava-eval: ", 12) == 0, "bad case %zu: rc %d err %s", i, p.rc, p.err);
        t_proc_free(&p);
    }
}

static void test_refuse(void)
{
    const char *db = store_a();
    if (!db) T_SKIP("no store");
    t_proc p;
    const char *argv[] = {"compare", "--db", db, "base", "other", NULL};
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 2);
    T_CHECK(strstr(p.err, "prompt") && strstr(p.err, "--force"), "says what differs: %s", p.err);
    t_proc_free(&p);
    const char *argv2[] = {"compare", "--db", db, "base", "other", "--force", NULL};
    t_run(&p, NULL, 0, argv2);
    T_EQ_INT(p.rc, 0);
    T_CHECK(strstr(p.err, "warning") != NULL, "warns: %s", p.err);
    t_proc_free(&p);
}

/* Quantization comparison: f16 run vs q4_0 run on the same samples, with log-probs.
 * One answer token per sample; P = {1: .7, 2: .2}, Q = {1: .6, 2: .3} for every
 * sample, so KL = .7 ln(.7/.6) + .2 ln(.2/.3) + .1 ln(.1/.1), same top 1, dp = -.1. */
static void test_quant(void)
{
    char path[256];
    lv_error err;
    snprintf(path, sizeof path, "%s/cmp-q.db", t_tmpdir());
    unlink(path);
    store *s = store_open(path, 0, &err);
    T_CHECK(s != NULL, "open");
    if (!s) return;
    int64_t a, b;
    int created;
    store_run ra = mkrun("f16", "h1", "p"), rb = mkrun("q4", "h2", "p");
    store_run_open(s, &ra, &a, &created, &err);
    store_run_open(s, &rb, &b, &created, &err);
    char lp[256], lq[256];
    snprintf(lp, sizeof lp, "[{\"id\":1,\"logprob\":%.17g,\"top\":[[1,%.17g],[2,%.17g]]}]", log(.7), log(.7), log(.2));
    snprintf(lq, sizeof lq, "[{\"id\":1,\"logprob\":%.17g,\"top\":[[1,%.17g],[2,%.17g]]}]", log(.6), log(.6), log(.3));
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "q%d", i);
        put(s, a, id, id, 224, "f16", 1, "yes", lp);
        put(s, b, id, id, 224, "q4_0", 1, "yes", lq);
    }
    /* a hostile log-prob record is ignored, not a crash */
    put(s, a, "q9", "q9", 224, "f16", 1, "yes", "[{\"id\":\"x\"},{\"top\":[[1e300,5]]}]");
    put(s, b, "q9", "q9", 224, "q4_0", 1, "yes", "{\"tokens\":7}");
    store_close(s);
    t_proc p;
    const char *argv[] = {"compare", "--db", path, "f16", "q4", "--json", NULL};
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 0);
    cJSON *root = cJSON_Parse(p.out);
    T_CHECK(root && cJSON_IsTrue(cJSON_GetObjectItem(root, "quant_comparison")), "quant comparison: %s %s", p.out, p.err);
    const cJSON *g = root ? cJSON_GetArrayItem(cJSON_GetObjectItem(root, "groups"), 0) : NULL;
    const cJSON *t = g ? cJSON_GetObjectItem(g, "tokens") : NULL;
    T_CHECK(t != NULL, "token statistics present");
    if (t) {
        double kl = .7 * log(.7 / .6) + .2 * log(.2 / .3) + .1 * log(.1 / .1);
        T_EQ_INT(cJSON_GetObjectItem(t, "n")->valueint, 5);
        T_NEAR(cJSON_GetObjectItem(t, "kld_mean")->valuedouble, kl, 1e-12);
        T_NEAR(cJSON_GetObjectItem(t, "same_top")->valuedouble, 1.0, 1e-12);
        T_NEAR(cJSON_GetObjectItem(t, "dp_mean")->valuedouble, -0.1, 1e-12);
    }
    cJSON_Delete(root);
    t_proc_free(&p);
}

int main(void)
{
    T_RUN(test_numbers);
    T_RUN(test_gates_and_junit);
    T_RUN(test_refuse);
    T_RUN(test_quant);
    T_MAIN_END();
}
