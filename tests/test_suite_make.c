/* tests/test_suite_make.c — procedural suites: byte-identical for one seed, different
 * for another, and their recorded ground truth matches the pixels. */
#include "tests/test.h"

#include <cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "datasets/suite.h"
#include "datasets/synth.h"

static const char *const KINDS[] = {"text-size", "object-size", "count", "position"};
#define N_KINDS 4

static int make(const char *kind, const char *dir, const char *seed, const char *n)
{
    t_proc p;
    const char *argv[] = {"suite", "make", kind, "-o", dir, "--n", n, "--seed", seed, NULL};
    if (t_run(&p, NULL, 0, argv) != 0) return -1;
    if (p.rc != 0) fprintf(stderr, "suite make %s: %s", kind, p.err);
    int rc = p.rc;
    t_proc_free(&p);
    return rc;
}

/* 1 if dir_a/rel and dir_b/rel have the same bytes. */
static int same_file(const char *a, const char *b, const char *rel)
{
    char pa[600], pb[600];
    size_t la, lb;
    snprintf(pa, sizeof pa, "%s/%s", a, rel);
    snprintf(pb, sizeof pb, "%s/%s", b, rel);
    char *x = t_read_file(pa, &la), *y = t_read_file(pb, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static void test_same_seed_same_bytes(void)
{
    for (int k = 0; k < N_KINDS; k++) {
        char a[512], b[512], c[512], rel[64];
        snprintf(a, sizeof a, "%s/det-%s-a", t_tmpdir(), KINDS[k]);
        snprintf(b, sizeof b, "%s/det-%s-b", t_tmpdir(), KINDS[k]);
        snprintf(c, sizeof c, "%s/det-%s-c", t_tmpdir(), KINDS[k]);
        T_EQ_INT(make(KINDS[k], a, "42", "14"), 0);
        T_EQ_INT(make(KINDS[k], b, "42", "14"), 0);
        T_EQ_INT(make(KINDS[k], c, "43", "14"), 0);
        T_CHECK(same_file(a, b, "suite.json"), "%s: suite.json differs for one seed", KINDS[k]);
        T_CHECK(same_file(a, b, "samples.jsonl"), "%s: samples.jsonl differs for one seed", KINDS[k]);
        T_CHECK(same_file(a, b, "files.sha256"), "%s: files.sha256 differs for one seed", KINDS[k]);
        int images_differ = 0;
        for (int i = 0; i < 7; i++) {
            snprintf(rel, sizeof rel, "images/%05d.png", i);
            T_CHECK(same_file(a, b, rel), "%s: %s differs for one seed", KINDS[k], rel);
            images_differ += !same_file(a, c, rel);
        }
        T_CHECK(!same_file(a, c, "samples.jsonl"), "%s: seed 43 gave the same samples", KINDS[k]);
        T_CHECK(images_differ >= 6, "%s: only %d of 7 images differ for another seed", KINDS[k], images_differ);
        /* The generated suite passes the validating loader. */
        lv_error err = {{0}};
        suite *s = suite_load(a, &err);
        T_CHECK(s != NULL, "%s: load: %s", KINDS[k], err.msg);
        T_CHECK(!s || s->n_samples == 14, "%s: %zu samples", KINDS[k], s ? s->n_samples : 0);
        suite_free(s);
    }
}

/* Reads meta.boxes into b (up to 16); returns the count. */
static int meta_boxes(const cJSON *meta, int b[16][4])
{
    const cJSON *boxes = cJSON_GetObjectItem(meta, "boxes"), *e;
    int n = 0;
    cJSON_ArrayForEach(e, boxes) {
        if (n == 16 || cJSON_GetArraySize(e) != 4) break;
        for (int k = 0; k < 4; k++) b[n][k] = cJSON_GetArrayItem(e, k)->valueint;
        n++;
    }
    return n;
}

/* The pixels the details changed are exactly covered by the recorded boxes: every
 * changed pixel lies in a box and every box is tight (changed pixels on all 4 edges). */
static void check_ground_truth(const char *kind, int image, const char *suite_dir)
{
    suite_make_opts o = {.kind = kind, .n = 40, .seed = 9};
    suite_canvas with, without;
    char *meta = NULL, *meta2 = NULL;
    lv_error err = {{0}};
    int b[16][4], nb;
    T_CHECK(suite_make_render(&o, image, 1, &with, &meta, &err) == 0, "render: %s", err.msg);
    T_CHECK(suite_make_render(&o, image, 0, &without, &meta2, &err) == 0, "render: %s", err.msg);
    if (!with.px || !without.px) return;
    cJSON *m = cJSON_Parse(meta);
    nb = meta_boxes(m, b);
    T_CHECK(nb >= 1, "%s %d: no boxes in %s", kind, image, meta);
    int edges[16][4] = {{0}};
    long outside = 0, changed = 0;
    for (int y = 0; y < with.h; y++)
        for (int x = 0; x < with.w; x++) {
            size_t off = ((size_t)y * (size_t)with.w + (size_t)x) * 3;
            if (memcmp(with.px + off, without.px + off, 3) == 0) continue;
            int in = 0;
            changed++;
            for (int i = 0; i < nb; i++)
                if (x >= b[i][0] && x < b[i][2] && y >= b[i][1] && y < b[i][3]) {
                    in = 1;
                    edges[i][0] |= x == b[i][0];
                    edges[i][1] |= y == b[i][1];
                    edges[i][2] |= x == b[i][2] - 1;
                    edges[i][3] |= y == b[i][3] - 1;
                }
            outside += !in;
        }
    T_CHECK(changed > 0, "%s %d: the details changed no pixel", kind, image);
    T_CHECK(outside == 0, "%s %d: %ld changed pixels outside the boxes", kind, image, outside);
    for (int i = 0; i < nb; i++)
        T_CHECK(edges[i][0] && edges[i][1] && edges[i][2] && edges[i][3], "%s %d: box %d [%d,%d,%d,%d] not tight",
                kind, image, i, b[i][0], b[i][1], b[i][2], b[i][3]);
    /* The detail size is what the ladder promised: text boxes are at least cap high,
     * shapes fill their detail_px square (the star reaches 0.95 of it across). */
    int detail = cJSON_GetObjectItem(m, "detail_px")->valueint;
    if (strcmp(kind, "text-size") == 0)
        T_CHECK(b[0][3] - b[0][1] >= detail && b[0][3] - b[0][1] <= 2 * detail + 2, "%s %d: text box height %d for cap %d",
                kind, image, b[0][3] - b[0][1], detail);
    else
        for (int i = 0; i < nb; i++) {
            int w = b[i][2] - b[i][0], h = b[i][3] - b[i][1];
            int big = w > h ? w : h;
            T_CHECK(big >= detail * 9 / 10 - 1 && w <= detail && h <= detail, "%s %d: box %dx%d for size %d",
                    kind, image, w, h, detail);
        }
    /* The PNG in the suite holds these very pixels. */
    if (suite_dir) {
        char path[600];
        size_t len, flen;
        uint8_t *png = suite_png_encode(&with, &len);
        snprintf(path, sizeof path, "%s/images/%05d.png", suite_dir, image);
        char *file = t_read_file(path, &flen);
        T_CHECK(png && file && len == flen && memcmp(png, file, len) == 0, "%s: %s is not the rendered image", kind, path);
        free(png);
        free(file);
    }
    cJSON_Delete(m);
    lv_free(meta); lv_free(meta2);
    suite_canvas_free(&with);
    suite_canvas_free(&without);
}

static void test_pixels_match_manifest(void)
{
    for (int k = 0; k < N_KINDS; k++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/gt-%s", t_tmpdir(), KINDS[k]);
        T_EQ_INT(make(KINDS[k], dir, "9", "40"), 0);
        for (int i = 0; i < 12; i++) check_ground_truth(KINDS[k], i, i < 3 ? dir : NULL);
    }
}

/* Loads samples.jsonl of a made suite (as cJSON objects, n of them). */
static cJSON **load_lines(const char *dir, int *n)
{
    char p[600];
    snprintf(p, sizeof p, "%s/samples.jsonl", dir);
    char *text = t_read_file(p, NULL), *save = NULL;
    cJSON **v = calloc(4096, sizeof *v);
    *n = 0;
    for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l && *n < 4096; l = strtok_r(NULL, "\n", &save))
        v[(*n)++] = cJSON_Parse(l);
    free(text);
    return v;
}

static void free_lines(cJSON **v, int n)
{
    for (int i = 0; i < n; i++) cJSON_Delete(v[i]);
    free(v);
}

static const char *str(const cJSON *o, const char *k) { return cJSON_GetStringValue(cJSON_GetObjectItem(o, k)); }

static int in_list(const cJSON *list, const char *s)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list) if (strcmp(e->valuestring, s) == 0) return 1;
    return 0;
}

