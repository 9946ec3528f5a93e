/* engine/sampler.c — token choice and candidate scoring (see sampler.h). */
#include "engine/sampler.h"

#include <math.h>
#include <stdlib.h>

/* ============================================================ pure ======== */

int32_t lv_argmax(const float *logits, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

double lv_logprob(const float *logits, int32_t n, int32_t id)
{
    const float mx = logits[lv_argmax(logits, n)];
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) sum += exp((double)logits[i] - (double)mx);
    return (double)logits[id] - (double)mx - log(sum);
}

/* a ranks before b: higher logit, then lower id */
static int ranks_before(lv_tok_logit a, lv_tok_logit b)
{
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

int32_t lv_top_k(const float *logits, int32_t n, int32_t k, lv_tok_logit *out)
{
    int32_t have = 0;
    if (k > n) k = n;
    if (k <= 0) return 0;
    for (int32_t i = 0; i < n; i++) {
        lv_tok_logit c = {i, logits[i]};
        if (have == k && !ranks_before(c, out[k - 1])) continue;
        int32_t j = have < k ? have++ : k - 1;
        while (j > 0 && ranks_before(c, out[j - 1])) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = c;
    }
    return have;
}

/* ========================================================== sampler ======= */

struct lv_sampler {
    lv_sampler_params p;
    int32_t n_vocab;
    uint64_t rng[4];          /* xoshiro256** state */
    lv_tok_logit *cand;       /* [n_vocab] candidates, sorted as filters need */
    double *prob;             /* [n_vocab] */
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4])
{
    const uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* uniform in [0, 1) with 53 random bits */
static double uniform01(uint64_t s[4]) { return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53; }

lv_sampler_params lv_sampler_defaults(float temp, uint64_t seed)
{
    lv_sampler_params p = {temp, 40, 0.95f, 0.05f, seed};
    return p;
}

lv_sampler *lv_sampler_new(const lv_sampler_params *p, int32_t n_vocab, lv_error *err)
{
    lv_sampler *s = lv_calloc(1, sizeof *s);
    if (!s || n_vocab < 1) goto fail;
    s->p = *p;
    s->n_vocab = n_vocab;
    uint64_t x = p->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    s->cand = lv_malloc(sizeof *s->cand * (size_t)n_vocab);
    s->prob = lv_malloc(sizeof *s->prob * (size_t)n_vocab);
    if (!s->cand || !s->prob) goto fail;
    return s;
fail:
    lv_sampler_free(s);
    lv_errorf(err, n_vocab < 1 ? "empty vocabulary" : "out of memory");
    return NULL;
}

void lv_sampler_free(lv_sampler *s)
{
    if (!s) return;
    lv_free(s->cand);
    lv_free(s->prob);
    lv_free(s);
}

static int cmp_cand(const void *a, const void *b)
{
    const lv_tok_logit *x = a, *y = b;
    return ranks_before(*x, *y) ? -1 : ranks_before(*y, *x) ? 1 : 0;
}

/* prob[0..n) = softmax(cand logits / temp) (cand sorted, highest first) */
static void softmax_cands(lv_sampler *s, int32_t n, float temp)
{
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        s->prob[i] = exp(((double)s->cand[i].logit - (double)s->cand[0].logit) / temp);
        sum += s->prob[i];
    }
    for (int32_t i = 0; i < n; i++) s->prob[i] /= sum;
}

int32_t lv_sampler_sample(lv_sampler *s, const float *logits)
{
    const lv_sampler_params *p = &s->p;
    if (p->temp <= 0) return lv_argmax(logits, s->n_vocab);
    int32_t n = s->n_vocab;
    for (int32_t i = 0; i < n; i++) s->cand[i] = (lv_tok_logit){i, logits[i]};
    /* top-k: the k best, sorted */
    if (p->top_k > 0 && p->top_k < n) {
        n = lv_top_k(logits, s->n_vocab, p->top_k, s->cand);
    } else {
        qsort(s->cand, (size_t)n, sizeof *s->cand, cmp_cand);
    }
    /* top-p: the shortest prefix whose probability reaches top_p */
    if (p->top_p < 1.0f) {
        softmax_cands(s, n, 1.0f);
        double cum = 0.0;
        for (int32_t i = 0; i < n; i++) {
            cum += s->prob[i];
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    /* min-p: drop tokens below min_p × the top probability */
    if (p->min_p > 0.0f) {
        softmax_cands(s, n, 1.0f);
        int32_t keep = 1;
        while (keep < n && s->prob[keep] >= p->min_p * s->prob[0]) keep++;
        n = keep;
    }
    softmax_cands(s, n, p->temp);
    double r = uniform01(s->rng), cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += s->prob[i];
        if (r < cum) return s->cand[i].id;
    }
    return s->cand[n - 1].id;
}

/* ========================================================== choice ======== */

int lv_choice(lv_llama_ctx *ctx, const lv_llama_snapshot *prefix, const int32_t *const *cands,
              const int32_t *lens, int n_cands, double *logprob, lv_error *err)
{
    const int32_t nv = lv_llama_hparams_of(lv_llama_model(ctx))->n_vocab;
    for (int c = 0; c < n_cands; c++) {
        if (lens[c] < 1) return lv_errorf(err, "candidate %d is empty", c);
        for (int32_t i = 0; i < lens[c]; i++)
            if (cands[c][i] < 0 || cands[c][i] >= nv)
                return lv_errorf(err, "candidate %d: token id %d is out of range", c, cands[c][i]);
        if (lv_llama_snapshot_restore(ctx, prefix, err) != 0) return -1;
        const float *l0 = lv_llama_logits(ctx, 0);
        if (!l0) return lv_errorf(err, "the prefix snapshot holds no logits");
        double lp = lv_logprob(l0, nv, cands[c][0]);
        if (lens[c] > 1) {
            if (lv_llama_eval(ctx, cands[c], NULL, lens[c] - 1, LV_LOGITS_ALL, err) != 0) return -1;
            for (int32_t i = 1; i < lens[c]; i++) lp += lv_logprob(lv_llama_logits(ctx, i - 1), nv, cands[c][i]);
        }
        logprob[c] = lp;
    }
    return lv_llama_snapshot_restore(ctx, prefix, err);
}
