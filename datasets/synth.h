/* datasets/synth.h — procedural detail-loss suites, generated from a seed.
 *
 * Kinds (one row each in synth.c's table):
 *   text-size    one word per image, capitals 6..64 px tall, on solid, gradient, noise
 *                or striped backgrounds; "What word is written in the image?";
 *                metrics exact + anls; meta.detail_px = cap height.
 *   object-size  1-3 shapes of one size (4..96 px) per image; two POPE-style probes per
 *                image, one yes and one no, the no drawn as random, popular (most
 *                popular absent shape/colour) or adversarial (the absent partner that
 *                co-occurs with the asked object 60% of the time); category = that
 *                negative type (meta.negative_from says how the "no" object was picked:
 *                random, popular, partner, or look-alike when the partner is present);
 *                yes/no exactly balanced.
 *   count        1-8 copies of one shape/colour among 0-3 distractors; answer a digit.
 *   position     two shapes; "Is the A to the left of / right of / above / below the
 *                B?"; half yes, half no; category = the relation asked.
 * Images are 336×336 RGB PNG (LLaVA-1.5's input size, so resolution sweeps start at
 * native detail). Every sample's meta has detail_px (size of the detail in source
 * pixels) and boxes ([[x0,y0,x1,y1],...], the exact extent of the pixels each detail
 * changed, end-exclusive).
 *
 * Determinism: each image draws from its own PRNG stream seeded by (seed, kind, index),
 * all layout is integer, no clock, locale or hash order is consulted; the same seed,
 * kind, n and font file give byte-identical files.
 *
 * Ownership: suite_make writes a folder and owns nothing afterwards;
 * suite_make_render fills a canvas the caller frees with suite_canvas_free and a meta
 * string the caller frees with lv_free.
 */
#ifndef LV_SYNTH_H
#define LV_SYNTH_H

#include <stdint.h>

#include "datasets/canvas.h"
#include "engine/base.h"

#define SUITE_SYNTH_SIZE    336
#define SUITE_SYNTH_VERSION "1"
#define SUITE_DEFAULT_FONT  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

typedef struct {
    const char *kind;   /* text-size, object-size, count, position */
    int         n;      /* samples (object-size rounds up to an even number) */
    uint64_t    seed;
    const char *font;   /* TrueType file for text-size; NULL = SUITE_DEFAULT_FONT */
} suite_make_opts;

/* The shapes' colours, in combo order (a combo is shape * SUITE_SYNTH_N_COLOURS +
 * colour): RGB of colour i, or NULL outside 0..SUITE_SYNTH_N_COLOURS-1. */
#define SUITE_SYNTH_N_COLOURS 6
const uint8_t *suite_synth_colour(int i);

/* Names of the kinds, NULL-terminated, for help and listing. */
extern const char *const suite_make_kinds[];
/* One-line description of a kind, or NULL if unknown. */
const char *suite_make_describe(const char *kind);

/* Generates the suite into dir (created; must not already hold a suite). */
int suite_make(const suite_make_opts *o, const char *dir, lv_error *err);

/* Renders image `image` of the suite o describes, with or without its details (the
 * shapes or the word), into out (initialised here), and its meta JSON. For tests:
 * the pixels that differ between the two renders are the ground truth. */
int suite_make_render(const suite_make_opts *o, int image, int with_detail,
                      suite_canvas *out, char **meta_json, lv_error *err);

#endif
