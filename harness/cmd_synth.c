/* harness/cmd_synth.c — 'llava-eval model synth --shape NAME --type TYPE -o FILE.gguf':
 * a text model with random weights and the exact tensor shapes, names, types and
 * metadata keys of a real file, for benchmarks without downloads (llama.cpp loads it
 * too). Random weights run at the speed of trained ones.
 *
 * Weights: each tensor's rows are drawn from a pool of random rows (normal, σ 0.02,
 * quantized once with the reference quantizer), so writing a 1.1B file takes seconds;
 * every row still lives at its own address, so caches see a real model.
 * TYPE is a tensor type (F16, Q8_0, Q4_0, Q4_K, …) or Q4_K_M / Q5_K_M (llama.cpp's
 * mixes: Q6_K for output, and for attn_v / ffn_down in the layers llama-quantize
 * gives more bits). Norms stay F32.
 */
#include "harness/cli.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/quant.h"

typedef struct {
    const char *name;
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    float eps;
} text_shape;

static const text_shape shapes[] = {
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048, 1e-5f},
    {"llava-1.5-7b", 4096, 32, 32, 32, 11008, 32000, 4096, 1e-5f},
    {"llava-1.5-13b", 5120, 40, 40, 40, 13824, 32000, 4096, 1e-5f},
    {"llava-1.6-mistral-7b", 4096, 32, 32, 8, 14336, 32000, 32768, 1e-5f},
};

static const char *o_shape, *o_type, *o_out;
static long o_seed = 1, o_embd = 4096;

