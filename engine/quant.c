/* engine/quant.c — scalar reference for the ggml tensor types: traits table,
 * half-precision conversion, dequantization, file quantizers and the runtime
 * activation quantizers (gguf-quant-tokenizer.md §2, §3.2).
 *
 * Compiled with -ffp-contract=off: the spec's float32 expressions must be
 * evaluated exactly as written (no fused multiply-add) to be bit-exact with ggml.
 */
#include "engine/quant.h"

#include <math.h>
#include <string.h>
#include <strings.h>

_Static_assert(sizeof(lv_block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(lv_block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(lv_block_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(lv_block_q5_1) == 24, "q5_1 block");
_Static_assert(sizeof(lv_block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(lv_block_q8_1) == 36, "q8_1 block");
_Static_assert(sizeof(lv_block_q2_K) == 84, "q2_K block");
_Static_assert(sizeof(lv_block_q3_K) == 110, "q3_K block");
_Static_assert(sizeof(lv_block_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(lv_block_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(lv_block_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(lv_block_q8_K) == 292, "q8_K block");
_Static_assert(sizeof(lv_block_iq4_nl) == 18, "iq4_nl block");

/* ------------------------------------------------------------------ traits */

/* Rows with block == 0 are ids that are unknown or removed from ggml (4, 5, 31-33,
 * 36-38); rows with supported == 0 are valid ggml types this engine cannot hold. */
static const lv_type_traits traits[LV_TYPE_COUNT] = {
    [0]  = {"F32", 1, 4, 1, LV_TYPE_F32},
    [1]  = {"F16", 1, 2, 1, LV_TYPE_F16},
    [2]  = {"Q4_0", 32, 18, 1, LV_TYPE_Q8_0},
    [3]  = {"Q4_1", 32, 20, 1, LV_TYPE_Q8_1},
    [6]  = {"Q5_0", 32, 22, 1, LV_TYPE_Q8_0},
    [7]  = {"Q5_1", 32, 24, 1, LV_TYPE_Q8_1},
    [8]  = {"Q8_0", 32, 34, 1, LV_TYPE_Q8_0},
    [9]  = {"Q8_1", 32, 36, 0, LV_TYPE_Q8_1},
    [10] = {"Q2_K", 256, 84, 1, LV_TYPE_Q8_K},
    [11] = {"Q3_K", 256, 110, 1, LV_TYPE_Q8_K},
    [12] = {"Q4_K", 256, 144, 1, LV_TYPE_Q8_K},
    [13] = {"Q5_K", 256, 176, 1, LV_TYPE_Q8_K},
    [14] = {"Q6_K", 256, 210, 1, LV_TYPE_Q8_K},
    [15] = {"Q8_K", 256, 292, 0, LV_TYPE_Q8_K},
    [16] = {"IQ2_XXS", 256, 66, 0, LV_TYPE_Q8_K},
    [17] = {"IQ2_XS", 256, 74, 0, LV_TYPE_Q8_K},
    [18] = {"IQ3_XXS", 256, 98, 0, LV_TYPE_Q8_K},
    [19] = {"IQ1_S", 256, 50, 0, LV_TYPE_Q8_K},
    [20] = {"IQ4_NL", 32, 18, 1, LV_TYPE_Q8_0},
    [21] = {"IQ3_S", 256, 110, 0, LV_TYPE_Q8_K},
    [22] = {"IQ2_S", 256, 82, 0, LV_TYPE_Q8_K},
    [23] = {"IQ4_XS", 256, 136, 0, LV_TYPE_Q8_K},
    [24] = {"I8", 1, 1, 0, 0},
    [25] = {"I16", 1, 2, 0, 0},
    [26] = {"I32", 1, 4, 0, 0},
    [27] = {"I64", 1, 8, 0, 0},
    [28] = {"F64", 1, 8, 0, 0},
    [29] = {"IQ1_M", 256, 56, 0, LV_TYPE_Q8_K},
    [30] = {"BF16", 1, 2, 1, LV_TYPE_BF16},
    [34] = {"TQ1_0", 256, 54, 0, LV_TYPE_Q8_K},
    [35] = {"TQ2_0", 256, 66, 0, LV_TYPE_Q8_K},
};

const lv_type_traits *lv_type_info(int type)
{
    if (type < 0 || type >= LV_TYPE_COUNT || traits[type].block == 0) return NULL;
    return &traits[type];
}

int lv_type_from_name(const char *name)
{
    for (int t = 0; t < LV_TYPE_COUNT; t++)
        if (traits[t].name && strcasecmp(traits[t].name, name) == 0) return t;
    return -1;
}

int lv_type_file_type(int type)
{
    switch (type) {
    case LV_TYPE_F32: return 0;
    case LV_TYPE_F16: return 1;
    case LV_TYPE_Q4_0: return 2;
    case LV_TYPE_Q4_1: return 3;
    case LV_TYPE_Q8_0: return 7;
    case LV_TYPE_Q5_0: return 8;
    case LV_TYPE_Q5_1: return 9;
    case LV_TYPE_Q2_K: return 10;
    case LV_TYPE_Q3_K: return 11;   /* Q3_K_S */
    case LV_TYPE_Q4_K: return 14;   /* Q4_K_S */
    case LV_TYPE_Q5_K: return 16;   /* Q5_K_S */
    case LV_TYPE_Q6_K: return 18;
    case LV_TYPE_BF16: return 32;
    default: return -1;
    }
}

int lv_type_row_bytes(int type, uint64_t ne0, uint64_t *out)
{
    const lv_type_traits *tr = lv_type_info(type);
    if (!tr || ne0 % (uint64_t)tr->block) return -1;
    /* ne0 / block * bytes cannot overflow for ne0 < 2^63 and bytes <= 292 < block*2... */
    uint64_t nb = ne0 / (uint64_t)tr->block;
    if (__builtin_mul_overflow(nb, (uint64_t)tr->bytes, out)) return -1;
    return 0;
}

/* ---------------------------------------------------------- half precision */

float lv_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {                      /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3FF) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t lv_fp32_to_fp16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7FFFFFFF;
    if (ax >= 0x7F800000) {                           /* inf or nan */
        return (uint16_t)(sign | 0x7C00 | (ax > 0x7F800000 ? 0x200 | ((ax >> 13) & 0x3FF) : 0));
    }
    if (ax >= 0x477FF000) return (uint16_t)(sign | 0x7C00);   /* rounds to >= 65520: inf */
    if (ax < 0x38800000) {                            /* result is subnormal or zero */
        if (ax < 0x33000000) return (uint16_t)sign;   /* < 2^-25: rounds to 0 */
        uint32_t e = ax >> 23;                        /* 102..112 */
        uint32_t m = (ax & 0x7FFFFF) | 0x800000;
        uint32_t shift = 126 - e;                     /* value = m * 2^(e-150); unit 2^-24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t e = (ax >> 23) - 127 + 15;
    uint32_t m = ax & 0x7FFFFF;
    uint32_t q = (e << 10) | (m >> 13), rem = m & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++;   /* carry into exponent is correct */
    return (uint16_t)(sign | q);
}

float lv_bf16_to_fp32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t lv_fp32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((x >> 16) | 64);   /* quiet NaN */
    return (uint16_t)((x + (0x7FFF + ((x >> 16) & 1))) >> 16);
}

#define F16(h) lv_fp16_to_fp32(h)

/* ---------------------------------------------------------- dequantization */

static void dq_q4_0(const lv_block_q4_0 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = F16(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((b[i].qs[j] & 15) - 8) * d;
            y[j + 16] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void dq_q4_1(const lv_block_q4_1 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = F16(b[i].d), m = F16(b[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(b[i].qs[j] & 15) * d + m;
            y[j + 16] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}

static void dq_q5_0(const lv_block_q5_0 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = F16(b[i].d);
        uint32_t qh;
        memcpy(&qh, b[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int x0 = (b[i].qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int x1 = (b[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)(x0 - 16) * d;
            y[j + 16] = (float)(x1 - 16) * d;
        }
    }
}

static void dq_q5_1(const lv_block_q5_1 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = F16(b[i].d), m = F16(b[i].m);
        uint32_t qh;
        memcpy(&qh, b[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int x0 = (b[i].qs[j] & 15) | (int)((qh >> j) & 1) << 4;
            int x1 = (b[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)x0 * d + m;
            y[j + 16] = (float)x1 * d + m;
        }
    }
}

static void dq_q8_0(const lv_block_q8_0 *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = F16(b[i].d);
        for (int j = 0; j < 32; j++) y[j] = (float)b[i].qs[j] * d;
    }
}

static void dq_q2_K(const lv_block_q2_K *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 256) {
        float d = F16(b[i].d), dmin = F16(b[i].dmin);
        for (int e = 0; e < 256; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            int q = (b[i].qs[32 * h + l] >> (2 * j)) & 3;
            int sc = b[i].scales[e / 16];
            y[e] = (d * (float)(sc & 15)) * (float)q - (dmin * (float)(sc >> 4));
        }
    }
}

/* Six-bit signed scale of sub-block s (0..15) of a Q3_K block. */
static int q3k_scale(const uint8_t *S, int s)
{
    int lo = s < 8 ? S[s] & 15 : S[s - 8] >> 4;
    int hi = (S[8 + s % 4] >> (2 * (s / 4))) & 3;
    return (lo | hi << 4) - 32;
}

static void dq_q3_K(const lv_block_q3_K *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 256) {
        float d = F16(b[i].d);
        for (int e = 0; e < 256; e++) {
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            int low = (b[i].qs[32 * h + l] >> (2 * j)) & 3;
            int q = (b[i].hmask[e % 32] >> (e / 32)) & 1 ? low : low - 4;
            y[e] = (d * (float)q3k_scale(b[i].scales, e / 16)) * (float)q;
        }
    }
}

/* ggml's get_scale_min_k4: six-bit scale and min of sub-block s (0..7). */
static void k4_scale_min(const uint8_t *S, int s, int *sc, int *mn)
{
    if (s < 4) {
        *sc = S[s] & 63;
        *mn = S[s + 4] & 63;
    } else {
        *sc = (S[s + 4] & 15) | ((S[s - 4] >> 6) << 4);
        *mn = (S[s + 4] >> 4) | ((S[s] >> 6) << 4);
    }
}

static void dq_q4_K(const lv_block_q4_K *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 256) {
        float d = F16(b[i].d), dmin = F16(b[i].dmin);
        for (int e = 0; e < 256; e++) {
            int c = e / 64, s = e / 32, sc, mn;
            uint8_t byte = b[i].qs[32 * c + e % 32];
            int q = (s & 1) ? byte >> 4 : byte & 15;
            k4_scale_min(b[i].scales, s, &sc, &mn);
            y[e] = (d * (float)sc) * (float)q - (dmin * (float)mn);
        }
    }
}

static void dq_q5_K(const lv_block_q5_K *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 256) {
        float d = F16(b[i].d), dmin = F16(b[i].dmin);
        for (int e = 0; e < 256; e++) {
            int c = e / 64, s = e / 32, sc, mn;
            uint8_t byte = b[i].qs[32 * c + e % 32];
            int q = ((s & 1) ? byte >> 4 : byte & 15) + 16 * ((b[i].qh[e % 32] >> s) & 1);
            k4_scale_min(b[i].scales, s, &sc, &mn);
            y[e] = (d * (float)sc) * (float)q - (dmin * (float)mn);
        }
    }
}

static void dq_q6_K(const lv_block_q6_K *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 256) {
        float d = F16(b[i].d);
        for (int e = 0; e < 256; e++) {
            int h = e / 128, k = (e % 128) / 32, l = e % 32;
            uint8_t lb = b[i].ql[64 * h + 32 * (k & 1) + l];
            int low = k < 2 ? lb & 15 : lb >> 4;
            int high = (b[i].qh[32 * h + l] >> (2 * k)) & 3;
            int q = (low | high << 4) - 32;
            y[e] = (d * (float)b[i].scales[e / 16]) * (float)q;
        }
    }
}

static const int8_t iq4nl_table[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                       1, 13, 25, 38, 53, 69, 89, 113};

static void dq_iq4_nl(const lv_block_iq4_nl *b, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = F16(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)iq4nl_table[b[i].qs[j] & 15];
            y[j + 16] = d * (float)iq4nl_table[b[i].qs[j] >> 4];
        }
    }
}

int lv_dequantize_row(int type, const void *src, float *dst, int64_t n)
{
    const lv_type_traits *tr = lv_type_info(type);
    if (!tr || n % tr->block) return -1;
    int64_t nb = n / tr->block;
    switch (type) {
    case LV_TYPE_F32: memcpy(dst, src, (size_t)n * 4); return 0;
    case LV_TYPE_F16: {
        const uint8_t *p = src;
        for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = lv_fp16_to_fp32(h); }
        return 0;
    }
    case LV_TYPE_BF16: {
        const uint8_t *p = src;
        for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = lv_bf16_to_fp32(h); }
        return 0;
    }
    case LV_TYPE_Q4_0: dq_q4_0(src, dst, nb); return 0;
    case LV_TYPE_Q4_1: dq_q4_1(src, dst, nb); return 0;
    case LV_TYPE_Q5_0: dq_q5_0(src, dst, nb); return 0;
    case LV_TYPE_Q5_1: dq_q5_1(src, dst, nb); return 0;
    case LV_TYPE_Q8_0: dq_q8_0(src, dst, nb); return 0;
    case LV_TYPE_Q8_1: {
        const lv_block_q8_1 *b = src;
        for (int64_t i = 0; i < nb; i++)
            for (int j = 0; j < 32; j++) dst[32 * i + j] = (float)b[i].qs[j] * F16(b[i].d);
        return 0;
    }
    case LV_TYPE_Q2_K: dq_q2_K(src, dst, nb); return 0;
    case LV_TYPE_Q3_K: dq_q3_K(src, dst, nb); return 0;
    case LV_TYPE_Q4_K: dq_q4_K(src, dst, nb); return 0;
    case LV_TYPE_Q5_K: dq_q5_K(src, dst, nb); return 0;
    case LV_TYPE_Q6_K: dq_q6_K(src, dst, nb); return 0;
    case LV_TYPE_Q8_K: {
        const lv_block_q8_K *b = src;
        for (int64_t i = 0; i < nb; i++)
            for (int j = 0; j < 256; j++) dst[256 * i + j] = b[i].d * (float)b[i].qs[j];
        return 0;
    }
    case LV_TYPE_IQ4_NL: dq_iq4_nl(src, dst, nb); return 0;
    default: return -1;
    }
}

/* ------------------------------------------------- reference quantizers §2.4 */

/* Round half to even of a float32, as ggml's nearest_int (valid for |v| < 2^22). */
static int nearest_int(float v)
{
    float val = v + 12582912.f;
    int32_t i;
    memcpy(&i, &val, 4);
    return (i & 0x007fffff) - 0x00400000;
}

/* The signed value of the first element of largest magnitude. */
static float largest_signed(const float *x, int n)
{
    float amax = 0.0f, mx = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); mx = x[j]; }
    return mx;
}

static void qref_q8_0(const float *x, lv_block_q8_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        y[i].d = lv_fp32_to_fp16(d);
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

/* Q4_0 / Q5_0: scale from the largest-magnitude element, q = trunc(x*id + off). */
static void qref_sym(const float *x, int64_t nb, int bits, lv_block_q4_0 *y4, lv_block_q5_0 *y5)
{
    const float div = bits == 4 ? -8.0f : -16.0f, off = bits == 4 ? 8.5f : 16.5f;
    const int maxq = bits == 4 ? 15 : 31;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float mx = largest_signed(x, 32);
        float d = mx / div, id = d ? 1.0f / d : 0.0f;
        uint8_t q[32];
        for (int j = 0; j < 32; j++) {
            float t = x[j] * id;
            t = t + off;
            int v = (int)t;
            q[j] = (uint8_t)(v > maxq ? maxq : v);
        }
        if (bits == 4) {
            y4[i].d = lv_fp32_to_fp16(d);
            for (int j = 0; j < 16; j++) y4[i].qs[j] = (uint8_t)(q[j] | q[j + 16] << 4);
        } else {
            uint32_t qh = 0;
            y5[i].d = lv_fp32_to_fp16(d);
            for (int j = 0; j < 16; j++) {
                y5[i].qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
                qh |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + 16] >> 4) << (j + 16);
            }
            memcpy(y5[i].qh, &qh, 4);
        }
    }
}

