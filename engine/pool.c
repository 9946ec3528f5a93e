/* engine/pool.c — persistent worker threads woken per run (see pool.h). */
#include "engine/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

char *openblas_get_corename(void);   /* OpenBLAS */

/* Shared state. A run publishes fn/arg/nth, then bumps `gen`; every worker sees the
 * new generation, runs part i when i < nth, and decrements `pending`. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t  wake;
    int             n_started;           /* workers 1 … n_started exist */
    atomic_uint     gen;                 /* generation of the current run */
    atomic_int      pending;             /* workers still busy in this run */
    lv_pool_fn      fn;
    void           *arg;
    int             nth;
    unsigned        born[LV_POOL_MAX];   /* gen when worker i was created */
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

enum { SPIN = 20000 };   /* polls before a worker sleeps */

static void *worker(void *p)
{
    const int me = (int)(long)p;
    unsigned seen = P.born[me];   /* the generation before the run that started it */
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&P.gen, memory_order_acquire)) == seen) {
            if (++spins < SPIN) {
#if defined(__x86_64__)
                __builtin_ia32_pause();
#endif
                continue;
            }
            pthread_mutex_lock(&P.mu);
            while ((g = atomic_load(&P.gen)) == seen) pthread_cond_wait(&P.wake, &P.mu);
            pthread_mutex_unlock(&P.mu);
            break;
        }
        seen = g;
        if (me < P.nth) P.fn(P.arg, me, P.nth);
        /* every started worker acknowledges every run, so the next run cannot
           overwrite fn/arg/nth while one of them still reads them */
        atomic_fetch_sub_explicit(&P.pending, 1, memory_order_release);
    }
    return NULL;
}

void lv_pool_run(int n, lv_pool_fn fn, void *arg)
{
    if (n > LV_POOL_MAX) n = LV_POOL_MAX;
    if (n <= 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&P.mu);
    while (P.n_started < n - 1) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        P.born[P.n_started + 1] = atomic_load(&P.gen);
        int ok = pthread_create(&t, &at, worker, (void *)(long)(P.n_started + 1)) == 0;
        pthread_attr_destroy(&at);
        if (!ok) break;
        P.n_started++;
    }
    if (n > P.n_started + 1) n = P.n_started + 1;
    P.fn = fn;
    P.arg = arg;
    P.nth = n;
    atomic_store(&P.pending, P.n_started);
    atomic_fetch_add_explicit(&P.gen, 1, memory_order_release);
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.mu);

    fn(arg, 0, n);
    while (atomic_load_explicit(&P.pending, memory_order_acquire) > 0) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#else
        sched_yield();
#endif
    }
}

void lv_pool_split(long long total, int n, int i, long long align, long long *lo, long long *hi)
{
    long long units = (total + align - 1) / align;
    long long a = units * i / n, b = units * (i + 1) / n;
    *lo = a * align < total ? a * align : total;
    *hi = b * align < total ? b * align : total;
}

const char *lv_pool_blas_coretype(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    const char *core = openblas_get_corename();
    if (!core || (strcmp(core, "Prescott") != 0 && strcmp(core, "Core2") != 0 && strcmp(core, "Nehalem") != 0 &&
                  strcmp(core, "Barcelona") != 0))
        return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}
