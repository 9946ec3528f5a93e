/* tests/test_suite_import.c — each importer on small files shaped like the official
 * ones (tests/data/suites), checked through the loader: counts, labels, answers. */
#include "tests/test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/import.h"
#include "datasets/suite.h"

#define DATA "tests/data/suites"

/* Runs `suite import ARGS... -o <tmp>/name`; returns the process (caller frees) and
 * the output folder in out. */
static int import(t_proc *p, const char *name, char out[512], const char *const *args)
{
    const char *argv[24];
    int n = 0;
    snprintf(out, 512, "%s/%s", t_tmpdir(), name);
    argv[n++] = "suite";
    argv[n++] = "import";
    for (; *args && n < 20; args++) argv[n++] = *args;
    argv[n++] = "-o";
    argv[n++] = out;
    argv[n] = NULL;
    return t_run(p, NULL, 0, argv);
}

/* Imports and loads; NULL (with a failure recorded) when either step fails. */
static suite *import_load(const char *name, const char *const *args)
{
    t_proc p;
    char out[512];
    lv_error err = {{0}};
    import(&p, name, out, args);
    T_CHECK(p.rc == 0, "%s: exit %d: %s", name, p.rc, p.err);
    t_proc_free(&p);
    suite *s = suite_load(out, &err);
    T_CHECK(s != NULL, "%s: load: %s", name, err.msg);
    return s;
}

static const suite_sample *by_id(const suite *s, const char *id)
{
    for (size_t i = 0; i < s->n_samples; i++)
        if (strcmp(s->samples[i].id, id) == 0) return &s->samples[i];
    return NULL;
}

static void test_pope_small(void)
{
    const char *args[] = {"pope", DATA "/pope/coco_pope_random.json", DATA "/pope/coco_pope_popular.json",
                          DATA "/pope/coco_pope_adversarial.json", "--images", DATA "/coco_images", NULL};
    suite *s = import_load("pope", args);
    if (!s) return;
    int n[3][2] = {{0}};
    static const char *const cats[] = {"random", "popular", "adversarial"};
    for (size_t i = 0; i < s->n_samples; i++)
        for (int c = 0; c < 3; c++)
            if (strcmp(s->samples[i].category, cats[c]) == 0) n[c][s->samples[i].label[0] == 'n']++;
    T_EQ_INT(n[0][0], 9); T_EQ_INT(n[0][1], 8);
    T_EQ_INT(n[1][0], 9); T_EQ_INT(n[1][1], 9);
    T_EQ_INT(n[2][0], 9); T_EQ_INT(n[2][1], 9);
    T_EQ_STR(s->task, "yesno");
    const suite_sample *a = by_id(s, "random-2");
    T_CHECK(a != NULL, "random-2 present");
    if (a) {
        T_EQ_STR(a->question, "Is there a giraffe in the image?");
        T_EQ_STR(a->label, "no");
        T_EQ_STR(a->image, "images/COCO_val2014_000000310196.jpg");
    }
    T_CHECK(strstr(s->provenance_json, "\"source\":\"pope\"") && strstr(s->provenance_json, "\"pinned\":false") &&
            strstr(s->provenance_json, "\"name\":\"coco_pope_random.json\""), "%s", s->provenance_json);
    suite_free(s);
}

/* Imports three POPE split files and checks the counts the pinned official files have. */
static suite *import_pope_official(const char *name, const char *r, const char *po, const char *ad, const char *imgdir)
{
    const char *args[] = {"pope", r, po, ad, "--images", imgdir, NULL};
    char out[512];
    t_proc p;
    lv_error err = {{0}};
    import(&p, name, out, args);
    T_EQ_INT(p.rc, 0);
    T_CHECK(strstr(p.out, "8910 samples (random 2910: 1500 yes / 1410 no; popular 3000: 1500 yes / 1500 no; "
                          "adversarial 3000: 1500 yes / 1500 no; 500 images)"), "summary: %s%s", p.out, p.err);
    t_proc_free(&p);
    suite *s = suite_load(out, &err);
    T_CHECK(s && s->n_samples == 8910, "load: %s", err.msg);
    return s;
}

/* Files with the official sizes: 500 images; random 2910 lines (1500 yes / 1410 no),
 * popular and adversarial 3000 (1500 / 1500), yes and no alternating. */
