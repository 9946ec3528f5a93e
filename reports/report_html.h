/* reports/report_html.h — the self-contained HTML report.
 *
 * One file that opens offline: no external scripts, fonts, images or styles, and no
 * executing script at all. Charts are inline SVG (report_svg.h); the sample
 * browser's "flips only" filter is a CSS checkbox. A Content-Security-Policy meta
 * tag forbids everything but inline style and data: images. All text that came
 * from a model or dataset is escaped (report_esc.h); the machine-readable summary
 * sits in <script type="application/json" id="llava-eval-data"> (never executed)
 * with < > & U+2028 U+2029 escaped as \uXXXX.
 */
#ifndef LV_REPORT_HTML_H
#define LV_REPORT_HTML_H

#include <stdio.h>

#include "reports/report_data.h"

/* Writes the report of runs[0..nruns) to f. source names the store (shown as text).
 * 0, or -1 when memory ran out (the output is then incomplete). */
int report_html_write(FILE *f, const rp_run *runs, size_t nruns, const char *source);

#endif
