/* harness/jsonw.h — a small streaming JSON writer for command output.
 *
 * Strings are written from bytes: control characters, quotes and backslashes are
 * escaped, and bytes that are not valid UTF-8 become U+FFFD, so the output is
 * always valid JSON in UTF-8 whatever a model file or a model says. Floats are
 * written round-trippable (%.9g for float32, %.17g for double); NaN and
 * infinities become null.
 */
#ifndef LV_JSONW_H
#define LV_JSONW_H

#include <stddef.h>
#include <stdio.h>

void jw_str(FILE *f, const char *s, size_t n);       /* "..." */
void jw_cstr(FILE *f, const char *s);                /* NUL-terminated; NULL -> null */
void jw_f32(FILE *f, float v);
void jw_f64(FILE *f, double v);

#endif
