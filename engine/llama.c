/* engine/llama.c — LLaMA forward pass over GGUF weights (see llama.h). */
#include "engine/llama.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/f16lut.h"
#include "engine/matmul.h"
#include "engine/pool.h"
#include "engine/quant.h"
#include "engine/vmath.h"

/* ================================================================ types === */

typedef struct {
    const float *attn_norm;         /* [n_embd] */
    lv_mat wq;                      /* ne [n_embd, n_embd] */
    lv_mat wk, wv;                  /* ne [n_embd, n_embd_kv] */
    lv_mat wo;                      /* ne [n_embd, n_embd] */
    const float *bq, *bk, *bv, *bo; /* optional biases [n_embd] / [n_embd_kv] */
    const float *ffn_norm;          /* [n_embd] */
    lv_mat gate, up;                /* ne [n_embd, n_ff] */
    lv_mat down;                    /* ne [n_ff, n_embd] */
} layer_w;

/* Attention row kernels (chosen once per model: scalar, or AVX2/F16C).
 *   kdot: Σ_d q[d]·k[d]   q: [n] f32 (already f16-rounded), k: [n] f16
 *   vacc: o[d] += p·v[d]  o: [n] f32, v: [n] f16 */
typedef float (*kdot_fn)(const float *q, const uint16_t *k, int32_t n);
typedef void (*vacc_fn)(float *o, float p, const uint16_t *v, int32_t n);

typedef struct { const uint8_t *p; size_t n; } lv_span;

struct lv_llama {
    lv_llama_hparams hp;
    kdot_fn kdot;
    vacc_fn vacc;
    lv_mat tok_embd;                /* ne [n_embd, n_vocab]; rows dequantized on lookup */
    lv_mat output;                  /* ne [n_embd, n_vocab]; = tok_embd when tied */
    const float *output_norm;       /* [n_embd] */
    layer_w *layers;                /* [n_layer] */
    void **owned;                   /* re-quantized weight buffers owned by the model */
    int n_owned;
    lv_span *dropped;               /* during load: file ranges of repacked weights */
    int n_dropped;
    uint8_t *arena_base;            /* the repacked weights, 2 MB aligned (in owned) */
    size_t arena_size, arena_used;
};

struct lv_llama_ctx {
    const lv_llama *m;
    int32_t n_ctx, n_batch, n_logits, n_threads;
    int32_t n_past;                 /* positions [0, n_past) hold valid K/V */
    int32_t n_out;                  /* rows of `logits` valid after the last eval */
    uint16_t *k_cache;              /* [n_layer][n_ctx][n_embd_kv] f16, after RoPE */
    uint16_t *v_cache;              /* [n_layer][n_ctx][n_embd_kv] f16 */
    float *x;                       /* [n_batch][n_embd] residual stream */
    float *xn;                      /* [n_batch][n_embd] normed input of a matmul */
    float *q;                       /* [n_batch][n_embd] queries */
    float *k, *v;                   /* [n_batch][n_embd_kv] new keys / values */
    float *att;                     /* [n_batch][n_embd] attention output, heads in order */
    float *tmp;                     /* [n_batch][n_embd] projection output */
    float *gate, *up;               /* [n_batch][n_ff] */
    float *qh;                      /* [n_threads][QT_MAX][head_dim] f16-rounded query heads */
    float *scores;                  /* [n_threads][QT_MAX][kt_ld] attention rows */
    float *kt;                      /* [n_threads][head_dim][kt_ld] one KV head's keys as
                                       f32, transposed (AVX-512 attention), or NULL */
    int32_t kt_ld;                  /* n_ctx rounded up to 64 */
    float *rope_cs;                 /* [n_threads][head_dim] cos, sin pairs for one position */
    void  *scratch;                 /* matmul activation conversion */
    float *logits;                  /* [n_logits][n_vocab] */
    /* Snapshot fast path: the last snapshot saved or restored here, and the lowest
     * position written since (INT32_MAX: none). */
    uint64_t anchor_id;
    int32_t  anchor_low;
};

struct lv_llama_snapshot {
    const lv_llama *m;
    const lv_llama_ctx *owner;
    uint64_t id;
    int32_t n_past;
    int has_logits;
    uint16_t *k, *v;                /* [n_layer][n_past][n_embd_kv] f16 */
    float *logits;                  /* [n_vocab] the last logits row */
};

enum { QT_MAX = 8 };   /* queries per AVX-512 attention tile (QT) */

/* f16 → f32 by table (filled by lv_llama_load) */
static const float *f16_table;
static inline float f16f(uint16_t h) { return f16_table[h]; }
static inline float round_f16(float x) { return f16_table[lv_fp32_to_fp16(x)]; }

/* ================================================= attention kernels ===== */

static float kdot_ref(const float *q, const uint16_t *k, int32_t n)
{
    float dot = 0.0f;
    for (int32_t d = 0; d < n; d++) dot += q[d] * f16f(k[d]);
    return dot;
}

static void vacc_ref(float *o, float p, const uint16_t *v, int32_t n)
{
    for (int32_t d = 0; d < n; d++) o[d] += p * f16f(v[d]);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_KERNELS 1

__attribute__((target("avx2,f16c,fma")))
static float kdot_avx2(const float *q, const uint16_t *k, int32_t n)
{
    __m256 acc = _mm256_setzero_ps();
    int32_t d = 0;
    for (; d + 8 <= n; d += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + d))), acc);
    float lanes[8], dot = 0.0f;
    _mm256_storeu_ps(lanes, acc);
    for (int j = 0; j < 8; j++) dot += lanes[j];
    return dot + kdot_ref(q + d, k + d, n - d);
}

__attribute__((target("avx2,f16c,fma")))
static void vacc_avx2(float *o, float p, const uint16_t *v, int32_t n)
{
    const __m256 pv = _mm256_set1_ps(p);
    int32_t d = 0;
    for (; d + 8 <= n; d += 8)
        _mm256_storeu_ps(o + d, _mm256_fmadd_ps(pv, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + d))),
                                                _mm256_loadu_ps(o + d)));
    vacc_ref(o + d, p, v + d, n - d);
}

/* AVX-512 attention (attend_rows) works on tiles of up to QT queries that share one KV
 * head: the query heads of a row under grouped-query attention, or consecutive rows of
 * one head. Scores: 32 keys at a time, each key's dot a sequential FMA chain over d
 * (keys in the lanes, K transposed to f32 once per block); ·V: 32 dims at a time, a
 * sequential FMA chain over keys. Each query's arithmetic is the same whatever its
 * tile, so results never depend on batching; a tile only shares the loads.
 *   kt: [hd][ld] f32, keys 0 … (rounded up to 64) (zero beyond the written ones);
 *   q:  [NQ][hd] f16-rounded f32; s: [NQ][ld] scores out, keys 0 … nk-1 rounded up to 32 */
#define TGT_ATT LV_TGT_AVX512
#define INL_ATT static inline __attribute__((always_inline))
enum { QT = QT_MAX };

TGT_ATT INL_ATT void scores_tile(const int NQ, const float *kt, int32_t ld, int32_t hd, const float *q,
                                 int32_t nk, float scale, float *s)
{
    const __m512 sc = _mm512_set1_ps(scale);
    for (int32_t j = 0; j < nk; j += 32) {
        __m512 a0[QT], a1[QT];
#pragma GCC unroll 8
        for (int i = 0; i < NQ; i++) a0[i] = a1[i] = _mm512_setzero_ps();
        const float *k = kt + j;
        for (int32_t d = 0; d < hd; d++, k += ld) {
            const __m512 k0 = _mm512_loadu_ps(k), k1 = _mm512_loadu_ps(k + 16);
#pragma GCC unroll 8
            for (int i = 0; i < NQ; i++) {
                const __m512 qd = _mm512_set1_ps(q[i * hd + d]);
                a0[i] = _mm512_fmadd_ps(qd, k0, a0[i]);
                a1[i] = _mm512_fmadd_ps(qd, k1, a1[i]);
            }
        }
#pragma GCC unroll 8
        for (int i = 0; i < NQ; i++) {
            _mm512_storeu_ps(s + (size_t)i * ld + j, _mm512_mul_ps(a0[i], sc));
            _mm512_storeu_ps(s + (size_t)i * ld + j + 16, _mm512_mul_ps(a1[i], sc));
        }
    }
}

