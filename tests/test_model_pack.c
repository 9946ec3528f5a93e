/* tests/test_model_pack.c — 'llava-eval model pack': a spec with every key type, a
 * copy row, F32 and F16 tensors becomes a GGUF file whose keys, shapes and values
 * read back exactly (F16 rounded to nearest even); bad specs are refused without
 * writing OUT. The committed trained model (models/tiny-llava-procedural-*) loads in
 * the engine and answers a suite's yes/no probe in the format it was trained on, and
 * models/train/check_rerun.sh judges it against itself. */
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/gguf.h"
#include "engine/quant.h"

static const char *path_in(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", t_tmpdir(), name);
    return buf[k];
}

/* 2x3 F16 tensor at offset 0, a 3-float F32 tensor at offset 6. */
static void write_data(void)
{
    float v[9] = {1.0f, -2.5f, 0.1f, 65504.0f, 1e-8f, 3.14159265f, 7.0f, -0.0f, 1e-3f};
    T_CHECK(t_write_file(path_in("w.bin"), v, sizeof v) == 0, "write w.bin");
}

static int pack(const char *spec_text, const char *out, const char *vocab, t_proc *p)
{
    T_CHECK(t_write_file(path_in("spec.json"), spec_text, strlen(spec_text)) == 0, "write spec");
    const char *argv[] = {"model", "pack", path_in("spec.json"), out, vocab ? "--vocab" : NULL, vocab, NULL};
    return t_run(p, NULL, 0, argv);
}

static void test_round_trip(void)
{
    const char *vocab = t_fixture("vocab/ggml-vocab-llama-spm.gguf");
    if (!vocab) T_SKIP("vocab fixture absent");
    write_data();
    const char *spec =
        "{\"data\": \"w.bin\", \"kv\": ["
        "[\"general.architecture\", \"str\", \"llama\"],"
        "[\"llama.block_count\", \"u32\", 3],"
        "[\"x.i\", \"i32\", -7],"
        "[\"llama.rope.freq_base\", \"f32\", 10000.0],"
        "[\"clip.use_gelu\", \"bool\", false],"
        "[\"clip.vision.image_mean\", \"f32[]\", [0.48145466, 0.4578275, 0.40821073]],"
        "[\"x.pins\", \"i32[]\", [336, 672]],"
        "[\"tokenizer.*\", \"copy\", null]],"
        "\"tensors\": ["
        "{\"name\": \"a.weight\", \"type\": \"F16\", \"ne\": [3, 2], \"offset\": 0},"
        "{\"name\": \"b.bias\", \"type\": \"F32\", \"ne\": [3], \"offset\": 6}]}";
    char out[512];
    snprintf(out, sizeof out, "%s", path_in("out.gguf"));
    t_proc p;
    pack(spec, out, vocab, &p);
    T_CHECK(p.rc == 0, "pack: %s", p.err);
    t_proc_free(&p);
    lv_error err;
    lv_gguf *g = lv_gguf_open(out, &err), *v = lv_gguf_open(vocab, &err);
    T_CHECK(g && v, "open: %s", err.msg);
    if (!g || !v) goto done;
    uint32_t u;
    float f;
    int b;
    char *s = NULL;
    T_CHECK(lv_gguf_get_str(g, "general.architecture", &s, &err) == 0 && strcmp(s, "llama") == 0, "architecture");
    lv_free(s);
    T_CHECK(lv_gguf_get_u32(g, "llama.block_count", &u, &err) == 0 && u == 3, "block_count");
    T_CHECK(lv_gguf_get_f32(g, "llama.rope.freq_base", &f, &err) == 0 && f == 10000.0f, "freq_base");
    T_CHECK(lv_gguf_get_bool(g, "clip.use_gelu", &b, &err) == 0 && b == 0, "use_gelu");
    T_CHECK(lv_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &u, &err) == 0 && u == 1, "copied bos id");
    /* every tokenizer.* key copied, in order, after the 7 written ones */
    int64_t nt = 0;
    for (int64_t i = 0; i < lv_gguf_n_kv(v); i++)
        if (strncmp(lv_gguf_kv_key(v, i), "tokenizer.", 10) == 0) {
            T_EQ_STR(lv_gguf_kv_key(g, 7 + nt), lv_gguf_kv_key(v, i));
            nt++;
        }
    T_EQ_INT(lv_gguf_n_kv(g), 7 + nt);
    T_CHECK(nt >= 8, "tokenizer keys copied: %lld", (long long)nt);

    const lv_gguf_tensor *a = lv_gguf_find_tensor(g, "a.weight"), *c = lv_gguf_find_tensor(g, "b.bias");
    T_CHECK(a && a->type == LV_TYPE_F16 && a->n_dims == 2 && a->ne[0] == 3 && a->ne[1] == 2, "a.weight shape/type");
    T_CHECK(c && c->type == LV_TYPE_F32 && c->n_dims == 1 && c->ne[0] == 3, "b.bias shape/type");
    if (a && c) {
        const float want[9] = {1.0f, -2.5f, 0.1f, 65504.0f, 1e-8f, 3.14159265f, 7.0f, -0.0f, 1e-3f};
        const uint16_t *h = a->data;
        for (int i = 0; i < 6; i++) T_CHECK(h[i] == lv_fp32_to_fp16(want[i]), "a[%d] = %04x", i, h[i]);
        T_CHECK(memcmp(c->data, want + 6, 3 * sizeof(float)) == 0, "b.bias values");
    }
