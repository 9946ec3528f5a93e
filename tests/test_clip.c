/* tests/test_clip.c — engine/clip: loading (and refusing broken mmproj files), the
 * vision tower + projector in both modes against the tiny-llava references, the
 * LLaVA-1.6 merge order and the image-token counts.
 *   llama.cpp mode vs refs/: full embeddings c01–c03 within 1e-2, the image_embd
 *     summaries of all 13 cases, the anyres row statistics (token order).
 *   llava mode vs refs-llava/: every embedding file, relative RMS ≤ 2e-3 and max
 *     abs ≤ 2e-2 (f16-activation tolerance of its README); the JPEG through our
 *     own (stb) decoder within relative RMS 2e-2.
 * Measured numbers are printed to stderr as "measure ..." lines.
 */
#include "tests/vision_refs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/clip.h"
#include "engine/gguf.h"

static lv_clip *clip_15, *clip_16;

static lv_clip *get_clip(const char *mmproj)
{
    lv_clip **slot = strstr(mmproj, "anyres") ? &clip_16 : &clip_15;
    if (!*slot) {
        char rel[128];
        const char *path;
        lv_error err;
        snprintf(rel, sizeof rel, VR_DIR "%s", mmproj);
        path = t_fixture(rel);
        if (!path) return NULL;
        *slot = lv_clip_load(path, &err);
        T_CHECK(*slot != NULL, "load %s: %s", mmproj, err.msg);
    }
    return *slot;
}

