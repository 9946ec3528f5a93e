/* tests/test_quant.c — tensor types: fp16/bf16 conversion, dequantization bit for
 * bit against the llama.cpp references in tiny-llava/dequant/, and the reference
 * quantizers byte for byte against the files llama-quantize made from text.gguf. */
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>

#include "engine/gguf.h"
#include "engine/quant.h"

static void test_fp16(void)
{
    /* Every half value widens and narrows back to itself (NaNs stay NaN). */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = lv_fp16_to_fp32((uint16_t)h);
        uint16_t back = lv_fp32_to_fp16(f);
        if (isnan(f)) T_CHECK((back & 0x7C00) == 0x7C00 && (back & 0x3FF), "nan %04x", h);
        else T_CHECK(back == h, "%04x -> %g -> %04x", h, (double)f, back);
    }
    /* Known values: 1, -2, 65504, the smallest subnormal, rounding to even. */
    T_EQ_INT(lv_fp32_to_fp16(1.0f), 0x3C00);
    T_EQ_INT(lv_fp32_to_fp16(-2.0f), 0xC000);
    T_EQ_INT(lv_fp32_to_fp16(65504.0f), 0x7BFF);
    T_EQ_INT(lv_fp32_to_fp16(65520.0f), 0x7C00);          /* rounds up to inf */
    T_EQ_INT(lv_fp32_to_fp16(65519.99f), 0x7BFF);
    T_EQ_INT(lv_fp32_to_fp16(5.9604645e-8f), 0x0001);
    T_EQ_INT(lv_fp32_to_fp16(2.9802322e-8f), 0x0000);     /* exactly half of the smallest: to even (0) */
    T_EQ_INT(lv_fp32_to_fp16(1.0f + 1.0f / 2048), 0x3C00); /* tie: to even */
    T_EQ_INT(lv_fp32_to_fp16(1.0f + 3.0f / 2048), 0x3C02); /* tie: to even (up) */
    /* Every rounding case near a few binades, checked against double arithmetic. */
    for (int i = 0; i < 200000; i++) {
        uint32_t bits = (uint32_t)i * 2654435761u;
        float f;
        memcpy(&f, &bits, 4);
        if (!isfinite(f) || fabsf(f) > 65504.0f) continue;
        float r = lv_fp16_to_fp32(lv_fp32_to_fp16(f));
        /* the neighbour halves around f */
        uint16_t h = lv_fp32_to_fp16(f);
        float lo = lv_fp16_to_fp32((uint16_t)(h - 1)), hi = lv_fp16_to_fp32((uint16_t)(h + 1));
        if ((h & 0x7FFF) != 0 && (h & 0x7FFF) < 0x7BFF)
            T_CHECK(fabs((double)r - f) <= fabs((double)lo - f) && fabs((double)r - f) <= fabs((double)hi - f),
                    "fp16 of %.9g is %.9g, not nearest", (double)f, (double)r);
    }
    /* bf16: round to nearest even and quiet NaN. */
    T_EQ_INT(lv_fp32_to_bf16(1.0f), 0x3F80);
    float x;
    uint32_t b = 0x3F808000u;    /* exactly halfway between 0x3F80 and 0x3F81: to even */
    memcpy(&x, &b, 4);
    T_EQ_INT(lv_fp32_to_bf16(x), 0x3F80);
    b = 0x3F818000u;
    memcpy(&x, &b, 4);
    T_EQ_INT(lv_fp32_to_bf16(x), 0x3F82);
    b = 0x7F800001u;
    memcpy(&x, &b, 4);
    T_EQ_INT(lv_fp32_to_bf16(x), 0x7FC0);
}

static void test_traits(void)
{
    static const int removed[] = {4, 5, 31, 32, 33, 36, 37, 38, 39, -1, 1000};
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++)
        T_CHECK(lv_type_info(removed[i]) == NULL, "type %d must be unknown", removed[i]);
    T_EQ_INT(lv_type_info(LV_TYPE_Q4_K)->bytes, 144);
    T_EQ_INT(lv_type_from_name("q6_k"), LV_TYPE_Q6_K);
    T_EQ_INT(lv_type_from_name("nope"), -1);
    uint64_t rb;
    T_CHECK(lv_type_row_bytes(LV_TYPE_Q4_0, 33, &rb) != 0, "33 is not a multiple of 32");
    T_CHECK(lv_type_row_bytes(LV_TYPE_Q4_K, 512, &rb) == 0 && rb == 288, "Q4_K row bytes");
}

