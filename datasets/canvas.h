/* datasets/canvas.h — the small raster toolkit the procedural suites draw with:
 * an RGB canvas, anti-aliased shapes, TrueType text (stb_truetype), PNG encoding
 * (stb_image_write) and a seeded PRNG. Everything is integer or fixed-order float
 * arithmetic, so the same inputs give the same bytes on every run.
 *
 * Drawing functions report the exact bounding box of the pixels they changed
 * (suite_box), which is the ground truth the procedural suites record.
 *
 * Ownership: suite_canvas_init allocates px, freed by suite_canvas_free;
 * suite_font_load returns a font freed by suite_font_free; suite_png_encode returns a
 * buffer the caller frees with free().
 */
#ifndef LV_CANVAS_H
#define LV_CANVAS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base.h"

/* ---- PRNG: splitmix64 seeding + xoshiro256** ---- */
typedef struct { uint64_t s[4]; } suite_rng;

void     suite_rng_seed(suite_rng *r, uint64_t seed);
uint64_t suite_rng_next(suite_rng *r);
/* Uniform in [0, n), unbiased (rejection); n > 0. */
uint32_t suite_rng_below(suite_rng *r, uint32_t n);
/* Uniform in [lo, hi] (inclusive). */
int      suite_rng_range(suite_rng *r, int lo, int hi);
/* Mixes several values into one well-spread 64-bit seed. */
uint64_t suite_mix(uint64_t a, uint64_t b);

/* ---- Canvas ---- */
typedef struct {
    int      w, h;
    uint8_t *px;         /* w*h*3 bytes, RGB, rows top to bottom */
} suite_canvas;

/* Bounding box of changed pixels: x0 <= x < x1, y0 <= y < y1; empty when x1 <= x0. */
typedef struct { int x0, y0, x1, y1; } suite_box;

int  suite_canvas_init(suite_canvas *c, int w, int h, lv_error *err);
void suite_canvas_free(suite_canvas *c);

typedef enum { SUITE_BG_SOLID, SUITE_BG_GRADIENT, SUITE_BG_NOISE, SUITE_BG_STRIPES, SUITE_BG_COUNT } suite_bg_kind;
extern const char *const suite_bg_names[SUITE_BG_COUNT];
/* Fills the canvas: solid a; vertical gradient a→b; a plus ±amp noise from seed;
 * diagonal stripes of a and b. */
void suite_canvas_background(suite_canvas *c, suite_bg_kind kind, const uint8_t a[3],
                             const uint8_t b[3], int amp, uint64_t seed);

typedef enum {
    SUITE_SHAPE_CIRCLE, SUITE_SHAPE_SQUARE, SUITE_SHAPE_TRIANGLE,
    SUITE_SHAPE_DIAMOND, SUITE_SHAPE_STAR, SUITE_SHAPE_CROSS, SUITE_SHAPE_COUNT
} suite_shape;
extern const char *const suite_shape_names[SUITE_SHAPE_COUNT];
extern const char *const suite_shape_plurals[SUITE_SHAPE_COUNT];

/* Draws shape filling the size×size square at (x0, y0) with 4×4 supersampling.
 * Returns the box of changed pixels. */
suite_box suite_canvas_shape(suite_canvas *c, suite_shape shape, int x0, int y0, int size, const uint8_t rgb[3]);

/* ---- Text ---- */
typedef struct suite_font suite_font;

/* Loads a TrueType file (at most 32 MiB). NULL with err when missing or invalid. */
suite_font *suite_font_load(const char *path, lv_error *err);
void        suite_font_free(suite_font *f);
/* SHA-256 hex of the font file (for provenance). */
const char *suite_font_sha256(const suite_font *f);
/* Advance width in pixels of text drawn with capital letters cap_px tall. */
int         suite_font_width(const suite_font *f, const char *text, int cap_px);
/* Draws ASCII text with its pen at (x, baseline), capitals cap_px tall.
 * Returns the box of changed pixels. */
suite_box   suite_canvas_text(suite_canvas *c, const suite_font *f, const char *text, int x, int baseline,
                              int cap_px, const uint8_t rgb[3]);

/* PNG bytes of the canvas (free with free()); NULL on allocation failure. */
uint8_t *suite_png_encode(const suite_canvas *c, size_t *len);

#endif
