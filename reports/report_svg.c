/* reports/report_svg.c — see report_svg.h. */
#include "reports/report_svg.h"

#include <math.h>
#include <string.h>

#include "reports/report_esc.h"

static const char *const okabe_ito[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                        "#E69F00", "#56B4E9", "#000000", "#999999"};

const char *rs_color(size_t i) { return okabe_ito[i % 8]; }

/* viridis, sampled: small detail dark purple, large detail yellow-green */
static const char *const ramp[] = {"#440154", "#482878", "#3E4A89", "#31688E", "#26828E",
                                   "#1F9E89", "#35B779", "#6DCD59", "#B4DE2C", "#FDE725"};

const char *rs_ramp(size_t i, size_t n)
{
    if (n <= 1) return ramp[3];
    size_t k = i * 8 / (n - 1);   /* 0..8: skip the palest shade, hard to see on white */
    return ramp[k > 8 ? 8 : k];
}

typedef struct {
    double x0, x1, y0, y1;       /* data range */
    double px0, px1, py0, py1;   /* plot area in pixels (py0 bottom) */
    int    xlog;
} frame;

static double fx(const frame *fr, double x)
{
    double a = fr->xlog ? log(x) : x, lo = fr->xlog ? log(fr->x0) : fr->x0, hi = fr->xlog ? log(fr->x1) : fr->x1;
    double t = hi > lo ? (a - lo) / (hi - lo) : 0.5;
    return fr->px0 + t * (fr->px1 - fr->px0);
}

static double fy(const frame *fr, double y)
{
    if (y < fr->y0) y = fr->y0;
    if (y > fr->y1) y = fr->y1;
    double t = fr->y1 > fr->y0 ? (y - fr->y0) / (fr->y1 - fr->y0) : 0.5;
    return fr->py0 - t * (fr->py0 - fr->py1);
}

static void open_svg(FILE *f, const rs_chart *c, int w, int h)
{
    fprintf(f, "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" role=\"img\"><title>", w, h, w, h);
    report_html(f, c->title);
    fputs("</title>", f);
    fprintf(f, "<text x=\"%d\" y=\"18\" text-anchor=\"middle\" class=\"ct\">", w / 2);
    report_html(f, c->title);
    fputs("</text>", f);
}

static void axes(FILE *f, const rs_chart *c, const frame *fr, int w, int h, int xauto)
{
    /* y grid and labels */
    for (int i = 0; i <= 5; i++) {
        double v = fr->y0 + (fr->y1 - fr->y0) * i / 5, y = fy(fr, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", fr->px0, y, fr->px1, y);
        if (c->ypercent) fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"tk\">%.0f%%</text>",
                                 fr->px0 - 4, y + 4, 100 * v);
        else fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"tk\">%.3g</text>", fr->px0 - 4, y + 4, v);
    }
    /* x ticks */
    if (c->xticks) {
        for (size_t i = 0; i < c->nxticks; i++) {
            if (!isfinite(c->xticks[i]) || (fr->xlog && c->xticks[i] <= 0)) continue;
            double x = fx(fr, c->xticks[i]);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", x, fr->py0, x, fr->py1);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"tk\">", x, fr->py0 + 14);
            if (c->xtick_labels) report_html(f, c->xtick_labels[i]);
            else fprintf(f, "%g", c->xticks[i]);
            fputs("</text>", f);
        }
    } else if (xauto && fr->xlog && fr->x1 / fr->x0 >= 10) {
        /* powers of ten on a log axis */
        for (double v = pow(10, ceil(log10(fr->x0))); v <= fr->x1 * 1.0000001; v *= 10) {
            double x = fx(fr, v);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", x, fr->py0, x, fr->py1);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"tk\">%g</text>", x, fr->py0 + 14, v);
        }
    } else if (xauto) {
        for (int i = 0; i <= 4; i++) {
            double v = fr->xlog ? exp(log(fr->x0) + (log(fr->x1) - log(fr->x0)) * i / 4) : fr->x0 + (fr->x1 - fr->x0) * i / 4;
            double x = fx(fr, v);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", x, fr->py0, x, fr->py1);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"tk\">%.3g</text>", x, fr->py0 + 14, v);
        }
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>", fr->px0, fr->py1,
            fr->px1 - fr->px0, fr->py0 - fr->py1);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"al\">", (fr->px0 + fr->px1) / 2, h - 6);
    report_html(f, c->xlabel);
    fprintf(f, "</text><text transform=\"translate(14,%.1f) rotate(-90)\" text-anchor=\"middle\" class=\"al\">",
            (fr->py0 + fr->py1) / 2);
    report_html(f, c->ylabel);
    fputs("</text>", f);
    (void)w;
}

static void legend(FILE *f, const rs_series *s, size_t ns, double x, double y0, int bars)
{
    for (size_t k = 0; k < ns; k++) {
        double y = y0 + 16.0 * (double)k;
        if (bars)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\"/>", x, y - 8, s[k].color);
        else
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"%s/>", x,
                    y - 4, x + 16, y - 4, s[k].color, s[k].dashed ? " stroke-dasharray=\"5 3\"" : "");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"lg\">", x + 20, y);
        report_html_n(f, s[k].label, 40);
        fputs("</text>", f);
    }
}