/* Encodes a fixture image in `mode`; *n tokens. */
static float *encode(const char *mmproj, const char *image_rel, lv_image_mode mode, int *n)
{
    lv_clip *c = get_clip(mmproj);
    lv_image img;
    lv_error err;
    float *out = NULL;
    *n = 0;
    if (!c || vr_image(image_rel, &img)) return NULL;
    if (lv_clip_encode_image(c, &img, mode, &out, n, &err)) T_CHECK(0, "%s: %s", image_rel, err.msg);
    lv_image_free(&img);
    return out;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

static double rel_rms(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

/* ---- loading ------------------------------------------------------------------- */

static void t_load_hparams(void)
{
    lv_clip *c = get_clip("mmproj.gguf"), *a = get_clip("mmproj-anyres.gguf");
    const lv_clip_hparams *hp;
    const lv_image_params *ip;
    lv_image_params want = vr_params("mmproj-anyres.gguf");
    if (!c || !a) T_SKIP("tiny-llava mmproj absent");
    hp = lv_clip_get_hparams(c);
    T_EQ_INT(hp->image_size, 336);
    T_EQ_INT(hp->patch_size, 14);
    T_EQ_INT(hp->n_patches, 576);
    T_EQ_INT(hp->n_pos, 577);
    T_EQ_INT(hp->n_embd, 64);
    T_EQ_INT(hp->n_head, 4);
    T_EQ_INT(hp->n_ff, 256);
    T_EQ_INT(hp->n_layer, 3);
    T_EQ_INT(hp->use_gelu, 0);
    T_EQ_INT(hp->has_class, 1);
    T_EQ_INT(hp->has_pre_ln, 1);
    T_EQ_INT(hp->has_post_ln, 0);
    T_EQ_INT(hp->projector, LV_CLIP_PROJ_MLP);
    T_EQ_INT(hp->proj_hidden, 256);
    T_EQ_INT(lv_clip_n_embd(c), 256);
    T_EQ_INT(hp->has_newline, 0);
    T_NEAR(hp->eps, 1e-5, 1e-12);
    ip = lv_clip_image_params(c);
    T_EQ_INT(ip->n_pinpoints, 0);
    T_EQ_INT(ip->spatial_unpad, 0);
    T_CHECK(memcmp(ip->mean, want.mean, sizeof want.mean) == 0, "mean");
    T_CHECK(memcmp(ip->std, want.std, sizeof want.std) == 0, "std");
    ip = lv_clip_image_params(a);
    T_EQ_INT(ip->spatial_unpad, 1);
    T_EQ_INT(ip->n_pinpoints, 5);
    T_CHECK(memcmp(ip->pinpoints, want.pinpoints, sizeof want.pinpoints) == 0, "pinpoints");
    T_EQ_INT(lv_clip_get_hparams(a)->has_newline, 1);
}

/* Offset of the value of metadata key `key` in a GGUF image (after key and type). */
static long kv_value_offset(const uint8_t *b, size_t n, const char *key, uint32_t *type)
{
    size_t kl = strlen(key);
    for (size_t i = 8; i + kl + 8 < n; i++)
        if (memcmp(b + i, key, kl) == 0 && b[i - 8] == kl && b[i - 7] == 0) {
            memcpy(type, b + i + kl, 4);
            return (long)(i + kl + 4);
        }
    return -1;
}

static void expect_load_error(const uint8_t *b, size_t n, const char *what, const char *needle)
{
    lv_error err = { "" };
    lv_gguf *g = lv_gguf_open_memory(b, n, &err);
    lv_clip *c = NULL;
    if (g) c = lv_clip_load_gguf(g, &err);
    T_CHECK(c == NULL, "%s: loaded, expected an error", what);
    T_CHECK(err.msg[0] != 0, "%s: no message", what);
    if (needle) T_CHECK(strstr(err.msg, needle) != NULL, "%s: '%s' lacks '%s'", what, err.msg, needle);
    lv_clip_free(c);
    lv_gguf_close(g);
}

static const struct { const char *key; uint32_t value; const char *needle; } bad_keys[] = {
    { "clip.vision.block_count", 4, "v.blk.3" },
    { "clip.vision.block_count", 2, "beyond block_count" },
    { "clip.vision.block_count", 100000, "out of range" },
    { "clip.vision.embedding_length", 66, "head_count" },
    { "clip.vision.embedding_length", 68, "shape" },
    { "clip.vision.patch_size", 15, "multiple" },
    { "clip.vision.patch_size", 0, "out of range" },
    { "clip.vision.image_size", 672, "shape" },
    { "clip.vision.attention.head_count", 0, "out of range" },
};

static void t_bad_mmproj(void)
{
    const char *path = t_fixture(VR_DIR "mmproj.gguf");
    const char *text = t_fixture(VR_DIR "text.gguf");
    size_t n;
    uint8_t *b, save[4];
    uint32_t type;
    long off;
    lv_error err;
    if (!path) T_SKIP("mmproj absent");
    b = (uint8_t *)t_read_file(path, &n);
    /* u32 keys set to bad values, one row each */
    for (size_t k = 0; k < sizeof bad_keys / sizeof bad_keys[0]; k++) {
        off = kv_value_offset(b, n, bad_keys[k].key, &type);
        T_CHECK(off > 0 && type == 4, "key %s not found as u32", bad_keys[k].key);
        if (off <= 0) continue;
        memcpy(save, b + off, 4);
        memcpy(b + off, &bad_keys[k].value, 4);
        expect_load_error(b, n, bad_keys[k].key, bad_keys[k].needle);
        memcpy(b + off, save, 4);
    }
    off = kv_value_offset(b, n, "clip.vision.image_std", &type);
    T_CHECK(off > 0 && type == 9, "image_std not found as an array");
    if (off > 0) {   /* array: element type u32, count u64, then the floats */
        static const float bad[3] = { 1e9f, 0.0f, NAN };
        for (int k = 0; k < 3; k++) {
            memcpy(save, b + off + 12, 4);
            memcpy(b + off + 12, &bad[k], 4);
            expect_load_error(b, n, "image_std", k == 2 ? "not finite" : "out of range");
            memcpy(b + off + 12, save, 4);
        }
    }
    off = kv_value_offset(b, n, "clip.use_gelu", &type);
    if (off > 0) {   /* rename the key: a required key is missing */
        b[off - 5] ^= 0x20;
        expect_load_error(b, n, "no use_gelu", "use_gelu");
        b[off - 5] ^= 0x20;
    }
    {   /* a tensor renamed away */
        static const char nm[] = "v.blk.1.attn_q.weight";
        for (size_t i = 0; i + sizeof nm < n; i++)
            if (memcmp(b + i, nm, sizeof nm - 1) == 0) {
                b[i + 8] = 'x';
                expect_load_error(b, n, "missing attn_q", "v.blk.1.attn_q.weight");
                b[i + 8] = 'a';
                break;
            }
    }
    /* the original still loads */
    {
        lv_gguf *g = lv_gguf_open_memory(b, n, &err);
        lv_clip *c = g ? lv_clip_load_gguf(g, &err) : NULL;
        T_CHECK(c != NULL, "unmodified: %s", err.msg);
        lv_clip_free(c);
        lv_gguf_close(g);
    }
    /* truncated files fail in the GGUF reader or here, never crash */
    for (size_t cut = 0; cut < n; cut += cut < 4096 ? 61 : 9973)
        expect_load_error(b, cut, "truncated", NULL);
    free(b);
    if (text) {
        T_CHECK(lv_clip_load(text, &err) == NULL && strstr(err.msg, "clip"), "text.gguf: %s", err.msg);
    }
}

/* Without mm.2 the file is LLaVA v1's single linear projector: rows of mm.0's width,
 * no GELU. With the tiny file that is the pre-GELU hidden layer of the mlp. */
static void t_linear_projector(void)
{
    const char *path = t_fixture(VR_DIR "mmproj.gguf");
    size_t n, renamed = 0;
    uint8_t *b;
    lv_error err;
    if (!path) T_SKIP("mmproj absent");
    b = (uint8_t *)t_read_file(path, &n);
    for (size_t i = 0; i + 4 < n; i++)
        if (memcmp(b + i, "mm.2.", 5) == 0) { b[i + 3] = '7'; renamed++; }
    T_EQ_INT(renamed, 2);
    {
        lv_gguf *g = lv_gguf_open_memory(b, n, &err);
        lv_clip *c = g ? lv_clip_load_gguf(g, &err) : NULL;
        T_CHECK(c != NULL, "%s", err.msg);
        if (c) {
            lv_clip *full = get_clip("mmproj.gguf");
            lv_image img;
            float *lin = NULL, *mlp = NULL;
            int nl = 0, nm = 0;
            T_EQ_INT(lv_clip_get_hparams(c)->projector, LV_CLIP_PROJ_LINEAR);
            T_EQ_INT(lv_clip_n_embd(c), 256);
            if (full && vr_image(VR_DIR "images/shapes336.png", &img) == 0) {
                T_CHECK(lv_clip_encode_image(c, &img, LV_IMAGE_LLAVA, &lin, &nl, &err) == 0, "%s", err.msg);
                T_CHECK(lv_clip_encode_image(full, &img, LV_IMAGE_LLAVA, &mlp, &nm, &err) == 0, "%s", err.msg);
                T_EQ_INT(nl, 576);
                if (lin && mlp) {
                    int neg = 0;
                    for (size_t i = 0; i < (size_t)nl * 256; i++) neg += lin[i] < -0.2f;
                    T_CHECK(neg > 1000, "linear output has no clearly negative values");
                    T_CHECK(max_abs_diff(lin, mlp, (size_t)nl * 256) > 0.1, "same as mlp");
                }
                lv_free(lin);
                lv_free(mlp);
                lv_image_free(&img);
            }
        }
        lv_clip_free(c);
        lv_gguf_close(g);
    }
    free(b);
}

/* ---- llama.cpp mode ------------------------------------------------------------ */

static void t_llamacpp_full_embeddings(void)
{
    static const char *ids[3] = { "c01", "c02", "c03" };
    cJSON *cases = vr_json(VR_DIR "refs/cases.json");
    if (!cases || !get_clip("mmproj.gguf")) T_SKIP("tiny-llava refs absent");
    for (int i = 0; i < 3; i++) {
        char rel[256];
        size_t n;
        int nt;
        float *ref, *got;
        snprintf(rel, sizeof rel, VR_DIR "refs/dumps/%s.embd.f32", ids[i]);
        ref = vr_f32(rel, &n);
        snprintf(rel, sizeof rel, VR_DIR "%s",
                 vr_str(vr_find(cJSON_GetObjectItemCaseSensitive(cases, "cases"), "id", ids[i]), "image"));
        got = encode("mmproj.gguf", rel, LV_IMAGE_LLAMACPP, &nt);
        T_EQ_INT(nt, 576);
        if (ref && got && n == (size_t)nt * 256) {
            double d = max_abs_diff(got, ref, n);
            fprintf(stderr, "measure llama.cpp %s embd max_abs %.3g rel_rms %.3g\n", ids[i], d,
                    rel_rms(got, ref, n));
            T_CHECK(d <= 1e-2, "%s: max abs diff %g", ids[i], d);
        }
        free(ref);
        lv_free(got);
    }
    cJSON_Delete(cases);
}

/* aNN.embd_rowstats.f32: per token row [sum, L2 norm, element 0, element 255]. */
static void check_rowstats(const char *id, const float *got, int nt)
{
    char rel[256];
    size_t n;
    float *rs;
    double worst = 0;
    snprintf(rel, sizeof rel, VR_DIR "refs/dumps/%s.embd_rowstats.f32", id);
    rs = vr_f32(rel, &n);
    T_EQ_INT(n, (size_t)nt * 4);
    for (int t = 0; rs && n == (size_t)nt * 4 && t < nt; t++) {
        const float *row = got + (size_t)t * 256;
        double sum = 0, l2 = 0, dl2, de;
        for (int k = 0; k < 256; k++) { sum += row[k]; l2 += (double)row[k] * row[k]; }
        l2 = sqrt(l2);
        dl2 = fabs(l2 - rs[4 * t + 1]) / (rs[4 * t + 1] + 1e-6);
        de = fmax(fabs(row[0] - rs[4 * t + 2]), fabs(row[255] - rs[4 * t + 3]));
        if (dl2 > worst) worst = dl2;
        if (dl2 > 2e-3 || de > 1e-2 || fabs(sum - rs[4 * t]) > 0.1) {
            T_CHECK(0, "%s row %d: sum %g/%g l2 %g/%g e0 %g/%g", id, t, sum, rs[4 * t], l2,
                    rs[4 * t + 1], row[0], rs[4 * t + 2]);
            break;
        }
    }
    fprintf(stderr, "measure llama.cpp %s rowstats worst L2 rel %.3g\n", id, worst);
    free(rs);
}

/* One case in llama.cpp mode: token count, the image_embd summaries, and for
 * anyres the per-row statistics (which pin the merge order). */
static void check_llamacpp_case(const vr_ref_case *rc, void *ctx)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(rc->rec, "image_embd");
    const int want = (int)vr_num(rc->rec, "n_image_tokens");
    int nt;
    float *got = encode(rc->mmproj, rc->image, LV_IMAGE_LLAMACPP, &nt);
    (void)ctx;
    if (!got) return;
    T_EQ_INT(nt, want);
    if (nt == want) {
        vr_stats s = vr_stats_of(got, (size_t)nt * 256);
        double d1 = vr_maxdiff_list(got, 16, cJSON_GetObjectItemCaseSensitive(e, "first16"));
        double d2 = vr_maxdiff_list(got + (size_t)(nt - 1) * 256, 16,
                                    cJSON_GetObjectItemCaseSensitive(e, "last_row_first16"));
        double dm = fabs(s.mean - vr_num(e, "mean")), ds = fabs(s.std - vr_num(e, "std"));
        fprintf(stderr, "measure llama.cpp %s tokens %d first16 %.3g last_row %.3g mean %.2g std %.2g\n",
                rc->id, nt, d1, d2, dm, ds);
        T_CHECK(d1 <= 1e-2 && d2 <= 1e-2, "%s: first16 %g last_row %g", rc->id, d1, d2);
        T_CHECK(dm <= 1e-3 && ds <= 1e-3, "%s: mean %g std %g", rc->id, dm, ds);
        if (strstr(rc->mmproj, "anyres")) check_rowstats(rc->id, got, nt);
    }
    lv_free(got);
}

static void t_llamacpp_summaries(void)
{
    int n;
    if (!get_clip("mmproj.gguf")) T_SKIP("mmproj absent");
    n = vr_each_case("refs", check_llamacpp_case, NULL);
    if (n < 0) T_SKIP("tiny-llava refs absent");
    T_EQ_INT(n, 13);
}

/* ---- llava mode ----------------------------------------------------------------- */

/* One case in llava mode against refs-llava: the PIL decode for the JPEG (the
 * f16-activation tolerance of its README), then the JPEG through our decoder. */
static void check_llava_case(const vr_ref_case *rc, void *ctx)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(rc->rec, "files");
    const char *pil = vr_str(files, "decoded_rgb");
    char rel[256];
    size_t n;
    int nt;
    float *ref, *got;
    (void)ctx;
    snprintf(rel, sizeof rel, VR_DIR "refs-llava/%s", vr_str(files, "embd"));
    ref = vr_f32(rel, &n);
    if (pil) snprintf(rel, sizeof rel, VR_DIR "refs-llava/%s", pil);
    else snprintf(rel, sizeof rel, "%s", rc->image);
    got = encode(rc->mmproj, rel, LV_IMAGE_LLAVA, &nt);
    T_EQ_INT(nt, (int)vr_num(rc->rec, "n_image_tokens"));
    if (ref && got && n == (size_t)nt * 256) {
        double d = max_abs_diff(got, ref, n), rr = rel_rms(got, ref, n);
        fprintf(stderr, "measure llava %s tokens %d embd max_abs %.3g rel_rms %.3g\n", rc->id, nt, d, rr);
        T_CHECK(d <= 2e-2 && rr <= 2e-3, "%s: max abs %g rel rms %g", rc->id, d, rr);
    }
    lv_free(got);
    if (pil && ref) {
        got = encode(rc->mmproj, rc->image, LV_IMAGE_LLAVA, &nt);
        if (got && n == (size_t)nt * 256) {
            double rr = rel_rms(got, ref, n);
            fprintf(stderr, "measure llava %s stb-decoded rel_rms %.3g\n", rc->id, rr);
            T_CHECK(rr <= 2e-2, "%s (stb decode): rel rms %g", rc->id, rr);
        }
        lv_free(got);
    }
    free(ref);
}

