/* engine/quant_dot.c — the scalar reference dot products (gguf-quant-tokenizer.md §3.3):
 * one weight row of any supported type against one activation row already converted
 * to that type's vec_dot_type (F32, F16, BF16, Q8_0, Q8_1 or Q8_K).
 *
 * Integer products are summed exactly in int32 per block; the per-block float terms
 * are combined in float32 in the order the spec writes them. These are the oracle for
 * SIMD kernels and the path matmul.c uses by default.
 */
#include "engine/quant.h"

#include <string.h>

#include "engine/f16lut.h"

/* ---------------------------------------------------------------- helpers --- */

/* f16 → f32 through the shared table (exact). */
#define F16(h) (lv_f16_lut()[(h)])

/* The IQ4_NL codebook (§2.3.14). */
static const int8_t iq4nl_values[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

static uint32_t load_u32le(const uint8_t b[4])
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* 6-bit scale and min of sub-block s of a Q4_K/Q5_K block (ggml's get_scale_min_k4). */
static void scale_min_k4(int s, const uint8_t S[12], int *sc, int *mn)
{
    if (s < 4) {
        *sc = S[s] & 63;
        *mn = S[s + 4] & 63;
    } else {
        *sc = (S[s + 4] & 15) | ((S[s - 4] >> 6) << 4);
        *mn = (S[s + 4] >> 4) | ((S[s] >> 6) << 4);
    }
}

/* Sum of a[i]*b[i] over n int8 pairs, exact. */
static int32_t isum8(const int8_t *a, const int8_t *b, int n)
{
    int32_t s = 0;
    for (int i = 0; i < n; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

/* ------------------------------------------------------------ float types --- */

/* w: [n] f32, x: [n] f32 */
static float dot_f32(int64_t n, const float *w, const float *x)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)(w[i] * x[i]);
    return (float)s;
}

/* w: [n] f16, x: [n] f16. Products are exact in f32; summed in double. */
static float dot_f16(int64_t n, const uint16_t *w, const uint16_t *x)
{
    const float *lut = lv_f16_lut();
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)(lut[w[i]] * lut[x[i]]);
    return (float)s;
}

/* w: [n] bf16, x: [n] bf16 */
static float dot_bf16(int64_t n, const uint16_t *w, const uint16_t *x)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)(lv_bf16_to_fp32(w[i]) * lv_bf16_to_fp32(x[i]));
    return (float)s;
}

/* ------------------------------------------- 32-value blocks x Q8_0 / Q8_1 --- */

/* Unpacks the 32 weight quants of one legacy block into q[32] (element order). */
static void unpack_q4_0(const lv_block_q4_0 *b, int8_t q[32])
{
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((b->qs[j] & 15) - 8);
        q[j + 16] = (int8_t)((b->qs[j] >> 4) - 8);
    }
}

static void unpack_nibbles(const uint8_t qs[16], int8_t q[32])
{
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)(qs[j] & 15);
        q[j + 16] = (int8_t)(qs[j] >> 4);
    }
}

