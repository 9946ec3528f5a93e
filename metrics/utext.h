/* metrics/utext.h — Unicode text as Python 3 `str` sees it, for the metrics.
 *
 * The official evaluators are Python: lengths, edit distances, lower()/upper(),
 * strip()/split() and the regex class \d all work on code points with Unicode
 * rules. A utext is a growable array of code points; every metric decodes its
 * UTF-8 input into one first and encodes the result back at the end.
 *
 * Ownership: a utext owns its array; utext_free() releases it (a zeroed utext
 * is empty and valid). utext_encode() returns a malloc'd string the caller
 * frees. Functions returning int give UTEXT_OK or a negative UTEXT_E* code.
 * The case and class tables (utext_tables.inc) are generated from Python's
 * unicodedata by gen_utext_tables.py, so they follow that Python's Unicode version.
 */
#ifndef LV_UTEXT_H
#define LV_UTEXT_H

#include <stddef.h>
#include <stdint.h>

enum { UTEXT_OK = 0, UTEXT_ENOMEM = -1, UTEXT_EUTF8 = -2 };

typedef struct {
    uint32_t *cp;     /* code points, not NUL-terminated */
    size_t    n, cap; /* used / allocated count */
} utext;

/* Strict UTF-8 check: no overlong forms, no surrogates, nothing above U+10FFFF. */
int  utext_valid_utf8(const char *s, size_t len);
/* Decodes s[0..len) into *out (replacing its content). UTEXT_EUTF8 on bad UTF-8. */
int  utext_decode(utext *out, const char *s, size_t len);
/* Decodes a NUL-terminated string. */
int  utext_from(utext *out, const char *s);
/* The text as a malloc'd NUL-terminated UTF-8 string; NULL on OOM. */
char *utext_encode(const utext *t);
void utext_free(utext *t);

int  utext_push(utext *t, uint32_t c);
int  utext_append(utext *t, const uint32_t *cp, size_t n);
/* 1 when a and b hold the same code points. */
int  utext_eq(const utext *a, const utext *b);
/* 1 when t equals the ASCII string s. */
int  utext_eq_ascii(const utext *t, const char *s);

/* Python str.isspace() for one code point (includes NBSP, U+2028, ...). */
int  utext_isspace(uint32_t c);
/* Python re's \d on str: Unicode category Nd. */
int  utext_isdigit(uint32_t c);

/* out = in.lower() with full case mapping and the final-sigma rule; out != in. */
int  utext_lower(utext *out, const utext *in);
/* len(in.upper()): full upper-casing can lengthen a string (ß -> SS). */
size_t utext_upper_len(const utext *in);
/* in.strip(): sets [*b, *e) to the range without leading/trailing whitespace. */
void utext_strip_range(const utext *in, size_t *b, size_t *e);

#endif