void rs_line_chart(FILE *f, const rs_chart *c, const rs_series *s, size_t ns)
{
    int w = c->width ? c->width : 480, h = c->height ? c->height : 300;
    int legend_w = ns ? 170 : 0;
    frame fr = {c->xmin, c->xmax, c->ymin, c->ymax, 52, w - 12 - legend_w, h - 36, 28, c->xlog};
    if (fr.y0 == fr.y1) { fr.y0 = 0; fr.y1 = 1; }
    if (fr.x0 == fr.x1) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t k = 0; k < ns; k++)
            for (size_t i = 0; i < s[k].n; i++)
                if (isfinite(s[k].x[i]) && (!c->xlog || s[k].x[i] > 0)) {
                    if (s[k].x[i] < lo) lo = s[k].x[i];
                    if (s[k].x[i] > hi) hi = s[k].x[i];
                }
        if (!isfinite(lo)) { lo = c->xlog ? 1 : 0; hi = lo + 1; }
        if (hi == lo) { lo = c->xlog ? lo / 2 : lo - 1; hi = c->xlog ? hi * 2 : hi + 1; }
        else if (c->xlog) { lo /= 1.15; hi *= 1.15; }
        fr.x0 = lo;
        fr.x1 = hi;
    }
    open_svg(f, c, w, h);
    axes(f, c, &fr, w, h, 1);
    if (c->diagonal)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"diag\"/>", fx(&fr, fr.x0),
                fy(&fr, fr.y0), fx(&fr, fr.x1), fy(&fr, fr.y1));
    if (c->hline > 0 && isfinite(c->hline)) {
        double y = fy(&fr, c->hline);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"chance\"/>", fr.px0, y, fr.px1, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"tk\">", fr.px1 - 3, y - 3);
        report_html(f, c->hline_label);
        fputs("</text>", f);
    }
    for (size_t i = 0; i < c->nvmarks; i++) {
        if (c->xlog && !(c->vmarks[i] > 0)) continue;
        double x = fx(&fr, c->vmarks[i]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"mark\"/>", x, fr.py0, x, fr.py1);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\">", x + 2, fr.py1 + 10 + 10.0 * (double)(i % 3));
        if (c->vmark_labels) report_html(f, c->vmark_labels[i]);
        fputs("</text>", f);
    }
    for (size_t k = 0; k < ns; k++) {
        const rs_series *r = &s[k];
        /* the interval band: upper edge forward, lower edge back, per unbroken run */
        if (r->lo && r->hi) {
            size_t i = 0;
            while (i < r->n) {
                size_t j = i;
                while (j < r->n && isfinite(r->x[j]) && isfinite(r->lo[j]) && isfinite(r->hi[j]) &&
                       (!c->xlog || r->x[j] > 0))
                    j++;
                if (j > i) {
                    fprintf(f, "<polygon fill=\"%s\" fill-opacity=\"0.15\" stroke=\"none\" points=\"", r->color);
                    for (size_t t = i; t < j; t++) fprintf(f, "%.1f,%.1f ", fx(&fr, r->x[t]), fy(&fr, r->hi[t]));
                    for (size_t t = j; t > i; t--) fprintf(f, "%.1f,%.1f ", fx(&fr, r->x[t - 1]), fy(&fr, r->lo[t - 1]));
                    fputs("\"/>", f);
                }
                i = j + 1;
            }
        }
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"%s points=\"", r->color,
                r->dashed ? " stroke-dasharray=\"6 3\"" : "");
        for (size_t i = 0; i < r->n; i++)
            if (isfinite(r->x[i]) && isfinite(r->y[i]) && (!c->xlog || r->x[i] > 0))
                fprintf(f, "%.1f,%.1f ", fx(&fr, r->x[i]), fy(&fr, r->y[i]));
        fputs("\"/>", f);
        if (r->n <= 40)
            for (size_t i = 0; i < r->n; i++)
                if (isfinite(r->x[i]) && isfinite(r->y[i]) && (!c->xlog || r->x[i] > 0))
                    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>", fx(&fr, r->x[i]),
                            fy(&fr, r->y[i]), r->color);
    }
    legend(f, s, ns, fr.px1 + 12, fr.py1 + 10, 0);
    fputs("</svg></figure>\n", f);
}

void rs_bar_chart(FILE *f, const rs_chart *c, const char *const *groups, size_t ngroups, const rs_series *s,
                  size_t ns)
{
    int w = c->width ? c->width : 480, h = c->height ? c->height : 300;
    int legend_w = ns ? 170 : 0;
    frame fr = {0, 1, c->ymin, c->ymax, 52, w - 12 - legend_w, h - 36, 28, 0};
    if (fr.y0 == fr.y1) { fr.y0 = 0; fr.y1 = 1; }
    open_svg(f, c, w, h);
    axes(f, c, &fr, w, h, 0);
    double gw = ngroups ? (fr.px1 - fr.px0) / (double)ngroups : 0, bw = ns ? gw * 0.8 / (double)ns : 0;
    for (size_t g = 0; g < ngroups; g++) {
        double gx = fr.px0 + gw * (double)g + gw * 0.1;
        for (size_t k = 0; k < ns; k++) {
            if (g >= s[k].n || !isfinite(s[k].y[g])) continue;
            double x = gx + bw * (double)k, y = fy(&fr, s[k].y[g]);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x, y, bw * 0.9,
                    fr.py0 - y, s[k].color);
            if (s[k].lo && s[k].hi && isfinite(s[k].lo[g]) && isfinite(s[k].hi[g])) {
                double xm = x + bw * 0.45;
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"err\"/>", xm,
                        fy(&fr, s[k].lo[g]), xm, fy(&fr, s[k].hi[g]));
            }
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"tk\">", gx + gw * 0.4, fr.py0 + 14);
        report_html_n(f, groups[g], 18);
        fputs("</text>", f);
    }
    legend(f, s, ns, fr.px1 + 12, fr.py1 + 10, 1);
    fputs("</svg></figure>\n", f);
}
