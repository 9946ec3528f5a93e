/* engine/base.c — errors, allocation hook, clock. */
#include "engine/base.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int lv_errorf(lv_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static size_t alloc_limit;

void lv_set_alloc_limit(size_t bytes) { alloc_limit = bytes; }

void *lv_malloc(size_t n)
{
    if (alloc_limit && n > alloc_limit) return NULL;
    return malloc(n ? n : 1);
}

void *lv_calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) return NULL;
    if (alloc_limit && n > alloc_limit) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *lv_realloc(void *p, size_t n)
{
    if (alloc_limit && n > alloc_limit) return NULL;
    return realloc(p, n ? n : 1);
}

void lv_free(void *p) { free(p); }

char *lv_strndup(const char *s, size_t n)
{
    char *d = lv_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

double lv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int lv_cpu_has_f16c(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c >> 29) & 1;
#else
    return 0;
#endif
}
