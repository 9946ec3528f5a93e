/* tests/test_generate.c — 'llava-eval generate' end to end: text-only prompts, image
 * rows from --image-embd, teacher forcing, the JSON contract of cli.md, dumps, sampling
 * and the one-line errors. Cases that need the tiny-llava fixtures skip without them. */
#include "tests/test.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>

static const char *fx(const char *rel) { return t_fixture(rel); }

/* Runs generate with argv (NULL-terminated); returns the parsed JSON of stdout or NULL. */
static cJSON *run_json(t_proc *p, const char *const *argv)
{
    t_run(p, NULL, 0, argv);
    return p->rc == 0 ? cJSON_Parse(p->out) : NULL;
}

static int arr_len(cJSON *o, const char *k) { return cJSON_GetArraySize(cJSON_GetObjectItem(o, k)); }

static void help_lists_options(void)
{
    t_proc p;
    const char *argv[] = {"generate", "--help", NULL};
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 0);
    T_CHECK(strstr(p.out, "--image-embd") && strstr(p.out, "--force-ids") && strstr(p.out, "--dump-logits"),
            "help: %s", p.out);
    t_proc_free(&p);
}

static void text_only_greedy(void)
{
    const char *m = fx("tiny-llava/text-Q4_K_M.gguf");
    if (!m) T_SKIP("fixtures absent");
    t_proc p;
    const char *argv[] = {"generate", "-m", m, "-p", "Hello, who are you?", "-n", "6", "--json", NULL};
    cJSON *j = run_json(&p, argv);
    T_CHECK(j != NULL, "rc %d, stderr %s", p.rc, p.err);
    if (j) {
        cJSON *pid = cJSON_GetObjectItem(j, "prompt_ids"), *steps = cJSON_GetObjectItem(j, "steps");
        T_EQ_INT(cJSON_GetArrayItem(pid, 0)->valueint, 1);   /* BOS */
        T_EQ_INT(cJSON_GetObjectItem(j, "n_image_tokens")->valueint, 0);
        T_CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "text")), "text");
        T_CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "timings_ms"), "prefill") != NULL, "timings");
        const int n = arr_len(j, "ids");
        T_CHECK(n >= 1 && n <= 6, "%d ids", n);
        T_EQ_INT(cJSON_GetArraySize(steps), n);
        for (int i = 0; i < n; i++) {
            cJSON *s = cJSON_GetArrayItem(steps, i), *top = cJSON_GetObjectItem(s, "top");
            T_EQ_INT(cJSON_GetObjectItem(s, "id")->valueint, cJSON_GetObjectItem(s, "argmax")->valueint);
            T_EQ_INT(cJSON_GetArraySize(top), 5);
            T_EQ_INT(cJSON_GetArrayItem(cJSON_GetArrayItem(top, 0), 0)->valueint, cJSON_GetObjectItem(s, "id")->valueint);
            double lp = cJSON_GetObjectItem(s, "logprob")->valuedouble;
            T_CHECK(lp <= 0 && lp > -100, "logprob %g", lp);
        }
        cJSON_Delete(j);
    }
    t_proc_free(&p);
    /* plain output: the text and a newline */
    const char *argv2[] = {"generate", "-m", m, "-p", "Hello, who are you?", "-n", "6", NULL};
    t_run(&p, NULL, 0, argv2);
    T_EQ_INT(p.rc, 0);
    T_CHECK(p.out_len > 1 && p.out[p.out_len - 1] == '\n', "plain output '%s'", p.out);
    t_proc_free(&p);
}