/* Five-bit quants (unsigned 0..31) from qs and qh. */
static void unpack_q5(const uint8_t qs[16], const uint8_t qh4[4], int8_t q[32])
{
    uint32_t qh = load_u32le(qh4);
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((qs[j] & 15) | ((qh >> j) & 1) << 4);
        q[j + 16] = (int8_t)((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    }
}

/* w: nb Q4_0/Q5_0/Q8_0/IQ4_NL blocks, y: nb Q8_0 blocks */
static float dot_x_q8_0(int wtype, int64_t nb, const void *w, const lv_block_q8_0 *y)
{
    float acc = 0.0f;
    int8_t q[32];
    for (int64_t i = 0; i < nb; i++) {
        uint16_t dx;
        const int8_t *qx = q;
        switch (wtype) {
        case LV_TYPE_Q4_0: {
            const lv_block_q4_0 *b = (const lv_block_q4_0 *)w + i;
            unpack_q4_0(b, q);
            dx = b->d;
            break;
        }
        case LV_TYPE_Q5_0: {
            const lv_block_q5_0 *b = (const lv_block_q5_0 *)w + i;
            unpack_q5(b->qs, b->qh, q);
            for (int j = 0; j < 32; j++) q[j] = (int8_t)(q[j] - 16);
            dx = b->d;
            break;
        }
        case LV_TYPE_Q8_0: {
            const lv_block_q8_0 *b = (const lv_block_q8_0 *)w + i;
            qx = b->qs;
            dx = b->d;
            break;
        }
        default: { /* IQ4_NL */
            const lv_block_iq4_nl *b = (const lv_block_iq4_nl *)w + i;
            for (int j = 0; j < 16; j++) {
                q[j] = iq4nl_values[b->qs[j] & 15];
                q[j + 16] = iq4nl_values[b->qs[j] >> 4];
            }
            dx = b->d;
            break;
        }
        }
        int32_t is = isum8(qx, y[i].qs, 32);
        acc += (float)is * (F16(dx) * F16(y[i].d));
    }
    return acc;
}

/* w: nb Q4_1/Q5_1 blocks, y: nb Q8_1 blocks */
static float dot_x_q8_1(int wtype, int64_t nb, const void *w, const lv_block_q8_1 *y)
{
    float acc = 0.0f;
    int8_t q[32];
    for (int64_t i = 0; i < nb; i++) {
        uint16_t dx, mx;
        if (wtype == LV_TYPE_Q4_1) {
            const lv_block_q4_1 *b = (const lv_block_q4_1 *)w + i;
            unpack_nibbles(b->qs, q);
            dx = b->d;
            mx = b->m;
        } else {
            const lv_block_q5_1 *b = (const lv_block_q5_1 *)w + i;
            unpack_q5(b->qs, b->qh, q);
            dx = b->d;
            mx = b->m;
        }
        int32_t is = isum8(q, y[i].qs, 32);
        acc += (float)is * (F16(dx) * F16(y[i].d)) +
               F16(mx) * F16(y[i].s);
    }
    return acc;
}

/* ------------------------------------------------------ K types x Q8_K --- */

/* The 2-bit planes shared by Q2_K and Q3_K: element 128h + 32j + l is bits 2j..2j+1
 * of qs[32h + l]. q: [256] */
static void unpack_2bit(const uint8_t qs[64], int8_t q[256])
{
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) q[128 * h + 32 * j + l] = (int8_t)((qs[32 * h + l] >> (2 * j)) & 3);
}

/* w: nb Q2_K super-blocks, y: nb Q8_K */
static float dot_q2_K(int64_t nb, const lv_block_q2_K *w, const lv_block_q8_K *y)
{
    float acc = 0.0f;
    int8_t q[256];
    for (int64_t i = 0; i < nb; i++) {
        const lv_block_q2_K *b = w + i;
        unpack_2bit(b->qs, q);
        int32_t isum = 0, msum = 0;
        for (int g = 0; g < 16; g++) {
            isum += (b->scales[g] & 15) * isum8(q + 16 * g, y[i].qs + 16 * g, 16);
            msum += (b->scales[g] >> 4) * (int32_t)y[i].bsums[g];
        }
        float dall = y[i].d * F16(b->d);
        float dmin = y[i].d * F16(b->dmin);
        acc += dall * (float)isum - dmin * (float)msum;
    }
    return acc;
}

/* w: nb Q3_K super-blocks, y: nb Q8_K */
static float dot_q3_K(int64_t nb, const lv_block_q3_K *w, const lv_block_q8_K *y)
{
    float acc = 0.0f;
    int8_t q[256];
    for (int64_t i = 0; i < nb; i++) {
        const lv_block_q3_K *b = w + i;
        unpack_2bit(b->qs, q);
        for (int e = 0; e < 256; e++)   /* high bit 0 means the quant is low2 - 4 */
            if (!((b->hmask[e % 32] >> (e / 32)) & 1)) q[e] = (int8_t)(q[e] - 4);
        int32_t isum = 0;
        for (int s = 0; s < 16; s++) {
            int low4 = s < 8 ? (b->scales[s] & 15) : (b->scales[s - 8] >> 4);
            int high2 = (b->scales[8 + (s % 4)] >> (2 * (s / 4))) & 3;
            int sc = (low4 | high2 << 4) - 32;
            isum += sc * isum8(q + 16 * s, y[i].qs + 16 * s, 16);
        }
        acc += (F16(b->d) * y[i].d) * (float)isum;
    }
    return acc;
}