static const cli_opt opts[] = {
    {0, "shape", CLI_STR, &o_shape, "NAME", "tinyllama-1.1b | llava-1.5-7b | llava-1.5-13b | llava-1.6-mistral-7b | clip-vit-l-336", 0, 0},
    {0, "type", CLI_STR, &o_type, "TYPE", "F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K … Q6_K, Q4_K_M, Q5_K_M", 0, 0},
    {'o', "output", CLI_STR, &o_out, "FILE", "the GGUF file to write", 0, 0},
    {0, "seed", CLI_INT, &o_seed, "S", "random seed (default 1)", 0, 4294967295.0},
    {0, "n-embd", CLI_INT, &o_embd, "E", "clip-vit-l-336: the text model width the projector feeds (default 4096)", 256, 16384},
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec spec = {
    "model synth", "model synth --shape NAME --type TYPE -o FILE.gguf",
    "Writes a text model with random weights and the shapes and keys of a real file.",
    "For benchmarks without downloads: llama.cpp and llava-eval both load the file.\n"
    "The vocabulary is a stand-in (<unk>, <s>, </s>, 256 byte tokens, then tokN).",
    opts,
};

static uint64_t rng;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1.0p-53;
}
static float nrand(void)
{
    double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* A pool of POOL random rows of `cols` values in `type` (row_bytes each). */
enum { POOL = 64 };
static uint8_t *row_pool(int type, uint64_t cols, uint64_t row_bytes, float sigma)
{
    uint8_t *p = malloc((size_t)(row_bytes * POOL));
    float *x = malloc(sizeof(float) * (size_t)cols);
    if (!p || !x) {
        free(p), free(x);
        return NULL;
    }
    for (int r = 0; r < POOL; r++) {
        for (uint64_t i = 0; i < cols; i++) x[i] = sigma * nrand();
        lv_quantize_row_ref(type, x, p + r * row_bytes, (int64_t)cols);
    }
    free(x);
    return p;
}

/* Is layer i of n one that llama.cpp's K_M mixes give more bits (use_more_bits)? */
static int more_bits(uint32_t i, uint32_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

typedef struct {
    void **bufs;
    int n, cap;
} buf_list;

/* Adds tensor `name` of `type` with n_dims dimensions ne (ne[0] values per row).
 * fill: 0 ones (norm gains), 1 random (σ 0.02), 2 zeros (biases). */
static int add_tensor_nd(lv_gguf_writer *w, buf_list *bl, const char *name, int type, int n_dims,
                         const uint64_t *ne, int fill, lv_error *err)
{
    uint64_t rb, rows = 1;
    for (int d = 1; d < n_dims; d++) rows *= ne[d];
    const uint64_t cols = ne[0];
    if (lv_type_row_bytes(type, cols, &rb) != 0)
        return lv_errorf(err, "%s: %llu values are not whole %s blocks", name, (unsigned long long)cols, lv_type_info(type)->name);
    uint8_t *data = malloc((size_t)(rb * rows));
    if (!data) return lv_errorf(err, "out of memory for %s", name);
    if (bl->n == bl->cap) {
        int cap = bl->cap ? 2 * bl->cap : 64;
        void **nb = realloc(bl->bufs, sizeof(void *) * (size_t)cap);
        if (!nb) {
            free(data);
            return lv_errorf(err, "out of memory");
        }
        bl->bufs = nb;
        bl->cap = cap;
    }
    bl->bufs[bl->n++] = data;
    if (fill != 1) {
        if (type != LV_TYPE_F32) return lv_errorf(err, "%s: constant fill needs F32", name);
        float *f = (float *)data;
        for (uint64_t i = 0; i < cols * rows; i++) f[i] = fill == 0 ? 1.0f : 0.0f;
    } else {
        uint8_t *pool = row_pool(type, cols, rb, 0.02f);
        if (!pool) return lv_errorf(err, "out of memory for %s", name);
        for (uint64_t r = 0; r < rows; r++) {
            memcpy(data + r * rb, pool + (rng % POOL) * rb, (size_t)rb);
            urand();
        }
        free(pool);
    }
    return lv_gguf_w_tensor(w, name, type, n_dims, ne, data, err);
}

/* A 2-D weight of ne = [cols, rows] (random), or with rows = 1 an F32 norm of ones. */
static int add_tensor(lv_gguf_writer *w, buf_list *bl, const char *name, int type, uint64_t cols,
                      uint64_t rows, lv_error *err)
{
    uint64_t ne[2] = {cols, rows};
    if (rows == 1 && type == LV_TYPE_F32) return add_tensor_nd(w, bl, name, type, 1, ne, 0, err);
    return add_tensor_nd(w, bl, name, type, 2, ne, 1, err);
}

/* The CLIP ViT-L/14-336 mmproj of LLaVA-1.5 (llava-gguf.md §2): F16 weights, F32
 * norms and biases, 23 stored blocks, projector mlp to n_embd. */
static int write_clip(lv_gguf_writer *w, buf_list *bl, uint32_t E, lv_error *err)
{
    const uint32_t H = 1024, F = 4096, P = 14, S = 336, NB = 23, NPOS = (S / P) * (S / P) + 1;
    const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}, stdv[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    char name[96];
    if (lv_gguf_w_str(w, "general.architecture", "clip", err) || lv_gguf_w_u32(w, "general.file_type", 1, err) ||
        lv_gguf_w_str(w, "general.description", "image encoder for LLaVA", err) ||
        lv_gguf_w_str(w, "general.name", "openai/clip-vit-large-patch14-336", err) ||
        lv_gguf_w_bool(w, "clip.has_text_encoder", 0, err) || lv_gguf_w_bool(w, "clip.has_vision_encoder", 1, err) ||
        lv_gguf_w_bool(w, "clip.has_llava_projector", 1, err) || lv_gguf_w_str(w, "clip.projector_type", "mlp", err) ||
        lv_gguf_w_bool(w, "clip.use_gelu", 0, err) || lv_gguf_w_u32(w, "clip.vision.image_size", S, err) ||
        lv_gguf_w_u32(w, "clip.vision.patch_size", P, err) || lv_gguf_w_u32(w, "clip.vision.embedding_length", H, err) ||
        lv_gguf_w_u32(w, "clip.vision.feed_forward_length", F, err) ||
        lv_gguf_w_u32(w, "clip.vision.projection_dim", 768, err) ||
        lv_gguf_w_u32(w, "clip.vision.attention.head_count", 16, err) ||
        lv_gguf_w_f32(w, "clip.vision.attention.layer_norm_epsilon", 1e-5f, err) ||
        lv_gguf_w_u32(w, "clip.vision.block_count", NB, err) ||
        lv_gguf_w_arr(w, "clip.vision.image_mean", LV_GGUF_FLOAT32, mean, 3, err) ||
        lv_gguf_w_arr(w, "clip.vision.image_std", LV_GGUF_FLOAT32, stdv, 3, err))
        return -1;
    const uint64_t pe[4] = {P, P, 3, H}, h1[1] = {H}, pos[2] = {H, NPOS};
    if (add_tensor_nd(w, bl, "v.patch_embd.weight", LV_TYPE_F16, 4, pe, 1, err) ||
        add_tensor_nd(w, bl, "v.class_embd", LV_TYPE_F32, 1, h1, 1, err) ||
        add_tensor_nd(w, bl, "v.position_embd.weight", LV_TYPE_F16, 2, pos, 1, err) ||
        add_tensor_nd(w, bl, "v.pre_ln.weight", LV_TYPE_F32, 1, h1, 0, err) ||
        add_tensor_nd(w, bl, "v.pre_ln.bias", LV_TYPE_F32, 1, h1, 2, err))
        return -1;
    for (uint32_t l = 0; l < NB; l++) {
        const struct { const char *n; uint64_t c, r; } ws[] = {
            {"attn_q", H, H}, {"attn_k", H, H}, {"attn_v", H, H}, {"attn_out", H, H}, {"ffn_down", H, F}, {"ffn_up", F, H},
        };
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            const uint64_t b[1] = {ws[i].r};
            snprintf(name, sizeof name, "v.blk.%u.%s.weight", l, ws[i].n);
            if (add_tensor(w, bl, name, LV_TYPE_F16, ws[i].c, ws[i].r, err)) return -1;
            snprintf(name, sizeof name, "v.blk.%u.%s.bias", l, ws[i].n);
            if (add_tensor_nd(w, bl, name, LV_TYPE_F32, 1, b, 2, err)) return -1;
        }
        const char *lns[] = {"ln1", "ln2"};
        for (int i = 0; i < 2; i++) {
            snprintf(name, sizeof name, "v.blk.%u.%s.weight", l, lns[i]);
            if (add_tensor_nd(w, bl, name, LV_TYPE_F32, 1, h1, 0, err)) return -1;
            snprintf(name, sizeof name, "v.blk.%u.%s.bias", l, lns[i]);
            if (add_tensor_nd(w, bl, name, LV_TYPE_F32, 1, h1, 2, err)) return -1;
        }
    }
    const uint64_t e1[1] = {E};
    return add_tensor(w, bl, "mm.0.weight", LV_TYPE_F16, H, E, err) ||
           add_tensor_nd(w, bl, "mm.0.bias", LV_TYPE_F32, 1, e1, 2, err) ||
           add_tensor(w, bl, "mm.2.weight", LV_TYPE_F16, E, E, err) ||
           add_tensor_nd(w, bl, "mm.2.bias", LV_TYPE_F32, 1, e1, 2, err) ? -1 : 0;
}

/* general.file_type; the K mixes are llama.cpp's Q4_K_M (15) and Q5_K_M (17). */
static int file_type_of(int type, int mix)
{
    if (mix) return type == LV_TYPE_Q4_K ? 15 : 17;
    return lv_type_file_type(type);
}

static int write_vocab(lv_gguf_writer *w, uint32_t n_vocab, lv_error *err)
{
    char **tok = calloc(n_vocab, sizeof *tok);
    size_t *len = calloc(n_vocab, sizeof *len);
    float *score = calloc(n_vocab, sizeof *score);
    int32_t *ttype = calloc(n_vocab, sizeof *ttype);
    int rc = -1;
    if (!tok || !len || !score || !ttype) {
        lv_errorf(err, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n_vocab; i++) {
        char b[32];
        if (i == 0) snprintf(b, sizeof b, "<unk>"), ttype[i] = 2;
        else if (i == 1) snprintf(b, sizeof b, "<s>"), ttype[i] = 3;
        else if (i == 2) snprintf(b, sizeof b, "</s>"), ttype[i] = 3;
        else if (i < 259) snprintf(b, sizeof b, "<0x%02X>", i - 3), ttype[i] = 6;
        else snprintf(b, sizeof b, "tok%u", i), ttype[i] = 1;
        score[i] = i < 259 ? 0.0f : -(float)i;
        if (!(tok[i] = strdup(b))) {
            lv_errorf(err, "out of memory");
            goto done;
        }
        len[i] = strlen(b);
    }
    rc = lv_gguf_w_str(w, "tokenizer.ggml.model", "llama", err) ||
         lv_gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, len, n_vocab, err) ||
         lv_gguf_w_arr(w, "tokenizer.ggml.scores", LV_GGUF_FLOAT32, score, n_vocab, err) ||
         lv_gguf_w_arr(w, "tokenizer.ggml.token_type", LV_GGUF_INT32, ttype, n_vocab, err) ||
         lv_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 1, err) ||
         lv_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 2, err) ||
         lv_gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", 0, err) ? -1 : 0;