/* Case c01 through --image-embd, teacher-forced on the reference ids, with the dump. */
static void image_embd_forced_c01(void)
{
    const char *m = fx("tiny-llava/text.gguf"), *e = fx("tiny-llava/refs/dumps/c01.embd.f32");
    const char *gp = fx("tiny-llava/refs/generation/text.json");
    const char *l0p = fx("tiny-llava/refs/dumps/c01__text.logits0.f32");
    if (!m || !e || !gp || !l0p) T_SKIP("fixtures absent");
    size_t glen, l0len, dlen;
    char *gs = t_read_file(gp, &glen);
    cJSON *gen = cJSON_Parse(gs), *ref = cJSON_GetArrayItem(cJSON_GetObjectItem(gen, "results"), 0);
    cJSON *gids = cJSON_GetObjectItem(ref, "generated_ids");
    char force[256] = "";
    for (int i = 0; i < 6; i++)
        snprintf(force + strlen(force), sizeof force - strlen(force), "%s%d", i ? "," : "",
                 cJSON_GetArrayItem(gids, i)->valueint);
    char dump[512];
    snprintf(dump, sizeof dump, "%s/logits.f32", t_tmpdir());
    t_proc p;
    const char *argv[] = {"generate", "-m", m, "-p", "What is in this picture?", "--image-embd", e, "--force-ids",
                          force, "--top", "3", "--dump-logits", dump, "-n", "2", "--json", "-t", "2", NULL};
    cJSON *j = run_json(&p, argv);
    T_CHECK(j != NULL, "rc %d, stderr %s", p.rc, p.err);
    if (j) {
        cJSON *pid = cJSON_GetObjectItem(j, "prompt_ids"), *sys = cJSON_GetObjectItem(ref, "system_tokens");
        cJSON *usr = cJSON_GetObjectItem(ref, "user_tokens");
        const int ns = cJSON_GetArraySize(sys), nu = cJSON_GetArraySize(usr);
        T_EQ_INT(cJSON_GetArraySize(pid), ns + 576 + nu);
        int ok = 1;
        for (int i = 0; i < ns + 576 + nu; i++) {
            int want = i < ns ? cJSON_GetArrayItem(sys, i)->valueint
                     : i < ns + 576 ? -1 : cJSON_GetArrayItem(usr, i - ns - 576)->valueint;
            ok &= cJSON_GetArrayItem(pid, i)->valueint == want;
        }
        T_CHECK(ok, "prompt_ids != system_tokens + 576 × -1 + user_tokens");
        T_EQ_INT(cJSON_GetObjectItem(j, "n_image_tokens")->valueint, 576);
        T_EQ_INT(arr_len(j, "ids"), 6);   /* forcing overrides -n */
        cJSON *steps = cJSON_GetObjectItem(j, "steps"), *rsteps = cJSON_GetObjectItem(ref, "steps");
        for (int i = 0; i < 6; i++) {
            cJSON *s = cJSON_GetArrayItem(steps, i), *rs = cJSON_GetArrayItem(rsteps, i);
            T_EQ_INT(cJSON_GetObjectItem(s, "id")->valueint, cJSON_GetArrayItem(gids, i)->valueint);
            T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(s, "top")), 3);
            if (cJSON_GetObjectItem(rs, "margin")->valuedouble >= 0.25)
                T_EQ_INT(cJSON_GetObjectItem(s, "argmax")->valueint, cJSON_GetObjectItem(rs, "id")->valueint);
            /* the reported top logits match the reference's top-5 values */
            cJSON *top0 = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "top"), 0);
            cJSON *rtop0 = cJSON_GetArrayItem(cJSON_GetObjectItem(rs, "top5"), 0);
            T_NEAR(cJSON_GetArrayItem(top0, 1)->valuedouble, cJSON_GetArrayItem(rtop0, 1)->valuedouble, 0.15);
        }
        cJSON_Delete(j);
    }
    float *l0 = (float *)t_read_file(l0p, &l0len), *d = (float *)t_read_file(dump, &dlen);
    T_CHECK(d && dlen == 32000 * 4, "dump of %zu bytes", dlen);
    if (d && l0 && dlen == l0len) {
        double mx = 0;
        for (size_t i = 0; i < dlen / 4; i++) mx = fmax(mx, fabs((double)d[i] - l0[i]));
        T_CHECK(mx <= 0.15, "dumped logits differ from logits0 by %.4f", mx);
    }
    free(l0);
    free(d);
    t_proc_free(&p);
    cJSON_Delete(gen);
    free(gs);
}

/* --template raw with <image>: BOS, the image rows, then the user part (case c09). */
static void raw_template_places_image(void)
{
    const char *m = fx("tiny-llava/text-Q4_0.gguf"), *e = fx("tiny-llava/refs/dumps/c02.embd.f32");
    if (!m || !e) T_SKIP("fixtures absent");
    t_proc p;
    const char *argv[] = {"generate", "-m", m, "--template", "raw", "-p", "<image>\nUSER:\nWhat?\nASSISTANT:\n",
                          "--image-embd", e, "-n", "1", "--json", NULL};
    cJSON *j = run_json(&p, argv);
    T_CHECK(j != NULL, "rc %d, stderr %s", p.rc, p.err);
    if (j) {
        cJSON *pid = cJSON_GetObjectItem(j, "prompt_ids");
        T_EQ_INT(cJSON_GetArrayItem(pid, 0)->valueint, 1);
        T_EQ_INT(cJSON_GetArrayItem(pid, 1)->valueint, -1);
        T_EQ_INT(cJSON_GetArrayItem(pid, 576)->valueint, -1);
        T_EQ_INT(cJSON_GetArrayItem(pid, 577)->valueint, 29871);
        T_EQ_INT(cJSON_GetArrayItem(pid, 578)->valueint, 13);
        T_EQ_STR(cJSON_GetObjectItem(j, "template")->valuestring, "raw");
        cJSON_Delete(j);
    }
    t_proc_free(&p);
}

