/* engine/matmul.c — quantized mat-vec / mat-mat through per-type dot kernels. */
#include "engine/matmul.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "engine/pool.h"
#include "engine/quant.h"
#include "engine/quant_simd.h"

/* One row per weight type: the dot kernel used for it. Every entry is the scalar
 * reference today; a SIMD kernel for a type replaces its row (chosen at start-up). */
typedef float (*dot_fn)(int wtype, int64_t n, const void *w, const void *act);

static float dot_ref(int wtype, int64_t n, const void *w, const void *act)
{
    return lv_vec_dot(wtype, n, w, act);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_KERNELS 1

/* F16 × F16 with F16C widening and eight-lane FMA accumulators (ggml's x86 order of
 * work; differs from the scalar reference only in summation order).
 * w: [n] f16, act: [n] f16 */
__attribute__((target("avx2,f16c,fma")))
static float dot_f16_avx2(int wtype, int64_t n, const void *w, const void *act)
{
    const uint16_t *a = w, *b = act;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256 a1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8)));
        __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + i + 8)));
        acc0 = _mm256_fmadd_ps(a0, b0, acc0);
        acc1 = _mm256_fmadd_ps(a1, b1, acc1);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(acc0, acc1));
    double s = 0.0;
    for (int j = 0; j < 8; j++) s += (double)lanes[j];
    if (i < n) s += (double)lv_vec_dot(wtype, n - i, a + i, b + i);
    return (float)s;
}
#endif

#ifndef HAVE_X86_KERNELS
#define dot_f16_avx2 NULL
#endif

/* The kernel table: per weight type the scalar reference and, where one exists, a SIMD
 * kernel (used when the CPU has its instructions). Adding a kernel is filling a cell. */
static const struct {
    int    type;
    dot_fn ref, simd;
} kernels[] = {
    {LV_TYPE_F32, dot_ref, NULL},  {LV_TYPE_F16, dot_ref, dot_f16_avx2}, {LV_TYPE_BF16, dot_ref, NULL},
    {LV_TYPE_Q4_0, dot_ref, NULL}, {LV_TYPE_Q4_1, dot_ref, NULL},        {LV_TYPE_Q5_0, dot_ref, NULL},
    {LV_TYPE_Q5_1, dot_ref, NULL}, {LV_TYPE_Q8_0, dot_ref, NULL},        {LV_TYPE_Q2_K, dot_ref, NULL},
    {LV_TYPE_Q3_K, dot_ref, NULL}, {LV_TYPE_Q4_K, dot_ref, NULL},        {LV_TYPE_Q5_K, dot_ref, NULL},
    {LV_TYPE_Q6_K, dot_ref, NULL}, {LV_TYPE_IQ4_NL, dot_ref, NULL},
};

static int use_simd = -1;   /* -1: not decided yet; set from the CPU and $LV_NO_SIMD */
static int use_tiles = -1;  /* the same for the AVX-512 VNNI tile kernels */

int lv_matmul_simd(void)
{
    if (use_simd < 0) {
#ifdef HAVE_X86_KERNELS
        const char *e = getenv("LV_NO_SIMD");
        __builtin_cpu_init();
        use_simd = !(e && *e) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   lv_cpu_has_f16c();
#else
        use_simd = 0;
#endif
    }
    return use_simd;
}

static dot_fn kernel_for(int type)
{
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (kernels[i].type == type) return kernels[i].simd && lv_matmul_simd() ? kernels[i].simd : kernels[i].ref;
    return NULL;
}

void lv_matmul_set_simd(int on)
{
    use_simd = on ? -1 : 0;
    use_tiles = on ? -1 : 0;
}

/* 1 when SIMD is on and the CPU has AVX-512 VNNI (tile and x16 kernels). */
static int tiles_on(void)
{
    if (use_tiles < 0) use_tiles = lv_matmul_simd() && lv_simd_tiles_ok();
    return use_tiles;
}

/* The VNNI tile kernel of a type, when tiles_on(). */
static lv_tile_fn tile_for(int type) { return tiles_on() ? lv_simd_tile(type) : NULL; }

int lv_matmul_type_ok(int type)
{
    const lv_type_traits *tr = lv_type_info(type);
    return tr && tr->block > 0 && kernel_for(type) != NULL;
}

