/* harness/cmd_generate.c — 'llava-eval generate': one prompt through the llava
 * facade, with an image (--image, encoded by the vision tower) or image rows given
 * as projector output (--image-embd); greedy, sampled or teacher-forced, with
 * per-step log-probs and top-K alternatives, and the fidelity dumps. */
#include "harness/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/llava.h"
#include "engine/prompt.h"
#include "engine/quant.h"
#include "harness/jsonw.h"

#define CMD "generate"
enum { MAX_TOP = 32, MAX_STEPS = 1 << 20 };
#define MAX_IMAGE_BYTES (64u << 20)

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


static void print_json(const lv_llava_result *r, int64_t n_img, int tpl, double t_encode)
{
    FILE *f = stdout;
    fputs("{\"prompt_ids\": [", f);
    for (int64_t i = 0; i < r->n_prompt; i++) fprintf(f, "%s%d", i ? ", " : "", r->prompt_ids[i]);
    fputs("], \"ids\": [", f);
    for (int64_t i = 0; i < r->n_ids; i++) fprintf(f, "%s%d", i ? ", " : "", r->ids[i]);
    fputs("], \"text\": ", f);
    jw_str(f, r->text, r->text_len);
    fprintf(f, ", \"n_image_tokens\": %lld, \"template\": \"%s\", \"stop_reason\": \"%s\",\n \"steps\": [",
            (long long)n_img, lv_template_name(tpl), r->stop);
    for (int64_t i = 0; i < r->n_ids; i++) {
        const lv_llava_step *s = &r->steps[i];
        fprintf(f, "%s\n  {\"id\": %d, \"argmax\": %d, \"logprob\": ", i ? "," : "", s->id, s->argmax);
        jw_f32(f, s->logprob);
        fputs(", \"margin\": ", f);
        jw_f32(f, s->margin);
        fputs(", \"top\": [", f);
        for (int j = 0; j < s->n_top; j++) {
            fprintf(f, "%s[%d, ", j ? ", " : "", s->top_id[j]);
            jw_f32(f, s->top_logit[j]);
            fputc(']', f);
        }
        fputs("]}", f);
    }
    fprintf(f, "],\n \"timings_ms\": {\"encode\": %.3f, \"prefill\": %.3f, \"decode\": %.3f}}\n", t_encode,
            r->prefill_ms, r->decode_ms);
}

static char *read_image_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { cli_error(path, "cannot open: %s", strerror(errno)); return NULL; }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            if (cap >= MAX_IMAGE_BYTES) { cli_error(path, "larger than %u MiB", MAX_IMAGE_BYTES >> 20); free(buf); buf = NULL; break; }
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

