/* engine/image.h — images in: decode, resolution reduction, and the two
 * preprocessing modes that turn an RGB image into the normalized tiles the CLIP
 * vision tower reads (spec: docs/llava-gguf.md §3 and §7).
 *
 * Decoding: JPEG and PNG only, with stb_image built hardened in
 * engine/stb_image_impl.c (dimension cap, memory cap, its asserts turned into an
 * error). Every image becomes 8-bit RGB: gray is copied into R, G and B, alpha is
 * dropped without compositing, EXIF orientation is ignored (as clip.cpp and PIL's
 * convert("RGB") do). A corrupt or hostile image is an error, never a crash.
 *
 * Preprocessing modes (lv_image_mode):
 *   LV_IMAGE_LLAVA     the original LLaVA pipeline (PIL + CLIPImageProcessor):
 *                      centred pad-to-square with the mean colour and Pillow's
 *                      bicubic for LLaVA-1.5; anyres with PIL bicubic for 1.6.
 *   LV_IMAGE_LLAMACPP  bit for bit what llama.cpp c392e50 clip.cpp does: top-left
 *                      pad + its bilinear filter (1.5); its cubic filter (1.6).
 * Both produce the same tile layout: [n_img][S][S][3] float32, HWC, where for
 * anyres index 0 is the base image (the whole image squashed to S×S) and 1.. are the
 * grid tiles in row-major order. The token count and the feature merge depend on the
 * mode too; engine/clip does them from the fields of lv_image_batch.
 *
 * Ownership: lv_image and lv_image_batch own their buffers (lv_malloc); free them
 * with lv_image_free / lv_image_batch_free (both accept zeroed structs).
 */
#ifndef LV_IMAGE_H
#define LV_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base.h"

/* ---- limits ------------------------------------------------------------------ */

#define LV_IMAGE_MAX_FILE_BYTES  (64u << 20)   /* encoded file size cap */
#define LV_IMAGE_MAX_SIDE        16384         /* = STBI_MAX_DIMENSIONS */
#define LV_IMAGE_MAX_PIXELS      (40u << 20)   /* w·h cap (≈ 6500×6500) */
#define LV_IMAGE_MAX_PINPOINTS   16            /* (w,h) pairs: clip.cpp reads ≤ 32 ints */
#define LV_IMAGE_MAX_GRID        8             /* tiles per side of an anyres grid */
#define LV_IMAGE_MAX_NORM        1000.0f       /* |mean| ≤ this, 1/this ≤ |std| ≤ this */

/* ---- types ------------------------------------------------------------------- */

/* 8-bit RGB image, rows top to bottom, pixels interleaved: rgb[(y·w + x)·3 + c]. */
typedef struct {
    int      w, h;
    uint8_t *rgb;
} lv_image;

typedef enum {
    LV_IMAGE_LLAVA = 0,      /* default: original LLaVA */
    LV_IMAGE_LLAMACPP = 1    /* llama.cpp c392e50 */
} lv_image_mode;

/* "llava" / "llama.cpp" ↔ mode (the --preprocess values of cli.md). The parser
 * returns -1 for other names. */
int         lv_image_mode_from_name(const char *name);
const char *lv_image_mode_name(lv_image_mode mode);

/* What preprocessing needs from the mmproj file (filled by engine/clip). */
typedef struct {
    int   image_size;                        /* S: side of the square ViT input (336) */
    int   patch_size;                        /* P (14); S/P patches per side */
    float mean[3], std[3];                   /* per-channel RGB normalisation */
    int   n_pinpoints;                       /* 0: LLaVA-1.5 pad path */
    int   pinpoints[LV_IMAGE_MAX_PINPOINTS][2]; /* (width, height), file order */
    int   spatial_unpad;                     /* mm_patch_merge_type = spatial_unpad: no
                                                pad-to-square; with pinpoints, anyres */
} lv_image_params;

/* Preprocessed tiles plus what the merge needs. */
typedef struct {
    int      n_img;          /* 1 (1.5) or 1 + grid_w·grid_h (anyres) */
    int      size;           /* S */
    float   *pix;            /* [n_img][S][S][3] normalized, HWC */
    uint8_t *u8;             /* [n_img][S][S][3] the 8-bit tiles before normalisation
                                (llama.cpp 1.5 path: the bilinear output) */
    lv_image_mode mode;
    int      anyres;         /* 1 when built by the anyres path */
    int      grid_w, grid_h; /* tile columns / rows (anyres) */
    int      orig_w, orig_h; /* size of the image given to lv_image_preprocess */
    int      best_w, best_h; /* chosen pinpoint (anyres) */
    int      resized_w, resized_h, paste_x, paste_y; /* resize_and_pad (anyres) */
} lv_image_batch;

/* ---- decoding ---------------------------------------------------------------- */

/* Decodes a JPEG or PNG held in buf[0..len) into 8-bit RGB. Refuses: empty input,
 * other formats (named when recognised), sides over LV_IMAGE_MAX_SIDE, more than
 * LV_IMAGE_MAX_PIXELS pixels, decoder memory over its cap, corrupt data. On failure
 * *out is zeroed and err->msg says why. */
int  lv_image_decode(const void *buf, size_t len, lv_image *out, lv_error *err);
/* Reads the file (at most LV_IMAGE_MAX_FILE_BYTES) and decodes it. */
int  lv_image_load(const char *path, lv_image *out, lv_error *err);
void lv_image_free(lv_image *img);

/* ---- resolution reduction ---------------------------------------------------- */

/* Size after reducing (w, h) so that the longer side is at most r: the longer side
 * becomes r, the other round(side·r/longer) (at least 1). Never enlarges: when
 * max(w,h) ≤ r (or r ≤ 0) the size is unchanged. */
void lv_image_reduced_size(int w, int h, int r, int *out_w, int *out_h);
/* Area (box) filter to lv_image_reduced_size(): each output pixel is the mean of
 * the source area it covers, fractional pixels weighted by their coverage. When
 * nothing shrinks, *out is a copy. */
int  lv_image_reduce(const lv_image *src, int r, lv_image *out, lv_error *err);

/* ---- preprocessing ----------------------------------------------------------- */

/* Runs the preprocessing of `mode` for the model described by p. */
int  lv_image_preprocess(const lv_image *img, const lv_image_params *p, lv_image_mode mode,
                         lv_image_batch *out, lv_error *err);
void lv_image_batch_free(lv_image_batch *b);

/* The building blocks, exposed for tests. All take and give 8-bit RGB. */
/* clip.cpp bilinear (§3.2) for the 1.5 path: src is square after padding. */
int lv_image_resize_bilinear_llamacpp(const lv_image *src, int s, lv_image *out, lv_error *err);
/* clip.cpp bicubic_resize (§3.3): Lagrange cubic on a corner-aligned grid. */
int lv_image_resize_bicubic_llamacpp(const lv_image *src, int tw, int th, lv_image *out,
                                     lv_error *err);
/* Pillow's Image.resize(BICUBIC) for 8-bit RGB (§7.3). */
int lv_image_resize_bicubic_pil(const lv_image *src, int tw, int th, lv_image *out,
                                lv_error *err);
/* Index of the pinpoint chosen for a w×h image (§3.4 step 1 in float for llama.cpp,
 * §7.4 step 1 in double for llava), or -1 when p has none. */
int lv_image_best_pinpoint(const lv_image_params *p, int w, int h, lv_image_mode mode);

#endif
