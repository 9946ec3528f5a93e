/* engine/clip.c — CLIP ViT + LLaVA projector (see clip.h).
 *
 * Shapes below use rows × columns of row-major float32: one token per row. A
 * weight "[out][in]" is the ggml ne=[in, out] tensor (PyTorch [out, in]).
 * The only file that includes <cblas.h>.
 */
#include "engine/clip.h"

#include <cblas.h>
#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "engine/quant.h"

/* Hard caps checked before any allocation (ViT-L/14-336 is 336/14/1024/16/4096/23). */
#define CAP_IMAGE_SIZE 2048
#define CAP_PATCH      64
#define CAP_EMBD       8192
#define CAP_FF         65536
#define CAP_HEAD       256
#define CAP_LAYER      256
#define CAP_POS        4097     /* n_pos: 64×64 patches + class */
#define CAP_RUN_FLOATS ((uint64_t)128 << 20)   /* per-run buffers: 512 MiB (ViT-L: 36 MiB) */
#define CAP_PROJ       32768

/* ==== types ==================================================================== */

/* A weight matrix dequantized to f32, and the type it had in the file (llama.cpp
 * mode rounds the activation row the way that type's matmul does). */
typedef struct {
    float *w;      /* [rows][cols] */
    int    rows, cols;
    int    type;   /* lv_type in the file */
} mat;

typedef struct {
    float *ln1_w, *ln1_b;      /* [H] */
    mat    q, k, v, o;         /* [H][H] */
    float *q_b, *k_b, *v_b, *o_b; /* [H] */
    float *ln2_w, *ln2_b;      /* [H] */
    mat    fc1;                /* [F][H]  file name ffn_down (HF mlp.fc1) */
    float *fc1_b;              /* [F] */
    mat    fc2;                /* [H][F]  file name ffn_up (HF mlp.fc2) */
    float *fc2_b;              /* [H] */
} clip_layer;

typedef struct {
    mat    patch;              /* [H][3·P·P], columns in (c, ky, kx) order */
    float *class_embd;         /* [H] or NULL */
    float *pos;                /* [n_pos][H] */
    float *pre_ln_w, *pre_ln_b;   /* [H] or NULL */
    float *post_ln_w, *post_ln_b; /* [H] or NULL */
    clip_layer *layers;        /* [n_layer] */
    mat    mm0;                /* [proj_hidden][H] */
    float *mm0_b;              /* [proj_hidden] */
    mat    mm2;                /* [proj_out][proj_hidden], w NULL for linear */
    float *mm2_b;              /* [proj_out] */
    float *newline;            /* [proj_out] or NULL */
} clip_weights;

/* Per-run buffers, sized at load for one tile. */
typedef struct {
    float *x;      /* [n_pos][H]  residual stream */
    float *h;      /* [n_pos][H]  normed input of a sub-block */
    float *q, *k, *v; /* [n_pos][H] */
    float *att;    /* [n_pos][n_pos] scores of one head */
    float *o;      /* [n_pos][H]  heads concatenated */
    float *ff;     /* [n_pos][max(F, proj_hidden)] */
    float *cols;   /* [n_patches][3·P·P] im2col */
    float *act;    /* [n_pos][max(F, H, 3PP, proj_hidden)] rounded matmul input */
    float *tmp;    /* [n_pos][max(H, proj_out)] */
} clip_run;

struct lv_clip {
    lv_clip_hparams hp;
    lv_image_params ip;
    clip_weights    w;
    clip_run        run;
    float         **allocs;    /* every weight buffer, for lv_clip_free */
    int             n_allocs, cap_allocs;
};

/* ==== fp16 tables (ggml's GELU_FP16 numerics) ==================================== */

static float gelu_tab[65536], quick_tab[65536];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;
static int has_f16c;   /* the CPU has AVX + F16C (set with the tables) */

static float gelu_tanh_f32(float x)
{
    const float k = 0.79788456080286535587989211986876f, a = 0.044715f;
    return 0.5f * x * (1.0f + tanhf(k * x * (1.0f + a * x * x)));
}

static float quick_gelu_f32(float x)
{
    return x * (1.0f / (1.0f + expf(-1.702f * x)));
}

/* CPUID: AVX and F16C present and the OS saves YMM state (XGETBV). */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27)) || !(c & (1u << 28)) || !(c & (1u << 29))) return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 6) == 6;
}

static void tables_init(void)
{
    has_f16c = cpu_has_f16c();
    for (int i = 0; i < 65536; i++) {
        float f = lv_fp16_to_fp32((uint16_t)i);
        gelu_tab[i] = lv_fp16_to_fp32(lv_fp32_to_fp16(gelu_tanh_f32(f)));
        quick_tab[i] = lv_fp16_to_fp32(lv_fp32_to_fp16(quick_gelu_f32(f)));
    }
}

static float round_f16(float x) { return lv_fp16_to_fp32(lv_fp32_to_fp16(x)); }

/* fp16 conversions of whole rows. With F16C (checked at run time) 8 at a time;
 * VCVTPS2PH with round-to-nearest-even gives the same bits as lv_fp32_to_fp16 for
 * every non-NaN float (checked exhaustively once). Scalar otherwise. */
__attribute__((target("avx,f16c")))
static void to_f16_f16c(const float *x, uint16_t *h, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) h[i] = lv_fp32_to_fp16(x[i]);
}

