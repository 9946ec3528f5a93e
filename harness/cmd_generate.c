/* harness/cmd_generate.c — 'llava-eval generate': run the text model on a prompt,
 * optionally with image rows given as projector output (--image-embd), greedy,
 * sampled or teacher-forced, with per-step log-probs and top-K alternatives. */
#include "harness/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/gguf.h"
#include "engine/llama.h"
#include "engine/prompt.h"
#include "engine/quant.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"
#include "harness/jsonw.h"

#define CMD "generate"
enum { MAX_TOP = 1000, MAX_STEPS = 1 << 20, N_BATCH = 512 };

static const char *o_model, *o_mmproj, *o_image, *o_prompt, *o_template, *o_preprocess;
static const char *o_image_embd, *o_force, *o_dump_tensor, *o_dump_embd, *o_dump_logits;
static const char *o_requant;
static long o_n = 64, o_seed = 42, o_threads = 0, o_top = 5, o_resolution = 0;
static double o_temp = 0.0;
static int o_json;

static const cli_opt opts[] = {
    {'m', "model", CLI_STR, &o_model, "FILE", "text model (GGUF, llama architecture)", 0, 0},
    {0, "mmproj", CLI_STR, &o_mmproj, "FILE", "vision model (CLIP + projector GGUF)", 0, 0},
    {0, "image", CLI_STR, &o_image, "FILE", "image to ask about (needs --mmproj)", 0, 0},
    {'p', "prompt", CLI_STR, &o_prompt, "TEXT", "the question (the whole prompt with --template raw)", 0, 0},
    {0, "template", CLI_STR, &o_template, "NAME", "llava-1.5 | llava-1.6-mistral | raw (default: from the model, else llava-1.5)", 0, 0},
    {'n', "n-predict", CLI_INT, &o_n, "N", "new tokens at most (default 64)", 0, MAX_STEPS},
    {0, "temp", CLI_DOUBLE, &o_temp, "T", "temperature; 0 = greedy (default)", 0, 100},
    {0, "seed", CLI_INT, &o_seed, "S", "sampling seed (default 42)", 0, 4294967295.0},
    {0, "preprocess", CLI_STR, &o_preprocess, "MODE", "image preprocessing: llava | llama.cpp", 0, 0},
    {0, "resolution", CLI_INT, &o_resolution, "R", "reduce the image's longer side to R pixels first", 1, 100000},
    {'t', "threads", CLI_INT, &o_threads, "N", "threads (default: CPUs, at most 8)", 1, 256},
    {0, "json", CLI_FLAG, &o_json, NULL, "print one JSON object (prompt_ids, ids, text, steps, timings_ms)", 0, 0},
    {0, "top", CLI_INT, &o_top, "K", "alternatives reported per step (default 5)", 0, MAX_TOP},
    {0, "image-embd", CLI_STR, &o_image_embd, "FILE", "raw float32 rows (n_tokens × n_embd) used as the image", 0, 0},
    {0, "force-ids", CLI_STR, &o_force, "LIST", "teacher forcing: feed these comma-separated ids", 0, 0},
    {0, "requant", CLI_STR, &o_requant, "TYPE", "re-quantize every 2-D weight to TYPE at load (e.g. q5_1)", 0, 0},
    {0, "dump-image-tensor", CLI_STR, &o_dump_tensor, "FILE", "write the preprocessed pixels (float32)", 0, 0},
    {0, "dump-image-embd", CLI_STR, &o_dump_embd, "FILE", "write the image rows (float32)", 0, 0},
    {0, "dump-logits", CLI_STR, &o_dump_logits, "FILE", "write the logits at the last prompt position (float32)", 0, 0},
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec spec = {
    CMD, "generate -m TEXT.gguf [--mmproj MMPROJ.gguf --image IMG | --image-embd FILE.f32] -p PROMPT [options]",
    "Runs the text model on a chat prompt and prints the answer.",
    "The template puts -p in place (llava-1.5: Vicuna v1 system prompt, USER:/ASSISTANT:).\n"
    "A prompt containing <image> is split there: the text before it is tokenized with\n"
    "BOS, the text after it without, as llava-cli does. Generation stops after -n tokens,\n"
    "at EOS, at a piece containing ###, or once the text contains USER:, <|im_start|> or\n"
    "<|im_end|>. With --force-ids every listed id is fed in turn (no stop rules) and each\n"
    "step still reports its argmax and top K.",
    opts,
};

/* One generated step: what the logits said and what was chosen. */
typedef struct {
    int32_t id, argmax;
    double logprob;
    int32_t n_top;
    lv_tok_logit *top;   /* [o_top] */
} gen_step;

static int parse_ids(const char *s, int32_t **out, int64_t *n)
{
    int64_t cap = 16;
    int32_t *ids = malloc(sizeof *ids * (size_t)cap);
    *n = 0;
    if (!ids) return cli_error(CMD, "out of memory");
    for (const char *p = s; *p;) {
        char *end;
        if (*p == ',' || *p == ' ') { p++; continue; }
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            free(ids);
            return cli_error(CMD, "--force-ids: '%.20s' is not a token id", p);
        }
        if (*n == cap) {
            int32_t *ni = realloc(ids, sizeof *ni * (size_t)(cap *= 2));
            if (!ni) { free(ids); return cli_error(CMD, "out of memory"); }
            ids = ni;
        }
        ids[(*n)++] = (int32_t)v;
        p = end;
    }
    if (*n == 0) { free(ids); return cli_error(CMD, "--force-ids: no ids given"); }
    *out = ids;
    return 0;
}

