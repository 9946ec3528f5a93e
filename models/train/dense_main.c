/* models/train/dense_main.c — crowded training scenes for the vision encoder's
 * grounding stage (train.py --dense): the object-size suite's backgrounds, shapes and
 * colours drawn by the same canvas code, but 6-16 objects of mixed ladder sizes per
 * image with every object's box recorded, so nearly every image token has a labelled
 * object near it (an object-size image has 1-3, most tokens teach nothing).
 * Training data only: these scenes ask no questions and are never evaluated.
 *   dense LABELS N SEED  ->  N raw 336x336 RGB frames on stdout (no PNG: encoding
 *   them was 75 % of the time), one line per image in LABELS:
 *   {"objs":[[combo,x0,y0,x1,y1],...]}, combo = shape * 6 + colour in the suite's orders
 *   (the colours are the suite's own, suite_synth_colour)
 * Build (after make), as gen_main.c:
 *   ar rcs /tmp/libgen.a build/datasets/[*].o build/engine/[*].o build/metrics/[*].o \
 *       build/harness/jsonw.o build/harness/store.o
 *   cc -O2 -I. -o dense models/train/dense_main.c /tmp/libgen.a -lcjson -lm -pthread
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/canvas.h"
#include "datasets/synth.h"

/* The object-size ladder, weighted toward 12-48 px: the sizes whose shape a 112-px
 * encoder can still see (a quarter to a third of the canvas scale), and room for more
 * objects than the 64-96 px ones leave. */
static const int ladder[] = {4, 6, 8, 12, 16, 24, 32, 48, 64, 96};
static const int weight[] = {1, 1, 1, 2, 3, 3, 3, 2, 1, 1};
#define N_LADDER ((int)(sizeof ladder / sizeof ladder[0]))

static int pick_size(suite_rng *r)
{
    int total = 0, k;
    for (int i = 0; i < N_LADDER; i++) total += weight[i];
    k = (int)suite_rng_below(r, (uint32_t)total);
    for (int i = 0; i < N_LADDER; i++)
        if ((k -= weight[i]) < 0) return ladder[i];
    return ladder[N_LADDER - 1];
}
#define SZ SUITE_SYNTH_SIZE
#define MARGIN 8
#define MAX_OBJ 16
#define N_COMBO (SUITE_SHAPE_COUNT * SUITE_SYNTH_N_COLOURS)

typedef struct { int x0, y0, s; } sq;

static int overlaps(const sq *a, int n, int x0, int y0, int s)
{
    for (int i = 0; i < n; i++) {
        int big = s > a[i].s ? s : a[i].s, gap = big / 4 > 4 ? big / 4 : 4;   /* place_on_grid's gap */
        if (x0 < a[i].x0 + a[i].s + gap && a[i].x0 < x0 + s + gap &&
            y0 < a[i].y0 + a[i].s + gap && a[i].y0 < y0 + s + gap)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) { fprintf(stderr, "dense LABELS N SEED > frames\n"); return 2; }
    int n = atoi(argv[2]);
    uint64_t seed = strtoull(argv[3], NULL, 10);
    FILE *lab = fopen(argv[1], "w");
    if (!lab) { perror(argv[1]); return 1; }
    for (int im = 0; im < n; im++) {
        suite_rng r;
        suite_canvas cv;
        lv_error err = {{0}};
        uint8_t g[3];
        sq placed[MAX_OBJ];
        int sizes[MAX_OBJ], combos[MAX_OBJ], k, np = 0;
        suite_box box[MAX_OBJ];
        suite_rng_seed(&r, suite_mix(seed, (uint64_t)im));
        /* the suite's grey background: one level 100-160, solid or ±6 noise */
        memset(g, suite_rng_range(&r, 100, 160), 3);
        suite_bg_kind bg = suite_rng_below(&r, 2) ? SUITE_BG_NOISE : SUITE_BG_SOLID;
        uint64_t bg_seed = suite_rng_next(&r);
        if (suite_canvas_init(&cv, SZ, SZ, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        suite_canvas_background(&cv, bg, g, g, 6, bg_seed);
        k = suite_rng_range(&r, 6, MAX_OBJ);
        for (int i = 0; i < k; i++) {
            sizes[i] = pick_size(&r);
            combos[i] = (int)suite_rng_below(&r, N_COMBO);
        }
        for (int i = 1; i < k; i++)   /* large first: they are the hard ones to fit */
            for (int j = i; j > 0 && sizes[j] > sizes[j - 1]; j--) {
                int t = sizes[j]; sizes[j] = sizes[j - 1]; sizes[j - 1] = t;
            }
        fprintf(lab, "{\"objs\":[");
        for (int i = 0; i < k; i++) {
            int s = sizes[i];
            for (int t = 0; t < 40; t++) {
                int x0 = suite_rng_range(&r, MARGIN, SZ - MARGIN - s), y0 = suite_rng_range(&r, MARGIN, SZ - MARGIN - s);
                if (overlaps(placed, np, x0, y0, s)) continue;
                placed[np] = (sq){x0, y0, s};
                box[np] = suite_canvas_shape(&cv, (suite_shape)(combos[i] / SUITE_SYNTH_N_COLOURS), x0, y0, s,
                                             suite_synth_colour(combos[i] % SUITE_SYNTH_N_COLOURS));
                fprintf(lab, "%s[%d,%d,%d,%d,%d]", np ? "," : "", combos[i], box[np].x0, box[np].y0, box[np].x1,
                        box[np].y1);
                np++;
                break;
            }
        }
        fprintf(lab, "]}\n");
        if (fwrite(cv.px, 1, (size_t)SZ * SZ * 3, stdout) != (size_t)SZ * SZ * 3) { perror("stdout"); return 1; }
        suite_canvas_free(&cv);
    }
    if (fclose(lab) || fflush(stdout)) { perror("dense"); return 1; }
    return 0;
}