__attribute__((target("avx,f16c")))
static void round_f16_f16c(const float *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i),
                                                                _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) y[i] = round_f16(x[i]);
}

/* y[i] = fp16 round trip of x[i] (may alias). */
static void round_f16_row(const float *x, float *y, size_t n)
{
    if (has_f16c) {
        round_f16_f16c(x, y, n);
        return;
    }
    for (size_t i = 0; i < n; i++) y[i] = round_f16(x[i]);
}

/* ggml's table activations in place on x[n]: y = tab[fp16(x)], and with clamp10
 * (GELU) x ≤ −10 → 0, x ≥ 10 → x. */
static void act_table(float *x, size_t n, const float *tab, int clamp10)
{
    uint16_t h[256];
    for (size_t i = 0; i < n; i += 256) {
        const size_t m = n - i < 256 ? n - i : 256;
        if (has_f16c) to_f16_f16c(x + i, h, m);
        else for (size_t j = 0; j < m; j++) h[j] = lv_fp32_to_fp16(x[i + j]);
        for (size_t j = 0; j < m; j++) {
            const float v = x[i + j];
            x[i + j] = clamp10 && v <= -10.0f ? 0.0f : clamp10 && v >= 10.0f ? v : tab[h[j]];
        }
    }
}

/* ==== loading ==================================================================== */

static float *track(lv_clip *c, size_t n, lv_error *err)
{
    float *p;
    if (c->n_allocs == c->cap_allocs) {
        int cap = c->cap_allocs ? c->cap_allocs * 2 : 64;
        float **a = lv_realloc(c->allocs, sizeof *a * (size_t)cap);
        if (!a) { lv_errorf(err, "out of memory"); return NULL; }
        c->allocs = a;
        c->cap_allocs = cap;
    }
    p = lv_calloc(n ? n : 1, sizeof(float));
    if (!p) { lv_errorf(err, "out of memory for %zu floats", n); return NULL; }
    c->allocs[c->n_allocs++] = p;
    return p;
}

/* Looks a tensor up and checks its shape is exactly ne (missing dims are 1) and
 * its type dequantizable; returns it dequantized to f32, or NULL. When absent:
 * NULL with *absent = 1 and no error if `optional`, else an error. */
