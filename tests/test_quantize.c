/* tests/test_quantize.c — 'llava-eval quantize': F16 -> Q8_0 gives llama-quantize's
 * tensors byte for byte; Q5_1 (no fixture file of its own) stays close to F16;
 * bad arguments are refused without writing OUT. */
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/gguf.h"
#include "engine/quant.h"

static void test_q8_0_matches_llama_quantize(void)
{
    const char *in = t_fixture("tiny-llava/text.gguf"), *ref = t_fixture("tiny-llava/text-Q8_0.gguf");
    if (!in || !ref) T_SKIP("shared fixtures absent");
    char out[256];
    snprintf(out, sizeof out, "%s/q8.gguf", t_tmpdir());
    t_proc p;
    const char *argv[] = {"quantize", in, out, "Q8_0", NULL};
    t_run(&p, NULL, 0, argv);
    T_CHECK(p.rc == 0, "quantize: %s", p.err);
    t_proc_free(&p);
    lv_error err;
    lv_gguf *a = lv_gguf_open(out, &err), *b = lv_gguf_open(ref, &err);
    T_CHECK(a && b, "open: %s", err.msg);
    if (a && b) {
        T_EQ_INT(lv_gguf_n_tensors(a), lv_gguf_n_tensors(b));
        T_EQ_INT(lv_gguf_n_kv(a), lv_gguf_n_kv(b));
        for (int64_t i = 0; i < lv_gguf_n_tensors(a); i++) {
            const lv_gguf_tensor *x = lv_gguf_tensor_at(a, i), *y = lv_gguf_find_tensor(b, x->name);
            T_CHECK(y && x->type == y->type && x->nbytes == y->nbytes && memcmp(x->data, y->data, x->nbytes) == 0,
                    "tensor %s differs from llama-quantize's", x->name);
        }
        uint32_t ft;
        T_CHECK(lv_gguf_get_u32(a, "general.file_type", &ft, &err) == 0 && ft == 7, "file_type %u", ft);
    }
    lv_gguf_close(a);
    lv_gguf_close(b);
    unlink(out);
}

static void test_q5_1_close_to_f16(void)
{
    const char *in = t_fixture("tiny-llava/text.gguf");
    if (!in) T_SKIP("shared fixtures absent");
    char out[256];
    snprintf(out, sizeof out, "%s/q51.gguf", t_tmpdir());
    t_proc p;
    const char *argv[] = {"quantize", in, out, "q5_1", NULL};
    t_run(&p, NULL, 0, argv);
    T_CHECK(p.rc == 0, "quantize: %s", p.err);
    t_proc_free(&p);
    lv_error err;
    lv_gguf *a = lv_gguf_open(out, &err), *f = lv_gguf_open(in, &err);
    T_CHECK(a && f, "open: %s", err.msg);
    int n2d = 0;
    for (int64_t i = 0; a && f && i < lv_gguf_n_tensors(a); i++) {
        const lv_gguf_tensor *x = lv_gguf_tensor_at(a, i), *y = lv_gguf_find_tensor(f, x->name);
        if (x->n_dims < 2) { T_CHECK(x->type == LV_TYPE_F32, "%s stays F32", x->name); continue; }
        T_CHECK(x->type == LV_TYPE_Q5_1, "%s is %s", x->name, lv_type_info(x->type)->name);
        int64_t n = (int64_t)(x->ne[0] * x->ne[1]);
        float *u = malloc((size_t)n * 4), *v = malloc((size_t)n * 4);
        lv_dequantize_row(x->type, x->data, u, n);
        lv_dequantize_row(y->type, y->data, v, n);
        double se = 0, sv = 0;
        for (int64_t k = 0; k < n; k++) { se += (u[k] - v[k]) * (double)(u[k] - v[k]); sv += (double)v[k] * v[k]; }
        /* 5-bit asymmetric blocks on Gaussian weights: about 2-3 % relative RMS */
        T_CHECK(sqrt(se / sv) < 0.05, "%s: relative RMS error %.4f", x->name, sqrt(se / sv));
        free(u); free(v);
        n2d++;
    }
    T_EQ_INT(n2d, 15);
    lv_gguf_close(a);
    lv_gguf_close(f);
    unlink(out);
}

static void test_bad_arguments(void)
{
    const char *in = t_fixture("vocab/ggml-vocab-llama-spm.gguf");
    if (!in) T_SKIP("fixtures absent");
    char out[256];
    snprintf(out, sizeof out, "%s/never.gguf", t_tmpdir());
    const char *cases[][5] = {
        {"quantize", in, out, "Q9_9", NULL},
        {"quantize", in, out, "Q8_K", NULL},
        {"quantize", in, in, "Q8_0", NULL},
        {"quantize", "/nonexistent.gguf", out, "Q8_0", NULL},
        {"quantize", in, out, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_proc p;
        t_run(&p, NULL, 0, cases[i]);
        T_CHECK(p.rc == 2 && strncmp(p.err, "llava-eval: ", 12) == 0, "case %zu: exit %d, %s", i, p.rc, p.err);
        T_CHECK(access(out, F_OK) != 0, "case %zu wrote OUT", i);
        t_proc_free(&p);
    }
}

int main(void)
{
    T_RUN(test_q8_0_matches_llama_quantize);
    T_RUN(test_q5_1_close_to_f16);
    T_RUN(test_bad_arguments);
    T_MAIN_END();
}