int lv_mat_init(lv_mat *m, int type, int64_t cols, int64_t rows, const void *data, lv_error *err)
{
    const lv_type_traits *tr = lv_type_info(type);
    uint64_t rb;
    if (!lv_matmul_type_ok(type))
        return lv_errorf(err, "tensor type %s has no matmul kernel", tr ? tr->name : "(unknown)");
    if (cols <= 0 || rows <= 0 || lv_type_row_bytes(type, (uint64_t)cols, &rb) != 0)
        return lv_errorf(err, "a %s row of %lld values is not whole blocks", tr->name, (long long)cols);
    m->type = type;
    m->cols = cols;
    m->rows = rows;
    m->row_bytes = (size_t)rb;
    m->data = data;
    m->packed = 0;
    return 0;
}

size_t lv_mat_pack_bytes(const lv_mat *m)
{
    if (m->packed || !tiles_on() || !lv_simd_x16(m->type)) return 0;
    return lv_simd_x16_bytes(m->type, m->rows, m->cols);
}

void lv_mat_pack_rows(const lv_mat *m, void *dst, int64_t r0, int64_t nr)
{
    lv_simd_pack_x16(m->type, (const uint8_t *)m->data + (size_t)r0 * m->row_bytes, m->row_bytes, nr, m->cols,
                     (uint8_t *)dst + (size_t)(r0 / 16) * lv_simd_x16_bytes(m->type, 16, m->cols));
}

void lv_mat_use_packed(lv_mat *m, void *dst)
{
    m->data = dst;
    m->packed = 1;
}

void lv_mat_pack(lv_mat *m, void *dst)
{
    lv_mat_pack_rows(m, dst, 0, m->rows);
    lv_mat_use_packed(m, dst);
}

/* Scratch layout: the converted activation rows, then (for Q8_0 activations, when a
 * tile kernel runs) the per-block f32 scales and quant sums, 64-byte aligned. */
static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

size_t lv_matmul_scratch_bytes(int type, int64_t cols, int64_t n_tok)
{
    const lv_type_traits *tr = lv_type_info(type);
    uint64_t rb, total;
    if (!tr || cols <= 0 || n_tok <= 0) return 0;
    if (lv_type_row_bytes(tr->vec_dot_type, (uint64_t)cols, &rb) != 0) return 0;
    if (lv_mul_u64(rb, (uint64_t)n_tok, &total) != 0 || total > SIZE_MAX / 2) return 0;
    if (tr->vec_dot_type == LV_TYPE_Q8_0) {   /* side data: 4 + 32 bytes per block */
        uint64_t nbt;
        if (lv_mul_u64((uint64_t)n_tok, (uint64_t)cols / LV_QK, &nbt) != 0 || nbt > SIZE_MAX / 64) return 0;
        total = align64((size_t)total) + align64((size_t)nbt * 4) + align64((size_t)nbt * 32) + (size_t)nbt * 4;
    } else if (tr->vec_dot_type == LV_TYPE_F16) {   /* side data: the f32 values */
        uint64_t f;
        if (lv_mul_u64((uint64_t)n_tok * 4u, (uint64_t)cols, &f) != 0 || f > SIZE_MAX / 4) return 0;
        total = align64((size_t)total) + (size_t)f;
    } else if (tr->vec_dot_type == LV_TYPE_Q8_K) {   /* side data: 16 bytes per super-block */
        uint64_t nbt;
        if (lv_mul_u64((uint64_t)n_tok, (uint64_t)cols / LV_QK_K, &nbt) != 0 || nbt > SIZE_MAX / 64) return 0;
        total = align64((size_t)total) + (size_t)nbt * 16;
    }
    return (size_t)total;
}

/* One matmul as the pool sees it: nw weights of one type and shape class sharing the
 * input (W = Ws[0] for the conversion), their outputs ys[i]. */