static float *load_tensor(lv_clip *c, const lv_gguf *g, const char *name, int optional,
                          const uint64_t want[4], int *type, int *absent, lv_error *err)
{
    const lv_gguf_tensor *t = lv_gguf_find_tensor(g, name);
    uint64_t rows, row_bytes, n;
    float *out;
    if (absent) *absent = 0;
    if (!t) {
        if (absent) *absent = 1;
        if (!optional) lv_errorf(err, "mmproj: missing tensor '%s'", name);
        return NULL;
    }
    for (int d = 0; d < 4; d++)
        if (t->ne[d] != want[d]) {
            lv_errorf(err, "mmproj: tensor '%s' has shape [%llu, %llu, %llu, %llu], expected "
                      "[%llu, %llu, %llu, %llu]", name,
                      (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                      (unsigned long long)t->ne[2], (unsigned long long)t->ne[3],
                      (unsigned long long)want[0], (unsigned long long)want[1],
                      (unsigned long long)want[2], (unsigned long long)want[3]);
            return NULL;
        }
    if (lv_type_row_bytes(t->type, t->ne[0], &row_bytes) != 0 || !lv_type_info(t->type)) {
        lv_errorf(err, "mmproj: tensor '%s' has an unsupported type %d", name, t->type);
        return NULL;
    }
    rows = t->ne[1] * t->ne[2] * t->ne[3];
    if (lv_mul_u64(rows, row_bytes, &n) || n > t->nbytes) {
        lv_errorf(err, "mmproj: tensor '%s' data is too short", name);
        return NULL;
    }
    out = track(c, (size_t)(rows * t->ne[0]), err);
    if (!out) return NULL;
    for (uint64_t r = 0; r < rows; r++)
        if (lv_dequantize_row(t->type, (const uint8_t *)t->data + r * row_bytes,
                              out + r * t->ne[0], (int64_t)t->ne[0])) {
            lv_errorf(err, "mmproj: cannot dequantize tensor '%s' (type %d)", name, t->type);
            return NULL;
        }
    if (type) *type = t->type;
    return out;
}

static float *vec(lv_clip *c, const lv_gguf *g, const char *name, int optional, uint64_t n,
                  lv_error *err)
{
    const uint64_t ne[4] = { n, 1, 1, 1 };
    int absent = 0;
    float *p = load_tensor(c, g, name, optional, ne, NULL, &absent, err);
    if (!p && optional && absent) err->msg[0] = 0;
    return p;
}

static int matrix(lv_clip *c, const lv_gguf *g, const char *name, int rows, int cols, mat *m,
                  lv_error *err)
{
    const uint64_t ne[4] = { (uint64_t)cols, (uint64_t)rows, 1, 1 };
    m->w = load_tensor(c, g, name, 0, ne, &m->type, NULL, err);
    m->rows = rows;
    m->cols = cols;
    return m->w ? 0 : -1;
}

/* Required u32 key in [lo, hi]. */
static int key_u32(const lv_gguf *g, const char *key, int required, int lo, int hi, int *out,
                   lv_error *err)
{
    uint32_t v;
    int rc = lv_gguf_get_u32(g, key, &v, err);
    if (rc < 0) return -1;
    if (rc == 1) return required ? lv_errorf(err, "mmproj: missing key '%s'", key) : 1;
    if ((int64_t)v < lo || (int64_t)v > hi)
        return lv_errorf(err, "mmproj: '%s' = %u is out of range [%d, %d]", key, v, lo, hi);
    *out = (int)v;
    return 0;
}

static int key_bool(const lv_gguf *g, const char *key, int required, int *out, lv_error *err)
{
    int rc = lv_gguf_get_bool(g, key, out, err);
    if (rc < 0) return -1;
    if (rc == 1) return required ? lv_errorf(err, "mmproj: missing key '%s'", key) : 1;
    return 0;
}

/* f32[3] array key. */
static int key_f32x3(const lv_gguf *g, const char *key, float out[3], lv_error *err)
{
    int64_t i = lv_gguf_find_key(g, key);
    lv_gguf_vtype et;
    uint64_t n;
    const void *d;
    if (i < 0) return lv_errorf(err, "mmproj: missing key '%s'", key);
    if (lv_gguf_kv_arr(g, i, &et, &n, &d) || et != LV_GGUF_FLOAT32 || n != 3)
        return lv_errorf(err, "mmproj: '%s' is not an array of 3 float32", key);
    memcpy(out, d, 3 * sizeof(float));
    for (int k = 0; k < 3; k++)
        if (!isfinite(out[k])) return lv_errorf(err, "mmproj: '%s' is not finite", key);
    return 0;
}

/* clip.vision.image_grid_pinpoints: (w, h) pairs; a 0 ends the list, at most 32 ints. */
static int key_pinpoints(const lv_gguf *g, lv_image_params *ip, lv_error *err)
{
    int64_t i = lv_gguf_find_key(g, "clip.vision.image_grid_pinpoints");
    lv_gguf_vtype et;
    uint64_t n, k;
    const uint8_t *d;
    int vals[2 * LV_IMAGE_MAX_PINPOINTS], nv = 0;
    if (i < 0) return 0;
    if (lv_gguf_kv_arr(g, i, &et, &n, (const void **)&d) ||
        (et != LV_GGUF_INT32 && et != LV_GGUF_UINT32))
        return lv_errorf(err, "mmproj: 'clip.vision.image_grid_pinpoints' is not an int32 array");
    for (k = 0; k < n && k < 32; k++) {
        int32_t v;
        memcpy(&v, d + 4 * k, 4);
        if (v == 0) break;
        if (v < 0 || v % ip->image_size || v / ip->image_size > LV_IMAGE_MAX_GRID)
            return lv_errorf(err, "mmproj: grid pinpoint %d is not a multiple of %d up to %d×",
                             v, ip->image_size, LV_IMAGE_MAX_GRID);
        vals[nv++] = v;
    }
    if (nv % 2) return lv_errorf(err, "mmproj: odd number of grid pinpoint values");
    ip->n_pinpoints = nv / 2;
    for (k = 0; k < (uint64_t)nv / 2; k++) {
        ip->pinpoints[k][0] = vals[2 * k];
        ip->pinpoints[k][1] = vals[2 * k + 1];
    }
    return 0;
}

static int load_hparams(lv_clip *c, const lv_gguf *g, lv_error *err)
{
    lv_clip_hparams *hp = &c->hp;
    lv_image_params *ip = &c->ip;
    char *s = NULL;
    int rc, b;

    rc = lv_gguf_get_str(g, "general.architecture", &s, err);
    if (rc < 0) return -1;
    if (rc == 1 || strcmp(s, "clip") != 0) {
        lv_errorf(err, "mmproj: general.architecture is '%s', expected 'clip'", s ? s : "(absent)");
        lv_free(s);
        return -1;
    }
    lv_free(s);
    s = NULL;
    if (key_bool(g, "clip.has_vision_encoder", 1, &b, err)) return -1;
    if (!b) return lv_errorf(err, "mmproj: clip.has_vision_encoder is false");
    rc = key_bool(g, "clip.has_text_encoder", 0, &b, err);
    if (rc < 0) return -1;
    if (rc == 0 && b) return lv_errorf(err, "mmproj: files with a text encoder are not supported");
    b = 0;
    if (key_bool(g, "clip.has_llava_projector", 0, &b, err) < 0) return -1;
    if (!b) return lv_errorf(err, "mmproj: clip.has_llava_projector is not true (not a LLaVA projector)");
    rc = lv_gguf_get_str(g, "clip.projector_type", &s, err);
    if (rc < 0) return -1;
    if (rc == 0 && strcmp(s, "mlp") != 0) {
        lv_errorf(err, "mmproj: projector type '%s' is not supported (only mlp)", s);
        lv_free(s);
        return -1;
    }
    lv_free(s);
    s = NULL;
    if (key_bool(g, "clip.use_gelu", 1, &hp->use_gelu, err)) return -1;
    if (key_bool(g, "clip.use_silu", 0, &hp->use_silu, err) < 0) return -1;
    if (key_u32(g, "clip.vision.image_size", 1, 1, CAP_IMAGE_SIZE, &hp->image_size, err) ||
        key_u32(g, "clip.vision.patch_size", 1, 1, CAP_PATCH, &hp->patch_size, err) ||
        key_u32(g, "clip.vision.embedding_length", 1, 1, CAP_EMBD, &hp->n_embd, err) ||
        key_u32(g, "clip.vision.attention.head_count", 1, 1, CAP_HEAD, &hp->n_head, err) ||
        key_u32(g, "clip.vision.block_count", 1, 1, CAP_LAYER, &hp->n_layer, err))
        return -1;
    if (hp->image_size % hp->patch_size)
        return lv_errorf(err, "mmproj: image_size %d is not a multiple of patch_size %d",
                         hp->image_size, hp->patch_size);
    if (hp->n_embd % hp->n_head)
        return lv_errorf(err, "mmproj: embedding_length %d is not a multiple of head_count %d",
                         hp->n_embd, hp->n_head);
    rc = lv_gguf_get_f32(g, "clip.vision.attention.layer_norm_epsilon", &hp->eps, err);
    if (rc < 0) return -1;
    if (rc == 1) return lv_errorf(err, "mmproj: missing key 'clip.vision.attention.layer_norm_epsilon'");
    if (!(hp->eps > 0.0f && hp->eps < 1.0f))
        return lv_errorf(err, "mmproj: layer_norm_epsilon %g is out of range", hp->eps);
    hp->n_patches = (hp->image_size / hp->patch_size) * (hp->image_size / hp->patch_size);
    if (hp->n_patches + 1 > CAP_POS) return lv_errorf(err, "mmproj: too many patches (%d)", hp->n_patches);

    memset(ip, 0, sizeof *ip);
    ip->image_size = hp->image_size;
    ip->patch_size = hp->patch_size;
    if (key_f32x3(g, "clip.vision.image_mean", ip->mean, err) ||
        key_f32x3(g, "clip.vision.image_std", ip->std, err))
        return -1;
    for (int k = 0; k < 3; k++)
        if (!(fabsf(ip->mean[k]) <= LV_IMAGE_MAX_NORM) || !(fabsf(ip->std[k]) <= LV_IMAGE_MAX_NORM) ||
            !(fabsf(ip->std[k]) >= 1.0f / LV_IMAGE_MAX_NORM))
            return lv_errorf(err, "mmproj: image_mean/image_std out of range");
    rc = lv_gguf_get_str(g, "clip.vision.mm_patch_merge_type", &s, err);
    if (rc < 0) return -1;
    if (rc == 0) {
        if (strcmp(s, "spatial_unpad") == 0) ip->spatial_unpad = 1;
        else if (strcmp(s, "flat") != 0) {
            lv_errorf(err, "mmproj: mm_patch_merge_type '%s' is not supported", s);
            lv_free(s);
            return -1;
        }
        lv_free(s);
    }
    return key_pinpoints(g, ip, err);
}

static int load_weights(lv_clip *c, const lv_gguf *g, lv_error *err)
{
    lv_clip_hparams *hp = &c->hp;
    clip_weights *w = &c->w;
    const int H = hp->n_embd, P = hp->patch_size;
    char name[96];

    {   /* patch embedding: ne [P, P, 3, H] */
        const uint64_t ne[4] = { (uint64_t)P, (uint64_t)P, 3, (uint64_t)H };
        w->patch.w = load_tensor(c, g, "v.patch_embd.weight", 0, ne, &w->patch.type, NULL, err);
        if (!w->patch.w) return -1;
        w->patch.rows = H;
        w->patch.cols = 3 * P * P;
    }
    if (lv_gguf_find_tensor(g, "v.patch_embd.bias"))
        return lv_errorf(err, "mmproj: v.patch_embd.bias is not supported");
    w->class_embd = vec(c, g, "v.class_embd", 1, (uint64_t)H, err);
    if (!w->class_embd && err->msg[0]) return -1;
    hp->has_class = w->class_embd != NULL;
    hp->n_pos = hp->n_patches + hp->has_class;
    {
        const uint64_t ne[4] = { (uint64_t)H, (uint64_t)hp->n_pos, 1, 1 };
        w->pos = load_tensor(c, g, "v.position_embd.weight", 0, ne, NULL, NULL, err);
        if (!w->pos) return -1;
    }
    w->pre_ln_w = vec(c, g, "v.pre_ln.weight", 1, (uint64_t)H, err);
    if (!w->pre_ln_w && err->msg[0]) return -1;
    if (w->pre_ln_w && !(w->pre_ln_b = vec(c, g, "v.pre_ln.bias", 0, (uint64_t)H, err))) return -1;
    hp->has_pre_ln = w->pre_ln_w != NULL;
    w->post_ln_w = vec(c, g, "v.post_ln.weight", 1, (uint64_t)H, err);
    if (!w->post_ln_w && err->msg[0]) return -1;
    if (w->post_ln_w && !(w->post_ln_b = vec(c, g, "v.post_ln.bias", 0, (uint64_t)H, err))) return -1;
    hp->has_post_ln = w->post_ln_w != NULL;

    /* The FFN width comes from the tensors (feed_forward_length is not used). */
    {
        const lv_gguf_tensor *t = lv_gguf_find_tensor(g, "v.blk.0.ffn_down.weight");
        if (!t) return lv_errorf(err, "mmproj: missing tensor 'v.blk.0.ffn_down.weight'");
        if (t->ne[1] < 1 || t->ne[1] > CAP_FF)
            return lv_errorf(err, "mmproj: ffn width %llu is out of range", (unsigned long long)t->ne[1]);
        hp->n_ff = (int)t->ne[1];
    }
    w->layers = lv_calloc((size_t)hp->n_layer, sizeof(clip_layer));
    if (!w->layers) return lv_errorf(err, "out of memory");
    for (int il = 0; il < hp->n_layer; il++) {
        clip_layer *L = &w->layers[il];
        const int F = hp->n_ff;
#define BLK(field) (snprintf(name, sizeof name, "v.blk.%d.%s", il, field), name)
        if (!(L->ln1_w = vec(c, g, BLK("ln1.weight"), 0, (uint64_t)H, err)) ||
            !(L->ln1_b = vec(c, g, BLK("ln1.bias"), 0, (uint64_t)H, err)) ||
            matrix(c, g, BLK("attn_q.weight"), H, H, &L->q, err) ||
            !(L->q_b = vec(c, g, BLK("attn_q.bias"), 0, (uint64_t)H, err)) ||
            matrix(c, g, BLK("attn_k.weight"), H, H, &L->k, err) ||
            !(L->k_b = vec(c, g, BLK("attn_k.bias"), 0, (uint64_t)H, err)) ||
            matrix(c, g, BLK("attn_v.weight"), H, H, &L->v, err) ||
            !(L->v_b = vec(c, g, BLK("attn_v.bias"), 0, (uint64_t)H, err)) ||
            matrix(c, g, BLK("attn_out.weight"), H, H, &L->o, err) ||
            !(L->o_b = vec(c, g, BLK("attn_out.bias"), 0, (uint64_t)H, err)) ||
            !(L->ln2_w = vec(c, g, BLK("ln2.weight"), 0, (uint64_t)H, err)) ||
            !(L->ln2_b = vec(c, g, BLK("ln2.bias"), 0, (uint64_t)H, err)) ||
            matrix(c, g, BLK("ffn_down.weight"), F, H, &L->fc1, err) ||
            !(L->fc1_b = vec(c, g, BLK("ffn_down.bias"), 0, (uint64_t)F, err)) ||
            matrix(c, g, BLK("ffn_up.weight"), H, F, &L->fc2, err) ||
            !(L->fc2_b = vec(c, g, BLK("ffn_up.bias"), 0, (uint64_t)H, err)))
            return -1;
#undef BLK
    }
    snprintf(name, sizeof name, "v.blk.%d.ln1.weight", hp->n_layer);
    if (lv_gguf_find_tensor(g, name))
        return lv_errorf(err, "mmproj: tensor '%s' beyond block_count %d", name, hp->n_layer);

    /* Projector. */
    {
        const lv_gguf_tensor *t0 = lv_gguf_find_tensor(g, "mm.0.weight");
        const lv_gguf_tensor *t2 = lv_gguf_find_tensor(g, "mm.2.weight");
        if (!t0) return lv_errorf(err, "mmproj: missing tensor 'mm.0.weight'");
        if (lv_gguf_find_tensor(g, "mm.3.weight"))
            return lv_errorf(err, "mmproj: the mlp_norm projector (mm.3) is not supported");
        if (t0->ne[1] < 1 || t0->ne[1] > CAP_PROJ)
            return lv_errorf(err, "mmproj: projector width %llu is out of range", (unsigned long long)t0->ne[1]);
        hp->proj_hidden = (int)t0->ne[1];
        if (matrix(c, g, "mm.0.weight", hp->proj_hidden, H, &w->mm0, err) ||
            !(w->mm0_b = vec(c, g, "mm.0.bias", 0, (uint64_t)hp->proj_hidden, err)))
            return -1;
        if (t2) {
            if (t2->ne[1] < 1 || t2->ne[1] > CAP_PROJ)
                return lv_errorf(err, "mmproj: projector width %llu is out of range", (unsigned long long)t2->ne[1]);
            hp->projector = LV_CLIP_PROJ_MLP;
            hp->proj_out = (int)t2->ne[1];
            if (matrix(c, g, "mm.2.weight", hp->proj_out, hp->proj_hidden, &w->mm2, err) ||
                !(w->mm2_b = vec(c, g, "mm.2.bias", 0, (uint64_t)hp->proj_out, err)))
                return -1;
        } else {
            hp->projector = LV_CLIP_PROJ_LINEAR;
            hp->proj_out = hp->proj_hidden;
        }
    }
    w->newline = vec(c, g, "model.image_newline", 1, (uint64_t)hp->proj_out, err);
    if (!w->newline && err->msg[0]) return -1;
    hp->has_newline = w->newline != NULL;
    return 0;
}

static int alloc_run(lv_clip *c, lv_error *err)
{
    const lv_clip_hparams *hp = &c->hp;
    clip_run *r = &c->run;
    const size_t np = (size_t)hp->n_pos, H = (size_t)hp->n_embd, F = (size_t)hp->n_ff;
    const size_t K = 3 * (size_t)hp->patch_size * hp->patch_size, E1 = (size_t)hp->proj_hidden;
    const size_t E = (size_t)hp->proj_out;
    size_t wide = F > E1 ? F : E1, act = wide > H ? wide : H;
    uint64_t total;   /* floats; all factors are capped, so no overflow in 64 bits */
    if (act < K) act = K;
    total = (uint64_t)np * (6 * H + np + wide + act + (H > E ? H : E)) + (uint64_t)hp->n_patches * K;
    if (total > CAP_RUN_FLOATS)
        return lv_errorf(err, "mmproj: run buffers would need %llu MiB (max %llu)",
                         (unsigned long long)(total * 4 >> 20),
                         (unsigned long long)(CAP_RUN_FLOATS * 4 >> 20));
    if (!(r->x = track(c, np * H, err)) || !(r->h = track(c, np * H, err)) ||
        !(r->q = track(c, np * H, err)) || !(r->k = track(c, np * H, err)) ||
        !(r->v = track(c, np * H, err)) || !(r->att = track(c, np * np, err)) ||
        !(r->o = track(c, np * H, err)) || !(r->ff = track(c, np * wide, err)) ||
        !(r->cols = track(c, (size_t)hp->n_patches * K, err)) ||
        !(r->act = track(c, np * act, err)) || !(r->tmp = track(c, np * (H > E ? H : E), err)))
        return -1;
    return 0;
}

lv_clip *lv_clip_load_gguf(const lv_gguf *g, lv_error *err)
{
    lv_error local;
    lv_clip *c;
    if (!err) err = &local;
    err->msg[0] = 0;
    pthread_once(&tab_once, tables_init);
    c = lv_calloc(1, sizeof *c);
    if (!c) { lv_errorf(err, "out of memory"); return NULL; }
    if (load_hparams(c, g, err) || load_weights(c, g, err) || alloc_run(c, err)) {
        lv_clip_free(c);
        return NULL;
    }
    return c;
}

lv_clip *lv_clip_load(const char *path, lv_error *err)
{
    lv_gguf *g = lv_gguf_open(path, err);
    lv_clip *c;
    if (!g) return NULL;
    c = lv_clip_load_gguf(g, err);
    lv_gguf_close(g);
    return c;
}

void lv_clip_free(lv_clip *c)
{
    if (!c) return;
    for (int i = 0; i < c->n_allocs; i++) lv_free(c->allocs[i]);
    lv_free(c->allocs);
    lv_free(c->w.layers);
    lv_free(c);
}

const lv_clip_hparams *lv_clip_get_hparams(const lv_clip *c) { return &c->hp; }
const lv_image_params *lv_clip_image_params(const lv_clip *c) { return &c->ip; }
int lv_clip_n_embd(const lv_clip *c) { return c->hp.proj_out; }

void lv_clip_set_threads(lv_clip *c, int n_threads)
{
    (void)c;
    if (n_threads > 0) openblas_set_num_threads(n_threads);
}

/* ==== kernels ==================================================================== */

/* y[n][W.rows] = x[n][W.cols] · Wᵀ (+ bias). In llama.cpp mode an F16 weight's
 * input rows are rounded to fp16 first, as ggml converts them for vec_dot_f16. */
static void matmul(const mat *W, const float *bias, const float *x, int n, float *y,
                   float *scratch, lv_image_mode mode)
{
    const float *in = x;
    if (mode == LV_IMAGE_LLAMACPP && W->type == LV_TYPE_F16) {
        round_f16_row(x, scratch, (size_t)n * W->cols);
        in = scratch;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, W->rows, W->cols, 1.0f, in, W->cols,
                W->w, W->cols, 0.0f, y, W->rows);
    if (bias)
        for (int t = 0; t < n; t++) {
            float *row = y + (size_t)t * W->rows;
            for (int o = 0; o < W->rows; o++) row[o] += bias[o];
        }
}

/* LayerNorm of each row (ggml_norm: mean and Σ(x−mean)² in double), then ·w + b.
 * x, y: [n][d] (may alias); w, b: [d]. */
static void layer_norm(const float *x, float *y, int n, int d, const float *w, const float *b,
                       float eps)
{
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * d;
        float *yr = y + (size_t)t * d;
        double sum = 0.0, sum2 = 0.0;
        for (int i = 0; i < d; i++) sum += xr[i];
        const float mean = (float)(sum / d);
        for (int i = 0; i < d; i++) {
            float v = xr[i] - mean;
            yr[i] = v;
            sum2 += (double)(v * v);
        }
        const float var = (float)(sum2 / d);
        const float scale = 1.0f / sqrtf(var + eps);
        for (int i = 0; i < d; i++) yr[i] = yr[i] * scale * w[i] + b[i];
    }
}