/* o[i][d0 … d0+16·NV) = Σ_{j < nk[i]} p[i][j]·V[j][d0 …] for the NQ queries; V rows f16
 * with stride KV. Keys below the smallest nk go through one branch-free loop. */
TGT_ATT INL_ATT void pv_tile(const int NQ, const int NV, const float *p, int32_t ld, const int32_t *nk,
                             const uint16_t *V, int32_t KV, int32_t d0, float *const *o)
{
    __m512 a0[QT], a1[QT];
    int32_t lo = nk[0], hi = nk[0];
#pragma GCC unroll 8
    for (int i = 0; i < NQ; i++) {
        a0[i] = a1[i] = _mm512_setzero_ps();
        lo = nk[i] < lo ? nk[i] : lo;
        hi = nk[i] > hi ? nk[i] : hi;
    }
    const uint16_t *row = V + d0;
    int32_t j = 0;
    for (; j < lo; j++, row += KV) {
        const __m512 v0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)row));
        const __m512 v1 = NV == 2 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 16))) : v0;
#pragma GCC unroll 8
        for (int i = 0; i < NQ; i++) {
            const __m512 pj = _mm512_set1_ps(p[(size_t)i * ld + j]);
            a0[i] = _mm512_fmadd_ps(pj, v0, a0[i]);
            if (NV == 2) a1[i] = _mm512_fmadd_ps(pj, v1, a1[i]);
        }
    }
    for (; j < hi; j++, row += KV) {   /* the causal edge of a tile of several rows */
        const __m512 v0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)row));
        const __m512 v1 = NV == 2 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 16))) : v0;
        for (int i = 0; i < NQ; i++)
            if (j < nk[i]) {
                const __m512 pj = _mm512_set1_ps(p[(size_t)i * ld + j]);
                a0[i] = _mm512_fmadd_ps(pj, v0, a0[i]);
                if (NV == 2) a1[i] = _mm512_fmadd_ps(pj, v1, a1[i]);
            }
    }
#pragma GCC unroll 8
    for (int i = 0; i < NQ; i++) {
        _mm512_storeu_ps(o[i] + d0, a0[i]);
        if (NV == 2) _mm512_storeu_ps(o[i] + d0 + 16, a1[i]);
    }
}

/* One tile of NQ queries: scores, softmax (f32 scores, max, exp, sum in double, probs
 * rounded to f16), then ·V into o[i]. */
TGT_ATT static void softmax_probs(float *s, int32_t n);
TGT_ATT INL_ATT void attend_tile(const int NQ, const float *kt, int32_t ld, int32_t hd, const float *q,
                                 const int32_t *nk, float scale, float *s, const uint16_t *V, int32_t KV,
                                 float *const *o)
{
    int32_t hi = 0;
    for (int i = 0; i < NQ; i++) hi = nk[i] > hi ? nk[i] : hi;
    scores_tile(NQ, kt, ld, hd, q, hi, scale, s);
    for (int i = 0; i < NQ; i++) softmax_probs(s + (size_t)i * ld, nk[i]);
    int32_t d0 = 0;
    for (; d0 + 32 <= hd; d0 += 32) pv_tile(NQ, 2, s, ld, nk, V, KV, d0, o);
    if (d0 < hd) pv_tile(NQ, 1, s, ld, nk, V, KV, d0, o);
}

/* Keys 0 … n_keys-1 of one KV head (off) to kt [hd][ld] f32, zero up to a multiple of 64. */
TGT_ATT static void transpose_keys(const uint16_t *K, int32_t KV, int32_t off, int32_t hd, int32_t n_keys, float *kt,
                                   int32_t ld)
{
    const int32_t pad = (n_keys + 63) & ~63;
    for (int32_t j = 0; j < n_keys; j++) {
        const uint16_t *row = K + (size_t)j * (size_t)KV + off;
        for (int32_t d = 0; d < hd; d += 16) {
            float tmp[16];
            _mm512_storeu_ps(tmp, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + d))));
            for (int t = 0; t < 16; t++) kt[(size_t)(d + t) * (size_t)ld + j] = tmp[t];
        }
    }
    for (int32_t d = 0; d < hd; d++)
        for (int32_t j = n_keys; j < pad; j++) kt[(size_t)d * (size_t)ld + j] = 0.0f;
}

/* s[0 … n) scores → softmax probabilities rounded to f16 (as f32): max, e^(s - max)
 * (lv_exp512), their sum in double, then f16(e·(1/sum)). */
