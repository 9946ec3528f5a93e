/* engine/quant_dot_avx512.c — AVX-512 VNNI tile kernels (see quant_simd.h).
 *
 * Every kernel keeps one 8-lane f32 accumulator per (weight row, activation row) pair
 * and reduces it at the end in a fixed order. Within a block the integer dot is exact:
 *   Q4_0 · Q8_0  Σ (u-8)·a  = vpdpbusd(u, a) - 8·Σa      (u: the unsigned nibble)
 *   Q8_0 · Q8_0  Σ w·a      = vpdpbusd(w^0x80, a) - 128·Σa
 * the correction is folded into the accumulator vpdpbusd starts from, lane by lane
 * (offset × the sum of that lane's 4 activation quants), so every int32 lane holds
 * exactly the partial sum of llama.cpp's x86 kernels, and the f32 rounding matches
 * theirs (8-lane FMA accumulators, the same final reduction).
 *   Q4_K · Q8_K  Σ_s sc_s·vpdpbusd(u_s, a_s) and Σ_s mn_s·bsum_s, as in the oracle
 *   Q6_K · Q8_K  Σ_s sc_s·(vpdpbusd(u_s, a_s) - 32·bsum_s)   (u = q + 32 ∈ [0, 63])
 */
#include <string.h>

#include "engine/base.h"
#include "engine/quant_simd.h"

#include "engine/quant.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define INL static inline __attribute__((always_inline))

int lv_simd_tiles_ok(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           lv_cpu_has_f16c() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vnni");
}

/* Fixed-order sum of the 8 lanes. */
TGT INL float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

TGT INL float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* ------------------------------------------------------------ Q4_0 / Q8_0 --- */

/* The hot loop of legacy-type prefill and decode: R weight rows × C activation rows,
 * one 32-value block at a time. WT: 0 = Q4_0, 1 = Q8_0.
 *   w: [R][ws bytes] blocks; a: activation rows t0 … t0+C-1; y: [C][ys] f32 */
TGT INL void tile_legacy(const int WT, const int R, const int C, int64_t nb, const uint8_t *w,
                         size_t ws, const lv_act *a, int64_t t0, float *y, size_t ys)
{
    __m256 acc[4][4];
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        #pragma GCC unroll 8
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15), x80 = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < nb; b++) {
        __m256i wq[4];
        float dw[4];
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            if (WT == 0) {
                const lv_block_q4_0 *blk = (const lv_block_q4_0 *)(w + (size_t)r * ws) + b;
                __m128i x = _mm_loadu_si128((const __m128i *)blk->qs);
                wq[r] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), m4);
                dw[r] = h2f(blk->d);
            } else {
                const lv_block_q8_0 *blk = (const lv_block_q8_0 *)(w + (size_t)r * ws) + b;
                wq[r] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)blk->qs), x80);
                dw[r] = h2f(blk->d);
            }
        }
        #pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            const int64_t t = t0 + c;
            const lv_block_q8_0 *ab = (const lv_block_q8_0 *)(a->q + (size_t)t * a->row_bytes) + b;
            const __m256i av = _mm256_loadu_si256((const __m256i *)ab->qs);
            const __m256i init = _mm256_sub_epi32(_mm256_setzero_si256(),
                                                  _mm256_loadu_si256((const __m256i *)(a->s + (t * nb + b) * 8)));
            const float da = a->d[t * nb + b];
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                __m256i p = _mm256_dpbusd_epi32(init, wq[r], av);
                acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw[r] * da), acc[r][c]);
            }
        }
    }
    #pragma GCC unroll 8
    for (int c = 0; c < C; c++)
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) y[(size_t)c * ys + r] = hsum8(acc[r][c]);
}

/* ------------------------------------------------------------------ Q4_K --- */

/* Unpacks one Q4_K super-block: u[256] nibbles in element order, sc[8] scales,
 * mn16[16] mins each repeated twice (to pair with the 16 bsums). */
TGT INL void unpack_q4_K(const lv_block_q4_K *blk, uint8_t *u, int32_t *sc, int16_t *mn16)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int j = 0; j < 4; j++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * j));
        _mm256_storeu_si256((__m256i *)(u + 64 * j), _mm256_and_si256(x, m4));
        _mm256_storeu_si256((__m256i *)(u + 64 * j + 32), _mm256_and_si256(_mm256_srli_epi16(x, 4), m4));
    }
    const uint8_t *S = blk->scales;
    #pragma GCC unroll 8
    for (int s = 0; s < 8; s++) {
        int a, m;
        if (s < 4) {
            a = S[s] & 63;
            m = S[s + 4] & 63;
        } else {
            a = (S[s + 4] & 15) | ((S[s - 4] >> 6) << 4);
            m = (S[s + 4] >> 4) | ((S[s] >> 6) << 4);
        }
        sc[s] = a;
        mn16[2 * s] = mn16[2 * s + 1] = (int16_t)m;
    }
}

