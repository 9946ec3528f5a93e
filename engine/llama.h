/* engine/llama.h — the LLaMA text model of a LLaVA pair (llava-gguf.md §1), with a
 * KV cache that can be snapshotted and restored.
 *
 * Two objects, kept apart:
 *   lv_llama      the model: hyper-parameters and weights. Weights are views into
 *                 the GGUF mapping (the lv_gguf must outlive the model) unless the
 *                 load re-quantizes them, in which case the model owns the copies.
 *                 Immutable after load; several contexts may share one model.
 *   lv_llama_ctx  one run: the F16 KV cache sized for n_ctx positions, the
 *                 activation buffers for n_batch rows and the logits. Everything is
 *                 allocated by lv_llama_ctx_new(); evaluating allocates nothing.
 *
 * Numerics follow llama.cpp's CPU backend (llava-gguf.md §1.5, gguf-quant-tokenizer.md
 * §3): activations are converted to each weight's vec_dot_type, K and V are stored as
 * f16, Q is rounded to f16 for QKᵀ, softmax is f32 (sum in double), the probabilities
 * are rounded to f16 before ·V, RMSNorm sums squares in double, RoPE is the NORM
 * (adjacent pair) variant with θ as a running f32 product. A row's result does not
 * depend on how rows are batched, so prefix + suffix evaluated separately gives the
 * same bits as both together.
 *
 * Errors: functions that fail fill err and return -1 / NULL.
 */
#ifndef LV_LLAMA_H
#define LV_LLAMA_H

#include <stdint.h>

#include "engine/base.h"
#include "engine/gguf.h"

typedef struct {
    int32_t n_vocab;      /* rows of token_embd */
    int32_t n_ctx_train;  /* llama.context_length */
    int32_t n_embd;       /* model width */
    int32_t n_layer;
    int32_t n_ff;         /* FFN hidden width */
    int32_t n_head;       /* query heads */
    int32_t n_head_kv;    /* key/value heads (GQA: n_head is a multiple) */
    int32_t head_dim;     /* n_embd / n_head */
    int32_t n_embd_kv;    /* head_dim * n_head_kv */
    float   eps;          /* RMSNorm epsilon */
    float   rope_base;    /* RoPE frequency base */
    float   freq_scale;   /* 1 / rope scaling factor (linear) */
    int     tied_output;  /* 1 when output.weight is absent and token_embd is reused */
} lv_llama_hparams;

typedef struct {
    int requant_type;     /* -1: the file's types; else every 2-D weight re-quantized to
                             this lv_type at load with the reference quantizer */
} lv_llama_opts;

typedef struct lv_llama lv_llama;
typedef struct lv_llama_ctx lv_llama_ctx;
typedef struct lv_llama_snapshot lv_llama_snapshot;

/* Loads the model from an open GGUF (general.architecture = "llama"). Checks every
 * hyper-parameter's range and every tensor's presence, type and shape; a bad file is
 * a load error with a message naming the key or tensor. opts may be NULL. */
lv_llama *lv_llama_load(const lv_gguf *g, const lv_llama_opts *opts, lv_error *err);
void      lv_llama_free(lv_llama *m);
const lv_llama_hparams *lv_llama_hparams_of(const lv_llama *m);
/* lv_type of the largest weight class (the FFN matrices), for reports. */
int lv_llama_main_type(const lv_llama *m);

/* A run context for up to n_ctx positions, evaluating up to n_batch rows per internal
 * step and keeping logits for up to n_logits rows (LV_LOGITS_ALL). n_threads ≥ 1. */
lv_llama_ctx *lv_llama_ctx_new(const lv_llama *m, int32_t n_ctx, int32_t n_batch,
                               int32_t n_logits, int n_threads, lv_error *err);
void          lv_llama_ctx_free(lv_llama_ctx *c);
int32_t       lv_llama_n_past(const lv_llama_ctx *c);
int32_t       lv_llama_n_ctx(const lv_llama_ctx *c);
const lv_llama *lv_llama_model(const lv_llama_ctx *c);

enum { LV_LOGITS_NONE = 0, LV_LOGITS_LAST = 1, LV_LOGITS_ALL = 2 };

/* Appends n rows at positions n_past … n_past+n-1: token ids (tokens != NULL) or
 * embedding rows (embd: [n][n_embd] f32, e.g. projector output). logits:
 *   LV_LOGITS_NONE  nothing computed (the previous logits become invalid);
 *   LV_LOGITS_LAST  the logits of row n-1, read with lv_llama_logits(c, 0);
 *   LV_LOGITS_ALL   the logits of every row (n ≤ n_logits), lv_llama_logits(c, i).
 * Fails without side effects when the context is full or a token id is out of
 * range. */
int lv_llama_eval(lv_llama_ctx *c, const int32_t *tokens, const float *embd, int32_t n,
                  int logits, lv_error *err);
/* Logits row i of the last eval ([n_vocab] f32), or NULL when there is none. */
const float *lv_llama_logits(const lv_llama_ctx *c, int32_t i);

/* Forgets positions ≥ n_past (0 ≤ n_past ≤ current); the logits become invalid. */
int lv_llama_rewind(lv_llama_ctx *c, int32_t n_past, lv_error *err);

/* Snapshot of a context's state: positions [0, n_past) of the KV cache and the last
 * logits row. Restoring it into a context of the same model (with n_ctx ≥ the saved
 * n_past) continues exactly as the saved context would have: evaluating a suffix after
 * a restore gives bit-identical logits to evaluating prefix + suffix from scratch.
 * Restoring into the context that saved it, when nothing below the saved n_past has
 * been overwritten since, copies nothing. The snapshot is owned by the caller. */
lv_llama_snapshot *lv_llama_snapshot_save(lv_llama_ctx *c, lv_error *err);
int  lv_llama_snapshot_restore(lv_llama_ctx *c, const lv_llama_snapshot *s, lv_error *err);
void lv_llama_snapshot_free(lv_llama_snapshot *s);
int32_t lv_llama_snapshot_n_past(const lv_llama_snapshot *s);

#endif
