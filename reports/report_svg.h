/* reports/report_svg.h — inline SVG charts drawn by our code (no scripts, no fonts,
 * no external anything): line charts with interval bands, grouped bar charts.
 *
 * Every label is escaped with report_html(). NaN points are skipped (a line
 * breaks there). Coordinates are written with %.1f, so output is small and stable.
 */
#ifndef LV_REPORT_SVG_H
#define LV_REPORT_SVG_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char   *label;
    const char   *color;         /* "#rrggbb" from our palette, never from data */
    size_t        n;
    const double *x, *y;         /* [n]; bar charts ignore x (one y per group) */
    const double *lo, *hi;       /* interval per point, or NULL */
    int           dashed;
} rs_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    int    width, height;        /* 0: 480 x 300 */
    int    xlog;                 /* logarithmic x axis */
    double xmin, xmax;           /* equal: from the data */
    double ymin, ymax;           /* equal: 0..1 */
    int    ypercent;             /* y tick labels as percentages */
    const double *xticks;        /* tick positions, or NULL for automatic */
    const char *const *xtick_labels;
    size_t nxticks;
    int    diagonal;             /* draw y = x (ROC) */
    double hline;                /* a dashed horizontal reference (e.g. chance), NaN or 0 for none */
    const char *hline_label;
    const double *vmarks;        /* vertical reference lines with labels */
    const char *const *vmark_labels;
    size_t nvmarks;
} rs_chart;

/* Palettes: categorical (Okabe–Ito) and an ordered dark-to-light ramp for sizes. */
const char *rs_color(size_t i);
const char *rs_ramp(size_t i, size_t n);

void rs_line_chart(FILE *f, const rs_chart *c, const rs_series *s, size_t ns);
/* Groups along x (group labels), one bar per series in each group (s[k].y[g]). */
void rs_bar_chart(FILE *f, const rs_chart *c, const char *const *groups, size_t ngroups,
                  const rs_series *s, size_t ns);

#endif