/* The hot loop of Q4_K: R rows × C activations per 256-value super-block. */
TGT INL void tile_q4_K(const int R, const int C, int64_t nb, const uint8_t *w, size_t ws,
                       const lv_act *a, int64_t t0, float *y, size_t ys)
{
    __m256 acc[4][4];
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        #pragma GCC unroll 8
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
    _Alignas(32) uint8_t u[4][256];
    _Alignas(32) int16_t mn16[4][16];
    int32_t sc[4][8];
    float dw[4], dm[4];
    for (int64_t b = 0; b < nb; b++) {
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const lv_block_q4_K *blk = (const lv_block_q4_K *)(w + (size_t)r * ws) + b;
            unpack_q4_K(blk, u[r], sc[r], mn16[r]);
            dw[r] = h2f(blk->d);
            dm[r] = h2f(blk->dmin);
        }
        #pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            const lv_block_q8_K *ab = (const lv_block_q8_K *)(a->q + (size_t)(t0 + c) * a->row_bytes) + b;
            const __m256i bs = _mm256_loadu_si256((const __m256i *)ab->bsums);
            __m256i isum[4];
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) isum[r] = _mm256_setzero_si256();
            #pragma GCC unroll 8
            for (int s = 0; s < 8; s++) {
                const __m256i av = _mm256_loadu_si256((const __m256i *)(ab->qs + 32 * s));
                #pragma GCC unroll 8
                for (int r = 0; r < R; r++) {
                    __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(),
                                                    _mm256_load_si256((const __m256i *)(u[r] + 32 * s)), av);
                    isum[r] = _mm256_add_epi32(isum[r], _mm256_mullo_epi32(p, _mm256_set1_epi32(sc[r][s])));
                }
            }
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                __m256i ms = _mm256_madd_epi16(_mm256_load_si256((const __m256i *)mn16[r]), bs);
                acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_set1_ps(dw[r] * ab->d), acc[r][c]);
                acc[r][c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_set1_ps(dm[r] * ab->d), acc[r][c]);
            }
        }
    }
    #pragma GCC unroll 8
    for (int c = 0; c < C; c++)
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) y[(size_t)c * ys + r] = hsum8(acc[r][c]);
}

/* ------------------------------------------------------------------ Q6_K --- */

/* Unpacks one Q6_K super-block: u[256] = q + 32 in element order; scv[8][8] the
 * scales of the two 16-value groups of each 32-value chunk, four lanes each;
 * sc32[16] = -32·scale (pairs with the 16 bsums). */
TGT INL void unpack_q6_K(const lv_block_q6_K *blk, uint8_t *u, int32_t *scv, int16_t *sc32)
{
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        __m256i l0 = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * h));
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * h + 32));
        __m256i qh = _mm256_loadu_si256((const __m256i *)(blk->qh + 32 * h));
        __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
        __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                     _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
        __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                     _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
        __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                     _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
        _mm256_storeu_si256((__m256i *)(u + 128 * h), q0);
        _mm256_storeu_si256((__m256i *)(u + 128 * h + 32), q1);
        _mm256_storeu_si256((__m256i *)(u + 128 * h + 64), q2);
        _mm256_storeu_si256((__m256i *)(u + 128 * h + 96), q3);
    }
    #pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        for (int l = 0; l < 8; l++) scv[8 * j + l] = blk->scales[2 * j + (l >> 2)];
    for (int s = 0; s < 16; s++) sc32[s] = (int16_t)(-32 * blk->scales[s]);
}

/* The hot loop of Q6_K: R rows × C activations per 256-value super-block. */
TGT INL void tile_q6_K(const int R, const int C, int64_t nb, const uint8_t *w, size_t ws,
                       const lv_act *a, int64_t t0, float *y, size_t ys)
{
    __m256 acc[4][4];
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        #pragma GCC unroll 8
        for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
    _Alignas(32) uint8_t u[4][256];
    _Alignas(32) int32_t scv[4][64];
    _Alignas(32) int16_t sc32[4][16];
    float dw[4];
    for (int64_t b = 0; b < nb; b++) {
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const lv_block_q6_K *blk = (const lv_block_q6_K *)(w + (size_t)r * ws) + b;
            unpack_q6_K(blk, u[r], scv[r], sc32[r]);
            dw[r] = h2f(blk->d);
        }
        #pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            const lv_block_q8_K *ab = (const lv_block_q8_K *)(a->q + (size_t)(t0 + c) * a->row_bytes) + b;
            const __m256i bs = _mm256_loadu_si256((const __m256i *)ab->bsums);
            __m256i isum[4];
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                isum[r] = _mm256_madd_epi16(_mm256_load_si256((const __m256i *)sc32[r]), bs);
            #pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                const __m256i av = _mm256_loadu_si256((const __m256i *)(ab->qs + 32 * j));
                #pragma GCC unroll 8
                for (int r = 0; r < R; r++) {
                    __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(),
                                                    _mm256_load_si256((const __m256i *)(u[r] + 32 * j)), av);
                    isum[r] = _mm256_add_epi32(
                        isum[r], _mm256_mullo_epi32(p, _mm256_load_si256((const __m256i *)(scv[r] + 8 * j))));
                }
            }
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_set1_ps(dw[r] * ab->d), acc[r][c]);
        }
    }
    #pragma GCC unroll 8
    for (int c = 0; c < C; c++)
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) y[(size_t)c * ys + r] = hsum8(acc[r][c]);
}