static void test_pope_official_counts(void)
{
    char imgdir[512], dir[512], path[700];
    static const char *const splits[] = {"random", "popular", "adversarial"};
    snprintf(imgdir, sizeof imgdir, "%s/val2014", t_tmpdir());
    snprintf(dir, sizeof dir, "%s/popefull", t_tmpdir());
    mkdir(imgdir, 0777);
    mkdir(dir, 0777);
    for (int i = 0; i < 500; i++) {
        snprintf(path, sizeof path, "%s/COCO_val2014_%012d.jpg", imgdir, 1000 + i);
        t_write_file(path, path, strlen(path));
    }
    for (int s = 0; s < 3; s++) {
        int lines = s == 0 ? 2910 : 3000;
        size_t cap = (size_t)lines * 160, len = 0;
        char *buf = malloc(cap);
        for (int q = 0; q < lines; q++) {
            /* random lacks 90 "no" questions (as at e3e3926): its last 30 images have
             * three positives each and no negatives. */
            int img = q / 6, yes = q % 2 == 0;
            if (s == 0 && q >= 2820) img = 470 + (q - 2820) / 3, yes = 1;
            len += (size_t)snprintf(buf + len, cap - len,
                                    "{\"question_id\": %d, \"image\": \"COCO_val2014_%012d.jpg\", "
                                    "\"text\": \"Is there a thing%d in the image?\", \"label\": \"%s\"}\n",
                                    q + 1, 1000 + img, q, yes ? "yes" : "no");
        }
        snprintf(path, sizeof path, "%s/coco_pope_%s.json", dir, splits[s]);
        t_write_file(path, buf, len);
        free(buf);
    }
    char p0[700], p1[700], p2[700];
    snprintf(p0, sizeof p0, "%s/coco_pope_random.json", dir);
    snprintf(p1, sizeof p1, "%s/coco_pope_popular.json", dir);
    snprintf(p2, sizeof p2, "%s/coco_pope_adversarial.json", dir);
    suite_free(import_pope_official("popefull-suite", p0, p1, p2, imgdir));
}

/* The pinned POPE files, when a fixture copy exists (they are not fetched offline). */
static void test_pope_real_files(void)
{
    const char *r = t_fixture("pope/coco_pope_random.json"), *po = t_fixture("pope/coco_pope_popular.json"),
               *ad = t_fixture("pope/coco_pope_adversarial.json");
    if (!r || !po || !ad) T_SKIP("no pinned POPE files under the fixtures (pope/coco_pope_*.json)");
    char rr[4096], pp[4096], aa[4096], imgdir[512];
    snprintf(rr, sizeof rr, "%s", r);
    snprintf(pp, sizeof pp, "%s", po);
    snprintf(aa, sizeof aa, "%s", ad);
    /* Placeholder images for every name the files use (the importer only links them). */
    snprintf(imgdir, sizeof imgdir, "%s/pope-real-images", t_tmpdir());
    mkdir(imgdir, 0777);
    const char *files[] = {rr, pp, aa};
    for (int f = 0; f < 3; f++) {
        char *text = t_read_file(files[f], NULL);
        for (char *q = text; q && (q = strstr(q, "COCO_val2014_")); q += 13) {
            char name[64], path[700];
            if (sscanf(q, "%40[A-Za-z0-9_.]", name) != 1) continue;
            snprintf(path, sizeof path, "%s/%s", imgdir, name);
            t_write_file(path, name, strlen(name));
        }
        free(text);
    }
    suite *s = import_pope_official("pope-real", rr, pp, aa, imgdir);
    T_CHECK(s && strstr(s->provenance_json, "\"pinned\":true") &&
            strstr(s->provenance_json, "\"url\":\"https://raw.githubusercontent.com/RUCAIBox/POPE/e3e39262"),
            "pinned: %s", s ? s->provenance_json : "(not loaded)");
    suite_free(s);
}

static void expect_import_error(const char *name, const char *const *args, const char *want)
{
    t_proc p;
    char out[512];
    import(&p, name, out, args);
    T_CHECK(p.rc == 2, "%s: exit %d", name, p.rc);
    T_CHECK(strstr(p.err, want) != NULL, "%s: want '%s' in: %s", name, want, p.err);
    T_CHECK(strchr(p.err, '\n') == p.err + p.err_len - 1, "%s: not one line: %s", name, p.err);
    t_proc_free(&p);
}

