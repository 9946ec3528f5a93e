/* tests/test_tokenizer.c — the SPM tokenizer against llama.cpp's references:
 * the 46 cases of shared/fixtures/vocab (HF tokenizer ids, no BOS, special text
 * as plain text) and the 40 strings of tiny-llava/refs/tokenizer.jsonl (with BOS,
 * without BOS, and without special parsing), all through the CLI; detokenization
 * round trips through the C API. */
#include "tests/test.h"

#include <cJSON.h>
#include <stdlib.h>

#include "engine/gguf.h"
#include "engine/tokenizer.h"

/* Runs `tokenize --stdin` with extra flags on text; writes the ids line to out. */
static int cli_ids(const char *model, const char *text, size_t len, const char *f1, const char *f2, char *out, size_t cap)
{
    t_proc p;
    const char *argv[8];
    int n = 0;
    argv[n++] = "tokenize"; argv[n++] = "-m"; argv[n++] = model; argv[n++] = "--stdin";
    if (f1) argv[n++] = f1;
    if (f2) argv[n++] = f2;
    argv[n] = NULL;
    if (t_run(&p, text, len, argv) != 0) return -1;
    int rc = p.rc;
    snprintf(out, cap, "%s", p.out);
    size_t k = strlen(out);
    while (k && (out[k - 1] == '\n' || out[k - 1] == ' ')) out[--k] = 0;
    if (rc) fprintf(stderr, "tokenize failed: %s", p.err);
    t_proc_free(&p);
    return rc;
}

static void ids_to_str(const cJSON *arr, char *out, size_t cap)
{
    size_t w = 0;
    out[0] = 0;
    for (const cJSON *e = arr ? arr->child : NULL; e && w < cap; e = e->next)
        w += (size_t)snprintf(out + w, cap - w, w ? " %d" : "%d", e->valueint);
}

static void test_vocab_cases(void)
{
    const char *model = t_fixture("vocab/ggml-vocab-llama-spm.gguf");
    const char *inp = t_fixture("vocab/ggml-vocab-llama-spm.gguf.inp");
    const char *outp = t_fixture("vocab/ggml-vocab-llama-spm.gguf.out");
    if (!model || !inp || !outp) T_SKIP("shared fixtures absent");
    size_t ilen, olen;
    char *in = t_read_file(inp, &ilen), *out = t_read_file(outp, &olen);
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t seplen = strlen(sep);
    char *ip = in, *op = out;
    int cases = 0;
    char got[65536];
    while (ip < in + ilen) {
        char *e = memmem(ip, (size_t)(in + ilen - ip), sep, seplen);
        if (!e) break;
        char *nl = strchr(op, '\n');
        if (!nl) break;
        *nl = 0;
        while (*op == ' ') op++;
        T_CHECK(cli_ids(model, ip, (size_t)(e - ip), "--no-bos", "--no-special", got, sizeof got) == 0, "case %d", cases);
        T_CHECK(strcmp(got, op) == 0, "case %d: got '%s', expected '%s'", cases, got, op);
        cases++;
        ip = e + seplen;
        op = nl + 1;
    }
    T_EQ_INT(cases, 46);
    free(in);
    free(out);
}

static void test_tinyllava_cases(void)
{
    const char *model = t_fixture("tiny-llava/text-Q4_0.gguf");
    const char *refs = t_fixture("tiny-llava/refs/tokenizer.jsonl");
    if (!model || !refs) T_SKIP("shared fixtures absent");
    char *all = t_read_file(refs, NULL);
    int cases = 0;
    char got[65536], want[65536];
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        T_CHECK(j != NULL, "bad reference line");
        if (!j) continue;
        const char *id = cJSON_GetObjectItem(j, "id")->valuestring;
        const char *hex = cJSON_GetObjectItem(j, "text_hex")->valuestring;
        size_t n = strlen(hex) / 2;
        char *text = malloc(n + 1);
        for (size_t i = 0; i < n; i++) { unsigned v; sscanf(hex + 2 * i, "%2x", &v); text[i] = (char)v; }
        ids_to_str(cJSON_GetObjectItem(j, "ids_add_bos"), want, sizeof want);
        cli_ids(model, text, n, NULL, NULL, got, sizeof got);
        T_CHECK(strcmp(got, want) == 0, "%s with BOS: got '%s', expected '%s'", id, got, want);
        ids_to_str(cJSON_GetObjectItem(j, "ids_no_bos"), want, sizeof want);
        cli_ids(model, text, n, "--no-bos", NULL, got, sizeof got);
        T_CHECK(strcmp(got, want) == 0, "%s no BOS: got '%s', expected '%s'", id, got, want);
        ids_to_str(cJSON_GetObjectItem(j, "ids_no_bos_no_special"), want, sizeof want);
        cli_ids(model, text, n, "--no-bos", "--no-special", got, sizeof got);
        T_CHECK(strcmp(got, want) == 0, "%s no BOS, no special: got '%s', expected '%s'", id, got, want);
        free(text);
        cJSON_Delete(j);
        cases++;
    }
    T_EQ_INT(cases, 40);
    free(all);
}