/* ------------------------------------------------- activation conversion --- */

/* One block of 32 values as lv_quantize_act_q8_0 makes it (amax, d = amax/127, RNE of
 * x·127/amax, d stored as f16 by F16C's round to nearest even): the quants to qs, the
 * f16 scale returned, the 8 sums of 4 quants in *sums. */
TGT INL uint16_t act_block_q8_0(const float *x, int8_t *qs, __m256i *sums)
{
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const float df = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m512 iv = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(x0, iv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(x1, iv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i qb = _mm256_set_m128i(_mm512_cvtepi32_epi8(q1), _mm512_cvtepi32_epi8(q0));
    _mm256_storeu_si256((__m256i *)qs, qb);
    *sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), qb);
    return (uint16_t)_cvtss_sh(df, _MM_FROUND_TO_NEAREST_INT);
}

TGT INL int32_t hsum8_epi32(__m256i v)
{
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    return _mm_cvtsi128_si32(t);
}

/* Bit-identical to lv_quantize_act_q8_0, with the side data of each block computed
 * from the same registers: f32 scale, off × the 8 sums of 4, -off × the sum. */
TGT void lv_simd_act_q8_0(const float *x, int64_t n, lv_block_q8_0 *y, float *d, int32_t *s4, int32_t *s1,
                          int32_t off)
{
    const __m256i offv = _mm256_set1_epi32(off);
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        __m256i sums;
        const uint16_t dh = act_block_q8_0(x, y[i].qs, &sums);
        y[i].d = dh;
        _mm256_storeu_si256((__m256i *)(s4 + 8 * i), _mm256_mullo_epi32(sums, offv));
        s1[i] = -off * hsum8_epi32(sums);
        d[i] = _cvtsh_ss(dh);
    }
}

/* The x16 kernels' interleaved form (lv_act.q): block i's quants at qs + i·stride·32,
 * its f32 scale at d[i·stride], -off × its sum at s1[i·stride]. */
TGT void lv_simd_act_q8_0_x16(const float *x, int64_t n, int8_t *qs, float *d, int32_t *s1, int64_t stride,
                              int32_t off)
{
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        __m256i sums;
        const uint16_t dh = act_block_q8_0(x, qs + i * stride * 32, &sums);
        s1[i * stride] = -off * hsum8_epi32(sums);
        d[i * stride] = _cvtsh_ss(dh);
    }
}

/* F16 activations for the x16 kernel: dst[i·stride] = x[i] rounded to f16 (F16C, to
 * nearest even, the bits lv_quantize_act gives), as f32. */
TGT void lv_simd_act_f16_x16(const float *x, int64_t n, float *dst, int64_t stride)
{
    int64_t i = 0;
    float tmp[16];
    for (; i + 16 <= n; i += 16) {
        const __m512 r = _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        if (stride == 1) {
            _mm512_storeu_ps(dst + i, r);
            continue;
        }
        _mm512_storeu_ps(tmp, r);
        for (int k = 0; k < 16; k++) dst[(i + k) * stride] = tmp[k];
    }
    for (; i < n; i++) dst[i * stride] = _cvtsh_ss(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

/* Bit-identical to lv_quantize_act_q8_K (the first value of largest magnitude sets
 * the scale -127/mx; RNE; clamp at 127; bsums per 16), plus the x16 pairs (quant_simd.h:
 * lv_act.kb) of each super-block. */
TGT void lv_simd_act_q8_K(const float *x, int64_t n, lv_block_q8_K *y, int32_t *kb)
{
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        __m512 am = _mm512_setzero_ps();
        for (int v = 0; v < 16; v++) am = _mm512_max_ps(am, _mm512_abs_ps(_mm512_loadu_ps(x + 16 * v)));
        const float amax = _mm512_reduce_max_ps(am);
        lv_block_q8_K *b = &y[i];
        if (amax == 0.0f) {
            memset(b, 0, sizeof *b);
            for (int p = 0; p < 4; p++) kb[4 * i + p] = 0;
            continue;
        }
        float mx = 0.0f;
        const __m512 amv = _mm512_set1_ps(amax);
        for (int v = 0; v < 16; v++) {
            const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * v)), amv, _CMP_EQ_OQ);
            if (hit) { mx = x[16 * v + __builtin_ctz(hit)]; break; }
        }
        const float is = -127.0f / mx;
        const __m512 isv = _mm512_set1_ps(is);
        const __m512i c127 = _mm512_set1_epi32(127);
        for (int v = 0; v < 16; v++) {
            __m512i q = _mm512_cvt_roundps_epi32(_mm512_mul_ps(isv, _mm512_loadu_ps(x + 16 * v)),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q = _mm512_min_epi32(q, c127);
            _mm_storeu_si128((__m128i *)(b->qs + 16 * v), _mm512_cvtepi32_epi8(q));
            b->bsums[v] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        b->d = 1.0f / is;
        for (int p = 0; p < 4; p++) {
            const int16_t s0 = (int16_t)(b->bsums[4 * p] + b->bsums[4 * p + 1]);
            const int16_t s1 = (int16_t)(b->bsums[4 * p + 2] + b->bsums[4 * p + 3]);
            kb[4 * i + p] = (int32_t)((uint32_t)(uint16_t)s0 | (uint32_t)(uint16_t)s1 << 16);
        }
    }
}