static void t_llava_embeddings(void)
{
    int n;
    if (!get_clip("mmproj.gguf")) T_SKIP("mmproj absent");
    n = vr_each_case("refs-llava", check_llava_case, NULL);
    if (n < 0) T_SKIP("refs-llava absent");
    T_EQ_INT(n, 13);
}

/* ---- token counts for other sizes (llava-gguf §3.6, §7.4) ------------------------ */

static void t_token_counts(void)
{
    static const int cases[][4] = {   /* w, h, llama.cpp, llava */
        { 336, 336, 1728, 1176 }, { 672, 672, 2880, 2928 }, { 640, 480, 2880, 2340 },
        { 1000, 250, 2304, 1890 }, { 300, 200, 1728, 976 }, { 240, 400, 1728, 1576 },
    };
    lv_clip *c15 = get_clip("mmproj.gguf"), *c16 = get_clip("mmproj-anyres.gguf");
    if (!c15 || !c16) T_SKIP("mmproj absent");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int m = 0; m < 2; m++) {
            lv_image img = {0};
            lv_image_batch b;
            lv_error err;
            img.w = cases[i][0];
            img.h = cases[i][1];
            img.rgb = lv_calloc((size_t)img.w * img.h * 3, 1);
            if (lv_image_preprocess(&img, lv_clip_image_params(c16), m ? LV_IMAGE_LLAVA : LV_IMAGE_LLAMACPP,
                                    &b, &err) == 0) {
                T_CHECK(lv_clip_n_tokens(c16, &b) == cases[i][2 + m], "%dx%d mode %d: %d tokens",
                        img.w, img.h, m, lv_clip_n_tokens(c16, &b));
                lv_image_batch_free(&b);
            } else {
                T_CHECK(0, "%s", err.msg);
            }
            if (lv_image_preprocess(&img, lv_clip_image_params(c15), m ? LV_IMAGE_LLAVA : LV_IMAGE_LLAMACPP,
                                    &b, &err) == 0) {
                T_EQ_INT(lv_clip_n_tokens(c15, &b), 576);
                lv_image_batch_free(&b);
            }
            lv_image_free(&img);
        }
}

