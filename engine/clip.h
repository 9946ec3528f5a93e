/* engine/clip.h — the CLIP vision tower and LLaVA projector of an "mmproj" GGUF
 * file (general.architecture = "clip"); spec: docs/llava-gguf.md §2, §3.5, §6, §7.
 *
 * lv_clip_load() reads and checks every hyper-parameter and every tensor shape
 * before using any of them, then dequantizes all weights to float32 once (the file
 * is closed again). Encoding a preprocessed batch (engine/image.h) gives
 * n_tokens × n_embd float rows ready for the text model, in the batch's mode:
 *
 *   LV_IMAGE_LLAMACPP  as llama.cpp c392e50: block_count − 1 blocks, pixels and the
 *                      activations of F16-weight matmuls rounded to fp16, quick-GELU
 *                      and GELU (tanh) through fp16 tables, 1.6 tiles merged in
 *                      raster order with no unpad and no image_newline.
 *   LV_IMAGE_LLAVA     as the original LLaVA: all block_count stored blocks (the
 *                      converter already dropped CLIP's last layer), f32 activations,
 *                      exact erf GELU in the projector, 1.6 unpad + image_newline.
 *
 * Projectors: "mlp" (mm.0 → GELU → mm.2) and, when mm.2 is absent, the single
 * linear projector of LLaVA v1 (mm.0 only). Other projector types are refused.
 *
 * Matmuls go through OpenBLAS sgemm. An lv_clip holds its weights (immutable after
 * load) and one set of run buffers, so one lv_clip encodes one image at a time.
 * lv_clip_free() frees everything.
 */
#ifndef LV_CLIP_H
#define LV_CLIP_H

#include "engine/base.h"
#include "engine/gguf.h"
#include "engine/image.h"

typedef struct lv_clip lv_clip;

typedef enum { LV_CLIP_PROJ_MLP = 0, LV_CLIP_PROJ_LINEAR = 1 } lv_clip_projector;

typedef struct {
    int   image_size;    /* S */
    int   patch_size;    /* P */
    int   n_patches;     /* (S/P)² per tile */
    int   n_pos;         /* n_patches + 1 with a class token */
    int   n_embd;        /* H, vision hidden size */
    int   n_head;
    int   n_ff;          /* F, from the tensors */
    int   n_layer;       /* block_count: blocks stored */
    float eps;           /* LayerNorm epsilon */
    int   use_gelu;      /* 1: GELU in the ViT MLP, 0: quick-GELU */
    int   use_silu;
    int   has_class;     /* v.class_embd present */
    int   has_pre_ln, has_post_ln;
    lv_clip_projector projector;
    int   proj_hidden;   /* mm.0 output width */
    int   proj_out;      /* output rows' width: the text model's n_embd */
    int   has_newline;   /* model.image_newline present */
} lv_clip_hparams;

/* Loads an mmproj file. NULL on failure with err->msg naming the key or tensor. */
lv_clip *lv_clip_load(const char *path, lv_error *err);
/* Same from an open GGUF handle (not kept: weights are copied out). */
lv_clip *lv_clip_load_gguf(const lv_gguf *g, lv_error *err);
void     lv_clip_free(lv_clip *c);

const lv_clip_hparams *lv_clip_get_hparams(const lv_clip *c);
/* What engine/image needs to preprocess for this model. */
const lv_image_params *lv_clip_image_params(const lv_clip *c);
/* Width of an output row (= the text model's n_embd). */
int lv_clip_n_embd(const lv_clip *c);
/* Number of output rows for a preprocessed batch (its mode included). -1 if the
 * batch does not fit this model. */
int lv_clip_n_tokens(const lv_clip *c, const lv_image_batch *b);

/* Encodes a preprocessed batch: out must hold lv_clip_n_tokens(c, b) × n_embd
 * floats (row-major). */
int lv_clip_encode(lv_clip *c, const lv_image_batch *b, float *out, lv_error *err);
/* One S×S tile (pix: [S][S][3] HWC, normalized) through the tower and projector:
 * out gets n_patches × n_embd floats, patches row-major. */
int lv_clip_encode_tile(lv_clip *c, const float *pix, lv_image_mode mode, float *out,
                        lv_error *err);
/* Convenience: preprocess img in `mode` and encode it. *out (lv_malloc'd,
 * *n_tokens × n_embd) belongs to the caller. */
int lv_clip_encode_image(lv_clip *c, const lv_image *img, lv_image_mode mode, float **out,
                         int *n_tokens, lv_error *err);

/* BLAS threads for the matmuls (0: leave OpenBLAS's default). */
void lv_clip_set_threads(lv_clip *c, int n_threads);

#endif
