/* harness/cmd_bench.c — 'llava-eval bench': image-encode time, prompt tokens/s and
 * decode tokens/s, llama-bench style (one warm-up, then -r repetitions; mean ± sd).
 *
 * pp: N random tokens evaluated as one prompt from an empty context, logits of the
 * last row only (what llama-bench's pp does). tg: N tokens one at a time from an
 * empty context (llama-bench's tg). encode: one 336×336 tile through the CLIP tower
 * and projector (--mmproj).
 */
#include "harness/cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base.h"
#include "engine/clip.h"
#include "engine/gguf.h"
#include "engine/llama.h"
#include "engine/quant.h"

static const char *o_model, *o_mmproj, *o_threads = "2";
static long o_p = 576, o_n = 32, o_r = 5;
static int o_json;

static const cli_opt opts[] = {
    {'m', "model", CLI_STR, &o_model, "FILE", "text model (GGUF)", 0, 0},
    {0, "mmproj", CLI_STR, &o_mmproj, "FILE", "vision model: also time one image encode", 0, 0},
    {'p', "n-prompt", CLI_INT, &o_p, "N", "prompt tokens (default 576; 0 skips)", 0, 65536},
    {'n', "n-gen", CLI_INT, &o_n, "N", "generated tokens (default 32; 0 skips)", 0, 65536},
    {'t', "threads", CLI_STR, &o_threads, "LIST", "thread counts, comma-separated (default 2)", 0, 0},
    {'r', "repetitions", CLI_INT, &o_r, "N", "repetitions (default 5)", 1, 1000},
    {0, "json", CLI_FLAG, &o_json, NULL, "print JSON instead of the table", 0, 0},
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec spec = {
    "bench", "bench -m TEXT.gguf [--mmproj MMPROJ.gguf] [-p 576] [-n 32] [-t 1,2] [-r 5] [--json]",
    "Image-encode time, prompt tokens/s and decode tokens/s (llama-bench style).",
    "Each measurement runs once to warm up, then -r times; the table shows mean ± sd.",
    opts,
};

typedef struct {
    double mean, sd;
} stat2;

static stat2 stats(const double *v, int n)
{
    stat2 s = {0, 0};
    for (int i = 0; i < n; i++) s.mean += v[i];
    s.mean /= n;
    for (int i = 0; i < n && n > 1; i++) s.sd += (v[i] - s.mean) * (v[i] - s.mean);
    if (n > 1) s.sd = sqrt(s.sd / (n - 1));
    return s;
}

typedef struct {
    int threads;
    stat2 enc_ms, pp, tg;
} bench_row;

/* One thread count: fills row. Returns 0 or -1 with err set. */
static int bench_one(const lv_llama *m, lv_clip *clip, int nt, bench_row *row, lv_error *err)
{
    const lv_llama_hparams *hp = lv_llama_hparams_of(m);
    const int R = (int)o_r, P = (int)o_p, N = (int)o_n;
    double *v = calloc((size_t)R + 1, sizeof *v);
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(P > N ? P : N) + 4);
    float *pix = NULL, *out = NULL;
    lv_llama_ctx *c = NULL;
    int rc = -1;
    if (!v || !toks) {
        lv_errorf(err, "out of memory");
        goto done;
    }
    row->threads = nt;
    uint64_t s = 12345;
    for (int i = 0; i < (P > N ? P : N); i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)(3 + (s >> 33) % (uint64_t)(hp->n_vocab - 3));
    }
    if (clip) {
        const lv_image_params *ip = lv_clip_image_params(clip);
        const size_t S = (size_t)ip->image_size;
        const int np = (ip->image_size / ip->patch_size) * (ip->image_size / ip->patch_size);
        pix = malloc(sizeof(float) * S * S * 3);
        out = malloc(sizeof(float) * (size_t)(np + 1) * (size_t)lv_clip_n_embd(clip));
        if (!pix || !out) {
            lv_errorf(err, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < S * S * 3; i++) pix[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        lv_clip_set_threads(clip, nt);
        for (int r = 0; r <= R; r++) {
            double t0 = lv_now_ms();
            if (lv_clip_encode_tile(clip, pix, LV_IMAGE_LLAMACPP, out, err) != 0) goto done;
            v[r] = lv_now_ms() - t0;
        }
        row->enc_ms = stats(v + 1, R);
    }
    c = lv_llama_ctx_new(m, P + N > 0 ? P + N : 1, P > 0 ? P : 1, 1, nt, err);
    if (!c) goto done;
    if (P > 0) {
        for (int r = 0; r <= R; r++) {
            if (lv_llama_rewind(c, 0, err) != 0) goto done;
            double t0 = lv_now_ms();
            if (lv_llama_eval(c, toks, NULL, P, LV_LOGITS_LAST, err) != 0) goto done;
            v[r] = P / ((lv_now_ms() - t0) / 1000.0);
        }
        row->pp = stats(v + 1, R);
    }
    if (N > 0) {
        for (int r = 0; r <= R; r++) {
            if (lv_llama_rewind(c, 0, err) != 0) goto done;
            double t0 = lv_now_ms();
            for (int i = 0; i < N; i++)
                if (lv_llama_eval(c, toks + i, NULL, 1, LV_LOGITS_LAST, err) != 0) goto done;
            v[r] = N / ((lv_now_ms() - t0) / 1000.0);
        }
        row->tg = stats(v + 1, R);
    }
    rc = 0;
done:
    lv_llama_ctx_free(c);
    free(v), free(toks), free(pix), free(out);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    char *pos[1];
    int npos;
    int prc = cli_parse(&spec, argc, argv, pos, 1, &npos);
    if (prc) return prc > 0 ? CLI_OK : CLI_USAGE;
    if (!o_model) return cli_error("bench", "-m TEXT.gguf is required");
    int th[16], n_th = 0;
    for (const char *p = o_threads; *p && n_th < 16;) {
        char *end;
        long t = strtol(p, &end, 10);
        if (end == p || t < 1 || t > 256) return cli_error("bench", "bad thread list '%s'", o_threads);
        th[n_th++] = (int)t;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return cli_error("bench", "bad thread list '%s'", o_threads);
    }
    lv_error err = {{0}};
    lv_gguf *g = lv_gguf_open(o_model, &err);
    if (!g) return cli_error(o_model, "%s", err.msg);
    lv_llama *m = lv_llama_load(g, NULL, &err);
    lv_clip *clip = NULL;
    int rc = CLI_FAILED;
    bench_row rows[16];
    memset(rows, 0, sizeof rows);
    if (!m) {
        rc = cli_error(o_model, "%s", err.msg);
        goto done;
    }
    if (o_mmproj && !(clip = lv_clip_load(o_mmproj, &err))) {
        rc = cli_error(o_mmproj, "%s", err.msg);
        goto done;
    }
    for (int i = 0; i < n_th; i++)
        if (bench_one(m, clip, th[i], &rows[i], &err) != 0) {
            rc = cli_error("bench", "%s", err.msg);
            goto done;
        }
    const char *type = lv_type_info(lv_llama_main_type(m))->name;
    if (o_json) {
        printf("[");
        for (int i = 0; i < n_th; i++)
            printf("%s\n {\"threads\": %d, \"type\": \"%s\", \"encode_ms\": {\"mean\": %.3f, \"sd\": %.3f}, "
                   "\"pp\": {\"n\": %ld, \"tps_mean\": %.3f, \"tps_sd\": %.3f}, "
                   "\"tg\": {\"n\": %ld, \"tps_mean\": %.3f, \"tps_sd\": %.3f}}",
                   i ? "," : "", rows[i].threads, type, rows[i].enc_ms.mean, rows[i].enc_ms.sd, o_p, rows[i].pp.mean,
                   rows[i].pp.sd, o_n, rows[i].tg.mean, rows[i].tg.sd);
        printf("\n]\n");
    } else {
        printf("| model | type | threads | test | result |\n|---|---|---:|---|---:|\n");
        for (int i = 0; i < n_th; i++) {
            if (clip)
                printf("| %s | %s | %d | encode | %.1f ± %.1f ms |\n", o_model, type, rows[i].threads,
                       rows[i].enc_ms.mean, rows[i].enc_ms.sd);
            if (o_p > 0)
                printf("| %s | %s | %d | pp%ld | %.2f ± %.2f t/s |\n", o_model, type, rows[i].threads, o_p,
                       rows[i].pp.mean, rows[i].pp.sd);
            if (o_n > 0)
                printf("| %s | %s | %d | tg%ld | %.2f ± %.2f t/s |\n", o_model, type, rows[i].threads, o_n,
                       rows[i].tg.mean, rows[i].tg.sd);
        }
    }
    rc = CLI_OK;
done:
    lv_clip_free(clip);
    lv_llama_free(m);
    lv_gguf_close(g);
    return rc;
}
