/* engine/llama.c — LLaMA forward pass over GGUF weights (see llama.h). */
#include "engine/llama.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "engine/f16lut.h"
#include "engine/matmul.h"
#include "engine/quant.h"

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
    float *qh;                      /* [head_dim] one f16-rounded query head */
    float *scores;                  /* [n_ctx] one attention row */
    float *rope_cs;                 /* [head_dim] cos, sin pairs for one position */
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
#endif

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
            layer_w *L = &m->layers[l];
            lv_mat *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
            for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
                snprintf(name, sizeof name, "layer %d weight %zu", l, i);
                if (requant(m, ws[i], t, name, err) != 0) goto fail;
            }
        }
    }
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
        c->xn = lv_malloc(sizeof(float) * B * (E > F ? E : F));
        c->q = lv_malloc(sizeof(float) * B * E);
        c->k = lv_malloc(sizeof(float) * B * KV);
        c->v = lv_malloc(sizeof(float) * B * KV);
        c->att = lv_malloc(sizeof(float) * B * E);
        c->tmp = lv_malloc(sizeof(float) * B * E);
        c->gate = lv_malloc(sizeof(float) * B * F);
        c->up = lv_malloc(sizeof(float) * B * F);
        c->qh = lv_malloc(sizeof(float) * (size_t)hp->head_dim);
        c->scores = lv_malloc(sizeof(float) * (size_t)n_ctx);
        c->rope_cs = lv_malloc(sizeof(float) * (size_t)hp->head_dim);
        c->scratch = lv_malloc(scratch ? scratch : 1);
        c->logits = lv_malloc(sizeof(float) * (size_t)n_logits * (size_t)hp->n_vocab);
    }
    if (bad || !c->k_cache || !c->v_cache || !c->x || !c->xn || !c->q || !c->k || !c->v || !c->att ||
        !c->tmp || !c->gate || !c->up || !c->qh || !c->scores || !c->rope_cs || !c->scratch || !c->logits) {
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
                    c->gate, c->up, c->qh, c->scores, c->rope_cs, c->scratch, c->logits};
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

/* Attention of one query row at position pos over cached positions [0, pos] of layer l.
 *   q:   [n_embd] the row's queries after RoPE (f32; rounded to f16 here)
 *   out: [n_embd] heads concatenated */
static void attend(lv_llama_ctx *c, int32_t l, int32_t pos, const float *q, float *out)
{
    const lv_llama_hparams *hp = &c->m->hp;
    const int32_t hd = hp->head_dim, n_gqa = hp->n_head / hp->n_head_kv, KV = hp->n_embd_kv;
    const uint16_t *K = c->k_cache + (size_t)l * (size_t)c->n_ctx * (size_t)KV;
    const uint16_t *V = c->v_cache + (size_t)l * (size_t)c->n_ctx * (size_t)KV;
    const float scale = 1.0f / sqrtf((float)hd);
    float *qh = c->qh, *s = c->scores;
    for (int32_t h = 0; h < hp->n_head; h++) {
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
}

/* One chunk of nb ≤ n_batch rows at positions n_past … n_past+nb-1; c->x ([nb][n_embd])
 * already holds the input rows. out_rows > 0: the logits of the last out_rows rows go
 * to c->logits rows out_off … out_off+out_rows-1 ([n_vocab] each). n_past is not
 * advanced here. The layer loop is the hot path of prefill. */
static int eval_chunk(lv_llama_ctx *c, int32_t nb, int32_t out_rows, int32_t out_off)
{
    const lv_llama *m = c->m;
    const lv_llama_hparams *hp = &m->hp;
    const int32_t E = hp->n_embd, KV = hp->n_embd_kv, F = hp->n_ff, hd = hp->head_dim;
    const int nt = c->n_threads;
    int rc = 0;

    for (int32_t l = 0; l < hp->n_layer; l++) {
        const layer_w *L = &m->layers[l];
        for (int32_t b = 0; b < nb; b++)
            rmsnorm(c->xn + (size_t)b * E, c->x + (size_t)b * E, L->attn_norm, E, hp->eps);
        rc |= lv_matmul(&L->wq, c->xn, c->q, nb, c->scratch, nt);
        rc |= lv_matmul(&L->wk, c->xn, c->k, nb, c->scratch, nt);
        rc |= lv_matmul(&L->wv, c->xn, c->v, nb, c->scratch, nt);
        add_bias(c->q, L->bq, nb, E);
        add_bias(c->k, L->bk, nb, KV);
        add_bias(c->v, L->bv, nb, KV);
        uint16_t *Kc = c->k_cache + (size_t)l * (size_t)c->n_ctx * (size_t)KV;
        uint16_t *Vc = c->v_cache + (size_t)l * (size_t)c->n_ctx * (size_t)KV;
        for (int32_t b = 0; b < nb; b++) {
            const int32_t pos = c->n_past + b;
            rope_table(c->rope_cs, pos, hd, hp->rope_base, hp->freq_scale);
            rope_apply(c->q + (size_t)b * E, c->rope_cs, hp->n_head, hd);
            rope_apply(c->k + (size_t)b * KV, c->rope_cs, hp->n_head_kv, hd);
            for (int32_t i = 0; i < KV; i++) {
                Kc[(size_t)pos * KV + i] = lv_fp32_to_fp16(c->k[(size_t)b * KV + i]);
                Vc[(size_t)pos * KV + i] = lv_fp32_to_fp16(c->v[(size_t)b * KV + i]);
            }
        }
        for (int32_t b = 0; b < nb; b++)
            attend(c, l, c->n_past + b, c->q + (size_t)b * E, c->att + (size_t)b * E);
        rc |= lv_matmul(&L->wo, c->att, c->tmp, nb, c->scratch, nt);
        add_bias(c->tmp, L->bo, nb, E);
        for (size_t i = 0; i < (size_t)nb * E; i++) c->x[i] += c->tmp[i];

        for (int32_t b = 0; b < nb; b++)
            rmsnorm(c->xn + (size_t)b * E, c->x + (size_t)b * E, L->ffn_norm, E, hp->eps);
        rc |= lv_matmul(&L->gate, c->xn, c->gate, nb, c->scratch, nt);
        rc |= lv_matmul(&L->up, c->xn, c->up, nb, c->scratch, nt);
        for (size_t i = 0; i < (size_t)nb * F; i++) {
            const float g = c->gate[i];
            c->gate[i] = g / (1.0f + expf(-g)) * c->up[i];
        }
        rc |= lv_matmul(&L->down, c->gate, c->tmp, nb, c->scratch, nt);
        for (size_t i = 0; i < (size_t)nb * E; i++) c->x[i] += c->tmp[i];
    }
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