/* Q4_1 / Q5_1: min and max, q = trunc((x - min)*id + 0.5). */
static void qref_asym(const float *x, int64_t nb, int bits, lv_block_q4_1 *y4, lv_block_q5_1 *y5)
{
    const int maxq = bits == 4 ? 15 : 31;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float mn = INFINITY, mx = -INFINITY;
        for (int j = 0; j < 32; j++) {
            if (x[j] < mn) mn = x[j];
            if (x[j] > mx) mx = x[j];
        }
        float d = (mx - mn) / (float)maxq, id = d ? 1.0f / d : 0.0f;
        uint8_t q[32];
        for (int j = 0; j < 32; j++) {
            float t = (x[j] - mn) * id;
            t = t + 0.5f;
            int v = (int)t;
            q[j] = (uint8_t)(bits == 4 && v > maxq ? maxq : v);
        }
        if (bits == 4) {
            y4[i].d = lv_fp32_to_fp16(d);
            y4[i].m = lv_fp32_to_fp16(mn);
            for (int j = 0; j < 16; j++) y4[i].qs[j] = (uint8_t)(q[j] | q[j + 16] << 4);
        } else {
            uint32_t qh = 0;
            y5[i].d = lv_fp32_to_fp16(d);
            y5[i].m = lv_fp32_to_fp16(mn);
            for (int j = 0; j < 16; j++) {
                y5[i].qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
                qh |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + 16] >> 4) << (j + 16);
            }
            memcpy(y5[i].qh, &qh, 4);
        }
    }
}