/* Softmax of one row x[n]: max, exp(x − max) summed in double, scaled by 1/sum. */
static void softmax_row(float *x, int n)
{
    float mx = -INFINITY;
    double sum = 0.0;
    for (int i = 0; i < n; i++) if (x[i] > mx) mx = x[i];
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* The ViT MLP activation, in place on x[n]. */
static void vit_act(const lv_clip *c, float *x, size_t n, lv_image_mode mode)
{
    if (c->hp.use_silu) {
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
    } else if (c->hp.use_gelu) {
        if (mode == LV_IMAGE_LLAMACPP)
            act_table(x, n, gelu_tab, 1);
        else
            for (size_t i = 0; i < n; i++) x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))));
    } else if (mode == LV_IMAGE_LLAMACPP) {
        act_table(x, n, quick_tab, 0);
    } else {
        for (size_t i = 0; i < n; i++) x[i] = quick_gelu_f32(x[i]);
    }
}

/* The projector's GELU in place on x[n]: tanh form through the fp16 table
 * (llama.cpp) or exact erf (llava). */
static void proj_gelu(float *x, size_t n, lv_image_mode mode)
{
    if (mode == LV_IMAGE_LLAMACPP)
        act_table(x, n, gelu_tab, 1);
    else
        for (size_t i = 0; i < n; i++) x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))));
}