typedef struct {
    const lv_mat *W;
    const lv_mat *const *Ws;
    float *const *ys;
    int nw;
    int64_t rows_total;    /* Σ of the weights' rows */
    const float *x;        /* [n_tok][W->cols] f32 input */
    int act_type;
    uint8_t *act;          /* [n_tok][act_bytes] converted activations */
    size_t act_bytes;
    float *ad;             /* [n_tok][nb] Q8_0 scales (tile path), or NULL */
    int32_t *as;           /* [n_tok][nb][8] offset × Q8_0 lane sums (tile path), or NULL */
    int32_t *as1;          /* [n_tok][nb] -offset × Q8_0 block sums (x16 path) */
    int32_t *kb;           /* [n_tok][nb][4] Q8_K sub-block sums as int16 pairs (x16 path) */
    float *f32;            /* F16 activations as f32, tile-interleaved (x16 path) */
    lv_x16_fn x16;         /* the x16 kernel when W is packed */
    int32_t off;           /* the weight type's quant offset: 8 (Q4_0) or 128 (Q8_0) */
    int64_t n_tok;
    dot_fn dot;
    lv_tile_fn tile;
    int failed;
    atomic_llong next;     /* the next work item of mm_rows */
    /* decode: per thread its share's remaining items [lo, hi) packed as lo | hi << 32,
       one cache line each (the owner takes from the front, a thief from the back) */
    struct { _Alignas(64) atomic_ullong lohi; } share[LV_POOL_MAX];
    int n_shares;          /* shares set up (the pool may run fewer threads) */
} mm_job;

/* Part ith of nth of the activation conversion: rows split evenly. */
static void mm_convert(void *arg, int ith, int nth)
{
    mm_job *j = arg;
    long long lo, hi;
    lv_pool_split(j->n_tok, nth, ith, 1, &lo, &hi);
    const int64_t nb = j->W->cols / LV_QK;
    for (int64_t t = lo; t < hi; t++) {
        uint8_t *row = j->act + (size_t)t * j->act_bytes;
        const float *x = j->x + t * j->W->cols;
        /* the tile and x16 kernels run only where their SIMD conversions do */
        const int64_t ts = t - t % 8, w = j->n_tok - ts < 8 ? j->n_tok - ts : 8;   /* its tile of 8 */
        if (j->ad && j->x16)   /* interleaved by tiles of 8 rows (lv_act.q) */
            lv_simd_act_q8_0_x16(x, j->W->cols, (int8_t *)j->act + (ts * nb + t - ts) * 32, j->ad + ts * nb + t - ts,
                                 j->as1 + ts * nb + t - ts, w, j->off);
        else if (j->ad)   /* the same bytes and side data in one pass */
            lv_simd_act_q8_0(x, j->W->cols, (lv_block_q8_0 *)row, j->ad + t * nb, j->as + t * nb * 8,
                             j->as1 + t * nb, j->off);
        else if (j->f32)   /* the f16 rounding straight into the kernel's layout (lv_act.f32) */
            lv_simd_act_f16_x16(x, j->W->cols, j->f32 + ts * j->W->cols + (t - ts), w);
        else if (j->kb)
            lv_simd_act_q8_K(x, j->W->cols, (lv_block_q8_K *)row, j->kb + t * (j->W->cols / LV_QK_K) * 4);
        else if (lv_quantize_act(j->act_type, x, row, j->W->cols) != 0)
            j->failed = 1;
    }
}

enum { TILE_R = 4, TILE_C = 4, TOK_CHUNK = 64, X16_C = 8, ROW_ITEM = 64 /* a multiple of 16 and TILE_R */,
       DEC_ITEM = 64 /* decode rows per item, a multiple of 16 */ };

/* Rows [lo, hi) of weight W (output y) for activation rows [t0, t1): the x16, tile or
 * plain loop. */