done:
    for (uint32_t i = 0; tok && i < n_vocab; i++) free(tok[i]);
    free(tok), free(len), free(score), free(ttype);
    return rc;
}

int cmd_model_synth(int argc, char **argv)
{
    char *pos[1];
    int npos;
    int prc = cli_parse(&spec, argc, argv, pos, 1, &npos);
    if (prc) return prc > 0 ? CLI_OK : CLI_USAGE;
    if (!o_shape || !o_out) return cli_error("model synth", "--shape and -o are required");
    if (strcmp(o_shape, "clip-vit-l-336") == 0) {   /* the mmproj: always F16 */
        lv_error e = {{0}};
        buf_list b = {0};
        lv_gguf_writer *cw = lv_gguf_writer_new();
        rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)o_seed * 0x2545f4914f6cdd1dull;
        int r = !cw || write_clip(cw, &b, (uint32_t)o_embd, &e) || lv_gguf_w_save(cw, o_out, &e)
                    ? cli_error(o_out, "%s", cw ? e.msg : "out of memory") : CLI_OK;
        for (int i = 0; i < b.n; i++) free(b.bufs[i]);
        free(b.bufs);
        lv_gguf_writer_free(cw);
        return r;
    }
    if (!o_type) return cli_error("model synth", "--type is required for a text model");
    const text_shape *S = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(o_shape, shapes[i].name) == 0) S = &shapes[i];
    if (!S) return cli_error("model synth", "unknown shape '%s' (see --help)", o_shape);
    int mix = 0, type;
    if (strcmp(o_type, "Q4_K_M") == 0 || strcmp(o_type, "q4_k_m") == 0) mix = 1, type = LV_TYPE_Q4_K;
    else if (strcmp(o_type, "Q5_K_M") == 0 || strcmp(o_type, "q5_k_m") == 0) mix = 1, type = LV_TYPE_Q5_K;
    else type = lv_type_from_name(o_type);
    if (type < 0 || file_type_of(type, mix) < 0) return cli_error("model synth", "'%s' is not a type it can write", o_type);
    rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)o_seed * 0x2545f4914f6cdd1dull;
    if (!rng) rng = 1;

    lv_error err = {{0}};
    buf_list bl = {0};
    lv_gguf_writer *w = lv_gguf_writer_new();
    int rc = CLI_FAILED;
    char name[96];
    const uint32_t E = S->n_embd, KV = S->n_embd / S->n_head * S->n_head_kv, F = S->n_ff;
    if (!w) return cli_error("model synth", "out of memory");
    if (lv_gguf_w_str(w, "general.architecture", "llama", &err) || lv_gguf_w_str(w, "general.name", S->name, &err) ||
        lv_gguf_w_u32(w, "general.file_type", (uint32_t)file_type_of(type, mix), &err) ||
        lv_gguf_w_u32(w, "general.quantization_version", 2, &err) ||
        lv_gguf_w_u32(w, "llama.context_length", S->n_ctx, &err) ||
        lv_gguf_w_u32(w, "llama.embedding_length", E, &err) || lv_gguf_w_u32(w, "llama.block_count", S->n_layer, &err) ||
        lv_gguf_w_u32(w, "llama.feed_forward_length", F, &err) ||
        lv_gguf_w_u32(w, "llama.rope.dimension_count", E / S->n_head, &err) ||
        lv_gguf_w_u32(w, "llama.attention.head_count", S->n_head, &err) ||
        lv_gguf_w_u32(w, "llama.attention.head_count_kv", S->n_head_kv, &err) ||
        lv_gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", S->eps, &err) ||
        lv_gguf_w_f32(w, "llama.rope.freq_base", 10000.0f, &err) || write_vocab(w, S->n_vocab, &err))
        goto werr;
    const int hi = mix ? LV_TYPE_Q6_K : type;
    if (add_tensor(w, &bl, "token_embd.weight", type, E, S->n_vocab, &err)) goto werr;
    for (uint32_t l = 0; l < S->n_layer; l++) {
        const int more = mix && more_bits(l, S->n_layer);
        const struct { const char *n; int t; uint32_t cols, rows; } ts[] = {
            {"attn_norm.weight", LV_TYPE_F32, E, 1},  {"attn_q.weight", type, E, E},
            {"attn_k.weight", type, E, KV},           {"attn_v.weight", more ? hi : type, E, KV},
            {"attn_output.weight", type, E, E},       {"ffn_norm.weight", LV_TYPE_F32, E, 1},
            {"ffn_gate.weight", type, E, F},          {"ffn_up.weight", type, E, F},
            {"ffn_down.weight", more ? hi : type, F, E},
        };
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
            snprintf(name, sizeof name, "blk.%u.%s", l, ts[i].n);
            if (add_tensor(w, &bl, name, ts[i].t, ts[i].cols, ts[i].rows, &err)) goto werr;
        }
    }
    if (add_tensor(w, &bl, "output_norm.weight", LV_TYPE_F32, E, 1, &err) ||
        add_tensor(w, &bl, "output.weight", mix ? LV_TYPE_Q6_K : type, E, S->n_vocab, &err))
        goto werr;
    if (lv_gguf_w_save(w, o_out, &err)) goto werr;
    rc = CLI_OK;
    goto done;
werr:
    rc = cli_error(o_out, "%s", err.msg);
done:
    for (int i = 0; i < bl.n; i++) free(bl.bufs[i]);
    free(bl.bufs);
    lv_gguf_writer_free(w);
    return rc;
}