TGT_ATT static void softmax_probs(float *s, int32_t n)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 mv = ninf;
    int32_t j = 0;
    for (; j + 16 <= n; j += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(s + j));
    const __mmask16 tail = (__mmask16)((1u << (n - j)) - 1);
    if (j < n) mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(ninf, tail, s + j));
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
    __m512d sum0 = _mm512_setzero_pd(), sum1 = _mm512_setzero_pd();
    for (j = 0; j + 16 <= n; j += 16) {
        const __m512 e = lv_exp512(_mm512_sub_ps(_mm512_loadu_ps(s + j), mx));
        _mm512_storeu_ps(s + j, e);
        sum0 = _mm512_add_pd(sum0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        sum1 = _mm512_add_pd(sum1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    if (j < n) {
        const __m512 e = _mm512_maskz_mov_ps(tail, lv_exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, s + j), mx)));
        _mm512_mask_storeu_ps(s + j, tail, e);
        sum0 = _mm512_add_pd(sum0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        sum1 = _mm512_add_pd(sum1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    const __m512 iv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(sum0, sum1))));
    for (j = 0; j + 16 <= n; j += 16)
        _mm512_storeu_ps(s + j, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_mul_ps(_mm512_loadu_ps(s + j), iv),
                                                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
    if (j < n)
        _mm512_mask_storeu_ps(s + j, tail,
                              _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_mul_ps(_mm512_maskz_loadu_ps(tail, s + j), iv),
                                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
}

/* g[i] = silu(g[i])·u[i] for i < n, with lv_exp512 for e^-g. */
TGT_ATT static void swiglu512(float *g, const float *u, size_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, lv_exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
        _mm512_storeu_ps(g + i, _mm512_mul_ps(s, _mm512_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* dst[i] = f16(src[i]), round to nearest even (the bits lv_fp32_to_fp16 gives). */
TGT_ATT static void to_f16_512(uint16_t *dst, const float *src, int32_t n)
{
    int32_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) dst[i] = lv_fp32_to_fp16(src[i]);
}
#endif

/* 1 when the AVX-512 attention path runs for this model (CPU and head size). */
static int attn512_ok(const lv_llama_hparams *hp)
{
#ifdef HAVE_X86_KERNELS
    __builtin_cpu_init();
    return lv_matmul_simd() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && hp->head_dim % 16 == 0 && hp->head_dim <= 256;
#else
    (void)hp;
    return 0;
#endif
}

static void pick_attention_kernels(lv_llama *m)
{
    m->kdot = kdot_ref;
    m->vacc = vacc_ref;
#ifdef HAVE_X86_KERNELS
    if (lv_matmul_simd()) {   /* same instruction set as matmul's kernels */
        m->kdot = kdot_avx2;
        m->vacc = vacc_avx2;
    }
#endif
}

/* ============================================================ loading ===== */

enum { MAX_EMBD = 1 << 16, MAX_LAYER = 1024, MAX_FF = 1 << 20, MAX_VOCAB = 1 << 23,
       MAX_HEADS = 4096 };

/* Reads a u32 that llama.cpp also accepts as a per-layer array (all equal here).
 * 0 found, 1 absent, -1 error. */
static int get_u32_layers(const lv_gguf *g, const char *key, uint32_t n_layer, uint32_t *out,
                          lv_error *err)
{
    int64_t i = lv_gguf_find_key(g, key);
    if (i < 0) return 1;
    if (lv_gguf_kv_type(g, i) != LV_GGUF_ARRAY) return lv_gguf_get_u32(g, key, out, err);
    lv_gguf_vtype et;
    uint64_t cnt;
    const void *data;
    if (lv_gguf_kv_arr(g, i, &et, &cnt, &data) != 0 || (et != LV_GGUF_UINT32 && et != LV_GGUF_INT32))
        return lv_errorf(err, "%s: expected u32 or an array of u32", key);
    if (cnt != n_layer)
        return lv_errorf(err, "%s: array of %llu values for %u layers", key, (unsigned long long)cnt, n_layer);
    for (uint64_t j = 0; j < cnt; j++) {
        uint32_t v;
        memcpy(&v, (const uint8_t *)data + 4 * j, 4);
        if ((et == LV_GGUF_INT32 && (int32_t)v < 0) || (j > 0 && v != *out))
            return lv_errorf(err, "%s: per-layer values that differ are not supported", key);
        *out = v;
    }
    return 0;
}

/* A required or defaulted u32 within [lo, hi]. */
static int hp_u32(const lv_gguf *g, const char *key, int required, uint32_t def, uint32_t lo,
                  uint32_t hi, uint32_t n_layer, int32_t *out, lv_error *err)
{
    uint32_t v = def;
    int rc = n_layer ? get_u32_layers(g, key, n_layer, &v, err) : lv_gguf_get_u32(g, key, &v, err);
    if (rc < 0) return -1;
    if (rc == 1 && required) return lv_errorf(err, "missing key %s", key);
    if (v < lo || v > hi) return lv_errorf(err, "%s = %u is out of range [%u, %u]", key, v, lo, hi);
    *out = (int32_t)v;
    return 0;
}

static int hp_f32(const lv_gguf *g, const char *key, int required, float def, float lo, float hi,
                  float *out, lv_error *err)
{
    float v = def;
    int rc = lv_gguf_get_f32(g, key, &v, err);
    if (rc < 0) return -1;
    if (rc == 1 && required) return lv_errorf(err, "missing key %s", key);
    if (!(v >= lo && v <= hi)) return lv_errorf(err, "%s = %g is out of range [%g, %g]", key, v, lo, hi);
    *out = v;
    return 0;
}

static int load_hparams(const lv_gguf *g, lv_llama_hparams *hp, lv_error *err)
{
    char *arch = NULL;
    int rc = lv_gguf_get_str(g, "general.architecture", &arch, err);
    if (rc < 0) return -1;
    if (rc == 1) return lv_errorf(err, "missing key general.architecture");
    int is_llama = strcmp(arch, "llama") == 0;
    if (!is_llama) {
        lv_errorf(err, "general.architecture is '%.64s', expected 'llama'", arch);
        lv_free(arch);
        return -1;
    }
    lv_free(arch);

    if (hp_u32(g, "llama.block_count", 1, 0, 1, MAX_LAYER, 0, &hp->n_layer, err) ||
        hp_u32(g, "llama.embedding_length", 1, 0, 1, MAX_EMBD, 0, &hp->n_embd, err) ||
        hp_u32(g, "llama.context_length", 1, 0, 1, 1u << 24, 0, &hp->n_ctx_train, err) ||
        hp_u32(g, "llama.feed_forward_length", 1, 0, 1, MAX_FF, (uint32_t)hp->n_layer, &hp->n_ff, err) ||
        hp_u32(g, "llama.attention.head_count", 1, 0, 1, MAX_HEADS, (uint32_t)hp->n_layer, &hp->n_head, err))
        return -1;
    if (hp_u32(g, "llama.attention.head_count_kv", 0, (uint32_t)hp->n_head, 1, MAX_HEADS,
               (uint32_t)hp->n_layer, &hp->n_head_kv, err))
        return -1;
    if (hp->n_embd % hp->n_head != 0)
        return lv_errorf(err, "llama.attention.head_count = %d does not divide llama.embedding_length = %d",
                         hp->n_head, hp->n_embd);
    if (hp->n_head % hp->n_head_kv != 0)
        return lv_errorf(err, "llama.attention.head_count_kv = %d does not divide llama.attention.head_count = %d",
                         hp->n_head_kv, hp->n_head);
    hp->head_dim = hp->n_embd / hp->n_head;
    if (hp->head_dim % 2 != 0)
        return lv_errorf(err, "head dimension %d is odd (RoPE rotates pairs)", hp->head_dim);
    hp->n_embd_kv = hp->head_dim * hp->n_head_kv;

    int32_t kl, vl, rope_dim;
    if (hp_u32(g, "llama.attention.key_length", 0, (uint32_t)hp->head_dim, 1, MAX_EMBD, 0, &kl, err) ||
        hp_u32(g, "llama.attention.value_length", 0, (uint32_t)hp->head_dim, 1, MAX_EMBD, 0, &vl, err) ||
        hp_u32(g, "llama.rope.dimension_count", 0, (uint32_t)hp->head_dim, 1, MAX_EMBD, 0, &rope_dim, err))
        return -1;
    if (kl != hp->head_dim || vl != hp->head_dim)
        return lv_errorf(err, "key/value length %d/%d differs from n_embd/n_head = %d", kl, vl, hp->head_dim);
    if (rope_dim != hp->head_dim)
        return lv_errorf(err, "llama.rope.dimension_count = %d, expected the head dimension %d",
                         rope_dim, hp->head_dim);

    if (hp_f32(g, "llama.attention.layer_norm_rms_epsilon", 1, 0, 1e-12f, 0.1f, &hp->eps, err) ||
        hp_f32(g, "llama.rope.freq_base", 0, 10000.0f, 1.0f, 1e12f, &hp->rope_base, err))
        return -1;
    float factor = 0;
    if (hp_f32(g, "llama.rope.scaling.factor", 0, 0.0f, 0.0f, 1e6f, &factor, err)) return -1;
    if (factor == 0 && hp_f32(g, "llama.rope.scale_linear", 0, 0.0f, 0.0f, 1e6f, &factor, err)) return -1;
    hp->freq_scale = factor == 0 ? 1.0f : 1.0f / factor;
    char *stype = NULL;
    rc = lv_gguf_get_str(g, "llama.rope.scaling.type", &stype, err);
    if (rc < 0) return -1;
    if (rc == 0) {
        int ok = strcmp(stype, "none") == 0 || strcmp(stype, "linear") == 0;
        if (!ok) lv_errorf(err, "llama.rope.scaling.type '%.32s' is not supported", stype);
        lv_free(stype);
        if (!ok) return -1;
    }
    uint32_t n_expert = 0;
    if (lv_gguf_get_u32(g, "llama.expert_count", &n_expert, err) < 0) return -1;
    if (n_expert > 0) return lv_errorf(err, "llama.expert_count = %u: mixture-of-experts models are not supported", n_expert);
    return 0;
}

/* A 1-D f32 tensor of n values (required unless optional). *out NULL when absent. */
static int get_vec(const lv_gguf *g, const char *name, int64_t n, int optional, const float **out,
                   lv_error *err)
{
    const lv_gguf_tensor *t = lv_gguf_find_tensor(g, name);
    *out = NULL;
    if (!t) return optional ? 0 : lv_errorf(err, "missing tensor %s", name);
    if (t->type != LV_TYPE_F32)
        return lv_errorf(err, "tensor %s has type %s, expected F32", name,
                         lv_type_info(t->type) ? lv_type_info(t->type)->name : "?");
    if (t->ne[0] != (uint64_t)n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
        return lv_errorf(err, "tensor %s has shape [%llu, %llu], expected [%lld]", name,
                         (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (long long)n);
    *out = t->data;
    return 0;
}

/* A 2-D weight ne = [cols, rows]. Returns 1 (m untouched) when optional and absent. */
static int get_mat(const lv_gguf *g, const char *name, int64_t cols, int64_t rows, int optional,
                   lv_mat *m, lv_error *err)
{
    const lv_gguf_tensor *t = lv_gguf_find_tensor(g, name);
    if (!t) return optional ? 1 : lv_errorf(err, "missing tensor %s", name);
    if (t->ne[0] != (uint64_t)cols || t->ne[1] != (uint64_t)rows || t->ne[2] != 1 || t->ne[3] != 1)
        return lv_errorf(err, "tensor %s has shape [%llu, %llu, %llu], expected [%lld, %lld]", name,
                         (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                         (unsigned long long)t->ne[2], (long long)cols, (long long)rows);
    lv_error e2;
    if (lv_mat_init(m, t->type, cols, rows, t->data, &e2) != 0)
        return lv_errorf(err, "tensor %s: %s", name, e2.msg);
    return 0;
}

/* The seven weight matrices of a layer, in the order the forward pass reads them. */
enum { LAYER_MATS = 7 };
static void layer_mats(layer_w *L, lv_mat **ws)
{
    lv_mat *all[LAYER_MATS] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
    memcpy(ws, all, sizeof all);
}

/* Gives the whole pages inside [p, p+n) of the file mapping back (MADV_DONTNEED: they
 * are read again from the file if touched). */
static void drop_pages(const uint8_t *p, size_t n)
{
    const uintptr_t pg = 4096, a = ((uintptr_t)p + pg - 1) & ~(pg - 1), e = ((uintptr_t)p + n) & ~(pg - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

/* Repacks one weight into the x16 layout (matmul.h) in a buffer the model owns, when
 * its type has such a kernel. The weight's old bytes are given back: a re-quantized
 * buffer is freed, file pages are dropped from this process (MADV_DONTNEED), so the
 * resident size stays that of the weights. */
static int pack_weight(lv_llama *m, lv_mat *w, lv_error *err)
{
    size_t bytes = lv_mat_pack_bytes(w);
    if (!bytes) return 0;
    if (m->arena_used + bytes > m->arena_size) return lv_errorf(err, "repacking: arena too small");
    uint8_t *buf = m->arena_base + m->arena_used;
    m->arena_used += (bytes + 63) & ~(size_t)63;
    const uint8_t *old = w->data;
    int was_owned = 0;
    for (int i = 0; i < m->n_owned; i++)
        if (m->owned[i] == old) {   /* a re-quantized buffer: freed once repacked */
            was_owned = 1;
            m->owned[i] = NULL;
        }
    /* 256 rows at a time, file pages dropped as we go, so the peak resident size is
       the weights plus one slice, not plus the largest tensor */
    for (int64_t r0 = 0; r0 < w->rows; r0 += 256) {
        const int64_t nr = w->rows - r0 < 256 ? w->rows - r0 : 256;
        lv_mat_pack_rows(w, buf, r0, nr);
        if (!was_owned) drop_pages(old + (size_t)r0 * w->row_bytes, (size_t)nr * w->row_bytes);
    }
    lv_mat_use_packed(w, buf);
    if (was_owned) {
        lv_free((void *)old);
        return 0;
    }
    /* dropped again at the end of loading (lv_llama_load) */
    lv_span *d = lv_realloc(m->dropped, sizeof *d * (size_t)(m->n_dropped + 1));
    if (!d) return lv_errorf(err, "out of memory repacking weights");
    m->dropped = d;
    m->dropped[m->n_dropped++] = (lv_span){old, (size_t)w->rows * w->row_bytes};
    return 0;
}

/* Copies the f32 vectors (norms, biases) into one buffer the model owns and queues
 * their file pages to be dropped: read every token, they would otherwise keep a 2 MB
 * folio of the file resident each (measured: 88 MB of a 1.1B Q4_0 file). */
static int own_vectors(lv_llama *m, lv_error *err)
{
    const lv_llama_hparams *hp = &m->hp;
    const int32_t E = hp->n_embd, KV = hp->n_embd_kv;
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        float *buf = NULL, *at = NULL;
        if (pass == 1) {
            void **owned = lv_realloc(m->owned, sizeof *owned * (size_t)(m->n_owned + 1));
            lv_span *d = owned ? lv_realloc(m->dropped, sizeof *d * (size_t)(m->n_dropped + 6 * hp->n_layer + 1)) : NULL;
            if (owned) m->owned = owned;
            if (d) m->dropped = d;
            if (!owned || !d || !(buf = lv_malloc(sizeof(float) * (total ? total : 1))))
                return lv_errorf(err, "out of memory copying norm vectors");
            m->owned[m->n_owned++] = buf;
            at = buf;
        }
        for (int32_t l = -1; l < hp->n_layer; l++) {
            layer_w *L = l >= 0 ? &m->layers[l] : NULL;
            const float **v[] = {L ? &L->attn_norm : &m->output_norm, L ? &L->ffn_norm : NULL, L ? &L->bq : NULL,
                                 L ? &L->bk : NULL, L ? &L->bv : NULL, L ? &L->bo : NULL};
            const int32_t len[] = {E, E, E, KV, KV, E};
            for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                if (!v[i] || !*v[i]) continue;
                if (pass == 0) {
                    total += (size_t)len[i];
                    continue;
                }
                memcpy(at, *v[i], sizeof(float) * (size_t)len[i]);
                m->dropped[m->n_dropped++] = (lv_span){(const uint8_t *)*v[i], sizeof(float) * (size_t)len[i]};
                *v[i] = at;
                at += len[i];
            }
        }
    }
    return 0;
}

/* Re-quantizes one weight to `type` into a buffer the model owns. */
static int requant(lv_llama *m, lv_mat *w, int type, const char *what, lv_error *err)
{
    uint64_t rb, total;
    float *row = NULL;
    uint8_t *buf = NULL;
    void **owned = NULL;
    int rc = -1;
    if (w->type == type) return 0;
    if (lv_type_row_bytes(type, (uint64_t)w->cols, &rb) != 0 || lv_mul_u64(rb, (uint64_t)w->rows, &total) != 0)
        return lv_errorf(err, "cannot re-quantize %s (%lld columns) to %s", what, (long long)w->cols,
                         lv_type_info(type) ? lv_type_info(type)->name : "?");
    row = lv_malloc(sizeof *row * (size_t)w->cols);
    buf = lv_malloc((size_t)total);
    owned = lv_realloc(m->owned, sizeof *owned * (size_t)(m->n_owned + 1));
    if (!row || !buf || !owned) {
        lv_errorf(err, "out of memory re-quantizing %s", what);
        goto done;
    }
    m->owned = owned;
    for (int64_t r = 0; r < w->rows; r++) {
        const uint8_t *src = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        if (lv_dequantize_row(w->type, src, row, w->cols) != 0 ||
            lv_quantize_row_ref(type, row, buf + (size_t)r * rb, w->cols) != 0) {
            lv_errorf(err, "cannot re-quantize %s to %s", what, lv_type_info(type)->name);
            goto done;
        }
    }
    if (lv_mat_init(w, type, w->cols, w->rows, buf, err) != 0) goto done;
    m->owned[m->n_owned++] = buf;
    buf = NULL;
    rc = 0;
done:
    lv_free(row);
    lv_free(buf);
    return rc;
}

lv_llama *lv_llama_load(const lv_gguf *g, const lv_llama_opts *opts, lv_error *err)
{
    char name[96];
    lv_llama *m = lv_calloc(1, sizeof *m);
    if (!m) {
        lv_errorf(err, "out of memory");
        return NULL;
    }
    f16_table = lv_f16_lut();
    pick_attention_kernels(m);
    lv_llama_hparams *hp = &m->hp;
    if (load_hparams(g, hp, err) != 0) goto fail;

    /* vocabulary size: llama.vocab_size, else the tokenizer, else token_embd */
    const lv_gguf_tensor *te = lv_gguf_find_tensor(g, "token_embd.weight");
    if (!te) {
        lv_errorf(err, "missing tensor token_embd.weight");
        goto fail;
    }
    uint32_t nv = 0;
    int rc = lv_gguf_get_u32(g, "llama.vocab_size", &nv, err);
    if (rc < 0) goto fail;
    if (rc == 1) {
        int64_t ki = lv_gguf_find_key(g, "tokenizer.ggml.tokens");
        lv_gguf_vtype et;
        uint64_t cnt;
        const void *d;
        if (ki >= 0 && lv_gguf_kv_arr(g, ki, &et, &cnt, &d) == 0 && cnt <= MAX_VOCAB) nv = (uint32_t)cnt;
        else nv = te->ne[1] <= MAX_VOCAB ? (uint32_t)te->ne[1] : 0;
    }
    if (nv < 1 || nv > MAX_VOCAB) {
        lv_errorf(err, "vocabulary size %u is out of range [1, %d]", nv, MAX_VOCAB);
        goto fail;
    }
    hp->n_vocab = (int32_t)nv;

    if (get_mat(g, "token_embd.weight", hp->n_embd, hp->n_vocab, 0, &m->tok_embd, err) != 0 ||
        get_vec(g, "output_norm.weight", hp->n_embd, 0, &m->output_norm, err) != 0)
        goto fail;
    rc = get_mat(g, "output.weight", hp->n_embd, hp->n_vocab, 1, &m->output, err);
    if (rc < 0) goto fail;
    hp->tied_output = rc == 1;
    if (hp->tied_output) m->output = m->tok_embd;
    if (lv_gguf_find_tensor(g, "rope_freqs.weight")) {
        lv_errorf(err, "tensor rope_freqs.weight (RoPE frequency factors) is not supported");
        goto fail;
    }

    m->layers = lv_calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        lv_errorf(err, "out of memory");
        goto fail;
    }
    for (int32_t l = 0; l < hp->n_layer; l++) {
        layer_w *L = &m->layers[l];
        const int64_t E = hp->n_embd, KV = hp->n_embd_kv, F = hp->n_ff;
        struct { const char *n; int64_t cols, rows; lv_mat *dst; } mats[] = {
            {"attn_q", E, E, &L->wq},      {"attn_k", E, KV, &L->wk}, {"attn_v", E, KV, &L->wv},
            {"attn_output", E, E, &L->wo}, {"ffn_gate", E, F, &L->gate},
            {"ffn_up", E, F, &L->up},      {"ffn_down", F, E, &L->down},
        };
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, mats[i].n);
            if (get_mat(g, name, mats[i].cols, mats[i].rows, 0, mats[i].dst, err) != 0) goto fail;
        }
        struct { const char *n; int64_t len; int opt; const float **dst; } vecs[] = {
            {"attn_norm.weight", E, 0, &L->attn_norm}, {"ffn_norm.weight", E, 0, &L->ffn_norm},
            {"attn_q.bias", E, 1, &L->bq}, {"attn_k.bias", KV, 1, &L->bk},
            {"attn_v.bias", KV, 1, &L->bv}, {"attn_output.bias", E, 1, &L->bo},
        };
        for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
            snprintf(name, sizeof name, "blk.%d.%s", l, vecs[i].n);
            if (get_vec(g, name, vecs[i].len, vecs[i].opt, vecs[i].dst, err) != 0) goto fail;
        }
        static const char *const unsupported[] = {"ffn_gate.bias", "ffn_up.bias", "ffn_down.bias",
                                                  "ffn_gate_inp.weight"};
        for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
            snprintf(name, sizeof name, "blk.%d.%s", l, unsupported[i]);
            if (lv_gguf_find_tensor(g, name)) {
                lv_errorf(err, "tensor %s is not supported", name);
                goto fail;
            }
        }
    }

    if (opts && opts->requant_type >= 0) {
        int t = opts->requant_type;
        if (!lv_matmul_type_ok(t)) {
            lv_errorf(err, "cannot re-quantize to type %d", t);
            goto fail;
        }
        if (requant(m, &m->tok_embd, t, "token_embd.weight", err) != 0) goto fail;
        if (hp->tied_output) m->output = m->tok_embd;
        else if (requant(m, &m->output, t, "output.weight", err) != 0) goto fail;
        for (int32_t l = 0; l < hp->n_layer; l++) {
            lv_mat *ws[LAYER_MATS];
            layer_mats(&m->layers[l], ws);
            for (size_t i = 0; i < LAYER_MATS; i++) {
                snprintf(name, sizeof name, "layer %d weight %zu", l, i);
                if (requant(m, ws[i], t, name, err) != 0) goto fail;
            }
        }
    }
    /* x16 repacking for the SIMD kernels (token_embd stays: rows are read one by one),
       into one arena in the order decode reads them: on 2 MB pages nearly throughout
       (per-tensor buffers left the first and last 2 MB of each on 4 KB pages: 44 % of
       a 1.1B Q4_0), so the prefetchers are not stopped at every 4 KB boundary */
    {
        size_t total = hp->tied_output ? 0 : (lv_mat_pack_bytes(&m->output) + 63) & ~(size_t)63;
        for (int32_t l = 0; l < hp->n_layer; l++) {
            lv_mat *ws[LAYER_MATS];
            layer_mats(&m->layers[l], ws);
            for (size_t i = 0; i < LAYER_MATS; i++) total += (lv_mat_pack_bytes(ws[i]) + 63) & ~(size_t)63;
        }
        if (total) {
            const uintptr_t hpg = (uintptr_t)2 << 20;
            void **owned = lv_realloc(m->owned, sizeof *owned * (size_t)(m->n_owned + 1));
            if (owned) m->owned = owned;
            uint8_t *raw = owned ? lv_malloc(total + 2 * hpg) : NULL;   /* room to align and round up */
            if (!raw) {
                lv_errorf(err, "out of memory repacking weights (%zu bytes)", total);
                goto fail;
            }
            m->owned[m->n_owned++] = raw;
            m->arena_base = (uint8_t *)(((uintptr_t)raw + hpg - 1) & ~(hpg - 1));
            m->arena_size = total;
            m->arena_used = 0;
            madvise(m->arena_base, (total + hpg - 1) & ~(hpg - 1), MADV_HUGEPAGE);
        }
    }
    if (!hp->tied_output && pack_weight(m, &m->output, err) != 0) goto fail;
    for (int32_t l = 0; l < hp->n_layer; l++) {
        lv_mat *ws[LAYER_MATS];
        layer_mats(&m->layers[l], ws);
        for (size_t i = 0; i < LAYER_MATS; i++)
            if (pack_weight(m, ws[i], err) != 0) goto fail;
    }
    if (own_vectors(m, err) != 0) goto fail;
    /* Again at the end: the page cache may map a file in 2 MB folios, so reading the
       next tensor maps the tail of the previous one back in (measured: 55 MB of a
       1.1B Q4_0 file stayed resident without this pass). */
    for (int i = 0; i < m->n_dropped; i++) drop_pages(m->dropped[i].p, m->dropped[i].n);
    lv_free(m->dropped);
    m->dropped = NULL;
    m->n_dropped = 0;
    return m;
fail:
    lv_llama_free(m);
    return NULL;
}

void lv_llama_free(lv_llama *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) lv_free(m->owned[i]);
    lv_free(m->owned);
    lv_free(m->dropped);
    lv_free(m->layers);
    lv_free(m);
}