/* ==== forward ==================================================================== */

/* One encoder block, in place on the residual stream r->x [n_pos][H]. */
static void vit_block(lv_clip *c, const clip_layer *L, lv_image_mode mode)
{
    const lv_clip_hparams *hp = &c->hp;
    clip_run *r = &c->run;
    const int n = hp->n_pos, H = hp->n_embd, nh = hp->n_head, dh = H / nh;
    const float qscale = 1.0f / sqrtf((float)dh);

    /* attention */
    layer_norm(r->x, r->h, n, H, L->ln1_w, L->ln1_b, hp->eps);
    matmul(&L->q, L->q_b, r->h, n, r->q, r->act, mode);
    matmul(&L->k, L->k_b, r->h, n, r->k, r->act, mode);
    matmul(&L->v, L->v_b, r->h, n, r->v, r->act, mode);
    for (size_t i = 0; i < (size_t)n * H; i++) r->q[i] *= qscale;
    for (int h = 0; h < nh; h++) {                   /* the hot loop: per head */
        /* att[n][n] = Q_h[n][dh] · K_h[n][dh]ᵀ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dh, 1.0f, r->q + h * dh, H,
                    r->k + h * dh, H, 0.0f, r->att, n);
        for (int t = 0; t < n; t++) softmax_row(r->att + (size_t)t * n, n);
        /* O_h[n][dh] = att[n][n] · V_h[n][dh] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dh, n, 1.0f, r->att, n,
                    r->v + h * dh, H, 0.0f, r->o + h * dh, H);
    }
    matmul(&L->o, L->o_b, r->o, n, r->tmp, r->act, mode);
    for (size_t i = 0; i < (size_t)n * H; i++) r->x[i] += r->tmp[i];

    /* MLP: fc1 (file: ffn_down) → act → fc2 (file: ffn_up) */
    layer_norm(r->x, r->h, n, H, L->ln2_w, L->ln2_b, hp->eps);
    matmul(&L->fc1, L->fc1_b, r->h, n, r->ff, r->act, mode);
    vit_act(c, r->ff, (size_t)n * hp->n_ff, mode);
    matmul(&L->fc2, L->fc2_b, r->ff, n, r->tmp, r->act, mode);
    for (size_t i = 0; i < (size_t)n * H; i++) r->x[i] += r->tmp[i];
}

int lv_clip_encode_tile(lv_clip *c, const float *pix, lv_image_mode mode, float *out,
                        lv_error *err)
{
    const lv_clip_hparams *hp = &c->hp;
    const clip_weights *w = &c->w;
    clip_run *r = &c->run;
    const int S = hp->image_size, P = hp->patch_size, G = S / P, H = hp->n_embd;
    const int K = 3 * P * P, first = hp->has_class, n_layers =
        mode == LV_IMAGE_LLAMACPP ? hp->n_layer - 1 : hp->n_layer;
    const int round_px = mode == LV_IMAGE_LLAMACPP && w->patch.type == LV_TYPE_F16;
    float *patches;

    if (mode != LV_IMAGE_LLAMACPP && mode != LV_IMAGE_LLAVA)
        return lv_errorf(err, "clip: unknown mode %d", (int)mode);

    /* im2col: cols[p][c·P·P + ky·P + kx] = pix[P·py + ky][P·px + kx][c] (fp16 in llama.cpp mode) */
    for (int py = 0; py < G; py++)
        for (int px = 0; px < G; px++) {
            float *row = r->cols + ((size_t)py * G + px) * K;
            for (int ch = 0; ch < 3; ch++)
                for (int ky = 0; ky < P; ky++)
                    for (int kx = 0; kx < P; kx++) {
                        const float v = pix[(((size_t)(P * py + ky)) * S + (size_t)(P * px + kx)) * 3 + ch];
                        row[(ch * P + ky) * P + kx] = v;
                    }
        }
    if (round_px) round_f16_row(r->cols, r->cols, (size_t)hp->n_patches * K);
    /* patch embeddings go to rows first.. of x: x[first + p][H] = cols[p] · patchᵀ */
    patches = r->x + (size_t)first * H;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hp->n_patches, H, K, 1.0f, r->cols, K,
                w->patch.w, K, 0.0f, patches, H);
    if (first) memcpy(r->x, w->class_embd, sizeof(float) * (size_t)H);
    for (size_t i = 0; i < (size_t)hp->n_pos * H; i++) r->x[i] += w->pos[i];
    if (hp->has_pre_ln) layer_norm(r->x, r->x, hp->n_pos, H, w->pre_ln_w, w->pre_ln_b, hp->eps);

    for (int il = 0; il < n_layers; il++) vit_block(c, &w->layers[il], mode);
    if (hp->has_post_ln && mode == LV_IMAGE_LLAMACPP)
        layer_norm(r->x, r->x, hp->n_pos, H, w->post_ln_w, w->post_ln_b, hp->eps);

    /* Drop the class row; projector on the n_patches rows. */
    if (hp->projector == LV_CLIP_PROJ_LINEAR) {
        matmul(&w->mm0, w->mm0_b, patches, hp->n_patches, out, r->act, mode);
    } else {
        matmul(&w->mm0, w->mm0_b, patches, hp->n_patches, r->ff, r->act, mode);
        proj_gelu(r->ff, (size_t)hp->n_patches * hp->proj_hidden, mode);
        matmul(&w->mm2, w->mm2_b, r->ff, hp->n_patches, out, r->act, mode);
    }
    return 0;
}