/* --resolution then encode: a reduced image still gives the model's token count. */
static void t_reduced_then_encoded(void)
{
    lv_clip *c = get_clip("mmproj.gguf");
    lv_image img, small;
    lv_error err;
    float *out = NULL;
    int nt = 0;
    if (!c || vr_image(VR_DIR "images/photo640x480.jpg", &img)) T_SKIP("fixtures absent");
    T_CHECK(lv_image_reduce(&img, 112, &small, &err) == 0, "%s", err.msg);
    T_CHECK(small.w == 112 && small.h == 84, "%dx%d", small.w, small.h);
    T_CHECK(lv_clip_encode_image(c, &small, LV_IMAGE_LLAVA, &out, &nt, &err) == 0, "%s", err.msg);
    T_EQ_INT(nt, 576);
    lv_free(out);
    lv_image_free(&small);
    lv_image_free(&img);
}

int main(void)
{
    T_RUN(t_load_hparams);
    T_RUN(t_bad_mmproj);
    T_RUN(t_linear_projector);
    T_RUN(t_llamacpp_full_embeddings);
    T_RUN(t_llamacpp_summaries);
    T_RUN(t_llava_embeddings);
    T_RUN(t_token_counts);
    T_RUN(t_reduced_then_encoded);
    lv_clip_free(clip_15);
    lv_clip_free(clip_16);
    T_MAIN_END();
}