static void sampling_is_seeded(void)
{
    const char *m = fx("tiny-llava/text-Q8_0.gguf");
    if (!m) T_SKIP("fixtures absent");
    t_proc a, b;
    const char *argv[] = {"generate", "-m", m, "-p", "Tell me a story.", "-n", "8", "--temp", "1.5", "--seed", "5", NULL};
    t_run(&a, NULL, 0, argv);
    t_run(&b, NULL, 0, argv);
    T_EQ_INT(a.rc, 0);
    T_CHECK(a.out_len == b.out_len && memcmp(a.out, b.out, a.out_len) == 0, "same seed, different text");
    t_proc_free(&a);
    t_proc_free(&b);
    /* re-quantized at load to a type with no fixture file */
    const char *argv2[] = {"generate", "-m", m, "-p", "Hi", "-n", "2", "--requant", "q5_1", NULL};
    t_run(&a, NULL, 0, argv2);
    T_EQ_INT(a.rc, 0);
    t_proc_free(&a);
}

static void errors_are_one_line(void)
{
    const char *m = fx("tiny-llava/text-Q4_0.gguf");
    if (!m) T_SKIP("fixtures absent");
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.f32", t_tmpdir());
    static float junk[256];
    t_write_file(bad, junk, 1000);          /* not rows of 256 floats */
    char good[512];
    snprintf(good, sizeof good, "%s/good.f32", t_tmpdir());
    t_write_file(good, junk, 1024);         /* one row */
    char nan_file[512];
    static float nan_row[256];
    nan_row[17] = NAN;
    snprintf(nan_file, sizeof nan_file, "%s/nan.f32", t_tmpdir());
    t_write_file(nan_file, nan_row, sizeof nan_row);
    static const struct {
        const char *argv[12];
        const char *want;
    } rows[] = {
        {{"generate", "-p", "hi", NULL}, "-m"},
        {{"generate", "-m", "/nonexistent.gguf", "-p", "hi", NULL}, "nonexistent"},
        {{"generate", "-m", "@M", "-p", "hi", "--image-embd", "@BAD", NULL}, "n_embd"},
        {{"generate", "-m", "@M", "-p", "hi", "--template", "chatml", NULL}, "template"},
        {{"generate", "-m", "@M", "-p", "hi", "--force-ids", "1,x", NULL}, "force-ids"},
        {{"generate", "-m", "@M", "-p", "hi", "--force-ids", "99999", NULL}, "out of range"},
        {{"generate", "-m", "@M", "-p", "hi", "--requant", "q9_9", NULL}, "requant"},
        {{"generate", "-m", "@M", "-p", "hi", "--image", "x.png", NULL}, "mmproj"},
        {{"generate", "-m", "@M", "--template", "raw", "-p", "hi", "--image-embd", "@GOOD", NULL}, "<image>"},
        {{"generate", "-m", "@M", "-p", "hi", "-n", "-3", NULL}, "n-predict"},
        {{"generate", "-m", "@M", "-p", "hi", "--image-embd", "@NAN", NULL}, "not finite"},
        {{"generate", "-m", "@M", "-p", "hi", "--image-embd", "/nonexistent.f32", NULL}, "nonexistent.f32"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *argv[12];
        for (int k = 0; k < 12; k++) {
            const char *a = rows[i].argv[k];
            argv[k] = !a ? NULL : strcmp(a, "@M") == 0 ? m : strcmp(a, "@BAD") == 0 ? bad
                    : strcmp(a, "@GOOD") == 0 ? good : strcmp(a, "@NAN") == 0 ? nan_file : a;
        }
        t_proc p;
        t_run(&p, NULL, 0, argv);
        T_CHECK(p.rc == 2, "row %zu: exit %d (%s)", i, p.rc, p.err);
        T_CHECK(strncmp(p.err, "llava-eval: ", 12) == 0 && strstr(p.err, rows[i].want) &&
                    strchr(p.err, '\n') == p.err + p.err_len - 1,
                "row %zu: stderr '%s' (want '%s')", i, p.err, rows[i].want);
        t_proc_free(&p);
    }
}

int main(void)
{
    T_RUN(help_lists_options);
    T_RUN(text_only_greedy);
    T_RUN(image_embd_forced_c01);
    T_RUN(raw_template_places_image);
    T_RUN(sampling_is_seeded);
    T_RUN(errors_are_one_line);
    T_MAIN_END();
}