/* ------------------------------------------------------------ dispatch --- */

/* ------------------------------------------------------- x16 (repacked) --- */

#define TGT512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

/* acc + vpdpbusd(w, the 4 bytes at a broadcast to every lane), with the broadcast
 * folded into the instruction ({1to16}): GCC does not fold it by itself, and a separate
 * vpbroadcastd per product costs more than the product on Zen 4. */
TGT512 INL __m512i dpbusd_bcast(__m512i acc, __m512i w, const void *a)
{
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t *)a));
    return acc;
}

/* The same for vpdpwssd (int16 pairs). */
TGT512 INL __m512i dpwssd_bcast(__m512i acc, __m512i w, const void *a)
{
    __asm__("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t *)a));
    return acc;
}

/* The hot loop of Q4_0 / Q8_0 prefill and decode on repacked weights: 16 rows × C
 * activation rows per 32-value block. WT: 0 = Q4_0, 1 = Q8_0.
 *   w: nb group-blocks (quant_simd.h); a: rows t0 … t0+C-1; y: [C][ys] f32 */
TGT512 INL void x16_legacy(const int WT, const int C, int64_t nb, const uint8_t *w, const lv_act *a,
                           int64_t t0, float *y, size_t ys)
{
    const size_t gb = WT == 0 ? 32 + 256 : 32 + 512;   /* bytes per group-block */
    __m512 acc[8];
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) acc[c] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(15);
    /* the tile of C rows starting at t0, interleaved: block b of row t0 + c is entry b·C + c */
    const int8_t *qt = (const int8_t *)a->q + (size_t)t0 * (size_t)nb * 32;
    const float *dt = a->d + (size_t)t0 * (size_t)nb;
    const int32_t *st = a->s1 + (size_t)t0 * (size_t)nb;
    for (int64_t b = 0; b < nb; b++, w += gb, qt += 32 * C, dt += C, st += C) {
        __m512i wq[8];
        /* weights stream from memory once per token in decode: ask for them ~14 blocks
           ahead, into L2 (measured on 150 MB of Q4_0, 2 threads: 1.4x the rate of a
           1 KB distance into L1, which barely beat no prefetch) */
        for (size_t l = 0; l < gb; l += 64) _mm_prefetch((const char *)w + 4096 + l, _MM_HINT_T1);
        if (WT == 0) {
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                __m512i x = _mm512_loadu_si512((const void *)(w + 32 + 64 * j));
                wq[j] = _mm512_and_si512(x, m4);
                wq[j + 4] = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
            }
        } else {
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) wq[j] = _mm512_loadu_si512((const void *)(w + 32 + 64 * j));
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w));
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            __m512i p = _mm512_broadcastd_epi32(_mm_loadu_si32(st + c)), p2 = _mm512_setzero_si512();
            const int8_t *aq = qt + 32 * c;   /* 4 quants at a time, broadcast straight from memory */
            /* register j holds values 4j … 4j+3 of each row (for Q4_0 the low nibbles
               of the packed bytes are values 0-15, the high ones 16-31); two chains
               for latency, added exactly in int32 */
#pragma GCC unroll 8
            for (int j = 0; j < 8; j += 2) {
                p = dpbusd_bcast(p, wq[j], aq + 4 * j);
                p2 = dpbusd_bcast(p2, wq[j + 1], aq + 4 * j + 4);
            }
            p = _mm512_add_epi32(p, p2);
            const __m512 sc = _mm512_mul_ps(dw, _mm512_set1_ps(dt[c]));
            acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(_mm512_cvtepi32_ps(p), sc));
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) _mm512_storeu_ps(y + (size_t)c * ys, acc[c]);
}

#define X16(NAME, WT)                                                                          \
    TGT512 static void NAME(int64_t n, const uint8_t *w, const lv_act *a, int64_t t0, int nc, \
                            float *y, size_t ys)                                             \
    {                                                                                          \
        switch (nc) {                                                                          \
        case 8: x16_legacy(WT, 8, n / 32, w, a, t0, y, ys); return;                            \
        case 7: x16_legacy(WT, 7, n / 32, w, a, t0, y, ys); return;                            \
        case 6: x16_legacy(WT, 6, n / 32, w, a, t0, y, ys); return;                            \
        case 5: x16_legacy(WT, 5, n / 32, w, a, t0, y, ys); return;                            \
        case 4: x16_legacy(WT, 4, n / 32, w, a, t0, y, ys); return;                            \
        case 3: x16_legacy(WT, 3, n / 32, w, a, t0, y, ys); return;                            \
        case 2: x16_legacy(WT, 2, n / 32, w, a, t0, y, ys); return;                            \
        default: x16_legacy(WT, 1, n / 32, w, a, t0, y, ys); return;                           \
        }                                                                                      \
    }
