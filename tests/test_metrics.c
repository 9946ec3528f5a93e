/* tests/test_metrics.c — the metric quirks metrics.md lists, one case per row, through
 * the C API; the registry; undefined values as "no data". Expected values follow
 * metrics.md (each row names the rule). */
#include "tests/test.h"
#include "metrics/metrics.h"
#include "metrics/utext.h"

#include <math.h>
#include <stdlib.h>

static void test_vqa_normalizers(void)
{
    static const struct { const char *in, *evalai, *vqaeval; } v[] = {
        {"red-blue 1,2", "red blue 12", "redblue 12"},   /* digit-comma rule: all 21 delete */
        {"left/right", "left right", "left right"},      /* inner punctuation -> space */
        {"left - right", "left right", "left right"},    /* spaced: deleted */
        {"2.", "2", "2"}, {"a.m.", "am", "am"}, {"3.5", "3.5", "3.5"}, {".5", ".5", ".5"},
        {"none", "0", "0"}, {"the the", "", ""}, {"man's", "man 's", "man's"},
        {"a,1", "a1", "1"}, {"dont-know", "don't know", "don't know"},
        {"Im", "im", "im"},                               /* capital contraction key */
        {"somebody'd", "somebodyd", "somebodyd"},         /* the official odd entry */
        {"\xC3\x89T\xC3\x89", "\xC3\xA9t\xC3\xA9", "\xC3\xA9t\xC3\xA9"}, /* ÉTÉ -> été */
        {"a\xC2\xA0" "dog", "dog", "dog"},                /* NBSP splits words */
        {"1\xD9\xA3,\xD9\xA4 x-y", "1٣٤ x y", "1٣٤ xy"}, /* Arabic-Indic digits are \d */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *e = metric_vqa_evalai(v[i].in), *r = metric_vqa_normalize(v[i].in);
        T_EQ_STR(e, v[i].evalai);
        T_EQ_STR(r, v[i].vqaeval);
        free(e);
        free(r);
    }
    /* period_count_limit: 40 dots -> only the first 32 deleted */
    char dots[41];
    memset(dots, '.', 40);
    dots[40] = 0;
    char *r = metric_vqa_normalize(dots);
    T_EQ_STR(r, "........");
    free(r);
    T_CHECK(metric_vqa_evalai("\xff") == NULL, "bad UTF-8 gives NULL");
}

static void test_vqa_scores(void)
{
    const char *ten_yes[10] = {"yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes"};
    const char *one[1] = {"dog"}, *three[3] = {"dog", "dog", "dog"};
    double v;
    /* uniform rule: "Yes" scores 0 against ten "yes" offline, 1 through EvalAI */
    T_EQ_INT(metric_vqa_score(METRIC_VQA_RAW, "Yes", ten_yes, 10, &v), METRIC_OK);
    T_NEAR(v, 0, 0);
    T_EQ_INT(metric_vqa_score(METRIC_VQA, "Yes", ten_yes, 10, &v), METRIC_OK);
    T_NEAR(v, 1, 0);
    /* one reference always scores 0; three identical score 2/3 */
    T_EQ_INT(metric_vqa_score(METRIC_VQA, "dog", one, 1, &v), METRIC_OK);
    T_NEAR(v, 0, 0);
    T_EQ_INT(metric_vqa_score(METRIC_VQA, "dog", three, 3, &v), METRIC_OK);
    T_NEAR(v, 2.0 / 3, 1e-15);
    T_EQ_INT(metric_vqa_score(METRIC_TEXTVQA, "dog", three, 3, &v), METRIC_NODATA);
    T_EQ_INT(metric_vqa_score(METRIC_VQA, "dog", NULL, 0, &v), METRIC_NODATA);
    const char *bad[2] = {"ok", "\xc3"};
    T_EQ_INT(metric_vqa_score(METRIC_VQA, "dog", bad, 2, &v), METRIC_EUTF8);
    /* exact: equality after the EvalAI processor */
    const char *ref[2] = {"two", "Dogs"};
    T_EQ_INT(metric_exact("2.", ref, 2, &v), METRIC_OK);
    T_NEAR(v, 1, 0);
    T_EQ_INT(metric_exact("dog", ref, 2, &v), METRIC_OK);
    T_NEAR(v, 0, 0);
}