/* ==== batches and the 1.6 merge =================================================== */

/* LLaVA unpad (llava_arch.py unpad_image) on the Hf×Wf feature grid of an ow×oh
 * image: the kept rows [*r0, *r1) and columns [*c0, *c1). */
static void unpad_range(int ow, int oh, int Hf, int Wf, int *r0, int *r1, int *c0, int *c1)
{
    *r0 = 0; *r1 = Hf; *c0 = 0; *c1 = Wf;
    if ((double)ow / oh > (double)Wf / Hf) {
        int nh = (int)(oh * ((double)Wf / ow)), pad = (Hf - nh) / 2;
        *r0 = pad; *r1 = Hf - pad;
    } else {
        int nw = (int)(ow * ((double)Hf / oh)), pad = (Wf - nw) / 2;
        *c0 = pad; *c1 = Wf - pad;
    }
}

int lv_clip_n_tokens(const lv_clip *c, const lv_image_batch *b)
{
    const int np = c->hp.n_patches, G = c->hp.image_size / c->hp.patch_size;
    if (!b || b->size != c->hp.image_size || b->n_img < 1) return -1;
    if (!b->anyres) return b->n_img == 1 ? np : -1;
    if (b->n_img != 1 + b->grid_w * b->grid_h) return -1;
    if (b->mode == LV_IMAGE_LLAMACPP) return np * b->n_img;
    {
        int r0, r1, c0, c1;
        unpad_range(b->orig_w, b->orig_h, b->grid_h * G, b->grid_w * G, &r0, &r1, &c0, &c1);
        return np + (r1 - r0) * (c1 - c0 + 1);
    }
}