static void test_pope_hostile(void)
{
    char dir[512], path[700], link[600];
    snprintf(dir, sizeof dir, "%s/popebad", t_tmpdir());
    mkdir(dir, 0777);
    struct { const char *file, *text, *want; } cases[] = {
        {"coco_pope_random.json", "{\"question_id\": 1, \"image\": \"COCO_val2014_000000310196.jpg\", \"text\": \"q\", \"label\": \"yes\"}\n{\"question_id\": 2,",
         "coco_pope_random.json:2: bad JSON"},
        {"coco_pope_random.json", "{\"question_id\": 1, \"image\": \"../../../etc/passwd\", \"text\": \"q\", \"label\": \"yes\"}\n",
         "coco_pope_random.json:1: image name: '..' in path"},
        {"coco_pope_random.json", "{\"question_id\": 1, \"image\": \"/etc/passwd\", \"text\": \"q\", \"label\": \"yes\"}\n",
         "coco_pope_random.json:1: image name: absolute path"},
        {"coco_pope_random.json", "{\"question_id\": 1, \"image\": \"COCO_val2014_000000310196.jpg\", \"text\": \"q\", \"label\": \"maybe\"}\n",
         "coco_pope_random.json:1: \"label\" must be"},
        {"coco_pope_random.json", "{\"question_id\": 1.5, \"image\": \"COCO_val2014_000000310196.jpg\", \"text\": \"q\", \"label\": \"no\"}\n",
         "coco_pope_random.json:1: \"question_id\" must be a whole number"},
        {"coco_pope_random.json", "{\"question_id\": 1, \"image\": \"COCO_val2014_000000310196.jpg\", \"text\": \"q\", \"label\": \"no\"}\n"
                                  "{\"question_id\": 1, \"image\": \"COCO_val2014_000000310196.jpg\", \"text\": \"q\", \"label\": \"no\"}\n",
         "coco_pope_random.json:2: duplicate sample id 'random-1'"},
        {"pope_questions.json", "{\"question_id\": 1, \"image\": \"COCO_val2014_000000310196.jpg\", \"text\": \"q\", \"label\": \"no\"}\n",
         "pope_questions.json:1: cannot tell the split"},
        {"coco_pope_random.json", "{\"question_id\": 1, \"image\": \"COCO_val2014_000000999999.jpg\", \"text\": \"q\", \"label\": \"no\"}\n",
         "coco_pope_random.json:1: image 'COCO_val2014_000000999999.jpg': No such file"},
        {"coco_pope_random.json", "{\"question_id\": 1, \"image\": \"evil.jpg\", \"text\": \"q\", \"label\": \"no\"}\n",
         "coco_pope_random.json:1: image 'evil.jpg' resolves outside"},
    };
    /* A symlink in the image folder pointing out of it. */
    snprintf(link, sizeof link, "%s/coco_images_evil", t_tmpdir());
    mkdir(link, 0777);
    snprintf(path, sizeof path, "%s/evil.jpg", link);
    symlink("/etc/passwd", path);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].file);
        t_write_file(path, cases[i].text, strlen(cases[i].text));
        snprintf(name, sizeof name, "popebad%zu", i);
        const char *images = strstr(cases[i].text, "evil") ? link : DATA "/coco_images";
        const char *args[] = {"pope", path, "--images", images, NULL};
        expect_import_error(name, args, cases[i].want);
        unlink(path);
    }
    /* --skip-missing drops absent images, and says how many. */
    snprintf(path, sizeof path, "%s/coco_pope_popular.json", dir);
    const char *two = "{\"question_id\": 1, \"image\": \"COCO_val2014_000000999999.jpg\", \"text\": \"q\", \"label\": \"no\"}\n"
                      "{\"question_id\": 2, \"image\": \"COCO_val2014_000000310196.jpg\", \"text\": \"q\", \"label\": \"yes\"}\n";
    t_write_file(path, two, strlen(two));
    const char *args[] = {"pope", path, "--images", DATA "/coco_images", "--skip-missing", NULL};
    t_proc p;
    char out[512];
    import(&p, "popeskip", out, args);
    T_EQ_INT(p.rc, 0);
    T_CHECK(strstr(p.out, "1 samples (popular 1: 1 yes / 0 no; 1 images); 1 dropped for missing images"), "%s%s", p.out, p.err);
    t_proc_free(&p);
}

