/* metrics/metric_vqa.c — VQAv2 (vqaEval.py), the EvalAI answer processor, TextVQA
 * and exact match (metrics.md §1, §2, §7). Works on code points (utext). */
#include "metrics/metrics.h"
#include "metrics/utext.h"

#include <stdlib.h>
#include <string.h>

/* VQAEval.__init__ tables (GT-Vision-Lab/VQA, BSD licence), identical in mmf's
 * EvalAIAnswerProcessor. The punctuation order matters: each character's
 * replace-or-delete test looks at the original string. */
static const char vqa_punct[] = ";/[]\"{}()=+\\_-><@`,?!";
static const char *const vqa_number_words[][2] = {
    {"none", "0"}, {"zero", "0"}, {"one", "1"}, {"two", "2"}, {"three", "3"},
    {"four", "4"}, {"five", "5"}, {"six", "6"}, {"seven", "7"}, {"eight", "8"},
    {"nine", "9"}, {"ten", "10"},
};
static const char *const vqa_articles[] = {"a", "an", "the"};
/* 120 entries; keys with capitals (Im, Ive, Id've, I'dve) can never match a
 * lowercased token, and somebody'd -> somebodyd is the official oddity. */
static const char *const vqa_contractions[][2] = {
    {"aint", "ain't"}, {"arent", "aren't"}, {"cant", "can't"}, {"couldve", "could've"},
    {"couldnt", "couldn't"}, {"couldn'tve", "couldn't've"}, {"couldnt've", "couldn't've"},
    {"didnt", "didn't"}, {"doesnt", "doesn't"}, {"dont", "don't"}, {"hadnt", "hadn't"},
    {"hadnt've", "hadn't've"}, {"hadn'tve", "hadn't've"}, {"hasnt", "hasn't"},
    {"havent", "haven't"}, {"hed", "he'd"}, {"hed've", "he'd've"}, {"he'dve", "he'd've"},
    {"hes", "he's"}, {"howd", "how'd"}, {"howll", "how'll"}, {"hows", "how's"},
    {"Id've", "I'd've"}, {"I'dve", "I'd've"}, {"Im", "I'm"}, {"Ive", "I've"},
    {"isnt", "isn't"}, {"itd", "it'd"}, {"itd've", "it'd've"}, {"it'dve", "it'd've"},
    {"itll", "it'll"}, {"let's", "let's"}, {"maam", "ma'am"}, {"mightnt", "mightn't"},
    {"mightnt've", "mightn't've"}, {"mightn'tve", "mightn't've"}, {"mightve", "might've"},
    {"mustnt", "mustn't"}, {"mustve", "must've"}, {"neednt", "needn't"}, {"notve", "not've"},
    {"oclock", "o'clock"}, {"oughtnt", "oughtn't"}, {"ow's'at", "'ow's'at"},
    {"'ows'at", "'ow's'at"}, {"'ow'sat", "'ow's'at"}, {"shant", "shan't"},
    {"shed've", "she'd've"}, {"she'dve", "she'd've"}, {"she's", "she's"},
    {"shouldve", "should've"}, {"shouldnt", "shouldn't"}, {"shouldnt've", "shouldn't've"},
    {"shouldn'tve", "shouldn't've"}, {"somebody'd", "somebodyd"},
    {"somebodyd've", "somebody'd've"}, {"somebody'dve", "somebody'd've"},
    {"somebodyll", "somebody'll"}, {"somebodys", "somebody's"}, {"someoned", "someone'd"},
    {"someoned've", "someone'd've"}, {"someone'dve", "someone'd've"},
    {"someonell", "someone'll"}, {"someones", "someone's"}, {"somethingd", "something'd"},
    {"somethingd've", "something'd've"}, {"something'dve", "something'd've"},
    {"somethingll", "something'll"}, {"thats", "that's"}, {"thered", "there'd"},
    {"thered've", "there'd've"}, {"there'dve", "there'd've"}, {"therere", "there're"},
    {"theres", "there's"}, {"theyd", "they'd"}, {"theyd've", "they'd've"},
    {"they'dve", "they'd've"}, {"theyll", "they'll"}, {"theyre", "they're"},
    {"theyve", "they've"}, {"twas", "'twas"}, {"wasnt", "wasn't"}, {"wed've", "we'd've"},
    {"we'dve", "we'd've"}, {"weve", "we've"}, {"werent", "weren't"}, {"whatll", "what'll"},
    {"whatre", "what're"}, {"whats", "what's"}, {"whatve", "what've"}, {"whens", "when's"},
    {"whered", "where'd"}, {"wheres", "where's"}, {"whereve", "where've"}, {"whod", "who'd"},
    {"whod've", "who'd've"}, {"who'dve", "who'd've"}, {"wholl", "who'll"}, {"whos", "who's"},
    {"whove", "who've"}, {"whyll", "why'll"}, {"whyre", "why're"}, {"whys", "why's"},
    {"wont", "won't"}, {"wouldve", "would've"}, {"wouldnt", "wouldn't"},
    {"wouldnt've", "wouldn't've"}, {"wouldn'tve", "wouldn't've"}, {"yall", "y'all"},
    {"yall'll", "y'all'll"}, {"y'allll", "y'all'll"}, {"yall'd've", "y'all'd've"},
    {"y'alld've", "y'all'd've"}, {"y'all'dve", "y'all'd've"}, {"youd", "you'd"},
    {"youd've", "you'd've"}, {"you'dve", "you'd've"}, {"youll", "you'll"},
    {"youre", "you're"}, {"youve", "you've"},
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Step 1: every \n and \t becomes a space, then strip(). */
static int vqa_step1(utext *t)
{
    size_t b, e;
    for (size_t i = 0; i < t->n; i++)
        if (t->cp[i] == '\n' || t->cp[i] == '\t') t->cp[i] = ' ';
    utext_strip_range(t, &b, &e);
    if (e > b) memmove(t->cp, t->cp + b, (e - b) * sizeof *t->cp);
    t->n = e - b;
    return UTEXT_OK;
}

/* Digit, one comma (or, for EvalAI's regex, one or more commas), digit, anywhere. */
static int has_digit_comma_digit(const utext *t, int many_commas)
{
    for (size_t i = 0; i + 2 < t->n; i++) {
        if (!utext_isdigit(t->cp[i]) || t->cp[i + 1] != ',') continue;
        size_t j = i + 1;
        while (many_commas && j + 1 < t->n && t->cp[j + 1] == ',') j++;
        if (j + 1 < t->n && utext_isdigit(t->cp[j + 1])) return 1;
    }
    return 0;
}

static int contains_pair(const utext *t, uint32_t a, uint32_t b)
{
    for (size_t i = 0; i + 1 < t->n; i++)
        if (t->cp[i] == a && t->cp[i + 1] == b) return 1;
    return 0;
}

/* processPunctuation: every test reads the original `in`; periods not followed by
 * a digit are deleted, but only the first 32 (re.UNICODE passed as the count). */
static int vqa_punctuation(utext *t, int evalai_commas)
{
    utext out = {0}, tmp = {0};
    int rc = UTEXT_ENOMEM;
    int digit_comma = has_digit_comma_digit(t, evalai_commas);
    if (utext_append(&out, t->cp, t->n)) goto done;
    for (const char *p = vqa_punct; *p; p++) {
        uint32_t c = (unsigned char)*p;
        int del = digit_comma || contains_pair(t, c, ' ') || contains_pair(t, ' ', c);
        tmp.n = 0;
        for (size_t i = 0; i < out.n; i++) {
            if (out.cp[i] != c) { if (utext_push(&tmp, out.cp[i])) goto done; }
            else if (!del && utext_push(&tmp, ' ')) goto done;
        }
        utext swap = out; out = tmp; tmp = swap;
    }
    t->n = 0;
    int deleted = 0;
    for (size_t i = 0; i < out.n; i++) {
        int next_digit = i + 1 < out.n && utext_isdigit(out.cp[i + 1]);
        if (out.cp[i] == '.' && !next_digit && deleted < 32) { deleted++; continue; }
        if (utext_push(t, out.cp[i])) goto done;
    }
    rc = UTEXT_OK;
done:
    utext_free(&out);
    utext_free(&tmp);
    return rc;
}

static const char *lookup(const char *const (*table)[2], size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i][0], key) == 0) return table[i][1];
    return NULL;
}

