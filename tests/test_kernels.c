/* tests/test_kernels.c — every SIMD tile kernel against the scalar oracle lv_vec_dot()
 * on random rows, and tiled results identical for every tile shape (4×C and 1×1). */
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/matmul.h"
#include "engine/quant.h"
#include "engine/quant_simd.h"
#include "engine/vmath.h"

#if defined(__x86_64__) && defined(__GNUC__)
LV_TGT_AVX512 static void exp512_row(const float *x, float *y) { _mm512_storeu_ps(y, lv_exp512(_mm512_loadu_ps(x))); }
#define HAVE_EXP512 1
#endif

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1.0p-53;
}
static float nrand(void)
{
    double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

enum { N = 2048, ROWS = 9, TOK = 7 };

static void check_type(int type)
{
    const lv_type_traits *tr = lv_type_info(type);
    lv_tile_fn tile = lv_simd_tile(type);
    T_CHECK(tile != NULL, "%s has a tile kernel", tr->name);
    if (!tile) return;
    uint64_t wb, ab;
    lv_type_row_bytes(type, N, &wb);
    lv_type_row_bytes(tr->vec_dot_type, N, &ab);
    uint8_t *w = malloc(wb * ROWS), *act = malloc(ab * TOK);
    float *x = malloc(sizeof(float) * N);
    const int64_t nb = tr->vec_dot_type == LV_TYPE_Q8_0 ? N / 32 : N / 256;
    float *ad = malloc(sizeof(float) * TOK * nb);
    int32_t *as = malloc(sizeof(int32_t) * TOK * nb * 8);
    const int off = type == LV_TYPE_Q4_0 ? 8 : 128;
    for (int r = 0; r < ROWS; r++) {
        for (int i = 0; i < N; i++) x[i] = nrand() * (urand() < 0.02 ? 8.0f : 1.0f);
        T_CHECK(lv_quantize_row_ref(type, x, w + r * wb, N) == 0, "quantize");
    }
    for (int t = 0; t < TOK; t++) {
        float sc = t == 3 ? 1e-3f : t == 5 ? 100.0f : 1.0f;   /* tiny and large rows too */
        for (int i = 0; i < N; i++) x[i] = nrand() * sc;
        lv_quantize_act(tr->vec_dot_type, x, act + t * ab, N);
        if (tr->vec_dot_type == LV_TYPE_Q8_0) {
            const lv_block_q8_0 *b = (const lv_block_q8_0 *)(act + t * ab);
            for (int64_t i = 0; i < nb; i++) {
                ad[t * nb + i] = lv_fp16_to_fp32(b[i].d);
                for (int l = 0; l < 8; l++)
                    as[(t * nb + i) * 8 + l] = off * (b[i].qs[4 * l] + b[i].qs[4 * l + 1] + b[i].qs[4 * l + 2] + b[i].qs[4 * l + 3]);
            }
        }
    }
    const lv_act a = {.q = act, .row_bytes = ab, .nb = nb, .d = ad, .s = as};
    float y4[TOK][ROWS], y1[TOK][ROWS];
    /* 4-row tiles over rows 0-7 with C = 4 then 3, row 8 alone (1 × 1 path) */
    tile(N, w, wb, 4, &a, 0, 4, &y4[0][0], ROWS);
    tile(N, w, wb, 4, &a, 4, 3, &y4[4][0], ROWS);
    tile(N, w + 4 * wb, wb, 4, &a, 0, 2, &y4[0][4], ROWS);
    tile(N, w + 4 * wb, wb, 4, &a, 2, 1, &y4[2][4], ROWS);
    tile(N, w + 4 * wb, wb, 4, &a, 3, 4, &y4[3][4], ROWS);
    tile(N, w + 8 * wb, wb, 1, &a, 0, TOK, &y4[0][8], ROWS);
    for (int t = 0; t < TOK; t++)
        for (int r = 0; r < ROWS; r++) tile(N, w + r * wb, wb, 1, &a, t, 1, &y1[t][r], ROWS);
    double worst = 0;
    int same = 1;
    for (int t = 0; t < TOK; t++) {
        /* the reordering error is relative to the size of the row's results, not to
           one result (which can cancel to near zero) */
        double scale = 1e-30;
        for (int r = 0; r < ROWS; r++) scale = fmax(scale, fabs(lv_vec_dot(type, N, w + r * wb, act + t * ab)));
        for (int r = 0; r < ROWS; r++) {
            float ref = lv_vec_dot(type, N, w + r * wb, act + t * ab);
            double err = fabs((double)y4[t][r] - ref) / scale;
            if (err > worst) worst = err;
            if (memcmp(&y4[t][r], &y1[t][r], sizeof(float)) != 0) same = 0;
        }
    }
    T_CHECK(worst < 1e-5, "%s tile vs scalar: worst relative error %.3g", tr->name, worst);
    T_CHECK(same, "%s: 4xC tiles and 1x1 give the same bits", tr->name);
    free(w), free(act), free(x), free(ad), free(as);
}

/* n random values (malloc). */
static float *rand_vec(size_t n)
{
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x[i] = nrand();
    return x;
}

/* rows × N random values, quantized row by row by the reference quantizer; *wb = bytes
 * per row. */
static uint8_t *rand_weights(int type, int rows, uint64_t *wb)
{
    float row[N];
    lv_type_row_bytes(type, N, wb);
    uint8_t *w = malloc(*wb * (size_t)rows);
    for (int r = 0; r < rows; r++) {
        for (int i = 0; i < N; i++) row[i] = nrand();
        lv_quantize_row_ref(type, row, w + r * *wb, N);
    }
    return w;
}

/* lv_matmul with the tile kernels against lv_matmul with the scalar oracle, and
 * one thread against two (bit-identical). */
static void check_matmul(int type)
{
    enum { R = 70, T = 11 };
    const lv_type_traits *tr = lv_type_info(type);
    uint64_t wb;
    uint8_t *w = rand_weights(type, R, &wb);
    float *x = rand_vec(N * T), *y1 = malloc(sizeof(float) * R * T), *y2 = malloc(sizeof(float) * R * T),
          *yr = malloc(sizeof(float) * R * T);
    lv_mat m;
    lv_error err;
    T_CHECK(lv_mat_init(&m, type, N, R, w, &err) == 0, "mat init");
    void *scratch = malloc(lv_matmul_scratch_bytes(type, N, T));
    T_CHECK(lv_matmul(&m, x, y1, T, scratch, 1) == 0, "matmul 1 thread");
    T_CHECK(lv_matmul(&m, x, y2, T, scratch, 2) == 0, "matmul 2 threads");
    T_CHECK(memcmp(y1, y2, sizeof(float) * R * T) == 0, "%s: 1 and 2 threads identical", tr->name);
    T_CHECK(lv_matmul(&m, x + N * 5, y2, 1, scratch, 2) == 0, "matmul one row");
    T_CHECK(memcmp(y1 + 5 * R, y2, sizeof(float) * R) == 0, "%s: one row = the same row in a batch", tr->name);
    lv_matmul_set_simd(0);
    T_CHECK(lv_matmul(&m, x, yr, T, scratch, 1) == 0, "scalar matmul");
    lv_matmul_set_simd(1);
    double worst = 0, scale = 1e-30;
    for (int i = 0; i < R * T; i++) scale = fmax(scale, fabs(yr[i]));
    for (int i = 0; i < R * T; i++) worst = fmax(worst, fabs((double)y1[i] - yr[i]) / scale);
    T_CHECK(worst < 1e-5, "%s matmul tiles vs scalar: %.3g", tr->name, worst);
    free(w), free(x), free(y1), free(y2), free(yr), free(scratch);
}

/* Repacked (x16) weights through lv_matmul: bit-identical to the scalar oracle, for
 * every batch size and thread count. */
static void check_x16(int type, int exact_expected)
{
    enum { R = 48, T = 11 };
    const lv_type_traits *tr = lv_type_info(type);
    uint64_t wb, ab;
    lv_type_row_bytes(type, N, &wb);
    lv_type_row_bytes(tr->vec_dot_type, N, &ab);
    uint8_t *w = malloc(wb * R), *pk = malloc(lv_simd_x16_bytes(type, R, N)), *act = malloc(ab);
    float *x = malloc(sizeof(float) * N * T), *y1 = malloc(sizeof(float) * R * T), *y2 = malloc(sizeof(float) * R * T);
    for (int r = 0; r < R; r++) {
        for (int i = 0; i < N; i++) x[i] = nrand() * (urand() < 0.02 ? 8.0f : 1.0f);
        lv_quantize_row_ref(type, x, w + r * wb, N);
    }
    for (int i = 0; i < N * T; i++) x[i] = nrand() * (i / N == 3 ? 1e-3f : 1.0f);
    lv_mat m;
    lv_error err;
    T_CHECK(lv_mat_init(&m, type, N, R, w, &err) == 0, "mat init");
    T_CHECK(lv_mat_pack_bytes(&m) == lv_simd_x16_bytes(type, R, N) && lv_mat_pack_bytes(&m) > 0, "%s packs", tr->name);
    lv_mat_pack(&m, pk);
    void *scratch = malloc(lv_matmul_scratch_bytes(type, N, T));
    T_CHECK(lv_matmul(&m, x, y1, T, scratch, 2) == 0, "packed matmul");
    int exact = 1;
    double worst = 0;
    for (int t = 0; t < T; t++) {
        lv_quantize_act(tr->vec_dot_type, x + t * N, act, N);
        double scale = 1e-30;
        for (int r = 0; r < R; r++) scale = fmax(scale, fabs(lv_vec_dot(type, N, w + r * wb, act)));
        for (int r = 0; r < R; r++) {
            float ref = lv_vec_dot(type, N, w + r * wb, act);
            if (memcmp(&ref, &y1[t * R + r], sizeof ref) != 0) exact = 0;
            worst = fmax(worst, fabs((double)ref - y1[t * R + r]) / scale);
        }
    }
    if (exact_expected) T_CHECK(exact, "%s x16: bit-identical to lv_vec_dot", tr->name);
    T_CHECK(worst < 1e-5, "%s x16 vs lv_vec_dot: %.3g", tr->name, worst);
    for (int t = 0; t < T; t++) lv_matmul(&m, x + t * N, y2 + t * R, 1, scratch, 1);
    T_CHECK(memcmp(y1, y2, sizeof(float) * R * T) == 0, "%s x16: one row at a time = batched", tr->name);
    free(w), free(pk), free(act), free(x), free(y1), free(y2), free(scratch);
}

static void x16_matches_scalar_exactly(void)
{
    if (!lv_matmul_simd() || !lv_simd_tiles_ok()) T_SKIP("no AVX-512 VNNI on this CPU");
    check_x16(LV_TYPE_Q4_0, 1);
    check_x16(LV_TYPE_Q8_0, 1);
    check_x16(LV_TYPE_Q4_K, 1);
    check_x16(LV_TYPE_Q6_K, 1);
    check_x16(LV_TYPE_F16, 0);   /* f32 chains instead of the oracle's double sum */
}

/* The fused SIMD activation conversions: the same bytes as lv_quantize_act, and the
 * side data derived from them, on random rows with the awkward cases planted: an
 * all-zero block, exact rounding ties, tiny values, and (Q8_K) the largest magnitude
 * twice with opposite signs, where the first one sets the sign of the scale. */
static void act_conversions_match_scalar(void)
{
    if (!lv_matmul_simd() || !lv_simd_tiles_ok()) T_SKIP("no AVX-512 VNNI on this CPU");
    enum { NA = 1024 };
    float *x = malloc(sizeof(float) * NA);
    lv_block_q8_0 r0[NA / 32], s0[NA / 32];
    lv_block_q8_K rk[NA / 256], sk[NA / 256];
    float d[NA / 32];
    int32_t s4[NA / 32 * 8], s1[NA / 32], kb[NA / 256 * 4];
    int ok0 = 1, okk = 1, side = 1;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < NA; i++) x[i] = nrand() * (round % 3 == 0 ? 1e-4f : 3.0f);
        for (int i = 0; i < 32; i++) x[64 + i] = 0.0f;                     /* a zero block */
        for (int i = 0; i < 256; i++) x[512 + i] = 0.0f;                   /* a zero super-block */
        x[96] = 127.0f;                                                     /* ties: ±k.5 */
        for (int i = 1; i < 32; i++) x[96 + i] = (float)(i - 16) + 0.5f;
        x[300] = 9.0f, x[301] = -9.0f;                                      /* largest twice */
        x[800] = -12.0f, x[900] = 12.0f;
        lv_quantize_act(LV_TYPE_Q8_0, x, r0, NA);
        lv_simd_act_q8_0(x, NA, s0, d, s4, s1, round & 1 ? 8 : 128);
        ok0 &= memcmp(r0, s0, sizeof r0) == 0;
        for (int b = 0; b < NA / 32; b++) {
            int32_t sum = 0, off = round & 1 ? 8 : 128;
            for (int l = 0; l < 8; l++) {
                int32_t q4 = r0[b].qs[4 * l] + r0[b].qs[4 * l + 1] + r0[b].qs[4 * l + 2] + r0[b].qs[4 * l + 3];
                side &= s4[b * 8 + l] == off * q4;
                sum += q4;
            }
            side &= s1[b] == -off * sum && d[b] == lv_fp16_to_fp32(r0[b].d);
        }
        lv_quantize_act(LV_TYPE_Q8_K, x, rk, NA);
        lv_simd_act_q8_K(x, NA, sk, kb);
        okk &= memcmp(rk, sk, sizeof rk) == 0;
        for (int b = 0; b < NA / 256; b++)
            for (int p = 0; p < 4; p++) {
                int16_t a = (int16_t)(rk[b].bsums[4 * p] + rk[b].bsums[4 * p + 1]);
                int16_t c = (int16_t)(rk[b].bsums[4 * p + 2] + rk[b].bsums[4 * p + 3]);
                side &= kb[b * 4 + p] == (int32_t)((uint32_t)(uint16_t)a | (uint32_t)(uint16_t)c << 16);
            }
    }
    T_CHECK(ok0, "SIMD Q8_0 activations differ from lv_quantize_act");
    T_CHECK(okk, "SIMD Q8_K activations differ from lv_quantize_act");
    T_CHECK(side, "SIMD side data differs from the quants");
    free(x);
}