/* Index of name in a small table of shape/colour names (added when new). */
static int name_slot(const char *names[64], int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(names[i], name) == 0) return i;
    if (*n == 64) return 63;
    names[*n] = name;
    return (*n)++;
}

/* POPE's negatives: popular ones are frequent objects, adversarial (partner) ones
 * co-occur with the asked object (and share its colour), random ones do neither. */
static void check_negative_kinds(cJSON **v, int n)
{
    const char *names[64];
    int nn = 0, freq[64] = {0}, co[64][64] = {{0}};
    double sum[3][2] = {{0}};   /* [random, popular, partner][co-occurrence, frequency] */
    int cnt[3] = {0};
    for (int i = 0; i < n; i += 2) {
        const cJSON *present = cJSON_GetObjectItem(cJSON_GetObjectItem(v[i], "meta"), "present"), *a, *b;
        cJSON_ArrayForEach(a, present) {
            int ia = name_slot(names, &nn, a->valuestring);
            freq[ia]++;
            cJSON_ArrayForEach(b, present) if (a != b) co[ia][name_slot(names, &nn, b->valuestring)]++;
        }
    }
    for (int i = 0; i + 1 < n; i += 2) {
        const cJSON *my = cJSON_GetObjectItem(v[i], "meta"), *mn = cJSON_GetObjectItem(v[i + 1], "meta");
        const char *from = str(mn, "negative_from");
        int k = strcmp(from, "random") == 0 ? 0 : strcmp(from, "popular") == 0 ? 1 : strcmp(from, "partner") == 0 ? 2 : -1;
        if (k < 0) continue;
        int ip = name_slot(names, &nn, str(my, "asked")), ineg = name_slot(names, &nn, str(mn, "asked"));
        sum[k][0] += co[ip][ineg];
        /* a partner is a look-alike: the same colour (the first word), another shape */
        if (k == 2) {
            const char *pa = str(my, "asked"), *na = str(mn, "asked"), *sp = strchr(pa, ' ');
            T_CHECK(sp && strncmp(pa, na, (size_t)(sp - pa + 1)) == 0 && strcmp(pa, na) != 0,
                    "partner negative %s of %s: not the same colour", na, pa);
        }
        sum[k][1] += freq[ineg];
        cnt[k]++;
    }
    T_CHECK(cnt[0] > 20 && cnt[1] > 20 && cnt[2] > 20, "negatives: %d random, %d popular, %d partner", cnt[0], cnt[1], cnt[2]);
    if (!cnt[0] || !cnt[1] || !cnt[2]) return;
    double co_rand = sum[0][0] / cnt[0], co_part = sum[2][0] / cnt[2];
    double f_rand = sum[0][1] / cnt[0], f_pop = sum[1][1] / cnt[1];
    T_CHECK(co_part >= 5 && co_part >= 5 * co_rand, "adversarial negatives co-occur %.2f times, random %.2f", co_part, co_rand);
    T_CHECK(f_pop >= 3 * f_rand, "popular negatives appear in %.1f images, random in %.1f", f_pop, f_rand);
}