/* Each dequant/<file>__<tensor>.f32 must equal our dequantization bit for bit. */
static void test_dequant_refs(void)
{
    static const char *files[] = {
        "text-Q2_K__blk.0.attn_q.weight", "text-Q2_K__blk.1.ffn_down.weight", "text-Q2_K__token_embd.weight",
        "text-Q3_K_M__blk.0.attn_q.weight", "text-Q3_K_M__blk.0.attn_v.weight", "text-Q3_K_M__blk.1.ffn_down.weight",
        "text-Q3_K_M__token_embd.weight", "text-Q4_0__blk.0.attn_q.weight", "text-Q4_0__blk.1.ffn_down.weight",
        "text-Q4_0__token_embd.weight", "text-Q4_1__blk.0.attn_q.weight", "text-Q4_1__blk.1.ffn_down.weight",
        "text-Q4_1__token_embd.weight", "text-Q4_K_M__blk.0.attn_q.weight", "text-Q4_K_M__blk.1.ffn_down.weight",
        "text-Q4_K_M__token_embd.weight", "text-Q5_0__blk.0.attn_q.weight", "text-Q5_0__blk.1.ffn_down.weight",
        "text-Q5_0__token_embd.weight", "text-Q8_0__blk.0.attn_q.weight", "text-Q8_0__blk.1.ffn_down.weight",
        "text-Q8_0__token_embd.weight",
    };
    if (!t_fixtures()) T_SKIP("shared fixtures absent");
    int seen_types[LV_TYPE_COUNT] = {0};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[256], model[128], tensor[128];
        snprintf(rel, sizeof rel, "tiny-llava/dequant/%s.f32", files[i]);
        const char *sep = strstr(files[i], "__");
        snprintf(model, sizeof model, "tiny-llava/%.*s.gguf", (int)(sep - files[i]), files[i]);
        snprintf(tensor, sizeof tensor, "%s", sep + 2);
        const char *refp = t_fixture(rel), *modelp = t_fixture(model);
        T_CHECK(refp && modelp, "missing %s or %s", rel, model);
        if (!refp || !modelp) continue;
        size_t rlen;
        float *ref = (float *)t_read_file(refp, &rlen);
        lv_error err;
        lv_gguf *g = lv_gguf_open(modelp, &err);
        T_CHECK(g != NULL, "%s: %s", model, err.msg);
        if (!g) { free(ref); continue; }
        const lv_gguf_tensor *t = lv_gguf_find_tensor(g, tensor);
        T_CHECK(t != NULL, "tensor %s", tensor);
        if (t) {
            int64_t n = (int64_t)(rlen / 4);   /* may be only the first rows */
            float *got = malloc((size_t)n * 4);
            T_CHECK(n % (int64_t)t->ne[0] == 0, "reference is whole rows");
            T_CHECK(lv_dequantize_row(t->type, t->data, got, n) == 0, "dequantize %s", tensor);
            int64_t bad = 0;
            for (int64_t k = 0; k < n; k++) bad += memcmp(&got[k], &ref[k], 4) != 0;
            T_CHECK(bad == 0, "%s: %lld of %lld values differ", files[i], (long long)bad, (long long)n);
            seen_types[t->type] = 1;
            free(got);
        }
        lv_gguf_close(g);
        free(ref);
    }
    /* Coverage: every block format of the fixtures was compared. */
    static const int want[] = {LV_TYPE_Q2_K, LV_TYPE_Q3_K, LV_TYPE_Q4_0, LV_TYPE_Q4_1, LV_TYPE_Q4_K,
                               LV_TYPE_Q5_0, LV_TYPE_Q5_K, LV_TYPE_Q6_K, LV_TYPE_Q8_0};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        T_CHECK(seen_types[want[i]], "type %s not covered", lv_type_info(want[i])->name);
}

/* Quantizing text.gguf's F16 weights with our reference quantizer must give the
 * bytes llama-quantize wrote into text-<TYPE>.gguf, tensor by tensor. */
static void check_requant(const char *file, int type, int *n_checked)
{
    const char *src = t_fixture("tiny-llava/text.gguf"), *dstp = t_fixture(file);
    lv_error err;
    if (!src || !dstp) return;
    lv_gguf *a = lv_gguf_open(src, &err), *b = lv_gguf_open(dstp, &err);
    T_CHECK(a && b, "open: %s", err.msg);
    for (int64_t i = 0; b && a && i < lv_gguf_n_tensors(b); i++) {
        const lv_gguf_tensor *tq = lv_gguf_tensor_at(b, i);
        if (tq->type != type) continue;
        const lv_gguf_tensor *tf = lv_gguf_find_tensor(a, tq->name);
        T_CHECK(tf && tf->type == LV_TYPE_F16, "%s in text.gguf", tq->name);
        if (!tf) continue;
        int64_t ne0 = (int64_t)tq->ne[0], rows = (int64_t)(tq->ne[1] * tq->ne[2] * tq->ne[3]);
        uint64_t rb;
        lv_type_row_bytes(type, (uint64_t)ne0, &rb);
        float *row = malloc((size_t)ne0 * 4);
        uint8_t *q = malloc((size_t)rb);
        int64_t bad = 0;
        for (int64_t r = 0; r < rows; r++) {
            lv_dequantize_row(LV_TYPE_F16, (const uint8_t *)tf->data + (size_t)r * (size_t)ne0 * 2, row, ne0);
            T_CHECK(lv_quantize_row_ref(type, row, q, ne0) == 0, "quantize");
            bad += memcmp(q, (const uint8_t *)tq->data + (size_t)r * rb, (size_t)rb) != 0;
        }
        T_CHECK(bad == 0, "%s %s: %lld of %lld rows differ from llama-quantize", file, tq->name, (long long)bad, (long long)rows);
        (*n_checked)++;
        free(row);
        free(q);
    }
    lv_gguf_close(a);
    lv_gguf_close(b);
}