/* lv_exp512 within 2 ulp of expf over the softmax/SiLU range, 0 below it, inf above. */
static void exp512_accuracy(void)
{
#ifndef HAVE_EXP512
    T_SKIP("not an x86-64 build");
#else
    if (!lv_vmath_avx512_ok()) T_SKIP("no AVX-512 on this CPU");
    int worst = 0;
    float xs[16], ys[16];
    for (int k = 0; k < 200000; k += 16) {
        for (int i = 0; i < 16; i++) xs[i] = -103.0f + 191.0f * (float)urand();
        if (k == 0) xs[0] = 0.0f, xs[1] = -INFINITY, xs[2] = INFINITY, xs[3] = -1e-30f, xs[4] = 88.5f;
        exp512_row(xs, ys);
        for (int i = 0; i < 16; i++) {
            float r = expf(xs[i]);
            if (isinf(r) || r == 0.0f || !isnormal(r)) {
                if (!(r == ys[i] || (r < 1e-37f && ys[i] < 1e-37f && ys[i] >= 0.0f))) worst = 1000;
                continue;
            }
            int32_t a, b;
            memcpy(&a, &r, 4), memcpy(&b, &ys[i], 4);
            worst = abs(a - b) > worst ? abs(a - b) : worst;
        }
    }
    T_CHECK(worst <= 2, "lv_exp512 off by %d ulp", worst);
    if (getenv("LV_TEST_VERBOSE")) fprintf(stderr, "lv_exp512: at most %d ulp from expf\n", worst);
#endif
}