/* decode(encode(x)) == x without BOS and special parsing, for every case but the
 * literal "▁" (it detokenizes as a space by design, §4.4). */
static void test_roundtrip(void)
{
    const char *model = t_fixture("vocab/ggml-vocab-llama-spm.gguf");
    const char *inp = t_fixture("vocab/ggml-vocab-llama-spm.gguf.inp");
    if (!model || !inp) T_SKIP("shared fixtures absent");
    lv_error err;
    lv_gguf *g = lv_gguf_open(model, &err);
    T_CHECK(g != NULL, "open: %s", err.msg);
    if (!g) return;
    lv_tokenizer *t = lv_tok_load(g, &err);
    lv_gguf_close(g);   /* the tokenizer keeps its own copy */
    T_CHECK(t != NULL, "load: %s", err.msg);
    if (!t) return;
    size_t ilen;
    char *in = t_read_file(inp, &ilen);
    const char *sep = "\n__ggml_vocab_test__\n";
    int n_cases = 0;
    for (char *ip = in; ip < in + ilen;) {
        char *e = memmem(ip, (size_t)(in + ilen - ip), sep, strlen(sep));
        if (!e) break;
        int32_t *ids;
        int64_t n;
        size_t len;
        T_CHECK(lv_tok_encode(t, ip, (size_t)(e - ip), 0, 0, &ids, &n, &err) == 0, "encode");
        char *back = lv_tok_decode(t, ids, n, 1, 0, &len, &err);
        T_CHECK(back && len == (size_t)(e - ip) && memcmp(back, ip, len) == 0,
                "round trip of case %d: '%.*s' -> '%s'", n_cases, (int)(e - ip), ip, back ? back : "(null)");
        lv_free(back);
        lv_free(ids);
        n_cases++;
        ip = e + strlen(sep);
    }
    free(in);
    /* BOS rule: [1, 15043] gives " Hello", [15043] gives "Hello" (§4.4). */
    int32_t a[] = {1, 15043}, b[] = {15043};
    size_t len;
    char *s1 = lv_tok_decode(t, a, 2, 1, 0, &len, &err), *s2 = lv_tok_decode(t, b, 1, 1, 0, &len, &err);
    T_EQ_STR(s1, " Hello");
    T_EQ_STR(s2, "Hello");
    char *s3 = lv_tok_decode(t, a, 2, 0, 1, &len, &err);
    T_EQ_STR(s3, "<s> Hello");
    lv_free(s1); lv_free(s2); lv_free(s3);
    int32_t bad[] = {32000};
    T_CHECK(lv_tok_decode(t, bad, 1, 1, 0, &len, &err) == NULL, "id 32000 must be refused");
    lv_tok_free(t);
}

/* The spec's worked examples (§4.5), through the C API. */
static void test_worked_examples(void)
{
    const char *model = t_fixture("vocab/ggml-vocab-llama-spm.gguf");
    if (!model) T_SKIP("shared fixtures absent");
    lv_error err;
    lv_gguf *g = lv_gguf_open(model, &err);
    lv_tokenizer *t = g ? lv_tok_load(g, &err) : NULL;
    T_CHECK(t != NULL, "load: %s", err.msg);
    if (!t) { lv_gguf_close(g); return; }
    static const struct { const char *text; int special; const char *ids; } cases[] = {
        {"Hello", 0, "15043"}, {"Hello", 1, "1 15043"}, {" Hello", 0, "29871 15043"},
        {"  ", 0, "1678"}, {"Hello\n\nWorld", 0, "15043 13 13 14058"}, {"\xFF\xFE", 0, "29871 258 257"},
        {"<s>[INST] Hi", 0, "529 29879 24566 25580 29962 6324"},
        {"<s>[INST] Hi", 1, "1 1 518 25580 29962 6324"}, {"a<s>b", 1, "1 263 1 289"}, {"", 1, "1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t *ids;
        int64_t n;
        char got[512];
        size_t w = 0;
        T_CHECK(lv_tok_encode(t, cases[i].text, strlen(cases[i].text), cases[i].special, cases[i].special, &ids, &n, &err) == 0, "encode");
        got[0] = 0;
        for (int64_t k = 0; k < n; k++) w += (size_t)snprintf(got + w, sizeof got - w, k ? " %d" : "%d", ids[k]);
        T_CHECK(strcmp(got, cases[i].ids) == 0, "example %zu: got '%s', expected '%s'", i, got, cases[i].ids);
        lv_free(ids);
    }
    lv_tok_free(t);
    lv_gguf_close(g);
}

int main(void)
{
    T_RUN(test_worked_examples);
    T_RUN(test_vocab_cases);
    T_RUN(test_tinyllava_cases);
    T_RUN(test_roundtrip);
    T_MAIN_END();
}