int cmd_generate(int argc, char **argv)
{
    char *pos[1];
    int npos, rc = CLI_USAGE;
    lv_error err = {{0}};
    lv_llava *l = NULL;
    lv_llava_prefix *pre = NULL;
    lv_llava_image img = {0};
    lv_llava_result res = {0};
    float *embd = NULL;
    int64_t n_img = 0, n_force = 0;
    int32_t *force = NULL;
    char *bytes = NULL;
    double t_encode = 0, t_prefix = 0;

    int pr_rc = cli_parse(&spec, argc, argv, pos, 0, &npos);
    if (pr_rc) return pr_rc > 0 ? CLI_OK : CLI_USAGE;
    if (!o_model) return cli_error(CMD, "-m/--model is required (see --help)");
    if (!o_prompt) o_prompt = "";
    if (o_image_embd && o_image) return cli_error(CMD, "--image and --image-embd exclude each other");
    if (o_image && !o_mmproj) return cli_error(CMD, "--image needs --mmproj");
    if ((o_dump_tensor || o_resolution) && !o_image) return cli_error(CMD, "--dump-image-tensor and --resolution need --image");
    int mode = LV_IMAGE_LLAVA;
    if (o_preprocess && (mode = lv_image_mode_from_name(o_preprocess)) < 0)
        return cli_error(CMD, "--preprocess: '%s' is not llava or llama.cpp", o_preprocess);
    int tpl = -1;
    if (o_template && (tpl = lv_template_from_name(o_template)) < 0)
        return cli_error(CMD, "--template: unknown template '%s' (llava-1.5, llava-1.6-mistral, raw)", o_template);
    int requant = -1;
    if (o_requant) {
        requant = lv_type_from_name(o_requant);
        const lv_type_traits *tr = lv_type_info(requant);
        if (!tr || !tr->supported) return cli_error(CMD, "--requant: unknown or unsupported type '%s'", o_requant);
    }
    if (o_force && parse_ids(o_force, &force, &n_force) != 0) return CLI_USAGE;
    int threads = (int)o_threads;
    if (threads <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        threads = nc < 1 ? 1 : nc > 8 ? 8 : (int)nc;
    }
    size_t n_bytes = 0;
    if (o_image && !(bytes = read_image_file(o_image, &n_bytes))) return CLI_USAGE;

    int64_t n_gen = force ? n_force : o_n;
    lv_llava_params lp = {o_model, o_image ? o_mmproj : NULL, requant, (int)(4096 + n_gen), threads, (lv_image_mode)mode, tpl};
    if (!(l = lv_llava_load(&lp, &err))) {
        cli_error(err.msg[0] && strstr(err.msg, "mmproj") ? o_mmproj : o_model, "%s", err.msg);
        goto done;
    }
    for (int64_t i = 0; i < n_force; i++)
        if (force[i] >= lv_tok_n_vocab(lv_llava_tokenizer(l))) {
            rc = cli_error(CMD, "--force-ids: id %d is out of range [0, %d)", force[i], lv_tok_n_vocab(lv_llava_tokenizer(l)));
            goto done;
        }
    if (o_image_embd) {
        if (read_embd(o_image_embd, lv_llava_n_embd(l), &embd, &n_img) != 0) goto done;
        img.rows = embd;
        img.n_tokens = (int)n_img;
        img.n_embd = lv_llava_n_embd(l);
    } else if (o_image) {
        if (lv_llava_encode(l, bytes, n_bytes, (int)o_resolution, o_dump_tensor != NULL, &img, &err)) {
            rc = cli_error(o_image, "%s", err.msg);
            goto done;
        }
        n_img = img.n_tokens;
        t_encode = img.encode_ms;
    }
    /* a prompt the template cannot place (or that does not fit) is bad input */
    if (lv_llava_prefix_eval(l, n_img ? &img : NULL, o_prompt, &pre, &t_prefix, &err)) {
        rc = cli_error(CMD, "%s", err.msg);
        goto done;
    }
    rc = CLI_FAILED;
    lv_llava_gen gp = {(int)o_n, (float)o_temp, (uint64_t)o_seed, (int)o_top, force, (int)n_force};
    if (lv_llava_generate(l, pre, o_prompt, &gp, &res, &err)) {
        cli_error(CMD, "%s", err.msg);
        goto done;
    }
    res.prefill_ms += t_prefix;
    if (o_dump_logits && write_f32(o_dump_logits, res.logits0, (size_t)res.n_vocab) != 0) goto done;
    if (o_dump_embd && n_img && write_f32(o_dump_embd, img.rows, (size_t)n_img * (size_t)img.n_embd) != 0) goto done;
    if (o_dump_tensor && write_f32(o_dump_tensor, img.pixels, img.n_pixels) != 0) goto done;
    if (o_json) {
        print_json(&res, n_img, lv_llava_template(l), t_encode);
    } else {
        fwrite(res.text, 1, res.text_len, stdout);
        fputc('\n', stdout);
    }
    rc = CLI_OK;
done:
    if (embd) img.rows = NULL;   /* owned by embd */
    lv_llava_image_free(&img);
    lv_llava_result_free(&res);
    lv_llava_prefix_free(pre);
    lv_llava_free(l);
    free(embd);
    free(force);
    free(bytes);
    return rc;
}