static void mm_part(const mm_job *j, const lv_act *a, const lv_mat *W, float *y, int64_t lo, int64_t hi,
                    int64_t t0, int64_t t1)
{
    const uint8_t *wd = W->data;
    if (j->x16) {
        const size_t group_bytes = lv_simd_x16_bytes(W->type, 16, W->cols);
        /* each 16-row group passes over the chunk's activation rows (in L2), 8 at a
           time; t stays a multiple of 8 and nc the width of its tile of 8, as the
           interleaved activations (lv_act.q, .f32) need */
        for (int64_t o = lo; o < hi; o += 16)
            for (int64_t t = t0; t < t1; t += X16_C) {
                const int nc = t1 - t < X16_C ? (int)(t1 - t) : X16_C;
                j->x16(W->cols, wd + (size_t)(o / 16) * group_bytes, a, t, nc, y + t * W->rows + o, (size_t)W->rows);
            }
        return;
    }
    if (j->tile) {
        for (int64_t o = lo; o < hi; o += TILE_R) {
            const int nr = hi - o < TILE_R ? (int)(hi - o) : TILE_R;
            for (int64_t t = t0; t < t1; t += TILE_C) {
                const int nc = t1 - t < TILE_C ? (int)(t1 - t) : TILE_C;
                j->tile(W->cols, wd + (size_t)o * W->row_bytes, W->row_bytes, nr, a, t, nc, y + t * W->rows + o,
                        (size_t)W->rows);
            }
        }
        return;
    }
    /* other types: each weight row once, against every activation row */
    for (int64_t o = lo; o < hi; o++) {
        const void *wrow = wd + (size_t)o * W->row_bytes;
        for (int64_t t = t0; t < t1; t++)
            y[t * W->rows + o] = j->dot(W->type, W->cols, wrow, j->act + (size_t)t * j->act_bytes);
    }
}

/* Rows [lo, hi) of the weights taken as one list, for activation rows [t0, t1). */
static void mm_span(const mm_job *j, const lv_act *a, int64_t lo, int64_t hi, int64_t t0, int64_t t1)
{
    int64_t base = 0;
    for (int i = 0; i < j->nw; base += j->Ws[i]->rows, i++) {
        const int64_t r0 = lo > base ? lo - base : 0;
        const int64_t r1 = hi - base < j->Ws[i]->rows ? hi - base : j->Ws[i]->rows;
        if (r0 < r1) mm_part(j, a, j->Ws[i], j->ys[i], r0, r1, t0, t1);
    }
}

/* Part ith of nth of the products. In prefill a chunk of activation rows stays in L2
 * while the weight rows pass over it. */
static void mm_rows(void *arg, int ith, int nth)
{
    mm_job *j = arg;
    const lv_mat *W = j->W;
    long long lo, hi;
    const lv_act a = {j->act, j->act_bytes,
                      W->cols / (lv_type_info(W->type)->vec_dot_type == LV_TYPE_Q8_0 ? LV_QK : LV_QK_K), j->ad,
                      j->as, j->as1, j->f32, j->kb};
    const int64_t total = j->rows_total;
    if (!j->x16 && !j->tile) {   /* scalar kernels: one contiguous share per thread */
        lv_pool_split(total, nth, ith, 16, &lo, &hi);
        mm_span(j, &a, lo, hi, 0, j->n_tok);
        return;
    }
    if (j->n_tok < X16_C) {
        /* Decode: each thread streams its own contiguous share front to back (one stream
           each suits the prefetchers); a thread done early takes items from the back of
           the others' shares, so a thread slowed by the host does not hold up the token. */
        for (int k = 0; k < j->n_shares; k++) {
            atomic_ullong *s = &j->share[(ith + k) % j->n_shares].lohi;
            unsigned long long v = atomic_load_explicit(s, memory_order_relaxed);
            for (;;) {
                const unsigned long long l = v & 0xffffffffu, h = v >> 32;
                if (l >= h) break;
                const unsigned long long nv = k == 0 ? v + 1 : l | (h - 1) << 32;
                if (!atomic_compare_exchange_weak_explicit(s, &v, nv, memory_order_relaxed, memory_order_relaxed))
                    continue;
                const int64_t r0 = (int64_t)(k == 0 ? l : h - 1) * DEC_ITEM;
                mm_span(j, &a, r0, r0 + DEC_ITEM < total ? r0 + DEC_ITEM : total, 0, j->n_tok);
                v = atomic_load_explicit(s, memory_order_relaxed);
            }
        }
        return;
    }
    /* Items of ROW_ITEM rows × one chunk of TOK_CHUNK activation rows, chunk by chunk,
       handed out by a counter: a thread slowed by its neighbours on the host takes
       fewer, and no thread waits on a fixed half. Every output is still computed by
       the same kernel call, whoever runs it. */
    const int64_t n_rb = (total + ROW_ITEM - 1) / ROW_ITEM, n_tc = (j->n_tok + TOK_CHUNK - 1) / TOK_CHUNK;
    for (;;) {
        const int64_t it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (it >= n_rb * n_tc) break;
        const int64_t t0 = it / n_rb * TOK_CHUNK, r0 = it % n_rb * ROW_ITEM;
        mm_span(j, &a, r0, r0 + ROW_ITEM < total ? r0 + ROW_ITEM : total, t0,
                t0 + TOK_CHUNK < j->n_tok ? t0 + TOK_CHUNK : j->n_tok);
    }
}