static void test_anls_rules(void)
{
    const char *a1[1] = {"hello world"}, *a2[1] = {""}, *a3[1] = {"stra\xC3\x9F" "e"};
    double s, best;
    size_t d;
    /* L from the raw strings: "hello   wrld" vs "hello world" -> 1 - 1/12 */
    T_EQ_INT(metric_anls("hello   wrld", a1, 1, &s, &best), METRIC_OK);
    T_NEAR(s, 1 - 1.0 / 12, 1e-12);
    /* empty against empty scores 1; ST-VQA divides by zero there */
    T_EQ_INT(metric_anls("", a2, 1, &s, &best), METRIC_OK);
    T_NEAR(s, 1, 0);
    T_EQ_INT(metric_anls_stvqa("", a2, 1, &s), METRIC_NODATA);
    /* ß upper-cases to SS: L = 7 for "STRASSE" vs "straße", distance 2 -> 5/7 */
    T_EQ_INT(metric_anls("STRASSE", a3, 1, &s, &best), METRIC_OK);
    T_NEAR(s, 5.0 / 7, 1e-12);
    /* threshold: exactly 0.5 is kept, below is 0 */
    const char *a4[1] = {"abef"}, *a5[1] = {"abxyz"};
    T_EQ_INT(metric_anls("abcd", a4, 1, &s, &best), METRIC_OK);
    T_NEAR(s, 0.5, 0);
    T_EQ_INT(metric_anls("abcde", a5, 1, &s, &best), METRIC_OK);
    T_NEAR(s, 0, 0);
    T_NEAR(best, 0.4, 1e-12);
    T_EQ_INT(metric_anls("x", NULL, 0, &s, &best), METRIC_NODATA);
    /* code points, not bytes */
    T_EQ_INT(metric_levenshtein("na\xC3\xAFve", "naive", &d), METRIC_OK);
    T_EQ_INT(d, 1);
    T_EQ_INT(metric_levenshtein("kitten", "sitting", &d), METRIC_OK);
    T_EQ_INT(d, 3);
}

static void test_pope_parser(void)
{
    static const struct { const char *a; metric_yesno want; } v[] = {
        {"There is a dog, not a cat.", METRIC_NO}, {"Yes. There is no cat.", METRIC_YES},
        {"no\n", METRIC_YES}, {"1. No", METRIC_YES}, {"NO", METRIC_YES}, {"", METRIC_YES},
        {"No, there is none", METRIC_NO}, {"not,", METRIC_NO}, {"isn't", METRIC_YES},
        {"No\tthere", METRIC_YES}, {"Definitely not", METRIC_NO}, {"nope", METRIC_YES},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        T_CHECK(metric_pope_parse(v[i].a) == v[i].want, "'%s'", v[i].a);
}

static void test_pope_summary(void)
{
    metric_confusion c = {0, 0, 0, 0};
    metric_pope_result r;
    /* all predictions "no" on negatives: precision and F1 are 0/0 -> no data */
    for (int i = 0; i < 4; i++) metric_confusion_add(&c, METRIC_NO, METRIC_NO);
    metric_pope_summary(&c, &r);
    T_EQ_INT(r.accuracy.defined, 1);
    T_NEAR(r.accuracy.value, 1, 0);
    T_EQ_INT(r.precision.defined, 0);
    T_EQ_INT(r.recall.defined, 0);
    T_EQ_INT(r.f1.defined, 0);
    T_NEAR(r.yes_ratio.value, 0, 0);
    metric_confusion z = {0, 0, 0, 0};
    metric_pope_summary(&z, &r);
    T_EQ_INT(r.accuracy.defined, 0);
    T_EQ_INT(r.yes_ratio.defined, 0);
}

static void test_mme(void)
{
    static const struct { const char *a; metric_yesno want; } v[] = {
        {"not sure", METRIC_NO}, {"know", METRIC_NO}, {"  yes", METRIC_OTHER},
        {"The answer is yes", METRIC_OTHER}, {"YES", METRIC_YES}, {"No", METRIC_NO},
        {"yes", METRIC_YES}, {"Yes, it is", METRIC_YES}, {"Non", METRIC_NO},
    };
    metric_yesno m;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        T_EQ_INT(metric_mme_parse(v[i].a, &m), METRIC_OK);
        T_CHECK(m == v[i].want, "'%s' -> %d", v[i].a, m);
    }
    /* 3 images: both right, one right, none right -> acc 3/6, acc+ 1/3 */
    metric_yesno lab[6] = {METRIC_YES, METRIC_NO, METRIC_YES, METRIC_NO, METRIC_YES, METRIC_NO};
    metric_yesno pr[6] = {METRIC_YES, METRIC_NO, METRIC_YES, METRIC_YES, METRIC_OTHER, METRIC_YES};
    metric_mme_task_result r;
    T_EQ_INT(metric_mme_task(lab, pr, 6, &r), METRIC_OK);
    T_NEAR(r.acc, 0.5, 0);
    T_NEAR(r.acc_plus, 1.0 / 3, 1e-15);
    T_NEAR(r.score, 50 + 100.0 / 3, 1e-12);
    T_EQ_INT(r.other_num, 1);
    T_EQ_INT(metric_mme_task(lab, pr, 5, &r), METRIC_EINPUT);
    T_EQ_INT(metric_mme_task(lab, pr, 0, &r), METRIC_NODATA);
    T_EQ_INT(metric_mme_task_index("OCR"), 9);
    T_EQ_INT(metric_mme_task_group(9), METRIC_MME_PERCEPTION);
    T_EQ_INT(metric_mme_task_group(metric_mme_task_index("code_reasoning")), METRIC_MME_COGNITION);
}

