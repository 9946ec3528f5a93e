/* engine/tokenizer.h — the LLaMA SentencePiece tokenizer (tokenizer.ggml.model =
 * "llama") built from a GGUF vocabulary, as gguf-quant-tokenizer.md §4 specifies:
 * special-token partition, space prefix, score-driven merges with leftmost
 * tie-break, byte fallback, and detokenization.
 *
 * lv_tok_load() copies what it needs out of the GGUF file (the file may be closed
 * afterwards) and validates the tokenizer arrays (types, lengths, byte-token texts).
 * lv_tok_free() releases it. Output arrays are malloc'd and owned by the caller
 * (lv_free).
 */
#ifndef LV_TOKENIZER_H
#define LV_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base.h"
#include "engine/gguf.h"

typedef struct lv_tokenizer lv_tokenizer;

enum { LV_TOK_NORMAL = 1, LV_TOK_UNKNOWN = 2, LV_TOK_CONTROL = 3, LV_TOK_USER_DEFINED = 4,
       LV_TOK_UNUSED = 5, LV_TOK_BYTE = 6 };

lv_tokenizer *lv_tok_load(const lv_gguf *g, lv_error *err);
void          lv_tok_free(lv_tokenizer *t);

int32_t lv_tok_n_vocab(const lv_tokenizer *t);
int32_t lv_tok_bos(const lv_tokenizer *t);
int32_t lv_tok_eos(const lv_tokenizer *t);
int     lv_tok_add_bos(const lv_tokenizer *t);   /* tokenizer.ggml.add_bos_token */
int     lv_tok_type(const lv_tokenizer *t, int32_t id);
/* The vocabulary string of id (with ▁ for spaces), NUL-terminated; NULL if out of range. */
const char *lv_tok_text(const lv_tokenizer *t, int32_t id);

/* Tokenizes len bytes of text. add_special: BOS (and EOS) as the vocabulary says;
 * parse_special: control-token text such as "</s>" becomes that token.
 * On success *ids (malloc'd) holds *n ids. */
int lv_tok_encode(const lv_tokenizer *t, const char *text, size_t len, int add_special,
                  int parse_special, int32_t **ids, int64_t *n, lv_error *err);

/* Bytes of one token's piece (§4.4): writes up to cap bytes to buf and returns the
 * piece length (which may exceed cap), or -1 for an invalid id. */
int lv_tok_piece(const lv_tokenizer *t, int32_t id, int unparse_special, char *buf, size_t cap);

/* Detokenizes (§4.4). Returns a malloc'd NUL-terminated buffer, length in *len
 * (the text may contain NUL bytes or invalid UTF-8). NULL on an invalid id. */
char *lv_tok_decode(const lv_tokenizer *t, const int32_t *ids, int64_t n, int remove_special,
                    int unparse_special, size_t *len, lv_error *err);

#endif