static void test_object_size_pope_balance(void)
{
    char dir[512];
    int n, yes = 0, cats[3] = {0}, sizes = 0, last = -1;
    snprintf(dir, sizeof dir, "%s/pope-like", t_tmpdir());
    T_EQ_INT(make("object-size", dir, "1", "300"), 0);
    cJSON **v = load_lines(dir, &n);
    T_EQ_INT(n, 300);
    for (int i = 0; i < n; i++) {
        const cJSON *meta = cJSON_GetObjectItem(v[i], "meta");
        const char *label = str(v[i], "label"), *cat = str(v[i], "category"), *asked = str(meta, "asked");
        int present = in_list(cJSON_GetObjectItem(meta, "present"), asked);
        yes += strcmp(label, "yes") == 0;
        /* Probes alternate yes, no, as in POPE; yes exactly when the object is there. */
        T_EQ_STR(label, i % 2 ? "no" : "yes");
        T_CHECK(present == (strcmp(label, "yes") == 0), "line %d: asked %s, label %s", i + 1, asked, label);
        for (int k = 0; k < 3; k++) cats[k] += strcmp(cat, (const char *[]){"random", "popular", "adversarial"}[k]) == 0;
        int d = cJSON_GetObjectItem(meta, "detail_px")->valueint;
        if (d != last) sizes++, last = d;
    }
    T_EQ_INT(yes, 150);
    T_EQ_INT(cats[0], 100);
    T_EQ_INT(cats[1], 100);
    T_EQ_INT(cats[2], 100);
    T_CHECK(sizes >= 100, "detail sizes cycle through the ladder (%d runs)", sizes);
    check_negative_kinds(v, n);
    /* Colour alone must not answer the suite, or its accuracy cannot fall with the
       resolution (colour survives any reduction): a reader of colours only says yes
       when some present object has the asked colour. */
    int right = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *meta = cJSON_GetObjectItem(v[i], "meta"), *p;
        const char *asked = str(meta, "asked"), *sp = strchr(asked, ' ');
        int colour_seen = 0;
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(meta, "present"))
            colour_seen |= sp && strncmp(p->valuestring, asked, (size_t)(sp - asked + 1)) == 0;
        right += colour_seen == (strcmp(str(v[i], "label"), "yes") == 0);
    }
    T_CHECK(right <= n * 80 / 100, "a colour-only reader answers %d of %d", right, n);
    free_lines(v, n);
}