X16(x16_q4_0_fn, 0)
X16(x16_q8_0_fn, 1)

/* The hot loop of Q4_K on repacked weights: 16 rows × C activation rows per
 * 256-value super-block, bit-identical to the oracle's k4_block_dot order. */
TGT512 INL void x16_q4_K(const int C, int64_t nb, const uint8_t *w, const lv_act *a, int64_t t0, float *y,
                         size_t ys)
{
    enum { GB = 64 + 128 + 128 + 2048 };
    __m512 acc[4];
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) acc[c] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(15);
    const lv_block_q8_K *arow[4];
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) arow[c] = (const lv_block_q8_K *)(a->q + (size_t)(t0 + c) * a->row_bytes);
    for (int64_t b = 0; b < nb; b++, w += GB) {
        for (size_t l = 0; l < GB; l += 64) _mm_prefetch((const char *)w + 2 * GB + l, _MM_HINT_T0);
        const uint8_t *sc = w + 64, *mn = w + 192, *qs = w + 320;
        __m512i isum[4];
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) isum[c] = _mm512_setzero_si512();
        for (int ch = 0; ch < 4; ch++) {
            __m512i lo[8], hi[8];
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                __m512i x = _mm512_loadu_si512((const void *)(qs + 512 * ch + 64 * j));
                lo[j] = _mm512_and_si512(x, m4);
                hi[j] = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
            }
            const __m512i s_lo = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(sc + 16 * (2 * ch))));
            const __m512i s_hi = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(sc + 16 * (2 * ch + 1))));
#pragma GCC unroll 4
            for (int c = 0; c < C; c++) {
                const int8_t *aq = arow[c][b].qs + 64 * ch;
                __m512i pl = _mm512_setzero_si512(), ph = _mm512_setzero_si512();
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++) {
                    pl = dpbusd_bcast(pl, lo[j], aq + 4 * j);
                    ph = dpbusd_bcast(ph, hi[j], aq + 32 + 4 * j);
                }
                isum[c] = _mm512_add_epi32(isum[c], _mm512_add_epi32(_mm512_mullo_epi32(pl, s_lo),
                                                                     _mm512_mullo_epi32(ph, s_hi)));
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w));
        const __m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + 32)));
        __m512i mnv[4];
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) mnv[p] = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(mn + 32 * p)));
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const int32_t *kb = a->kb + ((t0 + c) * nb + b) * 4;
            __m512i ms = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int p = 0; p < 4; p++) ms = dpwssd_bcast(ms, mnv[p], kb + p);
            const __m512 da = _mm512_set1_ps(arow[c][b].d);
            const __m512 t1 = _mm512_mul_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(isum[c]));
            const __m512 t2 = _mm512_mul_ps(_mm512_mul_ps(dm, da), _mm512_cvtepi32_ps(ms));
            acc[c] = _mm512_add_ps(acc[c], _mm512_sub_ps(t1, t2));
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) _mm512_storeu_ps(y + (size_t)c * ys, acc[c]);
}

TGT512 static void x16_q4_K_fn(int64_t n, const uint8_t *w, const lv_act *a, int64_t t0, int nc, float *y,
                               size_t ys)
{
    for (; nc >= 4; nc -= 4, t0 += 4, y += 4 * ys) x16_q4_K(4, n / 256, w, a, t0, y, ys);
    switch (nc) {
    case 3: x16_q4_K(3, n / 256, w, a, t0, y, ys); return;
    case 2: x16_q4_K(2, n / 256, w, a, t0, y, ys); return;
    case 1: x16_q4_K(1, n / 256, w, a, t0, y, ys); return;
    default: return;
    }
}

/* The hot loop of Q6_K on repacked weights: 16 rows × C activation rows per 256-value
 * super-block: u = q + 32 rebuilt from the 4 low and 2 high bits, vpdpbusd per 16-value
 * group, × the group's scale, minus 32·Σ scale·bsum; the f32 step is the oracle's. */