const lv_llama_hparams *lv_llama_hparams_of(const lv_llama *m) { return &m->hp; }

int lv_llama_main_type(const lv_llama *m) { return m->layers[0].gate.type; }

/* ============================================================ context ===== */

lv_llama_ctx *lv_llama_ctx_new(const lv_llama *m, int32_t n_ctx, int32_t n_batch,
                               int32_t n_logits, int n_threads, lv_error *err)
{
    const lv_llama_hparams *hp = &m->hp;
    if (n_ctx < 1 || n_ctx > (1 << 24) || n_batch < 1 || n_batch > (1 << 16) || n_logits < 1 ||
        n_logits > (1 << 16)) {
        lv_errorf(err, "context sizes out of range (n_ctx %d, n_batch %d, n_logits %d)", n_ctx, n_batch, n_logits);
        return NULL;
    }
    lv_llama_ctx *c = lv_calloc(1, sizeof *c);
    if (!c) {
        lv_errorf(err, "out of memory");
        return NULL;
    }
    c->m = m;
    c->n_ctx = n_ctx;
    c->n_batch = n_batch;
    c->n_logits = n_logits;
    c->n_threads = n_threads < 1 ? 1 : n_threads;
    c->anchor_low = INT32_MAX;

    uint64_t kv, tmp;
    int bad = lv_mul_u64((uint64_t)hp->n_layer * (uint64_t)n_ctx, (uint64_t)hp->n_embd_kv, &kv) ||
              lv_mul_u64(kv, sizeof(uint16_t), &tmp) || tmp > SIZE_MAX;
    /* matmul scratch: the widest conversion of the most rows any matmul sees */
    int32_t rows = n_batch;
    size_t scratch = 0;
    for (int32_t l = 0; l < hp->n_layer; l++) {
        const layer_w *L = &m->layers[l];
        const lv_mat *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            size_t s = lv_matmul_scratch_bytes(ws[i]->type, ws[i]->cols, rows);
            if (s > scratch) scratch = s;
        }
    }
    size_t so = lv_matmul_scratch_bytes(m->output.type, m->output.cols, n_logits < n_batch ? n_logits : n_batch);
    if (so > scratch) scratch = so;

    size_t B = (size_t)n_batch, E = (size_t)hp->n_embd, KV = (size_t)hp->n_embd_kv, F = (size_t)hp->n_ff;
    if (!bad) {
        c->k_cache = lv_malloc((size_t)tmp);
        c->v_cache = lv_malloc((size_t)tmp);
        c->x = lv_malloc(sizeof(float) * B * E);
        c->xn = lv_malloc(sizeof(float) * B * E);
        c->q = lv_malloc(sizeof(float) * B * E);
        c->k = lv_malloc(sizeof(float) * B * KV);
        c->v = lv_malloc(sizeof(float) * B * KV);
        c->att = lv_malloc(sizeof(float) * B * E);
        c->tmp = lv_malloc(sizeof(float) * B * E);
        c->gate = lv_malloc(sizeof(float) * B * F);
        c->up = lv_malloc(sizeof(float) * B * F);
        c->qh = lv_malloc(sizeof(float) * QT_MAX * (size_t)hp->head_dim * (size_t)c->n_threads);
        c->kt_ld = (n_ctx + 63) & ~63;
        c->scores = lv_malloc(sizeof(float) * QT_MAX * (size_t)c->kt_ld * (size_t)c->n_threads);
        if (attn512_ok(hp))
            c->kt = lv_malloc(sizeof(float) * (size_t)hp->head_dim * (size_t)c->kt_ld * (size_t)c->n_threads);
        c->rope_cs = lv_malloc(sizeof(float) * (size_t)hp->head_dim * (size_t)c->n_threads);
        c->scratch = lv_malloc(scratch ? scratch : 1);
        c->logits = lv_malloc(sizeof(float) * (size_t)n_logits * (size_t)hp->n_vocab);
    }
    if (bad || !c->k_cache || !c->v_cache || !c->x || !c->xn || !c->q || !c->k || !c->v || !c->att ||
        !c->tmp || !c->gate || !c->up || !c->qh || !c->scores || (attn512_ok(hp) && !c->kt) || !c->rope_cs || !c->scratch || !c->logits) {
        lv_errorf(err, "out of memory for a context of %d positions", n_ctx);
        lv_llama_ctx_free(c);
        return NULL;
    }
    return c;
}