/* processDigitArticle: lower(), split() on Unicode whitespace, number words,
 * articles dropped, then the contraction pass, joined with single spaces. */
static int vqa_digit_article(utext *t)
{
    utext low = {0}, word = {0};
    char **words = NULL;
    size_t nw = 0;
    int rc = UTEXT_ENOMEM;
    if (utext_lower(&low, t)) goto done;
    words = calloc(low.n / 2 + 1, sizeof *words);
    if (!words) goto done;
    for (size_t i = 0; i < low.n;) {
        if (utext_isspace(low.cp[i])) { i++; continue; }
        size_t j = i;
        while (j < low.n && !utext_isspace(low.cp[j])) j++;
        word.n = 0;
        if (utext_append(&word, low.cp + i, j - i)) goto done;
        char *w = utext_encode(&word);
        if (!w) goto done;
        const char *num = lookup(vqa_number_words, NELEM(vqa_number_words), w);
        if (num) { free(w); if (!(w = strdup(num))) goto done; }
        int article = 0;
        for (size_t a = 0; a < NELEM(vqa_articles); a++) article |= strcmp(w, vqa_articles[a]) == 0;
        if (article) free(w);
        else words[nw++] = w;
        i = j;
    }
    t->n = 0;
    for (size_t i = 0; i < nw; i++) {
        const char *con = lookup(vqa_contractions, NELEM(vqa_contractions), words[i]);
        if (i && utext_push(t, ' ')) goto done;
        utext piece = {0};
        if (utext_from(&piece, con ? con : words[i])) { utext_free(&piece); goto done; }
        rc = utext_append(t, piece.cp, piece.n);
        utext_free(&piece);
        if (rc) goto done;
    }
    rc = UTEXT_OK;
done:
    for (size_t i = 0; i < nw; i++) free(words[i]);
    free(words);
    utext_free(&low);
    utext_free(&word);
    return rc;
}