TGT512 INL void x16_q6_K(const int C, int64_t nb, const uint8_t *w, const lv_act *a, int64_t t0, float *y,
                         size_t ys)
{
    enum { GB = 32 + 256 + 2048 + 1024 };
    __m512 acc[4];
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) acc[c] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
    const lv_block_q8_K *arow[4];
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) arow[c] = (const lv_block_q8_K *)(a->q + (size_t)(t0 + c) * a->row_bytes);
    for (int64_t b = 0; b < nb; b++, w += GB) {
        for (size_t l = 0; l < GB; l += 64) _mm_prefetch((const char *)w + 2 * GB + l, _MM_HINT_T0);
        const int8_t *sc = (const int8_t *)(w + 32);
        const uint8_t *ql = w + 288, *qhp = w + 2336;
        __m512i isum[4];
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) isum[c] = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m512i qh[8];
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) qh[j] = _mm512_loadu_si512((const void *)(qhp + 512 * h + 64 * j));
            for (int k = 0; k < 4; k++) {
                __m512i u[8];
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++) {
                    __m512i lo = _mm512_loadu_si512((const void *)(ql + 1024 * h + 512 * (k & 1) + 64 * j));
                    lo = k < 2 ? _mm512_and_si512(lo, m4) : _mm512_and_si512(_mm512_srli_epi16(lo, 4), m4);
                    __m512i hi = k == 0 ? _mm512_slli_epi16(qh[j], 4)
                               : k == 1 ? _mm512_slli_epi16(qh[j], 2)
                               : k == 2 ? qh[j] : _mm512_srli_epi16(qh[j], 2);
                    u[j] = _mm512_or_si512(lo, _mm512_and_si512(hi, m30));
                }
                const __m512i pr = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(sc + 32 * (4 * h + k))));
                const __m512i s_even = _mm512_srai_epi32(_mm512_slli_epi32(pr, 16), 16), s_odd = _mm512_srai_epi32(pr, 16);
#pragma GCC unroll 4
                for (int c = 0; c < C; c++) {
                    const int8_t *aq = arow[c][b].qs + 128 * h + 32 * k;
                    __m512i p0 = _mm512_setzero_si512(), p1 = _mm512_setzero_si512();
#pragma GCC unroll 4
                    for (int j = 0; j < 4; j++) {
                        p0 = dpbusd_bcast(p0, u[j], aq + 4 * j);
                        p1 = dpbusd_bcast(p1, u[j + 4], aq + 16 + 4 * j);
                    }
                    isum[c] = _mm512_add_epi32(isum[c], _mm512_add_epi32(_mm512_mullo_epi32(p0, s_even),
                                                                         _mm512_mullo_epi32(p1, s_odd)));
                }
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w));
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            __m512i cs = _mm512_setzero_si512();
            for (int p = 0; p < 8; p++)
                cs = dpwssd_bcast(cs, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(sc + 32 * p))),
                                  arow[c][b].bsums + 2 * p);
            const __m512i is = _mm512_sub_epi32(isum[c], _mm512_slli_epi32(cs, 5));
            const __m512 t = _mm512_mul_ps(_mm512_mul_ps(dw, _mm512_set1_ps(arow[c][b].d)), _mm512_cvtepi32_ps(is));
            acc[c] = _mm512_add_ps(acc[c], t);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; c++) _mm512_storeu_ps(y + (size_t)c * ys, acc[c]);
}

TGT512 static void x16_q6_K_fn(int64_t n, const uint8_t *w, const lv_act *a, int64_t t0, int nc, float *y,
                               size_t ys)
{
    for (; nc >= 4; nc -= 4, t0 += 4, y += 4 * ys) x16_q6_K(4, n / 256, w, a, t0, y, ys);
    switch (nc) {
    case 3: x16_q6_K(3, n / 256, w, a, t0, y, ys); return;
    case 2: x16_q6_K(2, n / 256, w, a, t0, y, ys); return;
    case 1: x16_q6_K(1, n / 256, w, a, t0, y, ys); return;
    default: return;
    }
}

/* The hot loop of F16 prefill and decode on repacked weights: 16 rows × C activation
 * rows, one value k at a time (weights [k][16 rows] f16, activations the exact f32 of
 * their f16 rounding, a->f32). Two f32 chains per row (even / odd k), added at the end. */
TGT512 INL void x16_f16(const int C, int64_t n, const uint8_t *w, const lv_act *a, int64_t t0, float *y, size_t ys)
{
    __m512 acc0[8], acc1[8];
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) acc0[c] = acc1[c] = _mm512_setzero_ps();
    /* the tile's values of column k are af[k·C + c] (t0 starts a tile of width C) */
    const float *af = a->f32 + (size_t)t0 * (size_t)n;
    const uint16_t *wp = (const uint16_t *)w;
    for (int64_t k = 0; k < n; k += 2, wp += 32, af += 2 * C) {
        _mm_prefetch((const char *)wp + 4096, _MM_HINT_T1);   /* as in x16_legacy */
        const __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)wp));
        const __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(wp + 16)));
#pragma GCC unroll 8
        for (int c = 0; c < C; c++) {
            acc0[c] = _mm512_fmadd_ps(w0, _mm512_set1_ps(af[c]), acc0[c]);
            acc1[c] = _mm512_fmadd_ps(w1, _mm512_set1_ps(af[C + c]), acc1[c]);
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) _mm512_storeu_ps(y + (size_t)c * ys, _mm512_add_ps(acc0[c], acc1[c]));
}

TGT512 static void x16_f16_fn(int64_t n, const uint8_t *w, const lv_act *a, int64_t t0, int nc, float *y, size_t ys)
{
    switch (nc) {
    case 8: x16_f16(8, n, w, a, t0, y, ys); return;
    case 7: x16_f16(7, n, w, a, t0, y, ys); return;
    case 6: x16_f16(6, n, w, a, t0, y, ys); return;
    case 5: x16_f16(5, n, w, a, t0, y, ys); return;
    case 4: x16_f16(4, n, w, a, t0, y, ys); return;
    case 3: x16_f16(3, n, w, a, t0, y, ys); return;
    case 2: x16_f16(2, n, w, a, t0, y, ys); return;
    default: x16_f16(1, n, w, a, t0, y, ys); return;
    }
}