/* Q4_K / Q5_K: quants q[256] (unsigned) already unpacked; S the 12 scale bytes. */
static float k4_block_dot(const int8_t q[256], const uint8_t S[12], uint16_t d, uint16_t dmin,
                          const lv_block_q8_K *y)
{
    int32_t isum = 0, msum = 0;
    for (int s = 0; s < 8; s++) {
        int sc, mn;
        scale_min_k4(s, S, &sc, &mn);
        isum += sc * isum8(q + 32 * s, y->qs + 32 * s, 32);
        msum += mn * ((int32_t)y->bsums[2 * s] + (int32_t)y->bsums[2 * s + 1]);
    }
    return (F16(d) * y->d) * (float)isum - (F16(dmin) * y->d) * (float)msum;
}

/* The nibbles shared by Q4_K and Q5_K: chunk c of 64 values takes the low nibbles of
 * qs[32c..32c+31], then their high nibbles. q: [256] */
static void unpack_k4_nibbles(const uint8_t qs[128], int8_t q[256])
{
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)(qs[32 * c + l] & 15);
            q[64 * c + 32 + l] = (int8_t)(qs[32 * c + l] >> 4);
        }
}

/* w: nb Q4_K super-blocks, y: nb Q8_K */
static float dot_q4_K(int64_t nb, const lv_block_q4_K *w, const lv_block_q8_K *y)
{
    float acc = 0.0f;
    int8_t q[256];
    for (int64_t i = 0; i < nb; i++) {
        unpack_k4_nibbles(w[i].qs, q);
        acc += k4_block_dot(q, w[i].scales, w[i].d, w[i].dmin, y + i);
    }
    return acc;
}

/* w: nb Q5_K super-blocks, y: nb Q8_K */
static float dot_q5_K(int64_t nb, const lv_block_q5_K *w, const lv_block_q8_K *y)
{
    float acc = 0.0f;
    int8_t q[256];
    for (int64_t i = 0; i < nb; i++) {
        const lv_block_q5_K *b = w + i;
        unpack_k4_nibbles(b->qs, q);
        for (int e = 0; e < 256; e++)   /* fifth bit: bit (e / 32) of qh[e % 32] */
            q[e] = (int8_t)(q[e] | ((b->qh[e % 32] >> (e / 32)) & 1) << 4);
        acc += k4_block_dot(q, b->scales, b->d, b->dmin, y + i);
    }
    return acc;
}

/* w: nb Q6_K super-blocks, y: nb Q8_K */
static float dot_q6_K(int64_t nb, const lv_block_q6_K *w, const lv_block_q8_K *y)
{
    float acc = 0.0f;
    int8_t q[256];
    for (int64_t i = 0; i < nb; i++) {
        const lv_block_q6_K *b = w + i;
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++) {
                    uint8_t lb = b->ql[64 * h + 32 * (k & 1) + l];
                    int low4 = k < 2 ? (lb & 15) : (lb >> 4);
                    int high2 = (b->qh[32 * h + l] >> (2 * k)) & 3;
                    q[128 * h + 32 * k + l] = (int8_t)((low4 | high2 << 4) - 32);
                }
        int32_t isum = 0;
        for (int s = 0; s < 16; s++) isum += b->scales[s] * isum8(q + 16 * s, y[i].qs + 16 * s, 16);
        acc += (F16(b->d) * y[i].d) * (float)isum;
    }
    return acc;
}

/* ------------------------------------------------------------------ API --- */

float lv_vec_dot(int wtype, int64_t n, const void *w, const void *act)
{
    switch (wtype) {
    case LV_TYPE_F32:  return dot_f32(n, w, act);
    case LV_TYPE_F16:  return dot_f16(n, w, act);
    case LV_TYPE_BF16: return dot_bf16(n, w, act);
    case LV_TYPE_Q4_0:
    case LV_TYPE_Q5_0:
    case LV_TYPE_Q8_0:
    case LV_TYPE_IQ4_NL: return dot_x_q8_0(wtype, n / LV_QK, w, act);
    case LV_TYPE_Q4_1:
    case LV_TYPE_Q5_1: return dot_x_q8_1(wtype, n / LV_QK, w, act);
    case LV_TYPE_Q2_K: return dot_q2_K(n / LV_QK_K, w, act);
    case LV_TYPE_Q3_K: return dot_q3_K(n / LV_QK_K, w, act);
    case LV_TYPE_Q4_K: return dot_q4_K(n / LV_QK_K, w, act);
    case LV_TYPE_Q5_K: return dot_q5_K(n / LV_QK_K, w, act);
    case LV_TYPE_Q6_K: return dot_q6_K(n / LV_QK_K, w, act);
    default: return 0.0f;
    }
}