int lv_quantize_row_ref(int type, const float *src, void *dst, int64_t n)
{
    const lv_type_traits *tr = lv_type_info(type);
    if (!tr || n % tr->block) return -1;
    int64_t nb = n / tr->block;
    switch (type) {
    case LV_TYPE_F32: memcpy(dst, src, (size_t)n * 4); return 0;
    case LV_TYPE_F16:
    case LV_TYPE_BF16: {
        uint8_t *p = dst;
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = type == LV_TYPE_F16 ? lv_fp32_to_fp16(src[i]) : lv_fp32_to_bf16(src[i]);
            memcpy(p + 2 * i, &h, 2);
        }
        return 0;
    }
    case LV_TYPE_Q8_0: qref_q8_0(src, dst, nb); return 0;
    case LV_TYPE_Q4_0: qref_sym(src, nb, 4, dst, NULL); return 0;
    case LV_TYPE_Q5_0: qref_sym(src, nb, 5, NULL, dst); return 0;
    case LV_TYPE_Q4_1: qref_asym(src, nb, 4, dst, NULL); return 0;
    case LV_TYPE_Q5_1: qref_asym(src, nb, 5, NULL, dst); return 0;
    default: return lv_quantize_row_ref_k(type, src, dst, n);   /* quant_k.c */
    }
}