lv_x16_fn lv_simd_x16(int wtype)
{
    switch (wtype) {
    case LV_TYPE_Q4_0: return x16_q4_0_fn;
    case LV_TYPE_Q8_0: return x16_q8_0_fn;
    case LV_TYPE_Q4_K: return x16_q4_K_fn;
    case LV_TYPE_Q6_K: return x16_q6_K_fn;
    case LV_TYPE_F16: return x16_f16_fn;
    default: return NULL;
    }
}

/* One entry point per type: R = 4 rows with C = 1 … 4 activations, and 1 × 1 for
 * the ragged edges. CALL(R, C, w, t0, y) expands to the type's tile. */
#define DISPATCH(NAME, CALL)                                                                   \
    TGT static void NAME(int64_t n, const uint8_t *w, size_t ws, int nr, const lv_act *a,     \
                         int64_t t0, int nc, float *y, size_t ys)                             \
    {                                                                                          \
        if (nr == 4) {                                                                         \
            switch (nc) {                                                                      \
            case 4: CALL(4, 4, w, t0, y); return;                                              \
            case 3: CALL(4, 3, w, t0, y); return;                                              \
            case 2: CALL(4, 2, w, t0, y); return;                                              \
            default: CALL(4, 1, w, t0, y); return;                                             \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < nr; r++)                                                           \
            for (int c = 0; c < nc; c++) CALL(1, 1, w + (size_t)r * ws, t0 + c, y + (size_t)c * ys + r); \
    }

#define Q40(R_, C_, W_, T_, Y_) tile_legacy(0, R_, C_, n / 32, W_, ws, a, T_, Y_, ys)
#define Q80(R_, C_, W_, T_, Y_) tile_legacy(1, R_, C_, n / 32, W_, ws, a, T_, Y_, ys)
#define Q4K(R_, C_, W_, T_, Y_) tile_q4_K(R_, C_, n / 256, W_, ws, a, T_, Y_, ys)
#define Q6K(R_, C_, W_, T_, Y_) tile_q6_K(R_, C_, n / 256, W_, ws, a, T_, Y_, ys)
DISPATCH(tile_q4_0_fn, Q40)
DISPATCH(tile_q8_0_fn, Q80)
DISPATCH(tile_q4_K_fn, Q4K)
DISPATCH(tile_q6_K_fn, Q6K)

lv_tile_fn lv_simd_tile(int wtype)
{
    switch (wtype) {
    case LV_TYPE_Q4_0: return tile_q4_0_fn;
    case LV_TYPE_Q8_0: return tile_q8_0_fn;
    case LV_TYPE_Q4_K: return tile_q4_K_fn;
    case LV_TYPE_Q6_K: return tile_q6_K_fn;
    default: return NULL;
    }
}

#else

int lv_simd_tiles_ok(void) { return 0; }
void lv_simd_act_q8_0(const float *x, int64_t n, lv_block_q8_0 *y, float *d, int32_t *s4, int32_t *s1,
                      int32_t off) { (void)x; (void)n; (void)y; (void)d; (void)s4; (void)s1; (void)off; }
void lv_simd_act_q8_K(const float *x, int64_t n, lv_block_q8_K *y, int32_t *kb) { (void)x; (void)n; (void)y; (void)kb; }
void lv_simd_act_q8_0_x16(const float *x, int64_t n, int8_t *qs, float *d, int32_t *s1, int64_t stride,
                          int32_t off) { (void)x; (void)n; (void)qs; (void)d; (void)s1; (void)stride; (void)off; }
void lv_simd_act_f16_x16(const float *x, int64_t n, float *dst, int64_t stride) { (void)x; (void)n; (void)dst; (void)stride; }
lv_tile_fn lv_simd_tile(int wtype) { (void)wtype; return NULL; }
lv_x16_fn lv_simd_x16(int wtype) { (void)wtype; return NULL; }

#endif

size_t lv_simd_x16_bytes(int type, int64_t rows, int64_t cols)
{
    if (rows % 16 != 0) return 0;
    switch (type) {
    case LV_TYPE_Q4_0: if (cols % 32) return 0; return (size_t)(rows / 16) * (size_t)(cols / 32) * (32 + 256);
    case LV_TYPE_Q8_0: if (cols % 32) return 0; return (size_t)(rows / 16) * (size_t)(cols / 32) * (32 + 512);
    case LV_TYPE_Q4_K: if (cols % 256) return 0; return (size_t)(rows / 16) * (size_t)(cols / 256) * 2368;
    case LV_TYPE_Q6_K: if (cols % 256) return 0; return (size_t)(rows / 16) * (size_t)(cols / 256) * 3360;
    case LV_TYPE_F16: if (cols % 2) return 0; return (size_t)rows * (size_t)cols * 2;
    default: return 0;
    }
}

/* Plain C: the x16 layouts of quant_simd.h. */
void lv_simd_pack_x16(int type, const uint8_t *src, size_t row_bytes, int64_t rows, int64_t cols,
                      uint8_t *dst)
{
    if (type == LV_TYPE_F16) {   /* [group][k][16 rows] */
        for (int64_t g = 0; g < rows / 16; g++)
            for (int i = 0; i < 16; i++) {
                const uint16_t *row = (const uint16_t *)(src + (size_t)(16 * g + i) * row_bytes);
                uint16_t *o = (uint16_t *)dst + (size_t)g * (size_t)cols * 16;
                for (int64_t k = 0; k < cols; k++) o[(size_t)k * 16 + (size_t)i] = row[k];
            }
        return;
    }
    if (type == LV_TYPE_Q6_K) {
        const int64_t nb = cols / 256;
        for (int64_t g = 0; g < rows / 16; g++)
            for (int64_t b = 0; b < nb; b++) {
                uint8_t *o = dst + ((size_t)g * (size_t)nb + (size_t)b) * 3360;
                for (int i = 0; i < 16; i++) {
                    const lv_block_q6_K *blk = (const lv_block_q6_K *)(src + (size_t)(16 * g + i) * row_bytes) + b;
                    __builtin_memcpy(o + 2 * i, &blk->d, 2);
                    for (int p = 0; p < 8; p++) {
                        o[32 + 32 * p + 2 * i] = (uint8_t)blk->scales[2 * p];
                        o[32 + 32 * p + 2 * i + 1] = (uint8_t)blk->scales[2 * p + 1];
                    }
                    for (int h = 0; h < 2; h++)
                        for (int j = 0; j < 8; j++)
                            for (int t = 0; t < 4; t++) {
                                for (int half = 0; half < 2; half++)
                                    o[288 + 1024 * h + 512 * half + 64 * j + 4 * i + t] = blk->ql[64 * h + 32 * half + 4 * j + t];
                                o[2336 + 512 * h + 64 * j + 4 * i + t] = blk->qh[32 * h + 4 * j + t];
                            }
                }
            }
        return;
    }
    if (type == LV_TYPE_Q4_K) {
        const int64_t nb = cols / 256;
        for (int64_t g = 0; g < rows / 16; g++)
            for (int64_t b = 0; b < nb; b++) {
                uint8_t *o = dst + ((size_t)g * (size_t)nb + (size_t)b) * 2368;
                for (int i = 0; i < 16; i++) {
                    const lv_block_q4_K *blk = (const lv_block_q4_K *)(src + (size_t)(16 * g + i) * row_bytes) + b;
                    __builtin_memcpy(o + 2 * i, &blk->d, 2);
                    __builtin_memcpy(o + 32 + 2 * i, &blk->dmin, 2);
                    const uint8_t *S = blk->scales;
                    for (int s = 0; s < 8; s++) {
                        int sc, m;
                        if (s < 4) {
                            sc = S[s] & 63;
                            m = S[s + 4] & 63;
                        } else {
                            sc = (S[s + 4] & 15) | ((S[s - 4] >> 6) << 4);
                            m = (S[s + 4] >> 4) | ((S[s] >> 6) << 4);
                        }
                        o[64 + 16 * s + i] = (uint8_t)sc;
                        o[192 + 32 * (s / 2) + 2 * i + (s % 2)] = (uint8_t)m;
                    }
                    for (int c = 0; c < 4; c++)
                        for (int j = 0; j < 8; j++)
                            for (int t = 0; t < 4; t++) o[320 + 512 * c + 64 * j + 4 * i + t] = blk->qs[32 * c + 4 * j + t];
                }
            }
        return;
    }
    const int64_t nb = cols / 32;
    const size_t gb = type == LV_TYPE_Q4_0 ? 32 + 256 : 32 + 512;
    for (int64_t g = 0; g < rows / 16; g++)
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *o = dst + ((size_t)g * (size_t)nb + (size_t)b) * gb;
            for (int i = 0; i < 16; i++) {
                const uint8_t *row = src + (size_t)(16 * g + i) * row_bytes;
                if (type == LV_TYPE_Q4_0) {
                    const lv_block_q4_0 *blk = (const lv_block_q4_0 *)row + b;
                    __builtin_memcpy(o + 2 * i, &blk->d, 2);
                    for (int j = 0; j < 4; j++)
                        for (int t = 0; t < 4; t++) o[32 + 64 * j + 4 * i + t] = blk->qs[4 * j + t];
                } else {
                    const lv_block_q8_0 *blk = (const lv_block_q8_0 *)row + b;
                    __builtin_memcpy(o + 2 * i, &blk->d, 2);
                    for (int j = 0; j < 8; j++)
                        for (int t = 0; t < 4; t++)
                            o[32 + 64 * j + 4 * i + t] = (uint8_t)blk->qs[4 * j + t] ^ 0x80;
                }
            }
        }
}