static void test_count_and_position_truth(void)
{
    char dir[512];
    int n, yes = 0;
    snprintf(dir, sizeof dir, "%s/count", t_tmpdir());
    T_EQ_INT(make("count", dir, "2", "60"), 0);
    cJSON **v = load_lines(dir, &n);
    for (int i = 0; i < n; i++) {
        const cJSON *meta = cJSON_GetObjectItem(v[i], "meta");
        int b[16][4], nb = meta_boxes(meta, b), cnt = cJSON_GetObjectItem(meta, "count")->valueint;
        char want[8];
        snprintf(want, sizeof want, "%d", cnt);
        T_EQ_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(v[i], "answers"), 0)->valuestring, want);
        T_EQ_INT(nb, cnt + cJSON_GetObjectItem(meta, "distractors")->valueint);
        T_CHECK(cnt >= 1 && cnt <= 8, "count %d", cnt);
    }
    free_lines(v, n);

    snprintf(dir, sizeof dir, "%s/position", t_tmpdir());
    T_EQ_INT(make("position", dir, "2", "64"), 0);
    v = load_lines(dir, &n);
    for (int i = 0; i < n; i++) {
        const cJSON *meta = cJSON_GetObjectItem(v[i], "meta");
        int b[16][4];
        T_EQ_INT(meta_boxes(meta, b), 2);
        const char *rel = str(meta, "relation"), *asked = str(v[i], "category"), *label = str(v[i], "label");
        /* The true relation holds between the drawn boxes (A first). */
        int ok = strcmp(rel, "left") == 0 ? b[0][2] <= b[1][0] : strcmp(rel, "right") == 0 ? b[1][2] <= b[0][0]
               : strcmp(rel, "above") == 0 ? b[0][3] <= b[1][1] : b[1][3] <= b[0][1];
        T_CHECK(ok, "line %d: relation %s does not hold", i + 1, rel);
        T_EQ_STR(label, strcmp(rel, asked) == 0 ? "yes" : "no");
        T_CHECK(strstr(str(v[i], "question"), strcmp(asked, "left") == 0 ? "to the left of" : strcmp(asked, "right") == 0
                ? "to the right of" : asked) != NULL, "question %s", str(v[i], "question"));
        yes += strcmp(label, "yes") == 0;
    }
    T_EQ_INT(yes, 32);
    free_lines(v, n);
}

