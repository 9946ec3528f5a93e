/* engine/prompt.c — chat templates (see prompt.h). */
#include "engine/prompt.h"

#include <stdio.h>
#include <string.h>

static const char *const tpl_names[] = {"llava-1.5", "llava-1.6-mistral", "raw"};

int lv_template_from_name(const char *name)
{
    for (int i = 0; i < (int)(sizeof tpl_names / sizeof tpl_names[0]); i++)
        if (strcmp(name, tpl_names[i]) == 0) return i;
    return -1;
}

const char *lv_template_name(int tpl)
{
    return tpl >= 0 && tpl < (int)(sizeof tpl_names / sizeof tpl_names[0]) ? tpl_names[tpl] : "?";
}

/* "a" + "b" + "c" into a new buffer; NULL when out of memory. */
static char *concat3(const char *a, size_t alen, const char *b, const char *c)
{
    size_t bl = strlen(b), cl = strlen(c);
    char *s = lv_malloc(alen + bl + cl + 1);
    if (!s) return NULL;
    memcpy(s, a, alen);
    memcpy(s + alen, b, bl);
    memcpy(s + alen + bl, c, cl + 1);
    return s;
}

int lv_prompt_build(const lv_tokenizer *t, int tpl, const char *prompt, int with_image,
                    lv_prompt *out, lv_error *err)
{
    char *sys = NULL, *user = NULL;
    int32_t *a = NULL, *b = NULL;
    int64_t na = 0, nb = 0;
    int rc = -1;
    const char *mark = strstr(prompt, "<image>");
    memset(out, 0, sizeof *out);

    if (mark) {
        sys = concat3(prompt, (size_t)(mark - prompt), "", "");
        user = concat3(mark + 7, strlen(mark + 7), "", "");
    } else if (tpl == LV_TPL_LLAVA15) {
        sys = concat3(LV_VICUNA_SYSTEM, strlen(LV_VICUNA_SYSTEM), "\nUSER:", "");
        user = concat3(prompt, strlen(prompt), "\nASSISTANT:", "");
    } else if (tpl == LV_TPL_LLAVA16_MISTRAL) {
        sys = concat3("", 0, "", "");
        user = concat3("\nUSER:\n", 7, prompt, "\nASSISTANT:\n");
    } else if (tpl == LV_TPL_RAW) {
        if (with_image) return lv_errorf(err, "the raw template needs <image> in the prompt to place the image");
        sys = concat3(prompt, strlen(prompt), "", "");
        user = concat3("", 0, "", "");
    } else {
        return lv_errorf(err, "unknown template %d", tpl);
    }
    if (!sys || !user) {
        lv_errorf(err, "out of memory");
        goto done;
    }
    if (lv_tok_encode(t, sys, strlen(sys), 1, 1, &a, &na, err) != 0) goto done;
    if (user[0] && lv_tok_encode(t, user, strlen(user), 0, 1, &b, &nb, err) != 0) goto done;
    out->ids = lv_malloc(sizeof *out->ids * (size_t)(na + nb + 1));
    if (!out->ids) {
        lv_errorf(err, "out of memory");
        goto done;
    }
    if (na) memcpy(out->ids, a, sizeof *a * (size_t)na);
    if (nb) memcpy(out->ids + na, b, sizeof *b * (size_t)nb);
    out->n = na + nb;
    out->n_system = na;
    rc = 0;
done:
    lv_free(sys);
    lv_free(user);
    lv_free(a);
    lv_free(b);
    return rc;
}

void lv_prompt_free(lv_prompt *p)
{
    if (!p) return;
    lv_free(p->ids);
    p->ids = NULL;
    p->n = p->n_system = 0;
}

/* ------------------------------------------------------------- stop rules --- */

static int has(const char *s, size_t len, const char *needle)
{
    return memmem(s, len, needle, strlen(needle)) != NULL;
}

int lv_stop_before(const lv_tokenizer *t, int32_t id, const char *piece, size_t len)
{
    static const char *const eog_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                            "<|endoftext|>", "<|eom_id|>", "<EOT>"};
    if (id == lv_tok_eos(t)) return LV_STOP_EOG;
    const char *txt = lv_tok_text(t, id);
    for (size_t i = 0; txt && i < sizeof eog_texts / sizeof eog_texts[0]; i++)
        if (strcmp(txt, eog_texts[i]) == 0) return LV_STOP_EOG;
    return has(piece, len, "###") ? LV_STOP_HASHES : LV_STOP_NONE;
}

int lv_stop_after(const char *text, size_t len)
{
    return has(text, len, "USER:") || has(text, len, "<|im_start|>") || has(text, len, "<|im_end|>")
               ? LV_STOP_TEXT : LV_STOP_NONE;
}