/* ------------------------------------------- runtime activation quantizers §3.2 */

void lv_quantize_act_q8_0(const float *x, lv_block_q8_0 *y, int64_t n)
{
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = lv_fp32_to_fp16(d);
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)nearest_int(x[j] * id);
    }
}

void lv_quantize_act_q8_1(const float *x, lv_block_q8_1 *y, int64_t n)
{
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = lv_fp32_to_fp16(d);
        for (int j = 0; j < 32; j++) {
            y[i].qs[j] = (int8_t)nearest_int(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].s = lv_fp32_to_fp16(d * (float)sum);
    }
}

void lv_quantize_act_q8_K(const float *x, lv_block_q8_K *y, int64_t n)
{
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        float mx = largest_signed(x, 256);
        memset(y[i].bsums, 0, sizeof y[i].bsums);
        if (mx == 0.0f) {
            y[i].d = 0.0f;
            memset(y[i].qs, 0, sizeof y[i].qs);
            continue;
        }
        float is = -127.0f / mx;
        for (int j = 0; j < 256; j++) {
            int v = nearest_int(is * x[j]);
            y[i].qs[j] = (int8_t)(v > 127 ? 127 : v);
            y[i].bsums[j / 16] = (int16_t)(y[i].bsums[j / 16] + y[i].qs[j]);
        }
        y[i].d = 1.0f / is;
    }
}

int lv_quantize_act(int act_type, const float *x, void *dst, int64_t n)
{
    switch (act_type) {
    case LV_TYPE_F32: memcpy(dst, x, (size_t)n * 4); return 0;
    case LV_TYPE_F16:
    case LV_TYPE_BF16: return lv_quantize_row_ref(act_type, x, dst, n);
    case LV_TYPE_Q8_0: if (n % 32) return -1; lv_quantize_act_q8_0(x, dst, n); return 0;
    case LV_TYPE_Q8_1: if (n % 32) return -1; lv_quantize_act_q8_1(x, dst, n); return 0;
    case LV_TYPE_Q8_K: if (n % 256) return -1; lv_quantize_act_q8_K(x, dst, n); return 0;
    default: return -1;
    }
}