int lv_clip_encode(lv_clip *c, const lv_image_batch *b, float *out, lv_error *err)
{
    const lv_clip_hparams *hp = &c->hp;
    const int np = hp->n_patches, E = hp->proj_out, G = hp->image_size / hp->patch_size;
    const size_t tile_px = (size_t)hp->image_size * hp->image_size * 3;
    const int n_tok = lv_clip_n_tokens(c, b);
    float *feat = NULL;   /* [n_img][np][E] all tile features (anyres) */
    int rc = -1;

    if (n_tok < 0) return lv_errorf(err, "clip: the image batch does not fit this model");
    if (!b->anyres) return lv_clip_encode_tile(c, b->pix, b->mode, out, err);
    if (b->mode == LV_IMAGE_LLAVA && !c->w.newline)
        return lv_errorf(err, "clip: anyres in llava mode needs model.image_newline");

    feat = lv_malloc(sizeof(float) * (size_t)b->n_img * np * E);
    if (!feat) return lv_errorf(err, "out of memory for %d tiles", b->n_img);
    for (int t = 0; t < b->n_img; t++)
        if (lv_clip_encode_tile(c, b->pix + (size_t)t * tile_px, b->mode,
                                feat + (size_t)t * np * E, err))
            goto done;
    /* base image first */
    memcpy(out, feat, sizeof(float) * (size_t)np * E);
    {
        const int Hf = b->grid_h * G, Wf = b->grid_w * G;
        int r0 = 0, r1 = Hf, c0 = 0, c1 = Wf;
        float *dst = out + (size_t)np * E;
        if (b->mode == LV_IMAGE_LLAVA) unpad_range(b->orig_w, b->orig_h, Hf, Wf, &r0, &r1, &c0, &c1);
        /* global raster over the (gh·G) × (gw·G) patch grid */
        for (int y = r0; y < r1; y++) {
            for (int x = c0; x < c1; x++) {
                const int tile = 1 + (y / G) * b->grid_w + x / G, p = (y % G) * G + x % G;
                memcpy(dst, feat + ((size_t)tile * np + p) * E, sizeof(float) * (size_t)E);
                dst += E;
            }
            if (b->mode == LV_IMAGE_LLAVA) {
                memcpy(dst, c->w.newline, sizeof(float) * (size_t)E);
                dst += E;
            }
        }
        if (dst != out + (size_t)n_tok * E) {
            lv_errorf(err, "clip: internal token count mismatch");
            goto done;
        }
    }
    rc = 0;
done:
    lv_free(feat);
    return rc;
}

int lv_clip_encode_image(lv_clip *c, const lv_image *img, lv_image_mode mode, float **out,
                         int *n_tokens, lv_error *err)
{
    lv_image_batch b;
    int n, rc = -1;
    *out = NULL;
    *n_tokens = 0;
    if (lv_image_preprocess(img, &c->ip, mode, &b, err)) return -1;
    n = lv_clip_n_tokens(c, &b);
    if (n < 0) {
        lv_errorf(err, "clip: the image batch does not fit this model");
        goto done;
    }
    *out = lv_malloc(sizeof(float) * (size_t)n * c->hp.proj_out);
    if (!*out) {
        lv_errorf(err, "out of memory for %d image tokens", n);
        goto done;
    }
    if (lv_clip_encode(c, &b, *out, err)) {
        lv_free(*out);
        *out = NULL;
        goto done;
    }
    *n_tokens = n;
    rc = 0;
done:
    lv_image_batch_free(&b);
    return rc;
}