static void test_vqav2(void)
{
    const char *args[] = {"vqav2", DATA "/vqav2/v2_mscoco_val2014_annotations.json",
                          DATA "/vqav2/v2_OpenEnded_mscoco_val2014_questions.json", "--images", DATA "/coco_images", NULL};
    suite *s = import_load("vqav2", args);
    if (!s) return;
    T_EQ_INT(s->n_samples, 3);
    T_EQ_STR(s->task, "vqa");
    const suite_sample *a = by_id(s, "393225000");
    T_CHECK(a != NULL, "question 393225000");
    if (a) {
        T_EQ_STR(a->question, "Is the bowl full?");
        T_EQ_INT(a->n_answers, 10);
        T_EQ_STR(a->answers[3], "yes");
        T_EQ_STR(a->category, "yes/no");
        T_EQ_STR(a->image, "images/COCO_val2014_000000393225.jpg");
        T_CHECK(strstr(a->meta_json, "\"multiple_choice_answer\":\"no\""), "%s", a->meta_json);
    }
    suite_free(s);
    /* Questions without annotations are an error, naming the question. */
    const char *bad[] = {"vqav2", DATA "/vqav2/v2_OpenEnded_mscoco_val2014_questions.json",
                         DATA "/textvqa/TextVQA_0.5.1_val.json", "--images", DATA "/coco_images", NULL};
    expect_import_error("vqabad", bad, "need one file with \"questions\" and one with \"annotations\"");
}

static void test_textvqa_with_and_without_ocr(void)
{
    const char *plain[] = {"textvqa", DATA "/textvqa/TextVQA_0.5.1_val.json", "--images", DATA "/textvqa/train_images", NULL};
    suite *s = import_load("textvqa", plain);
    if (s) {
        T_EQ_INT(s->n_samples, 3);
        T_EQ_STR(s->name, "textvqa-val");
        T_EQ_STR(by_id(s, "34604")->question, "what brand is the phone?");
        T_EQ_STR(by_id(s, "34604")->answers[9], "nokia");
        T_CHECK(strstr(s->provenance_json, "\"ocr_tokens\":false"), "%s", s->provenance_json);
        suite_free(s);
    }
    const char *ocr[] = {"textvqa", DATA "/textvqa/TextVQA_0.5.1_val.json", DATA "/textvqa/TextVQA_Rosetta_OCR_v0.2_val.json",
                         "--images", DATA "/textvqa/train_images", "--ocr-tokens", NULL};
    s = import_load("textvqa-ocr", ocr);
    if (s) {
        T_EQ_STR(s->name, "textvqa-val-ocr");
        T_EQ_STR(by_id(s, "34602")->question,
                 "what is the brand of this camera?\nReference OCR token: dakota, digital, single-use, camera, copenhagen");
        T_EQ_STR(by_id(s, "34604")->question, "what brand is the phone?\nReference OCR token: NOKIA");
        T_CHECK(strstr(s->provenance_json, "\"ocr_tokens\":true"), "%s", s->provenance_json);
        suite_free(s);
    }
    const char *missing[] = {"textvqa", DATA "/textvqa/TextVQA_0.5.1_val.json", "--images", DATA "/textvqa/train_images",
                             "--ocr-tokens", NULL};
    expect_import_error("textvqa-noocr", missing, "no OCR tokens for image 003a8ae2ef43b901");
}

static void test_mme(void)
{
    const char *args[] = {"mme", DATA "/mme/MME_Benchmark_release_version", NULL};
    suite *s = import_load("mme", args);
    if (!s) return;
    T_EQ_INT(s->n_samples, 6);
    const suite_sample *a = by_id(s, "artwork/10049/1"), *b = by_id(s, "count/000000006040/0");
    T_CHECK(a && b, "ids");
    if (a && b) {
        T_EQ_STR(a->question, "Is this artwork created by goya? Please answer yes or no.");
        T_EQ_STR(a->label, "no");
        T_EQ_STR(a->category, "artwork");
        T_EQ_STR(a->meta_json, "{\"pair\":\"artwork/10049\"}");
        T_EQ_STR(a->image, "images/artwork/images/10049.jpg");
        T_EQ_STR(b->label, "yes");
        T_EQ_STR(b->category, "count");
        T_EQ_STR(b->image, "images/count/000000006040.jpg");
    }
    suite_free(s);
    /* A malformed question line is named with file:line. */
    char dir[512], p[700];
    snprintf(dir, sizeof dir, "%s/mmebad/color", t_tmpdir());
    snprintf(p, sizeof p, "%s/mmebad", t_tmpdir());
    mkdir(p, 0777);
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/1.txt", dir);
    const char *txt = "Is it red? Please answer yes or no.\tYes\nIs it blue?\tPerhaps\n";
    t_write_file(p, txt, strlen(txt));
    snprintf(p, sizeof p, "%s/1.jpg", dir);
    t_write_file(p, "jpg", 3);
    snprintf(p, sizeof p, "%s/mmebad", t_tmpdir());
    const char *bad[] = {"mme", p, NULL};
    expect_import_error("mmebad-out", bad, "color/1.txt:2: expected \"question<TAB>Yes|No\"");
}

