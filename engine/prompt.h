/* engine/prompt.h — LLaVA chat templates and where the image rows go, with BOS
 * handling as llama.cpp's llava-cli does it (llava-gguf.md §4):
 *
 *   the prompt is cut into a system part and a user part; the system part is
 *   tokenized with BOS (when the vocabulary adds one), the user part without BOS
 *   (SentencePiece still prefixes a space), both with special-token text parsed;
 *   the image rows go between them.
 *
 *   PROMPT containing "<image>"   system = text before it, user = text after it
 *                                 (llava-cli's template mode, any template);
 *   llava-1.5 (Vicuna v1)         system = "<Vicuna system prompt>\nUSER:",
 *                                 user = PROMPT "\nASSISTANT:";
 *   llava-1.6-mistral             system = "" (BOS only),
 *                                 user = "\nUSER:\n" PROMPT "\nASSISTANT:\n";
 *   raw                           system = PROMPT, no user part; with an image the
 *                                 prompt must contain "<image>".
 *
 * lv_prompt_build() fills a caller-owned lv_prompt; lv_prompt_free() releases it.
 */
#ifndef LV_PROMPT_H
#define LV_PROMPT_H

#include <stdint.h>

#include "engine/base.h"
#include "engine/tokenizer.h"

enum { LV_TPL_LLAVA15 = 0, LV_TPL_LLAVA16_MISTRAL = 1, LV_TPL_RAW = 2 };

/* Template id by name ("llava-1.5", "llava-1.6-mistral", "raw"), or -1. */
int         lv_template_from_name(const char *name);
const char *lv_template_name(int tpl);

#define LV_VICUNA_SYSTEM                                                                   \
    "A chat between a curious human and an artificial intelligence assistant. The "     \
    "assistant gives helpful, detailed, and polite answers to the human's questions."

typedef struct {
    int32_t *ids;       /* [n] the text tokens: system part, then user part */
    int64_t  n;
    int64_t  n_system;  /* ids[0..n_system) is the system part; the image goes after it */
} lv_prompt;

/* Stop rules of llava-cli's generation loop (llava-gguf.md §4), in two checks:
 * lv_stop_before() on the sampled token and its piece, before anything is printed —
 * LV_STOP_EOG for an end-of-generation token (EOS, or a token whose text is
 * <|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>, <|eom_id|>, <EOT>),
 * LV_STOP_HASHES when the piece contains "###" (neither is printed);
 * lv_stop_after() on the text printed so far, the new piece included — LV_STOP_TEXT
 * once it contains "USER:", "<|im_start|>" or "<|im_end|>". Texts may hold NUL bytes. */
enum { LV_STOP_NONE = 0, LV_STOP_EOG = 1, LV_STOP_HASHES = 2, LV_STOP_TEXT = 3 };
int lv_stop_before(const lv_tokenizer *t, int32_t id, const char *piece, size_t len);
int lv_stop_after(const char *text, size_t len);

/* Tokenizes `prompt` in template `tpl`. with_image: an image will be inserted after
 * the system part. */
int  lv_prompt_build(const lv_tokenizer *t, int tpl, const char *prompt, int with_image,
                     lv_prompt *out, lv_error *err);
void lv_prompt_free(lv_prompt *p);

#endif