void lv_llama_ctx_free(lv_llama_ctx *c)
{
    if (!c) return;
    void *bufs[] = {c->k_cache, c->v_cache, c->x, c->xn, c->q, c->k, c->v, c->att, c->tmp,
                    c->gate, c->up, c->qh, c->scores, c->kt, c->rope_cs, c->scratch, c->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) lv_free(bufs[i]);
    lv_free(c);
}

int32_t lv_llama_n_past(const lv_llama_ctx *c) { return c->n_past; }
int32_t lv_llama_n_ctx(const lv_llama_ctx *c) { return c->n_ctx; }
const lv_llama *lv_llama_model(const lv_llama_ctx *c) { return c->m; }

const float *lv_llama_logits(const lv_llama_ctx *c, int32_t i)
{
    if (i < 0 || i >= c->n_out) return NULL;
    return c->logits + (size_t)i * (size_t)c->m->hp.n_vocab;
}

int lv_llama_rewind(lv_llama_ctx *c, int32_t n_past, lv_error *err)
{
    if (n_past < 0 || n_past > c->n_past)
        return lv_errorf(err, "cannot rewind to %d (the context holds %d positions)", n_past, c->n_past);
    c->n_past = n_past;
    c->n_out = 0;
    return 0;
}

/* ============================================================ kernels ===== */