done:
    lv_gguf_close(g);
    lv_gguf_close(v);
    unlink(out);
}

static void test_bad_specs(void)
{
    write_data();
    char out[512];
    snprintf(out, sizeof out, "%s", path_in("bad.gguf"));
    const char *specs[] = {
        "not json",
        "{\"data\": \"w.bin\", \"kv\": []}",
        "{\"data\": \"missing.bin\", \"kv\": [], \"tensors\": []}",
        /* runs past the data file */
        "{\"data\": \"w.bin\", \"kv\": [], \"tensors\": [{\"name\": \"t\", \"type\": \"F32\", \"ne\": [4], \"offset\": 6}]}",
        "{\"data\": \"w.bin\", \"kv\": [], \"tensors\": [{\"name\": \"t\", \"type\": \"Q4_0\", \"ne\": [2], \"offset\": 0}]}",
        "{\"data\": \"w.bin\", \"kv\": [], \"tensors\": [{\"name\": \"t\", \"type\": \"F32\", \"ne\": [-1], \"offset\": 0}]}",
        "{\"data\": \"w.bin\", \"kv\": [[\"k\", \"u32\", -1]], \"tensors\": []}",
        "{\"data\": \"w.bin\", \"kv\": [[\"k\", \"u64\", 1]], \"tensors\": []}",
        "{\"data\": \"w.bin\", \"kv\": [[\"tokenizer.*\", \"copy\", null]], \"tensors\": []}",
        "{\"data\": \"w.bin\", \"kv\": [[\"k\", \"str\", \"a\"], [\"k\", \"str\", \"b\"]], \"tensors\": []}",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        t_proc p;
        pack(specs[i], out, NULL, &p);
        T_CHECK(p.rc == 2 && strncmp(p.err, "llava-eval: ", 12) == 0, "spec %zu: exit %d, %s", i, p.rc, p.err);
        T_CHECK(access(out, F_OK) != 0, "spec %zu wrote OUT", i);
        t_proc_free(&p);
    }
}

