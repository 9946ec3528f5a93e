/* harness/cmd_tokenize.c — 'llava-eval tokenize': token ids of a text, or (with
 * --detokenize) the text of a list of ids. */
#include "harness/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "harness/jsonw.h"

#define MAX_STDIN (64u << 20)

static const char *opt_model;
static int opt_no_bos, opt_no_special, opt_stdin, opt_json, opt_detok;

static const cli_opt opts[] = {
    {'m', "model", CLI_STR, &opt_model, "FILE", "GGUF file with the vocabulary (a text model)", 0, 0},
    {0, "no-bos", CLI_FLAG, &opt_no_bos, NULL, "do not add BOS (nor EOS)", 0, 0},
    {0, "no-special", CLI_FLAG, &opt_no_special, NULL, "treat special-token text such as </s> as plain text", 0, 0},
    {0, "stdin", CLI_FLAG, &opt_stdin, NULL, "read the text (all bytes, as is) from standard input", 0, 0},
    {0, "json", CLI_FLAG, &opt_json, NULL, "print {\"ids\": [...], \"pieces\": [...], \"text\": detokenized}", 0, 0},
    {0, "detokenize", CLI_FLAG, &opt_detok, NULL, "the argument is a list of ids; print their text", 0, 0},
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec spec = {
    "tokenize", "tokenize -m TEXT.gguf [--no-bos] [--no-special] [--stdin] [--json] [--] TEXT",
    "Prints the token ids of TEXT with the model's LLaMA SentencePiece vocabulary.",
    "Ids are space-separated on one line, BOS first unless --no-bos. Special-token text\n"
    "such as </s> becomes that token unless --no-special. With --detokenize, TEXT is a\n"
    "list of ids (separated by spaces or commas) and their text is written as raw bytes.",
    opts,
};

static char *read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            if (cap >= MAX_STDIN) { free(buf); return NULL; }
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); return NULL; }
            buf = nb;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

static int detokenize(const lv_tokenizer *t, const char *list)
{
    int32_t *ids = NULL;
    int64_t n = 0, cap = 0;
    lv_error err = {{0}};
    const char *p = list;
    while (*p) {
        char *end;
        if (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t') { p++; continue; }
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) { free(ids); return cli_error("tokenize", "'%.20s' is not a token id", p); }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            int32_t *ni = realloc(ids, sizeof *ni * (size_t)cap);
            if (!ni) { free(ids); return cli_error("tokenize", "out of memory"); }
            ids = ni;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    size_t len;
    char *text = lv_tok_decode(t, ids, n, opt_no_special ? 0 : 1, 0, &len, &err);
    free(ids);
    if (!text) return cli_error("tokenize", "%s", err.msg);
    fwrite(text, 1, len, stdout);
    lv_free(text);
    return CLI_OK;
}

int cmd_tokenize(int argc, char **argv)
{
    char *pos[1];
    int npos, rc;
    lv_error err = {{0}};
    char *owned = NULL;
    const char *text;
    size_t len;
    lv_gguf *g = NULL;
    lv_tokenizer *t = NULL;

    rc = cli_parse(&spec, argc, argv, pos, 1, &npos);
    if (rc) return rc > 0 ? CLI_OK : CLI_USAGE;
    if (!opt_model) return cli_error("tokenize", "-m FILE is required (see --help)");
    if (opt_stdin ? npos != 0 : npos != 1)
        return cli_error("tokenize", opt_stdin ? "--stdin takes no TEXT argument" : "expected one TEXT argument (see --help)");
    if (opt_stdin) {
        owned = read_stdin(&len);
        if (!owned) return cli_error("tokenize", "standard input is unreadable or larger than %u MiB", MAX_STDIN >> 20);
        text = owned;
    } else {
        text = pos[0];
        len = strlen(text);
    }
    g = lv_gguf_open(opt_model, &err);
    if (!g) { rc = cli_error(opt_model, "%s", err.msg); goto done; }
    t = lv_tok_load(g, &err);
    if (!t) { rc = cli_error(opt_model, "%s", err.msg); goto done; }
    if (opt_detok) {
        char *z = owned ? lv_strndup(owned, len) : NULL;
        rc = detokenize(t, z ? z : text);
        lv_free(z);
        goto done;
    }

    int32_t *ids;
    int64_t n;
    if (lv_tok_encode(t, text, len, !opt_no_bos, !opt_no_special, &ids, &n, &err)) {
        rc = cli_error("tokenize", "%s", err.msg);
        goto done;
    }
    if (opt_json) {
        size_t tlen;
        char *back = lv_tok_decode(t, ids, n, 1, 0, &tlen, &err);
        fputs("{\"ids\":[", stdout);
        for (int64_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
        fputs("],\"pieces\":[", stdout);
        for (int64_t i = 0; i < n; i++) {
            if (i) fputc(',', stdout);
            jw_cstr(stdout, lv_tok_text(t, ids[i]));
        }
        fputs("],\"text\":", stdout);
        if (back) jw_str(stdout, back, tlen);
        else fputs("null", stdout);
        fputs("}\n", stdout);
        lv_free(back);
    } else {
        for (int64_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    }
    lv_free(ids);
    rc = CLI_OK;
done:
    lv_tok_free(t);
    lv_gguf_close(g);
    free(owned);
    return rc;
}
