/* engine/llava.c — the facade declared in engine/llava.h: text model, tokenizer,
 * vision tower and one run context, with image-prefix snapshots so every question
 * about an image reuses the evaluated "system prompt + image" state. */
#include "engine/llava.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/clip.h"
#include "engine/gguf.h"
#include "engine/llama.h"
#include "engine/prompt.h"
#include "engine/quant.h"
#include "engine/sampler.h"

#define LLAVA_N_BATCH   512
#define LLAVA_MAX_CANDS 16
#define LLAVA_CAND_LEN  16     /* tokens per choice candidate at most */

struct lv_llava {
    lv_gguf      *g;           /* the text model's file: weights are views into it */
    lv_llama     *m;
    lv_tokenizer *tok;
    lv_clip      *clip;        /* NULL: text only */
    lv_llama_ctx *ctx;
    lv_sampler   *smp;
    lv_image_mode mode;
    int           tpl;
    int32_t       n_vocab, n_embd, n_ctx;
    double        lse_scratch;
};

struct lv_llava_prefix {
    lv_llama_snapshot *snap;
    int32_t *system_ids;       /* the system part that was evaluated */
    int64_t  n_system;
    int64_t  n_image;          /* image rows after it */
};

static int default_template(const lv_gguf *g)
{
    char *name = NULL;
    lv_error e;
    int tpl = LV_TPL_LLAVA15;
    if (lv_gguf_get_str(g, "general.name", &name, &e) == 0 && name) {
        for (char *p = name; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        if (strstr(name, "mistral")) tpl = LV_TPL_LLAVA16_MISTRAL;
    }
    lv_free(name);
    return tpl;
}

void lv_llava_free(lv_llava *l)
{
    if (!l) return;
    lv_sampler_free(l->smp);
    lv_llama_ctx_free(l->ctx);
    lv_clip_free(l->clip);
    lv_tok_free(l->tok);
    lv_llama_free(l->m);
    lv_gguf_close(l->g);
    lv_free(l);
}

lv_llava *lv_llava_load(const lv_llava_params *p, lv_error *err)
{
    lv_llava *l = lv_calloc(1, sizeof *l);
    lv_llama_opts lo = {p->requant_type};
    if (!l) { lv_errorf(err, "out of memory"); return NULL; }
    l->mode = p->mode;
    if (!(l->g = lv_gguf_open(p->model_path, err)) || !(l->m = lv_llama_load(l->g, &lo, err)) ||
        !(l->tok = lv_tok_load(l->g, err)))
        goto fail;
    const lv_llama_hparams *hp = lv_llama_hparams_of(l->m);
    l->n_vocab = hp->n_vocab;
    l->n_embd = hp->n_embd;
    if (lv_tok_n_vocab(l->tok) != hp->n_vocab) {
        lv_errorf(err, "the vocabulary has %d tokens but token_embd has %d rows", lv_tok_n_vocab(l->tok), hp->n_vocab);
        goto fail;
    }
    if (p->mmproj_path) {
        if (!(l->clip = lv_clip_load(p->mmproj_path, err))) goto fail;
        if (lv_clip_n_embd(l->clip) != hp->n_embd) {
            lv_errorf(err, "the projector gives rows of %d values but the text model takes %d",
                      lv_clip_n_embd(l->clip), hp->n_embd);
            goto fail;
        }
        lv_clip_set_threads(l->clip, p->n_threads > 0 ? p->n_threads : 1);
    }
    l->tpl = p->template_id >= 0 ? p->template_id : default_template(l->g);
    l->n_ctx = p->n_ctx > 0 ? p->n_ctx : 4096;
    lv_sampler_params sp = lv_sampler_defaults(0.0f, 0);
    if (!(l->ctx = lv_llama_ctx_new(l->m, l->n_ctx, LLAVA_N_BATCH, LLAVA_CAND_LEN, p->n_threads > 0 ? p->n_threads : 1, err)) ||
        !(l->smp = lv_sampler_new(&sp, hp->n_vocab, err)))
        goto fail;
    return l;
fail:
    lv_llava_free(l);
    return NULL;
}

const lv_tokenizer *lv_llava_tokenizer(const lv_llava *l) { return l->tok; }
int lv_llava_has_vision(const lv_llava *l) { return l->clip != NULL; }
int lv_llava_n_embd(const lv_llava *l) { return l->n_embd; }
int lv_llava_template(const lv_llava *l) { return l->tpl; }
int lv_llava_weight_type(const lv_llava *l) { return lv_llama_main_type(l->m); }

/* ------------------------------------------------------------------ images */

int lv_llava_encode(lv_llava *l, const void *bytes, size_t len, int resolution, int keep_pixels,
                    lv_llava_image *out, lv_error *err)
{
    lv_image img = {0}, red = {0};
    lv_image_batch batch = {0};
    int rc = -1;
    double t0 = lv_now_ms();
    memset(out, 0, sizeof *out);
    if (!l->clip) return lv_errorf(err, "no vision model loaded (--mmproj)");
    if (lv_image_decode(bytes, len, &img, err)) goto done;
    if (lv_image_reduce(&img, resolution, &red, err)) goto done;
    if (lv_image_preprocess(&red, lv_clip_image_params(l->clip), l->mode, &batch, err)) goto done;
    int n = lv_clip_n_tokens(l->clip, &batch);
    if (n <= 0 || n >= l->n_ctx) {
        lv_errorf(err, "the image gives %d tokens; the context holds %d", n, l->n_ctx);
        goto done;
    }
    out->rows = lv_malloc((size_t)n * (size_t)l->n_embd * sizeof(float));
    if (!out->rows) { lv_errorf(err, "out of memory"); goto done; }
    if (lv_clip_encode(l->clip, &batch, out->rows, err)) goto done;
    out->n_tokens = n;
    out->n_embd = l->n_embd;
    out->width = img.w;
    out->height = img.h;
    out->used_w = red.w;
    out->used_h = red.h;
    if (keep_pixels) {
        out->n_pixels = (size_t)batch.n_img * (size_t)batch.size * (size_t)batch.size * 3;
        out->pixels = lv_malloc(out->n_pixels * sizeof(float));
        if (!out->pixels) { lv_errorf(err, "out of memory"); goto done; }
        memcpy(out->pixels, batch.pix, out->n_pixels * sizeof(float));
    }
    out->encode_ms = lv_now_ms() - t0;
    rc = 0;
done:
    if (rc) lv_llava_image_free(out);
    lv_image_batch_free(&batch);
    lv_image_free(&red);
    lv_image_free(&img);
    return rc;
}

void lv_llava_image_free(lv_llava_image *img)
{
    if (!img) return;
    lv_free(img->rows);
    lv_free(img->pixels);
    memset(img, 0, sizeof *img);
}

/* ------------------------------------------------------------------ prompts */

void lv_llava_prefix_free(lv_llava_prefix *p)
{
    if (!p) return;
    lv_llama_snapshot_free(p->snap);
    lv_free(p->system_ids);
    lv_free(p);
}

int lv_llava_prefix_eval(lv_llava *l, const lv_llava_image *img, const char *system_hint,
                         lv_llava_prefix **out, double *prefill_ms, lv_error *err)
{
    lv_prompt pr = {0};
    lv_llava_prefix *p = NULL;
    int rc = -1;
    double t0 = lv_now_ms();
    *out = NULL;
    if (img && img->n_embd != l->n_embd) return lv_errorf(err, "image rows have %d values, the model takes %d", img->n_embd, l->n_embd);
    /* The system part is what the template puts before the image; build a prompt
     * with the hint (or an empty question) and keep its first n_system ids. */
    if (lv_prompt_build(l->tok, l->tpl, system_hint ? system_hint : "", img != NULL, &pr, err)) return -1;
    if (!(p = lv_calloc(1, sizeof *p))) { lv_errorf(err, "out of memory"); goto done; }
    p->n_system = pr.n_system;
    p->n_image = img ? img->n_tokens : 0;
    if (p->n_system + p->n_image >= l->n_ctx) { lv_errorf(err, "the prompt does not fit the context of %d", l->n_ctx); goto done; }
    p->system_ids = lv_malloc(sizeof(int32_t) * (size_t)(pr.n_system ? pr.n_system : 1));
    if (!p->system_ids) { lv_errorf(err, "out of memory"); goto done; }
    memcpy(p->system_ids, pr.ids, sizeof(int32_t) * (size_t)pr.n_system);
    if (lv_llama_rewind(l->ctx, 0, err)) goto done;
    if (pr.n_system > 0 && lv_llama_eval(l->ctx, pr.ids, NULL, (int32_t)pr.n_system, LV_LOGITS_NONE, err)) goto done;
    if (img && lv_llama_eval(l->ctx, NULL, img->rows, img->n_tokens, LV_LOGITS_NONE, err)) goto done;
    if (!(p->snap = lv_llama_snapshot_save(l->ctx, err))) goto done;
    if (prefill_ms) *prefill_ms = lv_now_ms() - t0;
    *out = p;
    p = NULL;
    rc = 0;
done:
    lv_llava_prefix_free(p);
    lv_prompt_free(&pr);
    return rc;
}

/* Restores the prefix and evaluates the question's user part; the logits of the
 * last prompt position are then current. Fills the prompt ids (image rows -1). */
static int eval_question(lv_llava *l, lv_llava_prefix *p, const char *question, int32_t **prompt_ids,
                         int64_t *n_prompt, lv_error *err)
{
    lv_prompt pr = {0};
    int rc = -1;
    if (lv_prompt_build(l->tok, l->tpl, question, p->n_image > 0, &pr, err)) return -1;
    if (pr.n_system != p->n_system || memcmp(pr.ids, p->system_ids, sizeof(int32_t) * (size_t)pr.n_system) != 0) {
        lv_errorf(err, "this question changes the prompt before the image; evaluate a prefix for it");
        goto done;
    }
    int64_t n_user = pr.n - pr.n_system;
    if (n_user <= 0 && p->n_system + p->n_image == 0) { lv_errorf(err, "the prompt is empty"); goto done; }
    if (p->n_system + p->n_image + n_user >= l->n_ctx) { lv_errorf(err, "the prompt does not fit the context of %d", l->n_ctx); goto done; }
    if (lv_llama_snapshot_restore(l->ctx, p->snap, err)) goto done;
    if (n_user > 0 && lv_llama_eval(l->ctx, pr.ids + pr.n_system, NULL, (int32_t)n_user, LV_LOGITS_LAST, err)) goto done;
    if (n_user == 0) { lv_errorf(err, "the template leaves no user part after the image"); goto done; }
    if (prompt_ids) {
        *n_prompt = pr.n + p->n_image;
        *prompt_ids = lv_malloc(sizeof(int32_t) * (size_t)*n_prompt);
        if (!*prompt_ids) { lv_errorf(err, "out of memory"); goto done; }
        for (int64_t i = 0, k = 0; i < *n_prompt; i++)
            (*prompt_ids)[i] = (i >= pr.n_system && i < pr.n_system + p->n_image) ? -1 : pr.ids[k++];
    }
    rc = 0;
done:
    lv_prompt_free(&pr);
    return rc;
}

/* Fills a step from a logits row: argmax, top-k with log-probs, margin. */
static void describe(const float *logits, int32_t nv, int k, int32_t id, lv_llava_step *s)
{
    lv_tok_logit top[32];
    double mx = -INFINITY, sum = 0;
    for (int32_t i = 0; i < nv; i++) if (logits[i] > mx) mx = logits[i];
    for (int32_t i = 0; i < nv; i++) sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    int kk = k < 2 ? 2 : k;
    int n = lv_top_k(logits, nv, kk, top);
    s->argmax = top[0].id;
    s->margin = n > 1 ? top[0].logit - top[1].logit : 0.0f;
    s->n_top = k < n ? k : n;
    for (int i = 0; i < s->n_top; i++) {
        s->top_id[i] = top[i].id;
        s->top_logit[i] = top[i].logit;
        s->top_logprob[i] = (float)((double)top[i].logit - lse);
    }
    s->id = id;
    s->logprob = (float)((double)logits[id] - lse);
}

void lv_llava_result_free(lv_llava_result *r)
{
    if (!r) return;
    lv_free(r->prompt_ids);
    lv_free(r->ids);
    lv_free(r->steps);
    lv_free(r->text);
    lv_free(r->logits0);
    memset(r, 0, sizeof *r);
}

int lv_llava_generate(lv_llava *l, lv_llava_prefix *p, const char *question, const lv_llava_gen *gp,
                      lv_llava_result *out, lv_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t n_max = gp->force ? gp->n_force : gp->n_predict;
    int k = gp->top_k < 0 ? 0 : gp->top_k > 32 ? 32 : gp->top_k;
    size_t cap = 256;
    double t0 = lv_now_ms();
    if (n_max < 0 || n_max > (1 << 20)) return lv_errorf(err, "bad number of tokens to generate");
    if (gp->force)
        for (int i = 0; i < gp->n_force; i++)
            if (gp->force[i] < 0 || gp->force[i] >= l->n_vocab) return lv_errorf(err, "forced id %d is out of range", gp->force[i]);
    if (eval_question(l, p, question, &out->prompt_ids, &out->n_prompt, err)) goto fail;
    out->prefill_ms = lv_now_ms() - t0;
    out->n_vocab = l->n_vocab;
    out->ids = lv_malloc(sizeof(int32_t) * (size_t)(n_max ? n_max : 1));
    out->steps = lv_calloc((size_t)(n_max ? n_max : 1), sizeof *out->steps);
    out->text = lv_malloc(cap);
    out->logits0 = lv_malloc(sizeof(float) * (size_t)l->n_vocab);
    if (!out->ids || !out->steps || !out->text || !out->logits0) { lv_errorf(err, "out of memory"); goto fail; }
    memcpy(out->logits0, lv_llama_logits(l->ctx, 0), sizeof(float) * (size_t)l->n_vocab);

    lv_sampler_params sp = lv_sampler_defaults(gp->temp, gp->seed);
    lv_sampler *smp = l->smp;
    if (gp->temp > 0) {
        /* a fresh sampler per question, so each answer depends only on its seed */
        lv_sampler_free(l->smp);
        if (!(l->smp = smp = lv_sampler_new(&sp, l->n_vocab, err))) goto fail;
    }
    t0 = lv_now_ms();
    out->stop = gp->force ? "forced" : "n_predict";
    char piece[256];
    for (int64_t i = 0; i < n_max; i++) {
        const float *logits = lv_llama_logits(l->ctx, 0);
        int32_t id = gp->force ? gp->force[i] : lv_sampler_sample(smp, logits);
        int plen = lv_tok_piece(l->tok, id, 1, piece, sizeof piece);
        if (plen < 0) plen = 0;
        if (plen > (int)sizeof piece) plen = (int)sizeof piece;
        /* the chosen id is reported even when it ends generation (EOS, "###"):
         * it is the model's answer; its piece is not part of the text */
        describe(logits, l->n_vocab, k, id, &out->steps[out->n_ids]);
        out->ids[out->n_ids++] = id;
        if (!gp->force) {
            int why = lv_stop_before(l->tok, id, piece, (size_t)plen);
            if (why) { out->stop = why == LV_STOP_EOG ? "eos" : "stop_string"; break; }
        }
        if (out->text_len + (size_t)plen + 1 > cap) {
            char *nt = lv_realloc(out->text, cap = 2 * cap + (size_t)plen);
            if (!nt) { lv_errorf(err, "out of memory"); goto fail; }
            out->text = nt;
        }
        memcpy(out->text + out->text_len, piece, (size_t)plen);
        out->text_len += (size_t)plen;
        if (!gp->force && lv_stop_after(out->text, out->text_len)) { out->stop = "stop_string"; break; }
        if (i + 1 < n_max) {
            if (lv_llama_n_past(l->ctx) + 1 >= l->n_ctx) { out->stop = "context"; break; }
            if (lv_llama_eval(l->ctx, &id, NULL, 1, LV_LOGITS_LAST, err)) goto fail;
        }
    }
    out->text[out->text_len] = 0;
    out->decode_ms = lv_now_ms() - t0;
    return 0;
fail:
    lv_llava_result_free(out);
    return -1;
}

int lv_llava_choice(lv_llava *l, lv_llava_prefix *p, const char *question, const char *const *cands, int n_cands,
                    double *logprob, lv_error *err)
{
    int32_t *ids[LLAVA_MAX_CANDS] = {0}, lens[LLAVA_MAX_CANDS];
    lv_llama_snapshot *qs = NULL;
    int rc = -1;
    if (n_cands < 1 || n_cands > LLAVA_MAX_CANDS) return lv_errorf(err, "between 1 and %d candidates", LLAVA_MAX_CANDS);
    for (int c = 0; c < n_cands; c++) {
        int64_t n;
        /* the answer follows "ASSISTANT:", so it is tokenized as the start of a
         * text fragment (with SentencePiece's leading space), no BOS */
        if (lv_tok_encode(l->tok, cands[c], strlen(cands[c]), 0, 0, &ids[c], &n, err)) goto done;
        if (n < 1 || n > LLAVA_CAND_LEN) { lv_errorf(err, "candidate '%s' has %lld tokens", cands[c], (long long)n); goto done; }
        lens[c] = (int32_t)n;
    }
    if (eval_question(l, p, question, NULL, NULL, err)) goto done;
    if (!(qs = lv_llama_snapshot_save(l->ctx, err))) goto done;
    if (lv_choice(l->ctx, qs, (const int32_t *const *)ids, lens, n_cands, logprob, err)) goto done;
    rc = 0;
done:
    lv_llama_snapshot_free(qs);
    for (int c = 0; c < n_cands; c++) lv_free(ids[c]);
    return rc;
}
