/* engine/quant_k.c — reference file quantizers for the K types (Q2_K, Q3_K,
 * Q4_K, Q5_K, Q6_K): what llama-quantize writes without an importance matrix,
 * gguf-quant-tokenizer.md §2.4. Part of the quant module (engine/quant.h).
 *
 * All arithmetic is float32 in the order the spec gives; the file is compiled
 * with -ffp-contract=off so nothing is fused. Tests compare the output byte for
 * byte with the K-quant fixture files llama-quantize made from text.gguf.
 */
#include "engine/quant.h"

#include <math.h>
#include <string.h>

#define GROUP_MAX_EPS 1e-15f

static int nearest_int(float v)
{
    float val = v + 12582912.f;
    int32_t i;
    memcpy(&i, &val, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Weighted min/scale search ("qkx2"): quants L in 0..nmax, returns the scale and
 * the non-negative min in *the_min (value = scale*L - the_min). */
static float qkx2(int n, int nmax, const float *x, const float *w, uint8_t *L, float *the_min,
                  uint8_t *Laux, float rmin, float rdelta, int nstep, int use_mad)
{
    float mn = x[0], mx = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0) mn = 0;
    if (mx == mn) {
        memset(L, 0, (size_t)n);
        *the_min = -mn;
        return 0.f;
    }
    float iscale = (float)nmax / (mx - mn), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(nearest_int(iscale * (x[i] - mn)), 0, nmax);
        float diff = scale * L[i] + mn - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best += w[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (mx - mn);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * (x[i] - mn)), 0, nmax);
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur += w[i] * diff;
            }
            if (cur < best) {
                memcpy(L, Laux, (size_t)n);
                best = cur;
                scale = this_scale;
                mn = this_min;
            }
        }
    }
    *the_min = -mn;
    return scale;
}

/* Signed scale search ("qx", rmse_type 1, weights x^2): L = l + nmax. */
static float qx(int n, int nmax, const float *x, uint8_t *L)
{
    float amax = 0, mx = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); mx = x[i]; }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = (float)-nmax / mx, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (uint8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / mx;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (uint8_t)(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3 search (nmax 4, with the refinement passes): L = l + 4. */
static float q3search(int n, const float *x, uint8_t *Lout)
{
    const int nmax = 4;
    int L[16];
    float amax = 0, mx = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); mx = x[i]; }
    if (amax < GROUP_MAX_EPS) {
        memset(Lout, 0, (size_t)n);
        return 0.f;
    }
    float iscale = (float)-nmax / mx, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        L[i] = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)L[i];
        suml2 += w * (float)L[i] * (float)L[i];
    }
    for (int itry = 0; itry < 5; itry++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * (float)L[i] * (float)L[i];
                int nl = clampi(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (nl != L[i]) {
                    slx += w * x[i] * (float)nl;
                    sl2 += w * (float)nl * (float)nl;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = nl;
                        sumlx = slx;
                        suml2 = sl2;
                        changed++;
                    }
                }
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) Lout[i] = (uint8_t)(L[i] + nmax);
    return sumlx / suml2;
}

/* 2-bit quants of 256 values into 64 bytes (Q2_K / Q3_K low bits). */
static void pack2(const uint8_t *L, uint8_t *qs)
{
    for (int j = 0; j < 256; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6);
}

static void q2_K(const float *x, lv_block_q2_K *y)
{
    uint8_t L[256], Laux[16];
    float w[16], scales[16], mins[16], max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; j++) {
        for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]);
        scales[j] = qkx2(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, 1);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
        float iscale = 15.f / max_scale;
        for (int j = 0; j < 16; j++) y->scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
        y->d = lv_fp32_to_fp16(max_scale / 15.f);
    } else {
        memset(y->scales, 0, 16);
        y->d = 0;
    }
    if (max_min > 0) {
        float iscale = 15.f / max_min;
        for (int j = 0; j < 16; j++) y->scales[j] |= (uint8_t)(nearest_int(iscale * mins[j]) << 4);
        y->dmin = lv_fp32_to_fp16(max_min / 15.f);
    } else {
        y->dmin = 0;
    }
    for (int j = 0; j < 16; j++) {
        float d = lv_fp16_to_fp32(y->d) * (float)(y->scales[j] & 15);
        if (!d) continue;
        float dm = lv_fp16_to_fp32(y->dmin) * (float)(y->scales[j] >> 4);
        for (int i = 0; i < 16; i++) L[16 * j + i] = (uint8_t)clampi(nearest_int((x[16 * j + i] + dm) / d), 0, 3);
    }
    pack2(L, y->qs);
}