static void test_quantizers_match_llama_quantize(void)
{
    if (!t_fixtures()) T_SKIP("shared fixtures absent");
    int n = 0;
    check_requant("tiny-llava/text-Q8_0.gguf", LV_TYPE_Q8_0, &n);
    check_requant("tiny-llava/text-Q4_0.gguf", LV_TYPE_Q4_0, &n);
    check_requant("tiny-llava/text-Q4_1.gguf", LV_TYPE_Q4_1, &n);
    check_requant("tiny-llava/text-Q5_0.gguf", LV_TYPE_Q5_0, &n);
    T_CHECK(n >= 4 * 14, "only %d tensors compared", n);
}

/* The K types: every K tensor of the K-quant files (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K). */
static void test_k_quantizers_match_llama_quantize(void)
{
    if (!t_fixtures()) T_SKIP("shared fixtures absent");
    static const char *files[] = {"tiny-llava/text-Q2_K.gguf", "tiny-llava/text-Q3_K_M.gguf", "tiny-llava/text-Q4_K_M.gguf"};
    static const int types[] = {LV_TYPE_Q2_K, LV_TYPE_Q3_K, LV_TYPE_Q4_K, LV_TYPE_Q5_K, LV_TYPE_Q6_K};
    int n = 0, before;
    for (int t = 0; t < 5; t++) {
        before = n;
        for (int f = 0; f < 3; f++) check_requant(files[f], types[t], &n);
        T_CHECK(n > before, "no %s tensor compared", lv_type_info(types[t])->name);
    }
}

/* Q5_1 has no fixture file: check the quantizer's invariants instead — every
 * value within half a step of the input, min exact, and a round trip through
 * dequantize + requantize is stable. */
static void test_q5_1_quantizer(void)
{
    float x[256], y[256], z[256];
    lv_block_q5_1 q[8], q2[8];
    uint32_t s = 12345;
    for (int i = 0; i < 256; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * (i % 32 == 0 ? 8.0f : 2.0f);
    }
    T_CHECK(lv_quantize_row_ref(LV_TYPE_Q5_1, x, q, 256) == 0, "quantize");
    lv_dequantize_row(LV_TYPE_Q5_1, q, y, 256);
    for (int b = 0; b < 8; b++) {
        float d = lv_fp16_to_fp32(q[b].d);
        for (int j = 0; j < 32; j++)
            T_CHECK(fabsf(y[32 * b + j] - x[32 * b + j]) <= 0.5f * d + 1e-3f * d + fabsf(x[32*b+j]) * 2e-3f,
                    "block %d elem %d: %g vs %g (d %g)", b, j, (double)y[32 * b + j], (double)x[32 * b + j], (double)d);
    }
    lv_quantize_row_ref(LV_TYPE_Q5_1, y, q2, 256);
    lv_dequantize_row(LV_TYPE_Q5_1, q2, z, 256);
    double maxd = 0;
    for (int i = 0; i < 256; i++) maxd = fmax(maxd, fabs((double)z[i] - y[i]));
    T_CHECK(maxd < 0.05, "requantization drift %g", maxd);
}

/* Runtime activation quantizers: §3.2 invariants, and Q8_K bsums. */
static void test_activation_quantizers(void)
{
    float x[512];
    for (int i = 0; i < 512; i++) x[i] = sinf((float)i * 0.37f) * (i == 100 ? 40.0f : 3.0f);
    lv_block_q8_0 a[16];
    lv_quantize_act_q8_0(x, a, 512);
    for (int b = 0; b < 16; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
        T_EQ_INT(a[b].d, lv_fp32_to_fp16(amax / 127.0f));
        for (int j = 0; j < 32; j++) T_EQ_INT(a[b].qs[j], (int)rintf(x[32 * b + j] * (127.0f / amax)));
    }
    lv_block_q8_K k[2];
    lv_quantize_act_q8_K(x, k, 512);
    for (int b = 0; b < 2; b++)
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += k[b].qs[16 * g + j];
            T_EQ_INT(k[b].bsums[g], sum);
        }
    /* the largest-magnitude element maps to -127 (sign convention of §3.2) */
    T_EQ_INT(k[0].qs[100], -127);
    float zero[256] = {0};
    lv_quantize_act_q8_K(zero, k, 256);
    T_CHECK(k[0].d == 0.0f && k[0].qs[0] == 0, "all-zero block");
}

int main(void)
{
    T_RUN(test_fp16);
    T_RUN(test_traits);
    T_RUN(test_dequant_refs);
    T_RUN(test_quantizers_match_llama_quantize);
    T_RUN(test_k_quantizers_match_llama_quantize);
    T_RUN(test_q5_1_quantizer);
    T_RUN(test_activation_quantizers);
    T_MAIN_END();
}
