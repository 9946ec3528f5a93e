/* engine/base.h — what every engine module shares: the error record, checked
 * arithmetic, a clock and the allocation hook.
 *
 * Errors: a function that can fail takes an `lv_error *err` (may be NULL), fills it
 * with one line of text on failure and returns a non-zero status (or NULL). Callers
 * print `llava-eval: <what>: <err.msg>`. Nothing in the engine prints or exits.
 *
 * Allocation goes through lv_malloc/lv_calloc/lv_realloc/lv_free so tests can inject
 * failures (lv_set_alloc_limit) and so a hostile size never reaches malloc unchecked.
 */
#ifndef LV_BASE_H
#define LV_BASE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lv_error {
    char msg[512];
} lv_error;

/* Formats into err (if non-NULL) and returns -1, so `return lv_errorf(err, ...)`. */
int lv_errorf(lv_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checked unsigned arithmetic: return 0 and store the result, or return -1 on overflow. */
static inline int lv_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int lv_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}
/* Rounds x up to a multiple of the power of two a; -1 on overflow. */
static inline int lv_align_u64(uint64_t x, uint64_t a, uint64_t *out)
{
    uint64_t t;
    if (__builtin_add_overflow(x, a - 1, &t)) return -1;
    *out = t & ~(a - 1);
    return 0;
}

/* Allocation with a test hook. Sizes over the limit (default: none) fail like malloc. */
void *lv_malloc(size_t n);
void *lv_calloc(size_t count, size_t size);
void *lv_realloc(void *p, size_t n);
void  lv_free(void *p);
char *lv_strndup(const char *s, size_t n);
/* Any single allocation larger than `bytes` fails (0 = no limit). For tests. */
void  lv_set_alloc_limit(size_t bytes);

/* Monotonic clock in milliseconds. */
double lv_now_ms(void);

/* 1 if the CPU has F16C (half-float conversions). By CPUID, because clang's
 * __builtin_cpu_supports does not know "f16c". */
int lv_cpu_has_f16c(void);

#endif