/* out[i] = x[i] / sqrt(mean(x²) + eps) * w[i]; x, w, out: [n] (out may alias x). */
static void rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] * scale) * w[i];
}

/* cos/sin table for one position: cs[2i] = cos θ_i, cs[2i+1] = sin θ_i, i < head_dim/2,
 * θ_0 = pos·freq_scale, θ_{i+1} = θ_i·base^(−2/head_dim) in f32 (as ggml). */
static void rope_table(float *cs, int32_t pos, int32_t head_dim, float base, float freq_scale)
{
    const float theta_scale = powf(base, -2.0f / (float)head_dim);
    float theta = (float)pos;
    for (int32_t i = 0; i < head_dim / 2; i++) {
        const float t = freq_scale * theta;
        cs[2 * i] = cosf(t);
        cs[2 * i + 1] = sinf(t);
        theta *= theta_scale;
    }
}

/* Rotates adjacent pairs of each of n_heads heads in x: [n_heads][head_dim]. */
static void rope_apply(float *x, const float *cs, int32_t n_heads, int32_t head_dim)
{
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * (size_t)head_dim;
        for (int32_t i = 0; i < head_dim / 2; i++) {
            const float x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
            v[2 * i + 1] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
        }
    }
}

/* y[t][i] += b[i]; y: [n_tok][n], b: [n] or NULL (no bias) */
static void add_bias(float *y, const float *b, int64_t n_tok, int64_t n)
{
    if (!b) return;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < n; i++) y[t * n + i] += b[i];
}

/* Attention of one query head h of one row at position pos over cached positions
 * [0, pos] of layer l; ith selects the thread's scratch.
 *   q:   [n_embd] the row's queries after RoPE (f32; rounded to f16 here)
 *   out: [n_embd] heads concatenated (head h written) */
static void attend_head(lv_llama_ctx *c, int32_t l, int32_t pos, int32_t h, const float *q, float *out, int ith)
{
    const lv_llama_hparams *hp = &c->m->hp;
    const int32_t hd = hp->head_dim, n_gqa = hp->n_head / hp->n_head_kv, KV = hp->n_embd_kv;
    const uint16_t *K = c->k_cache + (size_t)l * (size_t)c->n_ctx * (size_t)KV;
    const uint16_t *V = c->v_cache + (size_t)l * (size_t)c->n_ctx * (size_t)KV;
    const float scale = 1.0f / sqrtf((float)hd);
    float *qh = c->qh + (size_t)ith * (size_t)hd, *s = c->scores + (size_t)ith * (size_t)c->kt_ld;
    const int32_t off = (h / n_gqa) * hd;
    for (int32_t d = 0; d < hd; d++) qh[d] = round_f16(q[h * hd + d]);
    float mx = -INFINITY;
    for (int32_t j = 0; j <= pos; j++) {
        s[j] = c->m->kdot(qh, K + (size_t)j * (size_t)KV + off, hd) * scale;
        if (s[j] > mx) mx = s[j];
    }
    double sum = 0.0;
    for (int32_t j = 0; j <= pos; j++) {
        s[j] = expf(s[j] - mx);
        sum += (double)s[j];
    }
    const float inv = (float)(1.0 / sum);
    float *o = out + h * hd;
    for (int32_t d = 0; d < hd; d++) o[d] = 0.0f;
    for (int32_t j = 0; j <= pos; j++)
        c->m->vacc(o, round_f16(s[j] * inv), V + (size_t)j * (size_t)KV + off, hd);
}

#ifdef HAVE_X86_KERNELS
/* AVX-512 attention of rows b0 … b1-1 of the chunk for the query heads of KV head g
 * (same softmax as attend_head). The (row, head) pairs in order, QT at a time, make
 * the tiles: a row's heads under grouped-query attention, consecutive rows otherwise. */