/* Reads FILE as rows of n_embd float32. */
static int read_embd(const char *path, int32_t n_embd, float **rows, int64_t *n_rows)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cli_error(CMD, "%s: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    rewind(f);
    const long row = 4L * n_embd;
    if (size <= 0 || size % row != 0) {
        fclose(f);
        return cli_error(CMD, "%s: %ld bytes is not a whole number of rows of %d float32 (n_embd)",
                         path, size, n_embd);
    }
    float *buf = malloc((size_t)size);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(buf);
        return cli_error(CMD, "%s: cannot read", path);
    }
    fclose(f);
    for (long i = 0; i < size / 4; i++)
        if (!isfinite(buf[i])) {
            free(buf);
            return cli_error(CMD, "%s: value %ld is not finite", path, i);
        }
    *rows = buf;
    *n_rows = size / row;
    return 0;
}

static int write_f32(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return cli_error(CMD, "%s: %s", path, strerror(errno));
    size_t w = fwrite(v, sizeof *v, n, f);
    if (fclose(f) != 0 || w != n) return cli_error(CMD, "%s: write failed", path);
    return 0;
}

/* Default template: llava-1.6-mistral when the model's name says Mistral. */
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

static void print_json(const lv_prompt *pr, int64_t n_img, const gen_step *st, int64_t n_steps,
                       const char *text, size_t text_len, const char *stop, int tpl,
                       double t_prefill, double t_decode)
{
    FILE *f = stdout;
    fputs("{\"prompt_ids\": [", f);
    for (int64_t i = 0, k = 0; i < pr->n + n_img; i++) {
        int32_t id = (i >= pr->n_system && i < pr->n_system + n_img) ? -1 : pr->ids[k++];
        fprintf(f, "%s%d", i ? ", " : "", id);
    }
    fputs("], \"ids\": [", f);
    for (int64_t i = 0; i < n_steps; i++) fprintf(f, "%s%d", i ? ", " : "", st[i].id);
    fputs("], \"text\": ", f);
    jw_str(f, text, text_len);
    fprintf(f, ", \"n_image_tokens\": %lld, \"template\": \"%s\", \"stop_reason\": \"%s\",\n \"steps\": [",
            (long long)n_img, lv_template_name(tpl), stop);
    for (int64_t i = 0; i < n_steps; i++) {
        fprintf(f, "%s\n  {\"id\": %d, \"argmax\": %d, \"logprob\": ", i ? "," : "", st[i].id, st[i].argmax);
        jw_f64(f, st[i].logprob);
        fputs(", \"top\": [", f);
        for (int32_t j = 0; j < st[i].n_top; j++) {
            fprintf(f, "%s[%d, ", j ? ", " : "", st[i].top[j].id);
            jw_f32(f, st[i].top[j].logit);
            fputc(']', f);
        }
        fputs("]}", f);
    }
    fprintf(f, "],\n \"timings_ms\": {\"encode\": 0, \"prefill\": %.3f, \"decode\": %.3f}}\n", t_prefill, t_decode);
}