/* Replaces every occurrence of the ASCII string `from` by `to` (non-overlapping). */
static int replace_ascii(utext *t, const char *from, const char *to)
{
    utext out = {0};
    size_t fl = strlen(from);
    for (size_t i = 0; i < t->n;) {
        size_t k = 0;
        while (k < fl && i + k < t->n && t->cp[i + k] == (unsigned char)from[k]) k++;
        if (k == fl && fl) {
            for (const char *q = to; *q; q++)
                if (utext_push(&out, (unsigned char)*q)) goto oom;
            i += fl;
        } else if (utext_push(&out, t->cp[i++])) {
            goto oom;
        }
    }
    utext_free(t);
    *t = out;
    return UTEXT_OK;
oom:
    utext_free(&out);
    return UTEXT_ENOMEM;
}

/* EvalAIAnswerProcessor.__call__ on a decoded string, in place. */
static int evalai_process(utext *t)
{
    utext low = {0};
    if (utext_lower(&low, t)) { utext_free(&low); return UTEXT_ENOMEM; }
    utext_free(t);
    *t = low;
    if (replace_ascii(t, ",", "") || replace_ascii(t, "?", "") || replace_ascii(t, "'s", " 's"))
        return UTEXT_ENOMEM;
    vqa_step1(t);
    if (vqa_punctuation(t, 1)) return UTEXT_ENOMEM;
    return vqa_digit_article(t);
}

