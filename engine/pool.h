/* engine/pool.h — the engine's one thread pool.
 *
 * lv_pool_run() runs fn(arg, i, n) for i = 0 … n-1 on n threads (the caller is
 * thread 0) and returns when all have finished. Workers are started once, on the
 * first run that needs them, and wait for work between runs (a short spin, then a
 * condition variable), so a matmul in the decode loop costs no thread start.
 *
 * The pool is process-wide (lv_pool_run is not re-entrant: calls must not overlap;
 * the engine runs one forward pass at a time). OpenBLAS, used by the CLIP tower,
 * keeps its own threads; the two never run at the same time.
 */
#ifndef LV_POOL_H
#define LV_POOL_H

enum { LV_POOL_MAX = 64 };

typedef void (*lv_pool_fn)(void *arg, int ith, int nth);

/* Runs fn on n threads (n clamped to [1, LV_POOL_MAX]); falls back to running the
 * parts one after another on this thread when workers cannot be started. */
void lv_pool_run(int n, lv_pool_fn fn, void *arg);

/* Splits [0, total) into n near-equal parts aligned to `align`: part i is
 * [*lo, *hi). */
void lv_pool_split(long long total, int n, int i, long long align, long long *lo, long long *hi);

/* The OPENBLAS_CORETYPE this process should run with, or NULL when OpenBLAS's own
 * choice is fine. OpenBLAS 0.3.21 does not recognise Zen 4 and falls back to its SSE3
 * "Prescott" kernels (3× slower sgemm for the CLIP tower); the variable is read when
 * the library loads, so the caller sets it and re-executes (harness/main.c). */
const char *lv_pool_blas_coretype(void);

#endif