/* 1 when a and b can share one activation conversion and one dispatch. */
static int same_class(const lv_mat *a, const lv_mat *b)
{
    return a->type == b->type && a->cols == b->cols && a->packed == b->packed;
}

int lv_matmul_n(const lv_mat *const *Ws, int nw, const float *x, float *const *ys, int64_t n_tok, void *scratch,
                int n_threads)
{
    if (nw < 1) return 0;
    for (int i = 1; i < nw; i++)
        if (!same_class(Ws[0], Ws[i])) {   /* no sharing: one by one */
            for (int k = 0; k < nw; k++)
                if (lv_matmul_n(&Ws[k], 1, x, &ys[k], n_tok, scratch, n_threads) != 0) return -1;
            return 0;
        }
    const lv_mat *W = Ws[0];
    const lv_type_traits *tr = lv_type_info(W->type);
    dot_fn dot = kernel_for(W->type);
    uint64_t ab;
    if (!tr || !dot || lv_type_row_bytes(tr->vec_dot_type, (uint64_t)W->cols, &ab) != 0) return -1;
    mm_job j = {W, Ws, ys, nw, 0, x, tr->vec_dot_type, scratch, (size_t)ab, NULL, NULL, NULL, NULL, NULL,
                W->packed ? lv_simd_x16(W->type) : NULL, W->type == LV_TYPE_Q4_0 ? 8 : 128, n_tok, dot,
                W->packed ? NULL : tile_for(W->type), 0, 0, {{0}}, 0};
    if (W->packed && !j.x16) return -1;
    if ((j.tile || j.x16) && j.act_type == LV_TYPE_Q8_0) {
        const size_t nbt = (size_t)n_tok * (size_t)(W->cols / LV_QK);
        j.ad = (float *)((uint8_t *)scratch + align64((size_t)ab * (size_t)n_tok));
        j.as = (int32_t *)((uint8_t *)j.ad + align64(nbt * sizeof(float)));
        j.as1 = (int32_t *)((uint8_t *)j.as + align64(nbt * 32));
    }
    if (j.x16 && j.act_type == LV_TYPE_F16)
        j.f32 = (float *)((uint8_t *)scratch + align64((size_t)ab * (size_t)n_tok));
    if (j.x16 && j.act_type == LV_TYPE_Q8_K)
        j.kb = (int32_t *)((uint8_t *)scratch + align64((size_t)ab * (size_t)n_tok));

    /* Small products are not worth waking the workers. */
    if (n_threads > LV_POOL_MAX) n_threads = LV_POOL_MAX;
    for (int i = 0; i < nw; i++) j.rows_total += Ws[i]->rows;
    if ((double)j.rows_total * (double)W->cols * (double)n_tok < 1 << 18) n_threads = 1;
    if (n_threads < 1) n_threads = 1;
    lv_pool_run(n_tok >= 2 * n_threads ? n_threads : 1, mm_convert, &j);
    if (j.failed) return -1;
    if (n_tok < X16_C && (j.x16 || j.tile)) {   /* decode shares in items (mm_rows) */
        const long long items = (j.rows_total + DEC_ITEM - 1) / DEC_ITEM;
        j.n_shares = n_threads;
        for (int i = 0; i < n_threads; i++) {
            long long lo, hi;
            lv_pool_split(items, n_threads, i, 1, &lo, &hi);
            atomic_init(&j.share[i].lohi, (unsigned long long)lo | (unsigned long long)hi << 32);
        }
    }
    lv_pool_run(n_threads, mm_rows, &j);
    return 0;
}

int lv_matmul(const lv_mat *W, const float *x, float *y, int64_t n_tok, void *scratch, int n_threads)
{
    return lv_matmul_n(&W, 1, x, &y, n_tok, scratch, n_threads);
}
