/* tests/test_quant_dot.c — lv_vec_dot for every weight type against the exact sum of
 * dequantized weights × dequantized activations, and lv_matmul against lv_vec_dot. */
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>

#include "engine/matmul.h"
#include "engine/quant.h"

static uint64_t rng = 0x1234567887654321ull;
static double urand(void)   /* [0, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1.0p-53;
}
static float nrand(void)    /* standard normal */
{
    double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static const int weight_types[] = {
    LV_TYPE_F32, LV_TYPE_F16, LV_TYPE_BF16, LV_TYPE_Q4_0, LV_TYPE_Q4_1, LV_TYPE_Q5_0,
    LV_TYPE_Q5_1, LV_TYPE_Q8_0, LV_TYPE_Q2_K, LV_TYPE_Q3_K, LV_TYPE_Q4_K, LV_TYPE_Q5_K,
    LV_TYPE_Q6_K, LV_TYPE_IQ4_NL,
};

enum { N = 1024, ROWS = 24 };

/* A random weight row of `type` in w (n values): quantized from heavy-tailed floats
 * with the reference quantizer, or for IQ4_NL (no quantizer) random nibbles. */
static void make_row(int type, void *w, int64_t n)
{
    static float x[N];
    for (int64_t i = 0; i < n; i++) x[i] = nrand() * (urand() < 0.02 ? 8.0f : 1.0f);
    if (type == LV_TYPE_IQ4_NL) {
        lv_block_iq4_nl *b = w;
        for (int64_t i = 0; i < n / 32; i++) {
            b[i].d = lv_fp32_to_fp16((float)(0.001 + 0.02 * urand()) * (urand() < 0.5 ? -1.0f : 1.0f));
            for (int j = 0; j < 16; j++) b[i].qs[j] = (uint8_t)(urand() * 256);
        }
        return;
    }
    T_CHECK(lv_quantize_row_ref(type, x, w, n) == 0, "quantize %s", lv_type_info(type)->name);
}

static void check_type(int type)
{
    const lv_type_traits *tr = lv_type_info(type);
    uint64_t wb, ab;
    T_CHECK(lv_type_row_bytes(type, N, &wb) == 0, "row bytes");
    T_CHECK(lv_type_row_bytes(tr->vec_dot_type, N, &ab) == 0, "act row bytes");
    void *w = malloc(wb), *a = malloc(ab);
    float *wf = malloc(sizeof(float) * N), *af = malloc(sizeof(float) * N), *x = malloc(sizeof(float) * N);
    double worst = 0;
    for (int r = 0; r < ROWS; r++) {
        make_row(type, w, N);
        /* activations: normal, with a few outliers in some rows */
        for (int i = 0; i < N; i++) x[i] = nrand() * (r % 3 == 0 && urand() < 0.01 ? 30.0f : 1.0f);
        T_CHECK(lv_quantize_act(tr->vec_dot_type, x, a, N) == 0, "act %s", tr->name);
        T_CHECK(lv_dequantize_row(type, w, wf, N) == 0, "dequant %s", tr->name);
        T_CHECK(lv_dequantize_row(tr->vec_dot_type, a, af, N) == 0, "dequant act of %s", tr->name);
        double exact = 0, mag = 0, minterm = 0;
        for (int i = 0; i < N; i++) {
            exact += (double)wf[i] * (double)af[i];
            mag += fabs((double)wf[i] * (double)af[i]);
        }
        /* Q4_1/Q5_1: the min term uses s = f16(d·Σq) from the unrounded d, so it
         * differs from Σ m·a by up to ~2^-10 relative per block. */
        if (type == LV_TYPE_Q4_1 || type == LV_TYPE_Q5_1) {
            const uint8_t *wp = w;
            for (int b = 0; b < N / 32; b++) {
                uint16_t m16;
                memcpy(&m16, wp + (size_t)b * tr->bytes + 2, 2);
                double sa = 0;
                for (int i = 0; i < 32; i++) sa += af[32 * b + i];
                minterm += fabs(lv_fp16_to_fp32(m16)) * (fabs(sa) + 1e-3 * mag / N * 32);
            }
        }
        const double got = lv_vec_dot(type, N, w, a);
        const double tol = 2e-6 * mag + 2e-3 * minterm + 1e-6;
        T_CHECK(fabs(got - exact) <= tol, "%s row %d: dot %.9g, exact %.9g (tol %.3g)", tr->name, r,
                got, exact, tol);
        if (mag > 0 && fabs(got - exact) / mag > worst) worst = fabs(got - exact) / mag;
    }
    if (getenv("LV_TEST_VERBOSE")) fprintf(stderr, "  %-7s worst |dot - exact| / sum|w·a| = %.2g\n", tr->name, worst);
    free(w);
    free(a);
    free(wf);
    free(af);
    free(x);
}

static void vec_dot_every_type(void)
{
    for (size_t i = 0; i < sizeof weight_types / sizeof weight_types[0]; i++) check_type(weight_types[i]);
}

/* Hand-made blocks with known answers: all quants at their extremes. */
static void vec_dot_known_values(void)
{
    /* Q8_0 weights all 127 with d = 1/127 (f16), activations all 1.0 → ≈ 32 per block */
    lv_block_q8_0 w[2], a[2];
    float x[64];
    for (int i = 0; i < 2; i++) {
        w[i].d = lv_fp32_to_fp16(1.0f / 127);
        for (int j = 0; j < 32; j++) w[i].qs[j] = 127;
    }
    for (int i = 0; i < 64; i++) x[i] = 1.0f;
    lv_quantize_act_q8_0(x, a, 64);
    const float d = lv_fp16_to_fp32(lv_fp32_to_fp16(1.0f / 127));
    const float expect = 2 * ((float)(127 * 127 * 32) * (d * d));
    T_NEAR(lv_vec_dot(LV_TYPE_Q8_0, 64, w, a), expect, 1e-5 * expect);
    /* F32 */
    float f[4] = {1, 2, 3, 4}, g[4] = {0.5f, -1, 2, 0.25f};
    T_NEAR(lv_vec_dot(LV_TYPE_F32, 4, f, g), 0.5 - 2 + 6 + 1, 1e-6);
}

/* lv_matmul = lv_vec_dot per element (scalar path), whatever the batch and threads;
 * the SIMD F16 path agrees to float rounding. */
static void matmul_matches_vec_dot(void)
{
    const int types[] = {LV_TYPE_F16, LV_TYPE_Q4_K, LV_TYPE_Q8_0, LV_TYPE_Q5_1};
    enum { COLS = 512, OUT = 96, TOK = 5 };
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const int type = types[ti];
        const lv_type_traits *tr = lv_type_info(type);
        uint64_t rb, ab;
        lv_type_row_bytes(type, COLS, &rb);
        lv_type_row_bytes(tr->vec_dot_type, COLS, &ab);
        uint8_t *wd = malloc(rb * OUT), *act = malloc(ab);
        float *x = malloc(sizeof(float) * COLS * TOK), *y1 = malloc(sizeof(float) * OUT * TOK),
              *y2 = malloc(sizeof(float) * OUT * TOK), *y3 = malloc(sizeof(float) * OUT * TOK);
        for (int r = 0; r < OUT; r++) make_row(type, wd + r * rb, COLS);
        for (int i = 0; i < COLS * TOK; i++) x[i] = nrand();
        lv_mat W;
        lv_error err;
        T_CHECK(lv_mat_init(&W, type, COLS, OUT, wd, &err) == 0, "mat init");
        void *scratch = malloc(lv_matmul_scratch_bytes(type, COLS, TOK));
        lv_matmul_set_simd(0);
        T_CHECK(lv_matmul(&W, x, y1, TOK, scratch, 1) == 0, "matmul");
        T_CHECK(lv_matmul(&W, x, y2, TOK, scratch, 3) == 0, "matmul threads");
        for (int t = 0; t < TOK; t++) {
            lv_quantize_act(tr->vec_dot_type, x + t * COLS, act, COLS);
            for (int o = 0; o < OUT; o++) {
                float ref = lv_vec_dot(type, COLS, wd + o * rb, act);
                T_CHECK(y1[t * OUT + o] == ref, "%s: y[%d][%d] %.9g != %.9g", tr->name, t, o, y1[t * OUT + o], ref);
            }
        }
        T_CHECK(memcmp(y1, y2, sizeof(float) * OUT * TOK) == 0, "%s: thread count changes results", tr->name);
        /* one row at a time gives the same bits as the batch */
        for (int t = 0; t < TOK; t++) {
            T_CHECK(lv_matmul(&W, x + t * COLS, y3 + t * OUT, 1, scratch, 1) == 0, "matmul 1");
        }
        T_CHECK(memcmp(y1, y3, sizeof(float) * OUT * TOK) == 0, "%s: batching changes results", tr->name);
        lv_matmul_set_simd(1);
        T_CHECK(lv_matmul(&W, x, y2, TOK, scratch, 2) == 0, "matmul simd");
        for (int i = 0; i < OUT * TOK; i++) {
            double mag = 0;
            for (int k = 0; k < COLS; k++) mag += fabs(x[(i / OUT) * COLS + k]);
            T_CHECK(fabs(y2[i] - y1[i]) <= 1e-5 * mag + 1e-6, "%s simd: %.9g vs %.9g", tr->name, y2[i], y1[i]);
        }
        free(scratch);
        free(wd);
        free(act);
        free(x);
        free(y1);
        free(y2);
        free(y3);
    }
}

static void mat_init_refuses_bad_shapes(void)
{
    lv_mat W;
    lv_error err;
    static uint8_t buf[4096];
    T_CHECK(lv_mat_init(&W, LV_TYPE_Q4_K, 200, 2, buf, &err) != 0, "Q4_K with 200 columns accepted");
    T_CHECK(strstr(err.msg, "200") != NULL, "message: %s", err.msg);
    T_CHECK(lv_mat_init(&W, LV_TYPE_Q8_K, 256, 2, buf, &err) != 0, "Q8_K weights accepted");
    T_CHECK(lv_mat_init(&W, 4, 32, 2, buf, &err) != 0, "removed type 4 accepted");
    T_CHECK(lv_mat_init(&W, LV_TYPE_Q5_1, 64, 2, buf, &err) == 0, "Q5_1 refused: %s", err.msg);
}

int main(void)
{
    T_RUN(vec_dot_every_type);
    T_RUN(vec_dot_known_values);
    T_RUN(matmul_matches_vec_dot);
    T_RUN(mat_init_refuses_bad_shapes);
    T_MAIN_END();
}
