/* engine/sampler.h — choosing tokens from logits, and scoring answers.
 *
 *   lv_argmax / lv_logprob / lv_top_k   pure functions over one logits row;
 *   lv_sampler                          greedy (temp ≤ 0) or seeded temperature
 *                                       sampling after llama.cpp's default filters
 *                                       (top-k, top-p, min-p), with its own PRNG so a
 *                                       seed gives the same tokens on every machine;
 *   lv_choice                           log-probability of candidate continuations
 *                                       (e.g. "Yes" / "No") after a prefix state.
 *
 * lv_sampler_new() allocates its candidate buffer once; sampling allocates nothing.
 */
#ifndef LV_SAMPLER_H
#define LV_SAMPLER_H

#include <stdint.h>

#include "engine/base.h"
#include "engine/llama.h"

typedef struct {
    int32_t id;
    float   logit;
} lv_tok_logit;

/* Index of the first maximum of logits[0..n). */
int32_t lv_argmax(const float *logits, int32_t n);
/* log softmax(logits)[id], computed in double. */
double  lv_logprob(const float *logits, int32_t n, int32_t id);
/* The k highest logits, highest first, ties broken by the lower id. out: [k].
 * Returns the number written (min(k, n)). */
int32_t lv_top_k(const float *logits, int32_t n, int32_t k, lv_tok_logit *out);

typedef struct {
    float    temp;    /* ≤ 0: greedy (argmax, seed unused) */
    int32_t  top_k;   /* 0 = off (llama.cpp default 40) */
    float    top_p;   /* 1 = off (default 0.95) */
    float    min_p;   /* 0 = off (default 0.05) */
    uint64_t seed;
} lv_sampler_params;

/* llama.cpp's defaults with the given temperature and seed. */
lv_sampler_params lv_sampler_defaults(float temp, uint64_t seed);

typedef struct lv_sampler lv_sampler;
lv_sampler *lv_sampler_new(const lv_sampler_params *p, int32_t n_vocab, lv_error *err);
void        lv_sampler_free(lv_sampler *s);
/* Picks a token from logits [n_vocab]. */
int32_t     lv_sampler_sample(lv_sampler *s, const float *logits);

/* Candidate scoring. For each candidate c (ids cands[c][0..lens[c]), lens[c] ≥ 1):
 * restores `prefix` (which must hold logits, i.e. be saved right after an eval with
 * logits) and evaluates the candidate in one pass;
 * logprob[c] = Σ_i log p(cands[c][i] | prefix, cands[c][<i]). Each candidate must fit
 * the context's n_logits. The context is left restored to the prefix. */
int lv_choice(lv_llama_ctx *ctx, const lv_llama_snapshot *prefix, const int32_t *const *cands,
              const int32_t *lens, int n_cands, double *logprob, lv_error *err);

#endif