int cmd_generate(int argc, char **argv)
{
    char *pos[1];
    int npos, rc = CLI_USAGE;
    lv_error err = {{0}};
    lv_gguf *g = NULL;
    lv_llama *m = NULL;
    lv_tokenizer *tok = NULL;
    lv_llama_ctx *ctx = NULL;
    lv_sampler *smp = NULL;
    lv_prompt pr = {0};
    float *embd = NULL;
    int64_t n_img = 0, n_force = 0;
    int32_t *force = NULL;
    gen_step *steps = NULL;
    lv_tok_logit *tops = NULL;
    char *text = NULL;

    int pr_rc = cli_parse(&spec, argc, argv, pos, 0, &npos);
    if (pr_rc) return pr_rc > 0 ? CLI_OK : CLI_USAGE;
    if (!o_model) return cli_error(CMD, "-m/--model is required (see --help)");
    if (!o_prompt) o_prompt = "";
    if (o_image && !o_image_embd)
        return cli_error(CMD, "--image: image encoding is not available in this build; pass --image-embd");
    if (o_image_embd && o_image) return cli_error(CMD, "--image and --image-embd exclude each other");
    if (o_dump_tensor) return cli_error(CMD, "--dump-image-tensor needs image encoding, which is not available");
    if (o_preprocess && strcmp(o_preprocess, "llava") != 0 && strcmp(o_preprocess, "llama.cpp") != 0)
        return cli_error(CMD, "--preprocess: '%s' is not llava or llama.cpp", o_preprocess);
    int tpl = -1;
    if (o_template && (tpl = lv_template_from_name(o_template)) < 0)
        return cli_error(CMD, "--template: unknown template '%s' (llava-1.5, llava-1.6-mistral, raw)", o_template);
    lv_llama_opts lopts = {-1};
    if (o_requant) {
        lopts.requant_type = lv_type_from_name(o_requant);
        const lv_type_traits *tr = lv_type_info(lopts.requant_type);
        if (!tr || !tr->supported) return cli_error(CMD, "--requant: unknown or unsupported type '%s'", o_requant);
    }
    if (o_force && parse_ids(o_force, &force, &n_force) != 0) return CLI_USAGE;
    int threads = (int)o_threads;
    if (threads <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        threads = nc < 1 ? 1 : nc > 8 ? 8 : (int)nc;
    }

    if (!(g = lv_gguf_open(o_model, &err)) || !(m = lv_llama_load(g, &lopts, &err)) ||
        !(tok = lv_tok_load(g, &err))) {
        cli_error(o_model, "%s", err.msg);
        goto done;
    }
    const lv_llama_hparams *hp = lv_llama_hparams_of(m);
    if (lv_tok_n_vocab(tok) != hp->n_vocab) {
        cli_error(o_model, "the vocabulary has %d tokens, token_embd has %d rows", lv_tok_n_vocab(tok), hp->n_vocab);
        goto done;
    }
    if (force)
        for (int64_t i = 0; i < n_force; i++)
            if (force[i] >= hp->n_vocab) {
                cli_error(CMD, "--force-ids: id %d is out of range [0, %d)", force[i], hp->n_vocab);
                goto done;
            }
    if (o_image_embd && read_embd(o_image_embd, hp->n_embd, &embd, &n_img) != 0) goto done;
    if (tpl < 0) tpl = default_template(g);
    if (lv_prompt_build(tok, tpl, o_prompt, embd != NULL, &pr, &err) != 0) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    if (pr.n + n_img == 0) {
        cli_error(CMD, "the prompt is empty (no tokens)");
        goto done;
    }
    const int64_t n_steps_max = force ? n_force : o_n;
    const int64_t n_ctx = pr.n + n_img + n_steps_max;
    if (n_ctx > (1 << 24)) {
        cli_error(CMD, "%lld positions are too many", (long long)n_ctx);
        goto done;
    }
    rc = CLI_FAILED;
    lv_sampler_params sp = lv_sampler_defaults((float)o_temp, (uint64_t)o_seed);
    if (!(ctx = lv_llama_ctx_new(m, (int32_t)n_ctx, N_BATCH, 1, threads, &err)) ||
        !(smp = lv_sampler_new(&sp, hp->n_vocab, &err))) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    size_t text_cap = 256 + (size_t)n_steps_max * 64;
    steps = calloc((size_t)(n_steps_max ? n_steps_max : 1), sizeof *steps);
    tops = calloc((size_t)(n_steps_max ? n_steps_max : 1) * (size_t)(o_top ? o_top : 1), sizeof *tops);
    text = malloc(text_cap);
    if (!steps || !tops || !text) {
        cli_error(CMD, "out of memory");
        goto done;
    }

    /* prefill: system part, image rows, user part; logits after the last row */
    double t0 = lv_now_ms();
    const int64_t n_user = pr.n - pr.n_system;
    int ok = 1;
    if (pr.n_system > 0)
        ok = lv_llama_eval(ctx, pr.ids, NULL, (int32_t)pr.n_system,
                           (n_img || n_user) ? LV_LOGITS_NONE : LV_LOGITS_LAST, &err) == 0;
    if (ok && n_img > 0)
        ok = lv_llama_eval(ctx, NULL, embd, (int32_t)n_img, n_user ? LV_LOGITS_NONE : LV_LOGITS_LAST, &err) == 0;
    if (ok && n_user > 0)
        ok = lv_llama_eval(ctx, pr.ids + pr.n_system, NULL, (int32_t)n_user, LV_LOGITS_LAST, &err) == 0;
    if (!ok) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    double t_prefill = lv_now_ms() - t0;
    if (o_dump_logits && write_f32(o_dump_logits, lv_llama_logits(ctx, 0), (size_t)hp->n_vocab) != 0) goto done;
    if (o_dump_embd && embd && write_f32(o_dump_embd, embd, (size_t)n_img * (size_t)hp->n_embd) != 0) goto done;

    /* the token loop */
    t0 = lv_now_ms();
    size_t text_len = 0;
    int64_t n_steps = 0;
    const char *stop = "n_predict";
    char piece[256];
    for (int64_t i = 0; i < n_steps_max; i++) {
        const float *logits = lv_llama_logits(ctx, 0);
        gen_step *s = &steps[n_steps++];
        s->top = tops + (size_t)i * (size_t)o_top;
        s->n_top = lv_top_k(logits, hp->n_vocab, (int32_t)o_top, s->top);
        s->argmax = lv_argmax(logits, hp->n_vocab);
        s->id = force ? force[i] : lv_sampler_sample(smp, logits);
        s->logprob = lv_logprob(logits, hp->n_vocab, s->id);

        int plen = lv_tok_piece(tok, s->id, 1, piece, sizeof piece);
        if (plen < 0) plen = 0;
        if (plen > (int)sizeof piece) plen = (int)sizeof piece;
        if (!force) {
            int why = lv_stop_before(tok, s->id, piece, (size_t)plen);
            if (why) {
                stop = why == LV_STOP_EOG ? "eos" : "###";
                break;
            }
        }
        if (text_len + (size_t)plen + 1 > text_cap) {
            char *nt = realloc(text, text_cap = 2 * text_cap + (size_t)plen);
            if (!nt) { cli_error(CMD, "out of memory"); goto done; }
            text = nt;
        }
        memcpy(text + text_len, piece, (size_t)plen);
        text_len += (size_t)plen;
        if (!force && lv_stop_after(text, text_len)) {
            stop = "stop_string";
            break;
        }
        if (i + 1 < n_steps_max && lv_llama_eval(ctx, &s->id, NULL, 1, LV_LOGITS_LAST, &err) != 0) {
            cli_error(CMD, "%s", err.msg);
            goto done;
        }
    }
    if (force) stop = "forced";
    text[text_len] = 0;
    double t_decode = lv_now_ms() - t0;

    if (o_json) {
        print_json(&pr, n_img, steps, n_steps, text, text_len, stop, tpl, t_prefill, t_decode);
    } else {
        fwrite(text, 1, text_len, stdout);
        fputc('\n', stdout);
    }
    rc = CLI_OK;
done:
    free(text);
    free(tops);
    free(steps);
    free(force);
    free(embd);
    lv_prompt_free(&pr);
    lv_sampler_free(smp);
    lv_llama_ctx_free(ctx);
    lv_tok_free(tok);
    lv_llama_free(m);
    lv_gguf_close(g);
    return rc;
}
