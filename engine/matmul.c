/* engine/matmul.c — quantized mat-vec / mat-mat through per-type dot kernels. */
#include "engine/matmul.h"

#include <pthread.h>
#include <stdlib.h>

#include "engine/quant.h"

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

int lv_matmul_simd(void)
{
    if (use_simd < 0) {
#ifdef HAVE_X86_KERNELS
        const char *e = getenv("LV_NO_SIMD");
        __builtin_cpu_init();
        use_simd = !(e && *e) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("f16c");
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

void lv_matmul_set_simd(int on) { use_simd = on ? -1 : 0; }

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
    return 0;
}

size_t lv_matmul_scratch_bytes(int type, int64_t cols, int64_t n_tok)
{
    const lv_type_traits *tr = lv_type_info(type);
    uint64_t rb, total;
    if (!tr || cols <= 0 || n_tok <= 0) return 0;
    if (lv_type_row_bytes(tr->vec_dot_type, (uint64_t)cols, &rb) != 0) return 0;
    if (lv_mul_u64(rb, (uint64_t)n_tok, &total) != 0 || total > SIZE_MAX) return 0;
    return (size_t)total;
}

/* Work of one thread: output rows [r0, r1) for every activation row. */
typedef struct {
    const lv_mat *W;
    const uint8_t *act;   /* [n_tok][act_bytes] converted activations */
    size_t act_bytes;
    float *y;             /* [n_tok][W->rows] */
    int64_t n_tok, r0, r1;
    dot_fn dot;
} mm_part;

static void *mm_run(void *arg)
{
    const mm_part *p = arg;
    const uint8_t *wd = p->W->data;
    /* the hot loop: each weight row once, against every activation row */
    for (int64_t o = p->r0; o < p->r1; o++) {
        const void *wrow = wd + (size_t)o * p->W->row_bytes;
        for (int64_t t = 0; t < p->n_tok; t++)
            p->y[t * p->W->rows + o] = p->dot(p->W->type, p->W->cols, wrow, p->act + (size_t)t * p->act_bytes);
    }
    return NULL;
}

enum { MM_MAX_THREADS = 64 };

int lv_matmul(const lv_mat *W, const float *x, float *y, int64_t n_tok, void *scratch,
              int n_threads)
{
    const lv_type_traits *tr = lv_type_info(W->type);
    dot_fn dot = kernel_for(W->type);
    uint64_t ab;
    if (!tr || !dot || lv_type_row_bytes(tr->vec_dot_type, (uint64_t)W->cols, &ab) != 0) return -1;
    uint8_t *act = scratch;
    for (int64_t t = 0; t < n_tok; t++)
        if (lv_quantize_act(tr->vec_dot_type, x + t * W->cols, act + (size_t)t * ab, W->cols) != 0)
            return -1;

    /* Small products are not worth a thread start. */
    if (n_threads > MM_MAX_THREADS) n_threads = MM_MAX_THREADS;
    if ((double)W->rows * (double)W->cols * (double)n_tok < 1 << 20) n_threads = 1;
    if (n_threads > W->rows) n_threads = (int)W->rows;
    if (n_threads < 1) n_threads = 1;

    mm_part parts[MM_MAX_THREADS];
    pthread_t th[MM_MAX_THREADS];
    int started[MM_MAX_THREADS] = {0};
    for (int i = 0; i < n_threads; i++) {
        parts[i] = (mm_part){W, act, (size_t)ab, y, n_tok, W->rows * i / n_threads,
                             W->rows * (i + 1) / n_threads, dot};
    }
    for (int i = 1; i < n_threads; i++)
        started[i] = pthread_create(&th[i], NULL, mm_run, &parts[i]) == 0;
    mm_run(&parts[0]);
    for (int i = 1; i < n_threads; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        else mm_run(&parts[i]);   /* no thread: do its share here */
    }
    return 0;
}