/* lv_matmul_n: three packed weights of different heights sharing one conversion and
 * one row split (which crosses their boundaries on 2 threads) give exactly what three
 * lv_matmul calls give; a mixed-type list falls back to them. */
static void matmul_n_matches_single(void)
{
    if (!lv_matmul_simd() || !lv_simd_tiles_ok()) T_SKIP("no AVX-512 VNNI on this CPU");
    const int types[] = {LV_TYPE_Q4_0, LV_TYPE_Q8_0, LV_TYPE_Q4_K, LV_TYPE_F16};
    enum { T = 13 };
    const int64_t rows[3] = {48, 16, 80};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const int type = types[ti];
        const lv_type_traits *tr = lv_type_info(type);
        uint64_t wb;
        lv_type_row_bytes(type, N, &wb);
        lv_mat m[3];
        uint8_t *w[3], *pk[3];
        float *x = malloc(sizeof(float) * N * T), *y1[3], *y2[3];
        lv_error err;
        for (int i = 0; i < N * T; i++) x[i] = nrand();
        for (int k = 0; k < 3; k++) {
            w[k] = malloc(wb * (size_t)rows[k]);
            for (int64_t r = 0; r < rows[k]; r++) {
                float row[N];
                for (int i = 0; i < N; i++) row[i] = nrand();
                lv_quantize_row_ref(type, row, w[k] + r * wb, N);
            }
            lv_mat_init(&m[k], type, N, rows[k], w[k], &err);
            pk[k] = malloc(lv_mat_pack_bytes(&m[k]));
            lv_mat_pack(&m[k], pk[k]);
            y1[k] = malloc(sizeof(float) * (size_t)rows[k] * T);
            y2[k] = malloc(sizeof(float) * (size_t)rows[k] * T);
        }
        void *scratch = malloc(lv_matmul_scratch_bytes(type, N, T));
        for (int k = 0; k < 3; k++) lv_matmul(&m[k], x, y1[k], T, scratch, 2);
        const lv_mat *ms[3] = {&m[0], &m[1], &m[2]};
        T_CHECK(lv_matmul_n(ms, 3, x, y2, T, scratch, 2) == 0, "matmul_n");
        int same = 1;
        for (int k = 0; k < 3; k++) same &= memcmp(y1[k], y2[k], sizeof(float) * (size_t)rows[k] * T) == 0;
        T_CHECK(same, "%s: lv_matmul_n differs from lv_matmul", tr->name);
        for (int k = 0; k < 3; k++) free(w[k]), free(pk[k]), free(y1[k]), free(y2[k]);
        free(x), free(scratch);
    }
    /* mixed types: F16 next to Q8_0 runs one by one, same results */
    lv_mat a, b;
    lv_error err;
    uint64_t wa, wb;
    lv_type_row_bytes(LV_TYPE_F16, N, &wa);
    lv_type_row_bytes(LV_TYPE_Q8_0, N, &wb);
    uint8_t *da = calloc(16, wa), *db = calloc(16, wb);
    float row[N], *x = malloc(sizeof(float) * N * 3), ya[16 * 3], yb[16 * 3], za[16 * 3], zb[16 * 3];
    for (int r = 0; r < 16; r++) {
        for (int i = 0; i < N; i++) row[i] = nrand();
        lv_quantize_row_ref(LV_TYPE_F16, row, da + r * wa, N);
        lv_quantize_row_ref(LV_TYPE_Q8_0, row, db + r * wb, N);
    }
    for (int i = 0; i < N * 3; i++) x[i] = nrand();
    lv_mat_init(&a, LV_TYPE_F16, N, 16, da, &err);
    lv_mat_init(&b, LV_TYPE_Q8_0, N, 16, db, &err);
    size_t sb = lv_matmul_scratch_bytes(LV_TYPE_F16, N, 3), sq = lv_matmul_scratch_bytes(LV_TYPE_Q8_0, N, 3);
    void *scratch = malloc(sb > sq ? sb : sq);
    lv_matmul(&a, x, ya, 3, scratch, 1);
    lv_matmul(&b, x, yb, 3, scratch, 1);
    const lv_mat *ms[2] = {&a, &b};
    float *const zs[2] = {za, zb};
    T_CHECK(lv_matmul_n(ms, 2, x, zs, 3, scratch, 1) == 0, "mixed matmul_n");
    T_CHECK(memcmp(ya, za, sizeof ya) == 0 && memcmp(yb, zb, sizeof yb) == 0, "mixed lv_matmul_n differs");
    free(da), free(db), free(x), free(scratch);
}

