/* reports/report_esc.c — see report_esc.h. */
#include "reports/report_esc.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one UTF-8 character at s (n bytes left); returns its length and sets *cp,
 * or returns 1 with *cp = 0xFFFD for an invalid, overlong or truncated sequence. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; min = 0x10000; }
    else { *cp = 0xFFFD; return 1; }
    if (n < len) { *cp = 0xFFFD; return 1; }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) { *cp = 0xFFFD; return 1; }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) { *cp = 0xFFFD; return 1; }
    *cp = v;
    return len;
}

static void put_utf8(FILE *f, uint32_t cp)
{
    if (cp < 0x80) fputc((int)cp, f);
    else if (cp < 0x800) { fputc(0xC0 | (cp >> 6), f); fputc(0x80 | (cp & 0x3F), f); }
    else if (cp < 0x10000) {
        fputc(0xE0 | (cp >> 12), f); fputc(0x80 | ((cp >> 6) & 0x3F), f); fputc(0x80 | (cp & 0x3F), f);
    } else {
        fputc(0xF0 | (cp >> 18), f); fputc(0x80 | ((cp >> 12) & 0x3F), f);
        fputc(0x80 | ((cp >> 6) & 0x3F), f); fputc(0x80 | (cp & 0x3F), f);
    }
}

enum { ESC_HTML, ESC_XML };

static void markup(FILE *f, const char *s, size_t n, int mode)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = utf8_next(p + i, n - i, &cp);
        i += len;
        switch (cp) {
        case '&': fputs("&amp;", f); continue;
        case '<': fputs("&lt;", f); continue;
        case '>': fputs("&gt;", f); continue;
        case '"': fputs("&quot;", f); continue;
        case '\'': fputs(mode == ESC_XML ? "&apos;" : "&#39;", f); continue;
        default: break;
        }
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F ||
            (mode == ESC_XML && (cp == 0xFFFE || cp == 0xFFFF)))
            cp = 0xFFFD;
        put_utf8(f, cp);
    }
}

void report_html(FILE *f, const char *s)
{
    if (s) markup(f, s, strlen(s), ESC_HTML);
}

void report_html_n(FILE *f, const char *s, size_t n)
{
    if (!s) return;
    size_t len = strlen(s);
    if (len > n) {
        len = n;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;   /* whole characters */
    }
    markup(f, s, len, ESC_HTML);
    if (len < strlen(s)) fputs("\xE2\x80\xA6", f);
}

void report_xml(FILE *f, const char *s)
{
    if (s) markup(f, s, strlen(s), ESC_XML);
}

void report_json_str(FILE *f, const char *s)
{
    if (!s) { fputs("null", f); return; }
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    fputc('"', f);
    while (i < n) {
        uint32_t cp;
        i += utf8_next(p + i, n - i, &cp);
        switch (cp) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        case '<': case '>': case '&': case 0x2028: case 0x2029:
            fprintf(f, "\\u%04x", (unsigned)cp);
            break;
        default:
            if (cp < 0x20 || cp == 0x7F) fprintf(f, "\\u%04x", (unsigned)cp);
            else put_utf8(f, cp);
        }
    }
    fputc('"', f);
}

void report_json_num(FILE *f, double v)
{
    if (!isfinite(v)) { fputs("null", f); return; }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, f);
}

void report_json_raw(FILE *f, const char *json, int parsed_ok)
{
    if (!json) { fputs("null", f); return; }
    const unsigned char *p = (const unsigned char *)json;
    size_t n = strlen(json), i = 0;
    int plain = parsed_ok;
    while (plain && i < n) {
        uint32_t cp;
        size_t len = utf8_next(p + i, n - i, &cp);
        if ((cp == 0xFFFD && len == 1) || cp < 0x20 || cp == '<' || cp == 0x2028 || cp == 0x2029)
            plain = 0;
        i += len;
    }
    if (plain) fputs(json, f);
    else report_json_str(f, json);
}

void report_csv(FILE *f, const char *s)
{
    if (!s) return;
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    if (quote) fputc('"', f);
    while (i < n) {
        uint32_t cp;
        i += utf8_next(p + i, n - i, &cp);
        if (cp == '"') fputs("\"\"", f);
        else put_utf8(f, cp);
    }
    if (quote) fputc('"', f);
}
