/* tests/test_report.c — the HTML report: escaping units, a report from a rich store
 * (two runs, two quants, five resolutions, detail sizes, categories, yes/no labels,
 * choice margins and log-probs) and one from a hostile store, both opened in headless
 * Chromium by tests/tools/report_check.py (skipped when Chromium is absent): main
 * elements present, no script error, no dialog, hostile text rendered as text. */
#include "tests/test.h"

#include <cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/store.h"
#include "reports/report_esc.h"

static char *esc(void (*fn)(FILE *, const char *), const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, s);
    fclose(f);
    return buf;
}

static void test_escaping(void)
{
    char *h = esc(report_html, "</script><script>alert(1)</script>\"'&");
    T_EQ_STR(h, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;");
    free(h);
    h = esc(report_html, "a\xff" "b\xc3" "\x01" "\xe2\x80\xa8");    /* bad bytes, control, U+2028 */
    T_EQ_STR(h, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd\xe2\x80\xa8");
    free(h);
    char *j = esc(report_json_str, "</script><!--\xe2\x80\xa8\xe2\x80\xa9\"\\\n\xff");
    T_EQ_STR(j, "\"\\u003c/script\\u003e\\u003c!--\\u2028\\u2029\\\"\\\\\\n\xef\xbf\xbd\"");
    free(j);
    char *x = esc(report_xml, "a<b>&\x0b'");
    T_EQ_STR(x, "a&lt;b&gt;&amp;\xef\xbf\xbd&apos;");
    free(x);
}

/* ---- stores ------------------------------------------------------------------------ */

static double u01(unsigned k)
{
    uint64_t z = (uint64_t)k * 0x9E3779B97F4A7C15ull + 0x1234567ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* A procedural object-presence suite: 60 images x 2 questions, detail sizes 4..64 px,
 * answered well once the detail covers about 3 px of the model input. */
static const char *rich_store(void)
{
    static char path[256];
    lv_error err;
    snprintf(path, sizeof path, "%s/rich.db", t_tmpdir());
    unlink(path);
    store *s = store_open(path, 0, &err);
    if (!s) return NULL;
    static const int res[] = {56, 112, 224, 336, 0};
    static const int detail[] = {4, 8, 16, 32, 64};
    static const char *const cats[] = {"random", "popular", "adversarial"};
    static const char *const quants[] = {"f16", "q4_0"};
    for (int run = 0; run < 2; run++) {
        store_run r = {0};
        r.name = run ? "llava-cand" : "llava-base";
        r.backend = "native";
        r.config_hash = run ? "c2" : "c1";
        r.config_json = "{\"resolutions\":[56,112,224,336,\"native\"]}";
        r.mode = "choice";
        r.suite_name = "object-size";
        r.suite_task = "yesno";
        r.template_name = "llava-1.5";
        r.prompt_hash = "ab12";
        r.model_path = "models/text-Q4_0.gguf";
        r.model_sha256 = "0123456789abcdef0123456789abcdef";
        r.quants_json = run ? "[\"f16\"]" : "[\"f16\",\"q4_0\"]";
        r.resolutions_json = "[56,112,224,336,0]";
        int64_t id;
        int created;
        if (store_run_open(s, &r, &id, &created, &err)) break;
        for (int img = 0; img < 60; img++)
            for (int q = 0; q < 2; q++)
                for (int ri = 0; ri < 5; ri++)
                    for (int qi = 0; qi < (run ? 1 : 2); qi++) {
                        char sid[32], image[32], meta[64], lp[256], prompt[96];
                        int d = detail[img % 5], yes = q == 0;
                        double eff = d * (res[ri] ? res[ri] : 504) / 336.0;
                        double pc = 0.5 + 0.46 / (1 + exp(-(eff - 3.0 - run - 0.7 * qi) * 1.6));
                        unsigned key = (unsigned)(((run * 60 + img) * 2 + q) * 10 + ri * 2 + qi);
                        int correct = u01(key) < pc;
                        int says_yes = correct ? yes : !yes;
                        double strength = (pc - 0.5) * 8 + u01(key + 7777) * 2 - 1;
                        snprintf(sid, sizeof sid, "os-%03d-%c", img, yes ? 'p' : 'n');
                        snprintf(image, sizeof image, "images/%03d.png", img);
                        snprintf(meta, sizeof meta, "{\"detail_px\": %d, \"shape\": \"circle\"}", d);
                        snprintf(prompt, sizeof prompt, "Is there a %s circle in the image?", yes ? "red" : "blue");
                        double p1 = says_yes ? 0.55 + 0.4 * pc : 0.45 - 0.4 * pc, w = qi ? 0.04 * u01(key + 99) : 0;
                        snprintf(lp, sizeof lp, "[{\"id\":%d,\"logprob\":%.9g,\"top\":[[3869,%.9g],[1939,%.9g]]}]",
                                 says_yes ? 3869 : 1939, log(says_yes ? p1 - w : 1 - p1 - w), log(p1 - w),
                                 log(1 - p1 - w));
                        store_result x = {0};
                        x.run_id = id;
                        x.suite = "object-size";
                        x.sample_id = sid;
                        x.image = image;
                        x.category = cats[img % 3];
                        x.resolution = res[ri];
                        x.quant = quants[qi];
                        x.prompt = prompt;
                        x.output = says_yes ? "Yes" : "No";
                        x.parsed = says_yes ? "yes" : "no";
                        x.label = yes ? "yes" : "no";
                        x.score = correct;
                        x.correct = correct;
                        x.choice_margin = (says_yes ? 1 : -1) * fabs(strength);
                        x.logprobs_json = lp;
                        x.meta_json = meta;
                        x.status = "ok";
                        x.encode_ms = x.prefill_ms = x.decode_ms = NAN;
                        store_result_put(s, &x, &err);
                    }
    }
    store_close(s);
    return path;
}

static const char *const attacks[] = {
    "</script><script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "[link](javascript:alert(1)) <!-- \xe2\x80\xa8 \xff\xfe <style>*{display:none}</style>",
};

static const char *hostile_store(void)
{
    static char path[256];
    lv_error err;
    snprintf(path, sizeof path, "%s/hostile.db", t_tmpdir());
    unlink(path);
    store *s = store_open(path, 0, &err);
    if (!s) return NULL;
    store_run r = {0};
    r.name = attacks[0];
    r.backend = attacks[1];
    r.config_hash = "h";
    r.config_json = attacks[0];
    r.mode = attacks[2];
    r.suite_name = attacks[1];
    r.template_name = attacks[3];
    r.model_path = attacks[2];
    int64_t id;
    int created;
    store_run_open(s, &r, &id, &created, &err);
    for (int i = 0; i < 8; i++) {
        char sid[64];
        snprintf(sid, sizeof sid, "%s%d", i % 2 ? "<b>" : "\"'", i);
        store_result x = {0};
        x.run_id = id;
        x.suite = attacks[i % 4];
        x.sample_id = sid;
        x.image = attacks[1];
        x.category = attacks[(i + 1) % 4];
        x.resolution = i % 2 ? 224 : 0;
        x.quant = attacks[(i + 2) % 4];
        x.prompt = attacks[(i + 3) % 4];
        x.output = attacks[i % 4];
        x.parsed = attacks[i % 4];
        x.label = i % 3 ? "yes" : attacks[0];
        x.score = i % 2;
        x.correct = i % 2;
        x.choice_margin = i - 3.5;
        x.logprobs_json = i % 2 ? "[{\"id\":1,\"logprob\":-0.1,\"top\":[[1,-0.1],[2,\"</script>\"]]}]" : "{{{";
        x.meta_json = i % 2 ? "{\"detail_px\": 1e308}" : "{\"detail_px\": \"</script>\"}";
        x.status = i == 7 ? "error" : "ok";
        x.error = attacks[1];
        x.encode_ms = x.prefill_ms = x.decode_ms = NAN;
        store_result_put(s, &x, &err);
    }
    store_metric m = {id, attacks[0], attacks[1], attacks[2], 224, attacks[3], attacks[0], 0.5, 0.4, 0.6, 8};
    store_metrics_replace(s, id, &m, 1, &err);
    store_close(s);
    return path;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

/* Runs the browser check; 0 ok, 77 no chromium, else failed (output in *log). */
static int browser_check(const char *html, const char *png, const char *const *must, int nmust, char **log)
{
    char cmd[4096], out[300];
    snprintf(out, sizeof out, "%s.check.txt", html);
    int n = snprintf(cmd, sizeof cmd, "python3 tests/tools/report_check.py '%s' '%s'", html, png);
    for (int i = 0; i < nmust; i++) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", must[i]);
    snprintf(cmd + n, sizeof cmd - (size_t)n, " > '%s' 2>&1", out);
    int rc = system(cmd);
    *log = t_read_file(out, NULL);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
    return rc == 127 ? 77 : rc;   /* no python3: skip as for no chromium */
}

static void test_rich_report(void)
{
    const char *db = rich_store();
    T_CHECK(db != NULL, "store");
    if (!db) return;
    char html[300], png[300];
    snprintf(html, sizeof html, "%s/rich.html", t_tmpdir());
    snprintf(png, sizeof png, "%s/rich.png", t_tmpdir());
    t_proc p;
    const char *argv[] = {"report", "--db", db, "-o", html, NULL};
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    char *doc = t_read_file(html, NULL);
    T_CHECK(doc != NULL, "report written");
    if (!doc) return;
    T_CHECK(strstr(doc, "Content-Security-Policy") != NULL, "CSP meta tag");
    T_EQ_INT(count(doc, "<script"), 1);
    T_CHECK(strstr(doc, "detail 4 px") && strstr(doc, "detail 64 px"), "detail-loss curves");
    T_CHECK(strstr(doc, "AUC") && strstr(doc, "KL divergence") && strstr(doc, "q4_0 vs f16"), "ROC and KLD");
    T_CHECK(strstr(doc, "class=\"flip\"") != NULL, "some samples flip");
    T_CHECK(strstr(doc, "http://") == NULL || count(doc, "http://") == count(doc, "http://www.w3.org/2000/svg"),
            "no external reference");
    T_CHECK(strstr(doc, "https://") == NULL, "no external reference");
    free(doc);
    /* the same command again replaces the file atomically (no temp file left) */
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    T_CHECK(access(html, F_OK) == 0, "report exists");
    DIR *dir = opendir(t_tmpdir());
    for (struct dirent *e; dir && (e = readdir(dir));)
        T_CHECK(!strstr(e->d_name, ".tmp."), "temporary file left behind: %s", e->d_name);
    if (dir) closedir(dir);

    char *log = NULL;
    int rc = browser_check(html, png, NULL, 0, &log);
    if (rc == 77) { free(log); T_SKIP("chromium not installed"); }
    T_CHECK(rc == 0, "browser check: %s", log ? log : "(no output)");
    free(log);
    struct stat st;
    T_CHECK(stat(png, &st) == 0 && st.st_size > 10000, "screenshot written");
}

static void test_hostile_report(void)
{
    const char *db = hostile_store();
    T_CHECK(db != NULL, "store");
    if (!db) return;
    char html[300], png[300];
    snprintf(html, sizeof html, "%s/hostile.html", t_tmpdir());
    snprintf(png, sizeof png, "%s/hostile.png", t_tmpdir());
    t_proc p;
    const char *argv[] = {"report", "--db", db, "-o", html, NULL};
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    size_t len = 0;
    char *doc = t_read_file(html, &len);
    T_CHECK(doc != NULL, "report written");
    if (!doc) return;
    T_EQ_INT(count(doc, "<script"), 1);
    T_EQ_INT(count(doc, "</script>"), 1);
    T_EQ_INT(count(doc, "<img"), 0);
    T_EQ_INT(count(doc, "<a href=\"javascript"), 0);
    T_EQ_INT(count(doc, "<!--"), 0);
    T_CHECK(strstr(doc, "\xff") == NULL, "bad UTF-8 replaced");
    T_CHECK(strstr(doc, "\\u003c/script\\u003e") != NULL, "JSON block escapes <");
    T_CHECK(strstr(doc, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;") != NULL, "escaped in HTML");
    free(doc);
    const char *must[] = {"</script><script>alert(1)</script>", "\"><img src=x onerror=alert(1)>"};
    /* single quotes go through the shell: neither string holds one */
    char *log = NULL;
    int rc = browser_check(html, png, must, 2, &log);
    if (rc == 77) { free(log); T_SKIP("chromium not installed"); }
    T_CHECK(rc == 0, "browser check: %s", log ? log : "(no output)");
    free(log);
}

static void test_report_errors(void)
{
    t_proc p;
    char bogus[300];
    snprintf(bogus, sizeof bogus, "%s/not-a-db", t_tmpdir());
    t_write_file(bogus, "hello, this is not SQLite at all, just text....................................", 80);
    const char *cases[][8] = {
        {"report", NULL},
        {"report", "--db", "/nonexistent/x.db", NULL},
        {"report", "--db", bogus, NULL},
        {"report", "--db", rich_store(), "no-such-run", NULL},
        {"report", "--db", rich_store(), "-o", "/nonexistent/dir/r.html", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_run(&p, NULL, 0, cases[i]);
        T_CHECK(p.rc == 2 && strncmp(p.err, "llava-eval: ", 12) == 0, "case %zu: rc %d, %s", i, p.rc, p.err);
        t_proc_free(&p);
    }
}

/* export: every row, JSONL lines parse (cJSON), CSV parses with python3's csv module
 * with the same number of fields on every record, hostile text included. */
static void test_export(void)
{
    const char *db = hostile_store();
    if (!db) T_SKIP("no store");
    t_proc p;
    const char *argv[] = {"export", "--db", db, "--format", "jsonl", NULL};
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 0);
    int lines = 0;
    for (char *line = p.out, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *o = cJSON_Parse(line);
        T_CHECK(o != NULL, "JSONL line %d parses: %s", lines, line);
        const cJSON *sid = o ? cJSON_GetObjectItem(o, "sample_id") : NULL;
        if (cJSON_IsString(sid) && strcmp(sid->valuestring, "<b>1") == 0) {
            /* meta {"detail_px": 1e308} is valid JSON: kept as an object */
            T_CHECK(cJSON_IsObject(cJSON_GetObjectItem(o, "meta")), "meta as JSON");
            T_EQ_STR(cJSON_GetObjectItem(o, "output")->valuestring, attacks[1]);
        }
        if (cJSON_IsString(sid) && strcmp(sid->valuestring, "\"'0") == 0)   /* logprobs "{{{" */
            T_CHECK(cJSON_IsString(cJSON_GetObjectItem(o, "logprobs")), "bad JSON kept as text");
        cJSON_Delete(o);
        lines++;
    }
    T_EQ_INT(lines, 8);
    t_proc_free(&p);
    char csv[300], cmd[800];
    snprintf(csv, sizeof csv, "%s/export.csv", t_tmpdir());
    const char *argv2[] = {"export", "--db", db, "--format", "csv", "-o", csv, NULL};
    t_run(&p, NULL, 0, argv2);
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    snprintf(cmd, sizeof cmd, "python3 -c \"import csv,sys; r=list(csv.reader(open(sys.argv[1], newline='', "
             "encoding='utf-8'))); sys.exit(0 if len(r) == 9 and set(map(len, r)) == {22} and "
             "r[1][13] == '</script><script>alert(1)</script>' else 1)\" %s", csv);
    int rc = system(cmd);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127) T_SKIP("python3 not installed");
    T_CHECK(rc == 0, "CSV parses with 9 records of 22 fields");
    const char *argv3[] = {"export", "--db", db, "--format", "xml", NULL};
    t_run(&p, NULL, 0, argv3);
    T_EQ_INT(p.rc, 2);
    t_proc_free(&p);
}

int main(void)
{
    T_RUN(test_escaping);
    T_RUN(test_rich_report);
    T_RUN(test_hostile_report);
    T_RUN(test_report_errors);
    T_RUN(test_export);
    T_MAIN_END();
}