static int vqaeval_normalize(utext *t)
{
    if (vqa_punctuation(t, 0)) return UTEXT_ENOMEM;
    return vqa_digit_article(t);
}

static int to_metric_rc(int urc)
{
    return urc == UTEXT_EUTF8 ? METRIC_EUTF8 : urc ? METRIC_ENOMEM : METRIC_OK;
}

/* Decodes s, runs fn on it, returns the UTF-8 result (NULL on bad input or OOM). */
static char *apply(const char *s, int (*fn)(utext *))
{
    utext t = {0};
    char *out = NULL;
    if (utext_from(&t, s) == UTEXT_OK && fn(&t) == UTEXT_OK) out = utext_encode(&t);
    utext_free(&t);
    return out;
}

static int vqaeval_full(utext *t)
{
    vqa_step1(t);
    return vqaeval_normalize(t);
}

char *metric_vqa_evalai(const char *s) { return apply(s, evalai_process); }
char *metric_vqa_normalize(const char *s) { return apply(s, vqaeval_full); }

/* The §1.2 leave-one-out score: answers compared by position. */
static double leave_one_out(const utext *pred, const utext *ans, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i && utext_eq(&ans[j], pred)) k++;
        sum += k >= 3 ? 1.0 : (double)k / 3;
    }
    return sum / (double)n;
}

int metric_vqa_score(metric_vqa_variant v, const char *pred, const char *const *answers,
                     size_t n, double *out)
{
    utext p = {0}, *ans = NULL;
    int rc = METRIC_ENOMEM;
    if (n == 0 || (v == METRIC_TEXTVQA && n != 10)) return METRIC_NODATA;
    ans = calloc(n, sizeof *ans);
    if (!ans) return METRIC_ENOMEM;
    if ((rc = to_metric_rc(utext_from(&p, pred)))) goto done;
    for (size_t i = 0; i < n; i++)
        if ((rc = to_metric_rc(utext_from(&ans[i], answers[i])))) goto done;
    if (v == METRIC_TEXTVQA) {
        /* TextVQAAccuracyEvaluator: the processor on every side, no uniform rule. */
        if ((rc = to_metric_rc(evalai_process(&p)))) goto done;
        for (size_t i = 0; i < n; i++)
            if ((rc = to_metric_rc(evalai_process(&ans[i])))) goto done;
    } else {
        if (v == METRIC_VQA && (rc = to_metric_rc(evalai_process(&p)))) goto done;
        vqa_step1(&p);
        int uniform = 1;
        for (size_t i = 0; i < n; i++) {
            vqa_step1(&ans[i]);
            if (i && !utext_eq(&ans[i], &ans[0])) uniform = 0;
        }
        /* vqaEval.py normalizes only when the humans disagree (len(set(...)) > 1). */
        if (!uniform) {
            for (size_t i = 0; i < n; i++)
                if ((rc = to_metric_rc(vqaeval_normalize(&ans[i])))) goto done;
            if ((rc = to_metric_rc(vqaeval_normalize(&p)))) goto done;
        }
    }
    *out = leave_one_out(&p, ans, n);
    rc = METRIC_OK;
done:
    utext_free(&p);
    for (size_t i = 0; i < n; i++) utext_free(&ans[i]);
    free(ans);
    return rc;
}

int metric_exact(const char *pred, const char *const *refs, size_t n, double *out)
{
    utext p = {0}, r = {0};
    int rc;
    *out = 0;
    if ((rc = to_metric_rc(utext_from(&p, pred))) || (rc = to_metric_rc(evalai_process(&p))))
        goto done;
    for (size_t i = 0; i < n && *out == 0; i++) {
        if ((rc = to_metric_rc(utext_from(&r, refs[i]))) || (rc = to_metric_rc(evalai_process(&r))))
            goto done;
        if (utext_eq(&p, &r)) *out = 1;
    }
done:
    utext_free(&p);
    utext_free(&r);
    return rc;
}
