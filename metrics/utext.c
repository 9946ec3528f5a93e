/* metrics/utext.c — Python-str semantics over code-point arrays (see utext.h). */
#include "metrics/utext.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t first, last; /* inclusive range of code points */
    int      stride;      /* 1: every code point; 2: every other one */
    int32_t  delta;       /* mapped = cp + delta */
} utext_case_range;

typedef struct {
    uint32_t cp;
    int      n;           /* how many code points it maps to (2 or 3) */
    uint32_t to[3];
} utext_case_multi;

#include "metrics/utext_tables.inc"

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c);

int utext_valid_utf8(const char *s, size_t len)
{
    utext t = {0};
    int rc = utext_decode(&t, s, len);
    utext_free(&t);
    return rc == UTEXT_OK;
}

int utext_push(utext *t, uint32_t c)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        uint32_t *p = realloc(t->cp, nc * sizeof *p);
        if (!p) return UTEXT_ENOMEM;
        t->cp = p;
        t->cap = nc;
    }
    t->cp[t->n++] = c;
    return UTEXT_OK;
}

int utext_append(utext *t, const uint32_t *cp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (utext_push(t, cp[i])) return UTEXT_ENOMEM;
    return UTEXT_OK;
}

int utext_decode(utext *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    out->n = 0;
    while (i < len) {
        uint32_t c = p[i];
        int extra;
        uint32_t min;
        if (c < 0x80) { extra = 0; min = 0; }
        else if ((c & 0xE0) == 0xC0) { c &= 0x1F; extra = 1; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { c &= 0x0F; extra = 2; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { c &= 0x07; extra = 3; min = 0x10000; }
        else return UTEXT_EUTF8;
        if ((size_t)extra >= len - i) return UTEXT_EUTF8;
        for (int k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return UTEXT_EUTF8;
            c = (c << 6) | (p[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return UTEXT_EUTF8;
        if (utext_push(out, c)) return UTEXT_ENOMEM;
        i += (size_t)extra + 1;
    }
    return UTEXT_OK;
}

int utext_from(utext *out, const char *s)
{
    return utext_decode(out, s, strlen(s));
}

char *utext_encode(const utext *t)
{
    char *buf = malloc(t->n * 4 + 1), *q = buf;
    if (!buf) return NULL;
    for (size_t i = 0; i < t->n; i++) {
        uint32_t c = t->cp[i];
        if (c < 0x80) *q++ = (char)c;
        else if (c < 0x800) { *q++ = (char)(0xC0 | (c >> 6)); *q++ = (char)(0x80 | (c & 0x3F)); }
        else if (c < 0x10000) {
            *q++ = (char)(0xE0 | (c >> 12));
            *q++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *q++ = (char)(0x80 | (c & 0x3F));
        } else {
            *q++ = (char)(0xF0 | (c >> 18));
            *q++ = (char)(0x80 | ((c >> 12) & 0x3F));
            *q++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *q++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *q = 0;
    return buf;
}

void utext_free(utext *t)
{
    free(t->cp);
    t->cp = NULL;
    t->n = t->cap = 0;
}

int utext_eq(const utext *a, const utext *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->cp, b->cp, a->n * sizeof *a->cp) == 0);
}

int utext_eq_ascii(const utext *t, const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (i >= t->n || t->cp[i] != (unsigned char)s[i]) return 0;
    return i == t->n;
}

int utext_isspace(uint32_t c)
{
    for (size_t i = 0; i < utext_space_n; i++)
        if (utext_space_cps[i] == c) return 1;
    return 0;
}

int utext_isdigit(uint32_t c)
{
    if (c < 0x80) return c >= '0' && c <= '9';
    return in_ranges(utext_digit_ranges, utext_digit_nranges, c);
}

/* The single-code-point mapping of c in a range table, or c itself. */
static uint32_t map_single(const utext_case_range *r, size_t n, uint32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* last range with first <= c */
        size_t mid = (lo + hi) / 2;
        if (r[mid].first <= c) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return c;
    const utext_case_range *x = &r[lo - 1];
    if (c > x->last || (c - x->first) % (uint32_t)x->stride) return c;
    return (uint32_t)((int64_t)c + x->delta);
}

static const utext_case_multi *map_multi(const utext_case_multi *m, size_t n, uint32_t c)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].cp == c) return &m[i];
    return NULL;
}

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid][0]) hi = mid;
        else if (c > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

static int is_cased(uint32_t c) { return in_ranges(utext_cased_ranges, utext_cased_ranges_n, c); }
static int is_case_ignorable(uint32_t c)
{
    return in_ranges(utext_ignorable_ranges, utext_ignorable_ranges_n, c);
}

/* Python's rule: capital sigma lowers to final ς when a cased letter precedes it
 * and none follows (case-ignorable characters skipped on both sides). */
static int final_sigma(const utext *t, size_t i)
{
    size_t j = i;
    while (j > 0 && is_case_ignorable(t->cp[j - 1])) j--;
    if (j == 0 || !is_cased(t->cp[j - 1])) return 0;
    j = i + 1;
    while (j < t->n && is_case_ignorable(t->cp[j])) j++;
    return j == t->n || !is_cased(t->cp[j]);
}

int utext_lower(utext *out, const utext *in)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->cp[i];
        const utext_case_multi *m;
        if (c == 0x3A3 && final_sigma(in, i)) {
            if (utext_push(out, 0x3C2)) return UTEXT_ENOMEM;
        } else if ((m = map_multi(utext_lower_multi, utext_lower_nmulti, c)) != NULL) {
            if (utext_append(out, m->to, (size_t)m->n)) return UTEXT_ENOMEM;
        } else if (utext_push(out, map_single(utext_lower_ranges, utext_lower_nranges, c))) {
            return UTEXT_ENOMEM;
        }
    }
    return UTEXT_OK;
}

size_t utext_upper_len(const utext *in)
{
    size_t n = 0;
    for (size_t i = 0; i < in->n; i++) {
        const utext_case_multi *m = map_multi(utext_upper_multi, utext_upper_nmulti, in->cp[i]);
        n += m ? (size_t)m->n : 1;
    }
    return n;
}

void utext_strip_range(const utext *in, size_t *b, size_t *e)
{
    size_t i = 0, j = in->n;
    while (i < j && utext_isspace(in->cp[i])) i++;
    while (j > i && utext_isspace(in->cp[j - 1])) j--;
    *b = i;
    *e = j;
}