static void q3_K(const float *x, lv_block_q3_K *y)
{
    uint8_t L[256];
    float scales[16], amax = 0, max_scale = 0;
    for (int j = 0; j < 16; j++) {
        scales[j] = q3search(16, x + 16 * j, L + 16 * j);
        if (fabsf(scales[j]) > amax) { amax = fabsf(scales[j]); max_scale = scales[j]; }
    }
    memset(y->scales, 0, 12);
    if (max_scale) {
        float iscale = -32.f / max_scale;
        for (int j = 0; j < 16; j++) {
            int l = clampi(nearest_int(iscale * scales[j]), -32, 31) + 32;
            if (j < 8) y->scales[j] = (uint8_t)(l & 15);
            else y->scales[j - 8] |= (uint8_t)((l & 15) << 4);
            l >>= 4;
            y->scales[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
        }
        y->d = lv_fp32_to_fp16(1 / iscale);
    } else {
        y->d = 0;
    }
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? y->scales[j] & 15 : y->scales[j - 8] >> 4;
        int hi = (y->scales[8 + j % 4] >> (2 * (j / 4))) & 3;
        float d = lv_fp16_to_fp32(y->d) * (float)((lo | hi << 4) - 32);
        if (!d) continue;
        for (int i = 0; i < 16; i++) L[16 * j + i] = (uint8_t)(clampi(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
    }
    memset(y->hmask, 0, 32);
    for (int e = 0; e < 256; e++)
        if (L[e] > 3) {
            y->hmask[e % 32] |= (uint8_t)(1 << (e / 32));
            L[e] -= 4;
        }
    pack2(L, y->qs);
}

/* Shared by Q4_K (bits 4) and Q5_K (bits 5): scales/mins search and requantization. */
static void q45_K(const float *x, int bits, uint8_t *scales12, uint16_t *d, uint16_t *dmin, uint8_t *L)
{
    const int nmax = bits == 4 ? 15 : 31;
    uint8_t Laux[32];
    float w[32], scales[8], mins[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = bits == 4 ? qkx2(32, 15, x + 32 * j, w, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20, 0)
                              : qkx2(32, 31, x + 32 * j, w, L + 32 * j, &mins[j], Laux, -0.5f, 0.1f, 15, 0);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]), lm = (uint8_t)nearest_int(inv_min * mins[j]);
        if (ls > 63) ls = 63;
        if (lm > 63) lm = 63;
        if (j < 4) {
            scales12[j] = ls;
            scales12[j + 4] = lm;
        } else {
            scales12[j + 4] = (uint8_t)((ls & 15) | (lm & 15) << 4);
            scales12[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales12[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *d = lv_fp32_to_fp16(max_scale / 63.f);
    *dmin = lv_fp32_to_fp16(max_min / 63.f);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        if (j < 4) { sc = scales12[j] & 63; m = scales12[j + 4] & 63; }
        else { sc = (scales12[j + 4] & 15) | ((scales12[j - 4] >> 6) << 4); m = (scales12[j + 4] >> 4) | ((scales12[j] >> 6) << 4); }
        float dd = lv_fp16_to_fp32(*d) * (float)sc;
        if (!dd) continue;
        float dm = lv_fp16_to_fp32(*dmin) * (float)m;
        for (int i = 0; i < 32; i++) L[32 * j + i] = (uint8_t)clampi(nearest_int((x[32 * j + i] + dm) / dd), 0, nmax);
    }
}

static void q4_K(const float *x, lv_block_q4_K *y)
{
    uint8_t L[256];
    memset(y->scales, 0, 12);
    q45_K(x, 4, y->scales, &y->d, &y->dmin, L);
    for (int j = 0, o = 0; j < 256; j += 64, o += 32)
        for (int l = 0; l < 32; l++) y->qs[o + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
}

static void q5_K(const float *x, lv_block_q5_K *y)
{
    uint8_t L[256];
    memset(y->scales, 0, 12);
    q45_K(x, 5, y->scales, &y->d, &y->dmin, L);
    memset(y->qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0, o = 0; n < 256; n += 64, o += 32) {
        for (int j = 0; j < 32; j++) {
            int l1 = L[n + j], l2 = L[n + j + 32];
            if (l1 > 15) { l1 -= 16; y->qh[j] |= m1; }
            if (l2 > 15) { l2 -= 16; y->qh[j] |= m2; }
            y->qs[o + j] = (uint8_t)(l1 | l2 << 4);
        }
        m1 = (uint8_t)(m1 << 2);
        m2 = (uint8_t)(m2 << 2);
    }
}

static void q6_K(const float *x, lv_block_q6_K *y)
{
    uint8_t L[256];
    float scales[16], max_abs = 0, max_scale = 0;
    for (int j = 0; j < 16; j++) {
        scales[j] = qx(16, 32, x + 16 * j, L + 16 * j);
        if (fabsf(scales[j]) > max_abs) { max_abs = fabsf(scales[j]); max_scale = scales[j]; }
    }
    if (max_abs < GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        return;
    }
    float iscale = -128.f / max_scale;
    y->d = lv_fp32_to_fp16(1 / iscale);
    for (int j = 0; j < 16; j++) {
        int v = nearest_int(iscale * scales[j]);
        y->scales[j] = (int8_t)(v > 127 ? 127 : v);
    }
    for (int j = 0; j < 16; j++) {
        float d = lv_fp16_to_fp32(y->d) * (float)y->scales[j];
        if (!d) continue;
        for (int i = 0; i < 16; i++) L[16 * j + i] = (uint8_t)(clampi(nearest_int(x[16 * j + i] / d), -32, 31) + 32);
    }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *q = L + 128 * h + l;
            y->ql[64 * h + l] = (uint8_t)((q[0] & 15) | (q[64] & 15) << 4);
            y->ql[64 * h + 32 + l] = (uint8_t)((q[32] & 15) | (q[96] & 15) << 4);
            y->qh[32 * h + l] = (uint8_t)(q[0] >> 4 | (q[32] >> 4) << 2 | (q[64] >> 4) << 4 | (q[96] >> 4) << 6);
        }
}

int lv_quantize_row_ref_k(int type, const float *src, void *dst, int64_t n)
{
    if (n % 256) return -1;
    for (int64_t b = 0; b < n / 256; b++) {
        const float *x = src + 256 * b;
        switch (type) {
        case LV_TYPE_Q2_K: q2_K(x, (lv_block_q2_K *)dst + b); break;
        case LV_TYPE_Q3_K: q3_K(x, (lv_block_q3_K *)dst + b); break;
        case LV_TYPE_Q4_K: q4_K(x, (lv_block_q4_K *)dst + b); break;
        case LV_TYPE_Q5_K: q5_K(x, (lv_block_q5_K *)dst + b); break;
        case LV_TYPE_Q6_K: q6_K(x, (lv_block_q6_K *)dst + b); break;
        default: return -1;
        }
    }
    return 0;
}