static void tiles_match_scalar(void)
{
    if (!lv_matmul_simd() || !lv_simd_tiles_ok()) T_SKIP("no AVX-512 VNNI on this CPU");
    const int types[] = {LV_TYPE_Q4_0, LV_TYPE_Q8_0, LV_TYPE_Q4_K, LV_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) check_type(types[i]);
}

static void matmul_tiles_match_scalar(void)
{
    if (!lv_matmul_simd() || !lv_simd_tiles_ok()) T_SKIP("no AVX-512 VNNI on this CPU");
    const int types[] = {LV_TYPE_Q4_0, LV_TYPE_Q8_0, LV_TYPE_Q4_K, LV_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) check_matmul(types[i]);
}

/* Decode (fewer than 8 rows) shares the rows out in items that a thread done early
 * takes from the back of the others' shares: any thread count gives the same bits as
 * one thread, every row written (outputs start as NaN), the last item partial. */
static void decode_shares_any_threads(void)
{
    if (!lv_matmul_simd() || !lv_simd_tiles_ok()) T_SKIP("no AVX-512 VNNI on this CPU");
    const int types[] = {LV_TYPE_Q4_0, LV_TYPE_Q8_0, LV_TYPE_Q4_K, LV_TYPE_Q6_K};
    enum { R = 1040, T = 3 };   /* 16 items of 64 rows and one of 16; > 2^18 products */
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const int type = types[ti];
        const lv_type_traits *tr = lv_type_info(type);
        uint64_t wb;
        uint8_t *w = rand_weights(type, R, &wb);
        float *x = rand_vec(N * T), *y1 = malloc(sizeof(float) * R * T), *y2 = malloc(sizeof(float) * R * T);
        lv_mat m;
        lv_error err;
        T_CHECK(lv_mat_init(&m, type, N, R, w, &err) == 0, "mat init");
        uint8_t *pk = lv_mat_pack_bytes(&m) ? malloc(lv_mat_pack_bytes(&m)) : NULL;
        if (pk) lv_mat_pack(&m, pk);
        void *scratch = malloc(lv_matmul_scratch_bytes(type, N, T));
        for (int nt = 1; nt <= T; nt++) {
            T_CHECK(lv_matmul(&m, x, y1, nt, scratch, 1) == 0, "matmul");
            static const int threads[] = {2, 3, 5, 8};
            for (size_t k = 0; k < sizeof threads / sizeof threads[0]; k++) {
                for (int i = 0; i < R * nt; i++) y2[i] = NAN;
                T_CHECK(lv_matmul(&m, x, y2, nt, scratch, threads[k]) == 0, "matmul");
                T_CHECK(memcmp(y1, y2, sizeof(float) * (size_t)R * (size_t)nt) == 0,
                        "%s%s, %d rows: %d threads differ from one", tr->name, pk ? " packed" : "", nt, threads[k]);
            }
        }
        free(w), free(x), free(y1), free(y2), free(pk), free(scratch);
    }
}

int main(void)
{
    T_RUN(act_conversions_match_scalar);
    T_RUN(exp512_accuracy);
    T_RUN(matmul_n_matches_single);
    T_RUN(decode_shares_any_threads);
    T_RUN(tiles_match_scalar);
    T_RUN(matmul_tiles_match_scalar);
    T_RUN(x16_matches_scalar_exactly);
    T_MAIN_END();
}
