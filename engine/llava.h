/* engine/llava.h — the facade the harness calls: a LLaVA pair (text GGUF + mmproj)
 * loaded once, images encoded, prompts built, answers generated or scored.
 *
 * The work of one image is split so it can be shared by every question about it:
 *
 *   lv_llava_encode        image bytes -> projector rows (after --resolution
 *                          reduction and the mode's preprocessing);
 *   lv_llava_prefix_eval   the prompt up to the image (system part + image rows)
 *                          evaluated once and snapshotted;
 *   lv_llava_generate /    restore that snapshot, evaluate the question's tokens,
 *   lv_llava_choice        then generate text or score candidate answers.
 *
 * Restoring a prefix and continuing gives bit-identical logits to evaluating the
 * whole prompt from scratch, so reuse never changes an answer.
 *
 * Ownership: lv_llava_load returns a model the caller frees with lv_llava_free.
 * Encoded images, prefixes and results are caller-owned and freed with their
 * _free functions. One lv_llava is used by one thread at a time.
 */
#ifndef LV_LLAVA_H
#define LV_LLAVA_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base.h"
#include "engine/image.h"
#include "engine/tokenizer.h"

typedef struct lv_llava lv_llava;

typedef struct {
    const char   *model_path;    /* text model GGUF (required) */
    const char   *mmproj_path;   /* CLIP + projector GGUF; NULL for text only */
    int           requant_type;  /* -1: the file's weight types; else an lv_type to
                                    re-quantize every 2-D text weight to at load */
    int           n_ctx;         /* context positions; 0: 4096 capped at the model's */
    int           n_threads;     /* >= 1 */
    lv_image_mode mode;          /* preprocessing: LV_IMAGE_LLAVA (default) or LLAMACPP */
    int           template_id;   /* LV_TPL_*; -1: from the file's chat template, else llava-1.5 */
} lv_llava_params;

lv_llava *lv_llava_load(const lv_llava_params *p, lv_error *err);
void      lv_llava_free(lv_llava *l);
const lv_tokenizer *lv_llava_tokenizer(const lv_llava *l);
int       lv_llava_has_vision(const lv_llava *l);
int       lv_llava_n_embd(const lv_llava *l);
int       lv_llava_template(const lv_llava *l);
/* lv_type of the text model's main weights (after re-quantization). */
int       lv_llava_weight_type(const lv_llava *l);

/* ---------------------------------------------------------------- images */

typedef struct {
    float  *rows;        /* [n_tokens][n_embd] projector output */
    int     n_tokens, n_embd;
    int     width, height;      /* decoded size */
    int     used_w, used_h;     /* after --resolution reduction */
    double  encode_ms;          /* decode + preprocess + vision tower */
    float  *pixels;      /* optional: the preprocessed tensor ([tiles][S][S][3] HWC) */
    size_t  n_pixels;    /* floats in pixels; 0 when not kept */
} lv_llava_image;

/* Decodes (JPEG or PNG from memory), reduces so the longer side is at most
 * `resolution` pixels (0: native; never enlarges), preprocesses in the model's
 * mode and encodes. keep_pixels: also return the preprocessed tensor. */
int  lv_llava_encode(lv_llava *l, const void *bytes, size_t len, int resolution, int keep_pixels,
                     lv_llava_image *out, lv_error *err);
void lv_llava_image_free(lv_llava_image *img);

/* ---------------------------------------------------------------- prompts */

/* The evaluated prompt up to and including the image: its snapshot and ids. */
typedef struct lv_llava_prefix lv_llava_prefix;

/* Evaluates the template's system part followed by img's rows (img may be NULL for
 * a text-only prompt) and snapshots the state. For prompts whose system part
 * depends on the question (a "<image>" marker in template mode), pass that
 * question as system_hint; otherwise NULL. */
int  lv_llava_prefix_eval(lv_llava *l, const lv_llava_image *img, const char *system_hint,
                          lv_llava_prefix **out, double *prefill_ms, lv_error *err);
void lv_llava_prefix_free(lv_llava_prefix *p);

typedef struct {
    int      n_predict;     /* new tokens at most */
    float    temp;          /* <= 0: greedy */
    uint64_t seed;
    int      top_k;         /* alternatives reported per step (0..32) */
    const int32_t *force;   /* teacher forcing: feed these ids instead of sampling */
    int      n_force;
} lv_llava_gen;

typedef struct {
    int32_t id, argmax;
    float   logprob;        /* log p(id) */
    int     n_top;
    int32_t top_id[32];
    float   top_logit[32];
    float   top_logprob[32];
    float   margin;         /* top-1 minus top-2 logit */
} lv_llava_step;

typedef struct {
    int32_t       *prompt_ids;   /* whole prompt, image rows as -1 */
    int64_t        n_prompt;
    int32_t       *ids;          /* generated (or forced) ids */
    int64_t        n_ids;
    lv_llava_step *steps;        /* [n_ids] the logits each id was chosen from */
    char          *text;         /* detokenized generated text (NUL-terminated) */
    size_t         text_len;
    const char    *stop;         /* "eos", "n_predict", "stop_string", "context" */
    double         prefill_ms, decode_ms;
    float         *logits0;      /* [n_vocab] logits at the last prompt position */
    int32_t        n_vocab;
} lv_llava_result;

/* Restores prefix, evaluates the question in the template, generates. */
int  lv_llava_generate(lv_llava *l, lv_llava_prefix *prefix, const char *question,
                       const lv_llava_gen *g, lv_llava_result *out, lv_error *err);
void lv_llava_result_free(lv_llava_result *r);

/* Restores prefix, evaluates the question, then returns for each candidate text
 * (e.g. "Yes", "No") the log-probability of its tokens as the answer's start. */
int  lv_llava_choice(lv_llava *l, lv_llava_prefix *prefix, const char *question,
                     const char *const *cands, int n_cands, double *logprob, lv_error *err);

#endif