/* pattern.en singularize as chair.py sees it, quirks included. */
static void test_singularize(void)
{
    static const char *const v[][2] = {
        {"dogs", "dog"}, {"bus", "bu"}, {"buses", "bus"}, {"glass", "glas"},
        {"glasses", "glass"}, {"people", "person"}, {"knives", "knife"}, {"skis", "ski"},
        {"children", "child"}, {"women", "woman"}, {"mice", "mouse"}, {"sheep", "sheep"},
        {"benches", "bench"}, {"ponies", "pony"}, {"doggies", "doggies"}, {"ties", "ty"},
        {"canoes", "cano"}, {"calves", "calf"}, {"microwaves", "microwave"},
        {"gloves", "glove"}, {"scissors", "scissors"}, {"geese", "goose"},
        {"suitcases", "suitcase"}, {"cacti", "cactus"}, {"broccoli", "broccoli"},
        {"is", "is"}, {"oxen", "ox"}, {"dogs'", "dog's"}, {"gases", "gase"}, {"hour", "hmy"},
        {"ears", "ears"}, {"waters", "water"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *s = metric_chair_singularize(v[i][0]);
        T_EQ_STR(s, v[i][1]);
        free(s);
    }
}

/* Treebank tokens after untrained-Punkt sentence splitting. */
static void test_tokenizer(void)
{
    static const struct { const char *in, *want; } v[] = {
        {"a man is standing. he holds a surfboard.", "a|man|is|standing|.|he|holds|a|surfboard|."},
        {"a \"pizza\" on a plate.", "a|``|pizza|''|on|a|plate|."},
        {"a dog, a cat; and (a bird)!", "a|dog|,|a|cat|;|and|(|a|bird|)|!"},
        {"the dog's bone", "the|dog|'s|bone"},
        {"1,000 dogs cannot swim", "1,000|dogs|can|not|swim"},
        {"dog/cat on a bed", "dog/cat|on|a|bed"},
        {"wait... a dog", "wait|...|a|dog"},
        {"a dog.: a cat", "a|dog|.|:|a|cat"},                  /* Punkt breaks before ':' */
        {"(a dog.) a cat.", "(|a|dog|.|)|a|cat|."},            /* ')' realigned back */
        {"item b. a dog. 2. cats.", "item|b.|a|dog|.|2.|cats|."}, /* initial / number */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char **t = NULL, joined[256] = "";
        size_t n = 0;
        T_EQ_INT(metric_chair_tokenize(v[i].in, &t, &n), METRIC_OK);
        for (size_t k = 0; k < n; k++) {
            if (k) strcat(joined, "|");
            strncat(joined, t[k], sizeof joined - strlen(joined) - 2);
            free(t[k]);
        }
        free(t);
        T_EQ_STR(joined, v[i].want);
    }
}

static void test_chair(void)
{
    metric_chair_words w = {0};
    metric_chair_caption c = {0};
    /* "train track" swallows "train"; "bow tie" -> tie; toilet + seat drops seat */
    T_EQ_INT(metric_chair_extract("A train on the train tracks. A bow tie. A toilet seat and a seat.", &w), METRIC_OK);
    const char *want[][2] = {{"train", "train"}, {"tie", "tie"}, {"toilet", "toilet"}};
    T_EQ_INT(w.n, 3);
    for (size_t i = 0; i < w.n && i < 3; i++) {
        T_EQ_STR(w.m[i].word, want[i][0]);
        T_EQ_STR(w.m[i].category, want[i][1]);
    }
    const char *truth[2] = {"train", "train"};
    T_EQ_INT(metric_chair_score(&w, truth, 2, &c), METRIC_OK);
    T_EQ_INT(c.n_hallucinated, 2);
    T_EQ_INT(c.chair_s, 1);
    T_NEAR(c.chair_i, 2.0 / 3, 1e-15);
    T_NEAR(c.recall.value, 1, 0); /* duplicates in the truth count once */
    metric_chair_corpus corpus = {0, 0, 0, 0};
    T_EQ_INT(metric_chair_i(&corpus).defined, 0);
    T_EQ_INT(metric_chair_s(&corpus).defined, 0);
    metric_chair_corpus_add(&corpus, &c);
    T_NEAR(metric_chair_i(&corpus).value, 2.0 / 3, 1e-15);
    metric_chair_caption_free(&c);
    metric_chair_words_free(&w);
    /* the synonym file's quirks: " motor bike" never matches, iPhone can't after lower() */
    T_CHECK(metric_chair_category("motor bike") == NULL, "motor bike");
    T_CHECK(metric_chair_category("iphone") == NULL, "iphone");
    T_EQ_STR(metric_chair_category("bison"), "cow"); /* trailing space stripped per line */
    T_EQ_STR(metric_chair_category("motorbike"), "motorcycle");
    T_EQ_STR(metric_chair_category("people"), "person");
    T_EQ_INT(metric_chair_extract("\xe2\x28", &w), METRIC_EUTF8);
}

static void test_registry(void)
{
    const metric_def *d = metric_find("vqa");
    T_CHECK(d && d->higher_is_better && d->parts && strstr(d->variant, "EvalAI"), "vqa row");
    T_CHECK(metric_find("nope") == NULL, "unknown");
    d = metric_find("chair_i");
    T_CHECK(d && !d->higher_is_better && d->kind == METRIC_KIND_RATIO, "chair_i row");
    size_t n = 0;
    for (const metric_def *r = metric_registry; r->name; r++, n++)
        T_CHECK(r->variant && r->parts && r->scale > 0, "%s complete", r->name);
    T_CHECK(n >= 10, "rows %zu", n);
    /* apply by name: TP 1, FP 1, FN 1, TN 1 -> F1 0.5 both officially and as 2TP/(2TP+FP+FN) */
    metric_item items[4] = {{"Yes", NULL, 0, "yes"}, {"Yes", NULL, 0, "no"},
                            {"No", NULL, 0, "yes"}, {"No", NULL, 0, "no"}};
    metric_num out;
    T_EQ_INT(metric_apply(metric_find("pope_f1"), items, 4, &out), METRIC_OK);
    T_NEAR(out.value, 0.5, 1e-15);
    T_EQ_INT(metric_apply(metric_find("pope_accuracy"), items, 4, &out), METRIC_OK);
    T_NEAR(out.value, 0.5, 0);
    T_EQ_INT(metric_apply(metric_find("pope_accuracy"), items, 0, &out), METRIC_NODATA);
    T_EQ_INT(out.defined, 0);
    double v;
    T_EQ_INT(metric_item_value(metric_find("pope_precision"), &items[2], &v), METRIC_NODATA);
    metric_item bad = {"Yes", NULL, 0, "maybe"};
    T_EQ_INT(metric_apply(metric_find("pope_accuracy"), &bad, 1, &out), METRIC_EINPUT);
    /* CHAIR-i by name: refs are the truth categories; 1 of 3 mentions hallucinated */
    const char *truth[1] = {"dog"};
    metric_item caps[2] = {{"A dog and a cat.", truth, 1, NULL}, {"A dog.", truth, 1, NULL}};
    T_EQ_INT(metric_apply(metric_find("chair_i"), caps, 2, &out), METRIC_OK);
    T_NEAR(out.value, 1.0 / 3, 1e-15);
}

/* Intervals and comparisons chosen by kind: Wilson for one binary item per image,
 * the image bootstrap otherwise, McNemar / sign flips for two runs. */
static void test_registry_stats(void)
{
    enum { N = 40 };
    static metric_item a[N], b[N];
    static size_t img[N];
    static const char *ans_dog[10] = {"dog", "dog", "dog", "dog", "dog", "dog", "dog", "dog", "dog", "dog"};
    for (int i = 0; i < N; i++) {
        /* run A right on 0..29; run B right on 0..19 and 30..39: b = 10, c = 10 */
        a[i] = (metric_item){i < 30 ? "yes" : "No", NULL, 0, "yes"};
        b[i] = (metric_item){i < 20 || i >= 30 ? "yes" : "No", NULL, 0, "yes"};
        img[i] = (size_t)i / 2;
    }
    const metric_def *acc = metric_find("pope_accuracy");
    stats_interval ci, w;
    const char *method;
    T_EQ_INT(metric_interval(acc, a, N, NULL, NULL, &ci, &method), METRIC_OK);
    T_EQ_STR(method, "wilson");
    T_EQ_INT(stats_wilson(30, 40, STATS_Z95, &w), STATS_OK);
    T_NEAR(ci.lo, w.lo, 0);
    T_NEAR(ci.hi, w.hi, 0);
    T_NEAR(ci.estimate, 0.75, 0);
    T_EQ_INT(metric_interval(acc, a, N, img, NULL, &ci, &method), METRIC_OK);
    T_EQ_STR(method, "bootstrap"); /* two questions per image */
    T_CHECK(ci.lo < 0.75 && ci.hi > 0.75, "[%g, %g]", ci.lo, ci.hi);
    metric_comparison c;
    T_EQ_INT(metric_compare(acc, a, b, N, img, NULL, &c), METRIC_OK);
    T_EQ_STR(c.test, "mcnemar");
    T_EQ_INT(c.b, 10);
    T_EQ_INT(c.c, 10);
    T_NEAR(c.p, 1.0, 0);
    T_NEAR(c.diff.estimate, 0.0, 1e-15);
    T_CHECK(c.diff.lo < 0 && c.diff.hi > 0, "diff CI [%g, %g]", c.diff.lo, c.diff.hi);
    /* soft: VQA, B = A everywhere except 10 items that gain 1.0 -> diff 0.25 */
    static metric_item va[N], vb[N];
    for (int i = 0; i < N; i++) {
        va[i] = (metric_item){"cat", ans_dog, 10, NULL};
        vb[i] = (metric_item){i < 10 ? "dog" : "cat", ans_dog, 10, NULL};
    }
    const metric_def *vqa = metric_find("vqa");
    T_EQ_INT(metric_compare(vqa, va, vb, N, img, NULL, &c), METRIC_OK);
    T_EQ_STR(c.test, "sign-flip");
    T_NEAR(c.diff.estimate, 0.25, 1e-15);
    /* 5 images all +1 and 15 at 0: exact sign flips give p = 2 / 2^5 */
    T_NEAR(c.p, 2.0 / 32, 1e-15);
    T_EQ_INT(metric_interval(vqa, va, 0, NULL, NULL, &ci, &method), METRIC_NODATA);
    T_EQ_INT(ci.defined, 0);
    /* ratio: F1 has a bootstrap interval and no test */
    T_EQ_INT(metric_compare(metric_find("pope_f1"), a, b, N, img, NULL, &c), METRIC_OK);
    T_EQ_INT(c.has_p, 0);
}

static void test_utext(void)
{
    utext a = {0}, b = {0};
    T_EQ_INT(utext_from(&a, "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3"), UTEXT_OK); /* ΟΔΟΣ Σ */
    T_EQ_INT(utext_lower(&b, &a), UTEXT_OK);
    char *s = utext_encode(&b);
    T_EQ_STR(s, "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82 \xCF\x83"); /* οδος σ: final sigma */
    free(s);
    T_EQ_INT(utext_from(&a, "stra\xC3\x9F" "e"), UTEXT_OK);
    T_EQ_INT(utext_upper_len(&a), 7);
    T_EQ_INT(utext_from(&a, "\xC4\xB0"), UTEXT_OK); /* İ lowers to i + combining dot */
    T_EQ_INT(utext_lower(&b, &a), UTEXT_OK);
    T_EQ_INT(b.n, 2);
    T_CHECK(!utext_valid_utf8("\xC0\x80", 2), "overlong");
    T_CHECK(!utext_valid_utf8("\xED\xA0\x80", 3), "surrogate");
    T_CHECK(!utext_valid_utf8("\xF4\x90\x80\x80", 4), "above U+10FFFF");
    T_CHECK(utext_valid_utf8("\xF0\x9F\x98\x80", 4), "emoji");
    T_CHECK(utext_isspace(0xA0) && utext_isspace(0x2028) && !utext_isspace(0x200B), "spaces");
    utext_free(&a);
    utext_free(&b);
}

/* Random bytes (mostly valid UTF-8 with punctuation, sometimes not) through every
 * text metric: each returns a known code and never crashes; under `make asan` this
 * is the sanitizer check of the parsers. */
static void test_random_inputs(void)
{
    static const char *const pieces[] = {
        "a", "dog", " ", "  ", ".", ",", "'s", "\"", "(", ")", "-", "?", "!", "...", "1", ",2",
        "\t", "\n", "no", "No", "yes", "\xC3\x9F", "\xCE\xA3", "\xC4\xB0", "\xC2\xA0",
        "\xD9\xA3", "\xE2\x80\x9C", "\xE2\x80\x99", "cannot", "train track", "toilet seat",
        "\xff", "\xc3", "\xed\xa0\x80", "buses", "wine glasses", "--", "``", "''",
    };
    uint64_t x = 12345;
    for (int round = 0; round < 3000; round++) {
        char s[128] = "", r[3][64] = {"", "", ""};
        int np = (int)((x >> 33) % 12);
        for (int k = 0; k < np; k++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            strncat(s, pieces[(x >> 33) % (sizeof pieces / sizeof pieces[0])], sizeof s - strlen(s) - 1);
            if (k < 3) strncat(r[k], pieces[(x >> 40) % 20], sizeof r[k] - strlen(r[k]) - 1);
        }
        x = x * 6364136223846793005u + 1442695040888963407u;
        const char *refs[3] = {r[0], r[1], r[2]};
        double v;
        metric_yesno m;
        metric_chair_words w = {0};
        int valid = utext_valid_utf8(s, strlen(s));
        int rc = metric_vqa_score(METRIC_VQA, s, refs, 3, &v);
        T_CHECK(valid ? rc == METRIC_OK && v >= 0 && v <= 1 : rc == METRIC_EUTF8, "vqa rc %d", rc);
        rc = metric_anls(s, refs, 3, &v, NULL);
        T_CHECK(valid ? rc == METRIC_OK && v >= 0 && v <= 1 : rc == METRIC_EUTF8, "anls rc %d", rc);
        rc = metric_anls_stvqa(s, refs, 3, &v);
        T_CHECK(rc == METRIC_OK || rc == METRIC_NODATA || (!valid && rc == METRIC_EUTF8), "stvqa rc %d", rc);
        T_CHECK(metric_mme_parse(s, &m) == (valid ? METRIC_OK : METRIC_EUTF8), "mme");
        (void)metric_pope_parse(s);
        rc = metric_chair_extract(s, &w);
        T_CHECK(rc == (valid ? METRIC_OK : METRIC_EUTF8), "chair rc %d", rc);
        metric_chair_words_free(&w);
        char *e = metric_vqa_evalai(s);
        T_CHECK((e != NULL) == valid, "evalai");
        free(e);
    }
}

int main(void)
{
    T_RUN(test_vqa_normalizers);
    T_RUN(test_vqa_scores);
    T_RUN(test_anls_rules);
    T_RUN(test_pope_parser);
    T_RUN(test_pope_summary);
    T_RUN(test_mme);
    T_RUN(test_singularize);
    T_RUN(test_tokenizer);
    T_RUN(test_chair);
    T_RUN(test_registry);
    T_RUN(test_registry_stats);
    T_RUN(test_utext);
    T_RUN(test_random_inputs);
    T_MAIN_END();
}