TGT_ATT static void attend_rows(lv_llama_ctx *c, int32_t l, int32_t g, int32_t b0, int32_t b1, int ith)
{
    const lv_llama_hparams *hp = &c->m->hp;
    const int32_t hd = hp->head_dim, n_gqa = hp->n_head / hp->n_head_kv, KV = hp->n_embd_kv, E = hp->n_embd;
    const uint16_t *K = c->k_cache + (size_t)l * (size_t)c->n_ctx * (size_t)KV;
    const uint16_t *V = c->v_cache + (size_t)l * (size_t)c->n_ctx * (size_t)KV;
    const float scale = 1.0f / sqrtf((float)hd);
    const int32_t ld = c->kt_ld;
    float *qh = c->qh + (size_t)ith * QT * (size_t)hd, *s = c->scores + (size_t)ith * QT * (size_t)ld;
    float *kt = c->kt + (size_t)ith * (size_t)hd * (size_t)ld;
    const int32_t off = g * hd;
    transpose_keys(K, KV, off, hd, c->n_past + b1, kt, ld);
    const int64_t n_pairs = (int64_t)(b1 - b0) * n_gqa;
    for (int64_t p0 = 0; p0 < n_pairs; p0 += QT) {
        const int nq = n_pairs - p0 < QT ? (int)(n_pairs - p0) : QT;
        int32_t nk[QT];
        float *o[QT];
        for (int i = 0; i < nq; i++) {
            const int32_t b = b0 + (int32_t)((p0 + i) / n_gqa), h = g * n_gqa + (int32_t)((p0 + i) % n_gqa);
            const float *q = c->q + (size_t)b * E + (size_t)h * hd;
            for (int32_t d = 0; d < hd; d += 16)   /* hd is a multiple of 16 here */
                _mm512_storeu_ps(qh + (size_t)i * hd + d,
                                 _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(q + d),
                                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
            nk[i] = c->n_past + b + 1;
            o[i] = c->att + (size_t)b * E + (size_t)h * hd;
        }
        switch (nq) {
        case 8: attend_tile(8, kt, ld, hd, qh, nk, scale, s, V + off, KV, o); break;
        case 7: attend_tile(7, kt, ld, hd, qh, nk, scale, s, V + off, KV, o); break;
        case 6: attend_tile(6, kt, ld, hd, qh, nk, scale, s, V + off, KV, o); break;
        case 5: attend_tile(5, kt, ld, hd, qh, nk, scale, s, V + off, KV, o); break;
        case 4: attend_tile(4, kt, ld, hd, qh, nk, scale, s, V + off, KV, o); break;
        case 3: attend_tile(3, kt, ld, hd, qh, nk, scale, s, V + off, KV, o); break;
        case 2: attend_tile(2, kt, ld, hd, qh, nk, scale, s, V + off, KV, o); break;
        default: attend_tile(1, kt, ld, hd, qh, nk, scale, s, V + off, KV, o); break;
        }
    }
}
#endif

/* Attention of rows 0 … nb-1 of a chunk, on the pool. AVX-512: items are (KV head,
 * block of ATT_ROWS rows), dealt round-robin; otherwise (row, head) items. */
typedef struct {
    lv_llama_ctx *c;
    int32_t l, nb;
} attn_job;

enum { ATT_ROWS = 32 };

static void attend_part(void *arg, int ith, int nth)
{
    const attn_job *j = arg;
    lv_llama_ctx *c = j->c;
    const int32_t H = c->m->hp.n_head, E = c->m->hp.n_embd;
#ifdef HAVE_X86_KERNELS
    if (c->kt) {
        const int32_t G = c->m->hp.n_head_kv, nblk = (j->nb + ATT_ROWS - 1) / ATT_ROWS;
        for (int64_t it = ith; it < (int64_t)nblk * G; it += nth) {
            const int32_t blk = (int32_t)(nblk - 1 - it / G), g = (int32_t)(it % G);   /* longest first */
            const int32_t b0 = blk * ATT_ROWS, b1 = b0 + ATT_ROWS < j->nb ? b0 + ATT_ROWS : j->nb;
            attend_rows(c, j->l, g, b0, b1, ith);
        }
        return;
    }
#endif
    for (int64_t it = ith; it < (int64_t)j->nb * H; it += nth) {
        const int32_t b = (int32_t)(it / H), h = (int32_t)(it % H);
        attend_head(c, j->l, c->n_past + b, h, c->q + (size_t)b * E, c->att + (size_t)b * E, ith);
    }
}

/* The row-wise steps between matmuls, split over rows on the pool in prefill (each
 * row's arithmetic is the same whoever runs it):
 *   EW_NORM          xn = attn_norm(x)
 *   EW_ADD_NORM      x += tmp (the previous layer's FFN), then xn = attn_norm(x)
 *   EW_ROPE_KV       RoPE on q and k, k and v to the f16 cache
 *   EW_ADD_NORM_FFN  x += tmp (attention output), then xn = ffn_norm(x)
 *   EW_SWIGLU        gate = silu(gate)·up */
enum { EW_NORM, EW_ADD_NORM, EW_ROPE_KV, EW_ADD_NORM_FFN, EW_SWIGLU };

typedef struct {
    lv_llama_ctx *c;
    int op;
    int32_t l, nb;
} rows_job;

static void rows_part(void *arg, int ith, int nth)
{
    const rows_job *j = arg;
    lv_llama_ctx *c = j->c;
    const lv_llama_hparams *hp = &c->m->hp;
    const layer_w *L = &c->m->layers[j->l];
    const int32_t E = hp->n_embd, KV = hp->n_embd_kv, F = hp->n_ff, hd = hp->head_dim;
    long long lo, hi;
    lv_pool_split(j->nb, nth, ith, 1, &lo, &hi);
    for (int32_t b = (int32_t)lo; b < (int32_t)hi; b++) {
        float *x = c->x + (size_t)b * E, *xn = c->xn + (size_t)b * E, *t = c->tmp + (size_t)b * E;
        switch (j->op) {
        case EW_ADD_NORM:
        case EW_ADD_NORM_FFN:
            for (int32_t i = 0; i < E; i++) x[i] += t[i];
            /* fall through */
        case EW_NORM:
            rmsnorm(xn, x, j->op == EW_ADD_NORM_FFN ? L->ffn_norm : L->attn_norm, E, hp->eps);
            break;
        case EW_ROPE_KV: {
            const int32_t pos = c->n_past + b;
            uint16_t *Kc = c->k_cache + ((size_t)j->l * (size_t)c->n_ctx + (size_t)pos) * (size_t)KV;
            uint16_t *Vc = c->v_cache + ((size_t)j->l * (size_t)c->n_ctx + (size_t)pos) * (size_t)KV;
            float *cs = c->rope_cs + (size_t)ith * (size_t)hd;
            rope_table(cs, pos, hd, hp->rope_base, hp->freq_scale);
            rope_apply(c->q + (size_t)b * E, cs, hp->n_head, hd);
            rope_apply(c->k + (size_t)b * KV, cs, hp->n_head_kv, hd);
#ifdef HAVE_X86_KERNELS
            if (c->kt) {
                to_f16_512(Kc, c->k + (size_t)b * KV, KV);
                to_f16_512(Vc, c->v + (size_t)b * KV, KV);
                break;
            }
#endif
            for (int32_t i = 0; i < KV; i++) {
                Kc[i] = lv_fp32_to_fp16(c->k[(size_t)b * KV + i]);
                Vc[i] = lv_fp32_to_fp16(c->v[(size_t)b * KV + i]);
            }
            break;
        }
        case EW_SWIGLU: {
            float *g = c->gate + (size_t)b * F;
            const float *u = c->up + (size_t)b * F;
#ifdef HAVE_X86_KERNELS
            if (c->kt) {
                swiglu512(g, u, (size_t)F);
                break;
            }
#endif
            for (int32_t i = 0; i < F; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
            break;
        }
        }
    }
}

static void rows_run(lv_llama_ctx *c, int op, int32_t l, int32_t nb)
{
    rows_job j = {c, op, l, nb};
    lv_pool_run(nb >= 2 * c->n_threads ? c->n_threads : 1, rows_part, &j);
}

/* One chunk of nb ≤ n_batch rows at positions n_past … n_past+nb-1; c->x ([nb][n_embd])
 * already holds the input rows. out_rows > 0: the logits of the last out_rows rows go
 * to c->logits rows out_off … out_off+out_rows-1 ([n_vocab] each). n_past is not
 * advanced here. The layer loop is the hot path of prefill. */
static int eval_chunk(lv_llama_ctx *c, int32_t nb, int32_t out_rows, int32_t out_off)
{
    const lv_llama *m = c->m;
    const lv_llama_hparams *hp = &m->hp;
    const int32_t E = hp->n_embd, KV = hp->n_embd_kv;
    const int nt = c->n_threads;
    int rc = 0;

    for (int32_t l = 0; l < hp->n_layer; l++) {
        const layer_w *L = &m->layers[l];
        /* the previous layer's FFN output joins the residual here, row by row */
        rows_run(c, l > 0 ? EW_ADD_NORM : EW_NORM, l, nb);
        const lv_mat *qkv[3] = {&L->wq, &L->wk, &L->wv};
        float *const qkv_out[3] = {c->q, c->k, c->v};
        rc |= lv_matmul_n(qkv, 3, c->xn, qkv_out, nb, c->scratch, nt);
        add_bias(c->q, L->bq, nb, E);
        add_bias(c->k, L->bk, nb, KV);
        add_bias(c->v, L->bv, nb, KV);
        rows_run(c, EW_ROPE_KV, l, nb);
        attn_job aj = {c, l, nb};
        lv_pool_run(nt, attend_part, &aj);
        rc |= lv_matmul(&L->wo, c->att, c->tmp, nb, c->scratch, nt);
        add_bias(c->tmp, L->bo, nb, E);
        rows_run(c, EW_ADD_NORM_FFN, l, nb);
        const lv_mat *gu[2] = {&L->gate, &L->up};
        float *const gu_out[2] = {c->gate, c->up};
        rc |= lv_matmul_n(gu, 2, c->xn, gu_out, nb, c->scratch, nt);
        rows_run(c, EW_SWIGLU, l, nb);
        rc |= lv_matmul(&L->down, c->gate, c->tmp, nb, c->scratch, nt);
    }
    for (size_t i = 0; i < (size_t)nb * E; i++) c->x[i] += c->tmp[i];
    if (out_rows > 0) {
        const int32_t first = nb - out_rows;
        for (int32_t b = 0; b < out_rows; b++)
            rmsnorm(c->xn + (size_t)b * E, c->x + (size_t)(first + b) * E, m->output_norm, E, hp->eps);
        rc |= lv_matmul(&m->output, c->xn, c->logits + (size_t)out_off * (size_t)hp->n_vocab,
                        out_rows, c->scratch, nt);
    }
    return rc ? -1 : 0;
}

int lv_llama_eval(lv_llama_ctx *c, const int32_t *tokens, const float *embd, int32_t n,
                  int logits, lv_error *err)
{
    const lv_llama *m = c->m;
    const int32_t E = m->hp.n_embd;
    if (n < 1 || (!tokens && !embd)) return lv_errorf(err, "nothing to evaluate");
    if (n > c->n_ctx - c->n_past)
        return lv_errorf(err, "context full: %d positions + %d new > n_ctx %d", c->n_past, n, c->n_ctx);
    if (logits == LV_LOGITS_ALL && n > c->n_logits)
        return lv_errorf(err, "%d rows of logits asked, the context keeps %d", n, c->n_logits);
    if (tokens)
        for (int32_t i = 0; i < n; i++)
            if (tokens[i] < 0 || tokens[i] >= m->hp.n_vocab)
                return lv_errorf(err, "token id %d is out of range [0, %d)", tokens[i], m->hp.n_vocab);

    c->n_out = 0;
    if (c->n_past < c->anchor_low) c->anchor_low = c->n_past;
    for (int32_t done = 0; done < n;) {
        const int32_t nb = n - done < c->n_batch ? n - done : c->n_batch;
        /* inputs: embedding rows of the tokens, or the given rows */
        for (int32_t b = 0; b < nb; b++) {
            float *dst = c->x + (size_t)b * E;
            if (tokens) {
                const uint8_t *row = (const uint8_t *)m->tok_embd.data +
                                     (size_t)tokens[done + b] * m->tok_embd.row_bytes;
                if (lv_dequantize_row(m->tok_embd.type, row, dst, E) != 0)
                    return lv_errorf(err, "cannot dequantize token_embd rows");
            } else {
                memcpy(dst, embd + (size_t)(done + b) * E, sizeof(float) * (size_t)E);
            }
        }
        int32_t out_rows = 0, out_off = 0;
        if (logits == LV_LOGITS_ALL) {
            out_rows = nb;
            out_off = done;
        } else if (logits == LV_LOGITS_LAST && done + nb == n) {
            out_rows = 1;
        }
        if (eval_chunk(c, nb, out_rows, out_off) != 0) {
            c->n_out = 0;
            return lv_errorf(err, "matmul failed (unsupported activation type)");
        }
        c->n_past += nb;
        done += nb;
    }
    c->n_out = logits == LV_LOGITS_ALL ? n : logits == LV_LOGITS_LAST ? 1 : 0;
    return 0;
}

/* ========================================================== snapshots ===== */

static atomic_uint_least64_t snap_ids;   /* process-wide, so ids never repeat */

lv_llama_snapshot *lv_llama_snapshot_save(lv_llama_ctx *c, lv_error *err)
{
    const lv_llama_hparams *hp = &c->m->hp;
    const size_t KV = (size_t)hp->n_embd_kv, P = (size_t)c->n_past;
    lv_llama_snapshot *s = lv_calloc(1, sizeof *s);
    if (!s) goto oom;
    s->m = c->m;
    s->owner = c;
    s->id = atomic_fetch_add(&snap_ids, 1) + 1;
    s->n_past = c->n_past;
    s->has_logits = c->n_out > 0;
    s->k = lv_malloc(sizeof(uint16_t) * (size_t)hp->n_layer * P * KV + 1);
    s->v = lv_malloc(sizeof(uint16_t) * (size_t)hp->n_layer * P * KV + 1);
    s->logits = lv_malloc(sizeof(float) * (size_t)hp->n_vocab);
    if (!s->k || !s->v || !s->logits) goto oom;
    for (int32_t l = 0; l < hp->n_layer; l++) {
        const size_t src = (size_t)l * (size_t)c->n_ctx * KV, dst = (size_t)l * P * KV;
        memcpy(s->k + dst, c->k_cache + src, sizeof(uint16_t) * P * KV);
        memcpy(s->v + dst, c->v_cache + src, sizeof(uint16_t) * P * KV);
    }
    if (s->has_logits)
        memcpy(s->logits, lv_llama_logits(c, c->n_out - 1), sizeof(float) * (size_t)hp->n_vocab);
    c->anchor_id = s->id;
    c->anchor_low = INT32_MAX;
    return s;
oom:
    lv_llama_snapshot_free(s);
    lv_errorf(err, "out of memory for a snapshot of %d positions", c->n_past);
    return NULL;
}

int lv_llama_snapshot_restore(lv_llama_ctx *c, const lv_llama_snapshot *s, lv_error *err)
{
    const lv_llama_hparams *hp = &c->m->hp;
    const size_t KV = (size_t)hp->n_embd_kv, P = (size_t)s->n_past;
    if (s->m != c->m) return lv_errorf(err, "snapshot of another model");
    if (s->n_past > c->n_ctx)
        return lv_errorf(err, "snapshot of %d positions does not fit a context of %d", s->n_past, c->n_ctx);
    int intact = s->owner == c && s->id == c->anchor_id && c->anchor_low >= s->n_past &&
                 c->n_past >= s->n_past;
    if (!intact) {
        for (int32_t l = 0; l < hp->n_layer; l++) {
            const size_t dst = (size_t)l * (size_t)c->n_ctx * KV, src = (size_t)l * P * KV;
            memcpy(c->k_cache + dst, s->k + src, sizeof(uint16_t) * P * KV);
            memcpy(c->v_cache + dst, s->v + src, sizeof(uint16_t) * P * KV);
        }
    }
    c->n_past = s->n_past;
    c->anchor_id = s->owner == c ? s->id : 0;
    c->anchor_low = INT32_MAX;
    c->n_out = 0;
    if (s->has_logits) {
        memcpy(c->logits, s->logits, sizeof(float) * (size_t)hp->n_vocab);
        c->n_out = 1;
    }
    return 0;
}

void lv_llama_snapshot_free(lv_llama_snapshot *s)
{
    if (!s) return;
    lv_free(s->k);
    lv_free(s->v);
    lv_free(s->logits);
    lv_free(s);
}

int32_t lv_llama_snapshot_n_past(const lv_llama_snapshot *s) { return s->n_past; }