/* The trained files: every text variant answers " Yes" or " No" and stops at EOS. */
static void test_committed_model_answers(void)
{
    const char *mm = "models/tiny-llava-procedural-mmproj.gguf";
    if (access(mm, F_OK) != 0) T_SKIP("no trained model in models/");
    char suite[512];
    snprintf(suite, sizeof suite, "%s/os", t_tmpdir());
    t_proc p;
    const char *mk[] = {"suite", "make", "object-size", "-o", suite, "--n", "2", "--seed", "42", NULL};
    t_run(&p, NULL, 0, mk);
    T_CHECK(p.rc == 0, "suite make: %s", p.err);
    t_proc_free(&p);
    char img[600];
    snprintf(img, sizeof img, "%s/images/00000.png", suite);
    const char *texts[] = {"models/tiny-llava-procedural-text-F16.gguf", "models/tiny-llava-procedural-text-Q8_0.gguf",
                           "models/tiny-llava-procedural-text-Q4_0.gguf"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *argv[] = {"generate", "-m", texts[i], "--mmproj", mm, "--image", img, "-p",
                              "Is there a red circle in the image?\nAnswer the question using a single word or phrase.",
                              "-n", "4", "-t", "1", NULL};
        t_run(&p, NULL, 0, argv);
        T_CHECK(p.rc == 0, "%s: %s", texts[i], p.err);
        T_CHECK(p.out && (strcmp(p.out, " Yes\n") == 0 || strcmp(p.out, " No\n") == 0 ||
                          strcmp(p.out, " Yes") == 0 || strcmp(p.out, " No") == 0),
                "%s answered '%s'", texts[i], p.out ? p.out : "");
        t_proc_free(&p);
    }
}

/* models/train/check_rerun.sh on the committed model against itself: every probe paired,
 * delta 0, exit 0; a second check in the same W with fewer seeds pairs only those; a W
 * made with another N, a training seed and a missing file are refused with exit 2. */
static int check_rerun(const char *env, const char *cand, const char *tag, char **out, char **err)
{
    const char *bin = getenv("LLAVA_EVAL_BIN");
    char cmd[2048], o[600], e[600];
    snprintf(o, sizeof o, "%s/cr-%s.out", t_tmpdir(), tag);
    snprintf(e, sizeof e, "%s/cr-%s.err", t_tmpdir(), tag);
    snprintf(cmd, sizeof cmd, "W=%s/cr T=1 NT=8 BIN=%s %s sh models/train/check_rerun.sh %s >%s 2>%s",
             t_tmpdir(), bin ? bin : "./llava-eval", env, cand, o, e);
    int rc = system(cmd);
    *out = t_read_file(o, NULL);
    *err = t_read_file(e, NULL);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_check_rerun_self(void)
{
    const char *P = "models/tiny-llava-procedural";
    if (access("models/tiny-llava-procedural-mmproj.gguf", F_OK) != 0) T_SKIP("no trained model in models/");
    if (!t_have_python3()) T_SKIP("python3 absent");
    char *out, *err;
    int rc = check_rerun("N=8 SEEDS='777 101'", P, "a", &out, &err);
    T_EQ_INT(rc, 0);
    T_CHECK(out && strstr(out, "within 2 points of the committed model (+0.00)"), "%s%s", out ? out : "", err ? err : "");
    T_CHECK(out && strstr(out, "yes/no pooled                            16 "), "16 probes pooled: %s", out ? out : "");
    T_CHECK(out && strstr(out, "text-777                                  8 "), "8 words: %s", out ? out : "");
    free(out), free(err);
    /* the same W, one seed: its 8 probes alone, though the stores hold 101's too */
    rc = check_rerun("N=8 SEEDS=777", P, "b", &out, &err);
    T_EQ_INT(rc, 0);
    T_CHECK(out && strstr(out, "yes/no pooled                             8 ") && !strstr(out, "os-101"),
            "777 alone: %s%s", out ? out : "", err ? err : "");
    free(out), free(err);
    rc = check_rerun("N=9 SEEDS=777", P, "c", &out, &err);
    T_EQ_INT(rc, 2);
    T_CHECK(err && strstr(err, "has 8 probes, not N=9"), "%s", err ? err : "");
    free(out), free(err);
    rc = check_rerun("N=8 SEEDS='777 1001'", P, "d", &out, &err);
    T_EQ_INT(rc, 2);
    T_CHECK(err && strstr(err, "seed 1001 is used in training"), "%s", err ? err : "");
    free(out), free(err);
    rc = check_rerun("N=8", "models/no-such-model", "e", &out, &err);
    T_EQ_INT(rc, 2);
    T_CHECK(err && strstr(err, "no-such-model-text-F16.gguf: no such file"), "%s", err ? err : "");
    free(out), free(err);
}

int main(void)
{
    T_RUN(test_round_trip);
    T_RUN(test_bad_specs);
    T_RUN(test_committed_model_answers);
    T_RUN(test_check_rerun_self);
    T_MAIN_END();
}