static void test_coco_captions(void)
{
    const char *args[] = {"coco-captions", DATA "/coco/instances_val2014.json", DATA "/coco/captions_val2014.json",
                          "--images", DATA "/coco_images", NULL};
    suite *s = import_load("coco", args);
    if (!s) return;
    T_EQ_INT(s->n_samples, 2);
    T_EQ_STR(s->task, "caption");
    const suite_sample *a = by_id(s, "262148"), *b = by_id(s, "393225");
    T_CHECK(a && b, "ids");
    if (a && b) {
        T_EQ_INT(a->n_objects, 2);
        T_EQ_STR(a->objects[0], "person");
        T_EQ_STR(a->objects[1], "skateboard");
        T_EQ_INT(b->n_objects, 2);
        T_EQ_STR(b->objects[0], "spoon");
        T_EQ_STR(b->objects[1], "bowl");
        T_EQ_INT(a->n_answers, 2);
        T_EQ_STR(a->answers[1], "A skateboarder in the air with people watching.");
    }
    suite_free(s);
}

/* Seeded mutations of a POPE file: each import succeeds or names FILE:LINE. */
static void test_pope_mutations(void)
{
    size_t len0;
    char *base = t_read_file(DATA "/pope/coco_pope_random.json", &len0), path[600], out[600];
    static const char interesting[] = "\"\\{}[],:\n\x00\xff./1";
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int ok = 0;
    if (!base) T_SKIP("no test data");
    snprintf(path, sizeof path, "%s/mut/coco_pope_random.json", t_tmpdir());
    snprintf(out, sizeof out, "%s/mut", t_tmpdir());
    mkdir(out, 0777);
    for (int iter = 0; iter < 150; iter++) {
        char *buf = malloc(len0 + 1);
        size_t len = len0;
        memcpy(buf, base, len);
        for (int m = 0; m < 1 + iter % 3; m++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            size_t at = (size_t)(x % len);
            if ((x >> 32) & 1) buf[at] = interesting[(x >> 40) % (sizeof interesting - 1)];
            else { memmove(buf + at, buf + at + 1, len - at - 1); len--; }
        }
        t_write_file(path, buf, len);
        free(buf);
        snprintf(out, sizeof out, "%s/mut/out%d", t_tmpdir(), iter);
        const char *srcs[] = {path};
        suite_import_opts o = {.images_dir = DATA "/coco_images"};
        lv_error err = {{0}};
        char summary[512];
        int rc = suite_import("pope", srcs, 1, &o, out, summary, &err);
        T_CHECK(rc == 0 || strstr(err.msg, "coco_pope_random.json:"), "iteration %d: %s", iter, err.msg);
        ok += rc == 0;
    }
    T_CHECK(ok < 150, "every mutant imported");
    free(base);
}

static void test_cli_usage(void)
{
    const char *a1[] = {"frobnicate", DATA "/pope/coco_pope_random.json", "--images", DATA "/coco_images", NULL};
    expect_import_error("badformat", a1, "llava-eval: suite import: unknown format 'frobnicate'");
    const char *a2[] = {"pope", DATA "/pope/coco_pope_random.json", NULL};
    expect_import_error("noimages", a2, "needs --images DIR");
    /* A second import into the same folder is refused. */
    const char *a3[] = {"mme", DATA "/mme/MME_Benchmark_release_version", NULL};
    expect_import_error("mme", a3, "folder is not empty");
}

int main(void)
{
    T_RUN(test_pope_small);
    T_RUN(test_pope_official_counts);
    T_RUN(test_pope_real_files);
    T_RUN(test_pope_hostile);
    T_RUN(test_vqav2);
    T_RUN(test_textvqa_with_and_without_ocr);
    T_RUN(test_mme);
    T_RUN(test_coco_captions);
    T_RUN(test_pope_mutations);
    T_RUN(test_cli_usage);
    T_MAIN_END();
}