static void test_text_answers(void)
{
    char dir[512];
    int n;
    snprintf(dir, sizeof dir, "%s/text", t_tmpdir());
    T_EQ_INT(make("text-size", dir, "5", "24"), 0);
    cJSON **v = load_lines(dir, &n);
    T_EQ_INT(n, 24);
    for (int i = 0; i < n; i++) {
        const cJSON *meta = cJSON_GetObjectItem(v[i], "meta");
        char low[32];
        snprintf(low, sizeof low, "%s", str(meta, "word"));
        for (char *p = low; *p; p++) if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        T_EQ_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(v[i], "answers"), 0)->valuestring, low);
        static const int ladder[] = {6, 8, 10, 12, 14, 16, 20, 24, 32, 40, 48, 64};
        T_EQ_INT(cJSON_GetObjectItem(meta, "detail_px")->valueint, ladder[i % 12]);
    }
    free_lines(v, n);
}

static void test_cli_errors(void)
{
    char dir[512];
    t_proc p;
    snprintf(dir, sizeof dir, "%s/err", t_tmpdir());
    const char *a1[] = {"suite", "make", "sparkles", "-o", dir, NULL};
    t_run(&p, NULL, 0, a1);
    T_EQ_INT(p.rc, 2);
    T_CHECK(strstr(p.err, "llava-eval: suite make: unknown kind 'sparkles'"), "%s", p.err);
    t_proc_free(&p);
    const char *a2[] = {"suite", "make", "text-size", "-o", dir, "--font", "/nonexistent/font.ttf", NULL};
    t_run(&p, NULL, 0, a2);
    T_EQ_INT(p.rc, 1);
    T_CHECK(strstr(p.err, "font /nonexistent/font.ttf") && strstr(p.err, "fonts-dejavu-core"), "%s", p.err);
    t_proc_free(&p);
    T_EQ_INT(make("count", dir, "1", "2"), 0);
    const char *a3[] = {"suite", "make", "count", "-o", dir, NULL};
    t_run(&p, NULL, 0, a3);
    T_EQ_INT(p.rc, 1);
    T_CHECK(strstr(p.err, "folder is not empty"), "%s", p.err);
    t_proc_free(&p);
    const char *a4[] = {"suite", "make", "count", "-o", dir, "--seed", "-1", NULL};
    t_run(&p, NULL, 0, a4);
    T_EQ_INT(p.rc, 2);
    t_proc_free(&p);
}

int main(void)
{
    struct stat st;
    if (stat(SUITE_DEFAULT_FONT, &st) != 0) {
        fprintf(stderr, "note: %s missing; text-size cases will fail (install fonts-dejavu-core)\n", SUITE_DEFAULT_FONT);
    }
    T_RUN(test_same_seed_same_bytes);
    T_RUN(test_pixels_match_manifest);
    T_RUN(test_object_size_pope_balance);
    T_RUN(test_count_and_position_truth);
    T_RUN(test_text_answers);
    T_RUN(test_cli_errors);
    T_MAIN_END();
}
