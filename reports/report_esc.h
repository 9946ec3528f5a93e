/* reports/report_esc.h — escaping for every output format a report writes.
 *
 * Input is bytes from anywhere. Every function first reads them as UTF-8 and turns
 * each invalid sequence into U+FFFD, so what comes out is valid UTF-8 whatever
 * went in, then escapes for its context:
 *   - HTML text and attribute values: & < > " ' as entities; C0 controls other
 *     than tab/newline, and NUL, become U+FFFD.
 *   - XML (JUnit): as HTML, with XML's own entities; characters XML 1.0 forbids
 *     become U+FFFD.
 *   - JSON strings, safe inside <script type="application/json">: quotes,
 *     backslashes and controls escaped, and < > & U+2028 U+2029 as \uXXXX, so no
 *     "</script>" or "<!--" can appear and the text parses as JavaScript too.
 */
#ifndef LV_REPORT_ESC_H
#define LV_REPORT_ESC_H

#include <stddef.h>
#include <stdio.h>

void report_html(FILE *f, const char *s);                 /* NULL writes nothing */
void report_html_n(FILE *f, const char *s, size_t n);     /* at most n bytes, cut at a character */
void report_xml(FILE *f, const char *s);
void report_json_str(FILE *f, const char *s);             /* "..." with quotes; NULL -> null */
void report_json_num(FILE *f, double v);                  /* round-trip %.17g; NaN/inf -> null */
/* JSON text from elsewhere: written as is when it is valid UTF-8 without raw
 * control bytes or '<' (a parser already accepted it), else as a JSON string. */
void report_json_raw(FILE *f, const char *json, int parsed_ok);
void report_csv(FILE *f, const char *s);                  /* RFC 4180 field; NULL -> empty */

#endif
