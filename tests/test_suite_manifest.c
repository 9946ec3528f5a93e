/* tests/test_suite_manifest.c — the suite loader refuses every hostile manifest with
 * FILE:LINE, and the writer's output loads back unchanged. */
#include "tests/test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/suite.h"
#include "engine/sha256.h"

static const char *GOOD_LINE =
    "{\"id\":\"s1\",\"image\":\"images/a.png\",\"question\":\"What?\",\"answers\":[\"cat\"]}";

/* A fresh suite folder holding suite.json (task vqa), images/a.png and samples.jsonl
 * with the given bytes. Returns its path (static buffer). */
static const char *make_suite(const char *samples, size_t len, const char *header)
{
    static int k;
    static char dir[512];
    char p[640];
    snprintf(dir, sizeof dir, "%s/m%d", t_tmpdir(), k++);
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/images", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/images/a.png", dir);
    t_write_file(p, "png", 3);
    snprintf(p, sizeof p, "%s/suite.json", dir);
    if (!header)
        header = "{\"name\":\"t\",\"task\":\"vqa\",\"prompt\":\"{question}\",\"metrics\":[\"vqa\"]}";
    t_write_file(p, header, strlen(header));
    snprintf(p, sizeof p, "%s/samples.jsonl", dir);
    t_write_file(p, samples, len);
    return dir;
}

/* Loads a suite whose line 2 is `bad` and expects an error containing ":2:" and want. */
static void expect_line2(const char *bad, size_t bad_len, const char *want)
{
    char *buf = malloc(strlen(GOOD_LINE) + bad_len + 2);
    size_t n = (size_t)sprintf(buf, "%s\n", GOOD_LINE);
    lv_error err = {{0}};
    memcpy(buf + n, bad, bad_len);
    buf[n + bad_len] = '\n';
    const char *dir = make_suite(buf, n + bad_len + 1, NULL);
    free(buf);
    suite *s = suite_load(dir, &err);
    T_CHECK(s == NULL, "accepted: %.*s", (int)bad_len, bad);
    suite_free(s);
    T_CHECK(strstr(err.msg, "samples.jsonl:2: ") != NULL, "no file:line for %.*s: %s", (int)bad_len, bad, err.msg);
    T_CHECK(strstr(err.msg, want) != NULL, "for %.*s: want '%s' in: %s", (int)bad_len, bad, want, err.msg);
}
#define EXPECT_LINE2(lit, want) expect_line2(lit, sizeof(lit) - 1, want)

static void test_good_suite_loads(void)
{
    lv_error err = {{0}};
    const char *text =
        "{\"id\":\"s1\",\"image\":\"images/a.png\",\"question\":\"What?\",\"answers\":[\"cat\",\"kitten\"],"
        "\"category\":\"animals\",\"meta\":{\"detail_px\":12}}\r\n\n"
        "{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"Which?\",\"answers\":[\"dog\"]}";
    suite *s = suite_load(make_suite(text, strlen(text), NULL), &err);
    T_CHECK(s != NULL, "load: %s", err.msg);
    if (!s) return;
    T_EQ_INT(s->n_samples, 2);
    T_EQ_STR(s->task, "vqa");
    T_EQ_STR(s->samples[0].id, "s1");
    T_EQ_INT(s->samples[0].n_answers, 2);
    T_EQ_STR(s->samples[0].answers[1], "kitten");
    T_EQ_STR(s->samples[0].category, "animals");
    T_EQ_STR(s->samples[0].meta_json, "{\"detail_px\":12}");
    T_EQ_INT(s->samples[1].line, 3);
    T_CHECK(strstr(s->samples[1].image_path, "/images/a.png") != NULL, "%s", s->samples[1].image_path);
    char *p = suite_prompt(s, &s->samples[1]);
    T_EQ_STR(p, "Which?");
    lv_free(p);
    suite_free(s);
}

static void test_bad_lines_named(void)
{
    EXPECT_LINE2("{\"id\":\"s2\",", "bad JSON");
    EXPECT_LINE2("[1,2]", "must be a JSON object");
    EXPECT_LINE2("{\"id\":\"s2\",\"question\":\"q\",\"answers\":[\"a\"]}", "missing field \"image\"");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"answers\":[\"a\"]}", "missing field \"question\"");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"q\"}", "needs \"answers\"");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"q\",\"answers\":\"a\"}", "list of strings");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"q\",\"answers\":[1]}", "list of strings");
    EXPECT_LINE2("{\"id\":9007199254740993,\"image\":\"images/a.png\",\"question\":\"q\",\"answers\":[\"a\"]}",
                 "\"id\" must be a string");
    EXPECT_LINE2("{\"id\":\"s1\",\"image\":\"images/a.png\",\"question\":\"q\",\"answers\":[\"a\"]}",
                 "duplicate id 's1' (first on line 1)");
    EXPECT_LINE2("{\"id\":\"s2\",\"id\":\"s3\",\"image\":\"images/a.png\",\"question\":\"q\",\"answers\":[\"a\"]}",
                 "duplicate key \"id\"");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"q\",\"answers\":[\"a\"],\"meta\":{\"x\":1,\"x\":2}}",
                 "duplicate key \"x\"");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"q\\u0000x\",\"answers\":[\"a\"]}", "\\u0000");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"q\0\",\"answers\":[\"a\"]}", "NUL byte");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"q\xff\",\"answers\":[\"a\"]}", "invalid UTF-8");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"\xc0\xaf\",\"answers\":[\"a\"]}", "invalid UTF-8");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"\xed\xa0\x80\",\"answers\":[\"a\"]}", "invalid UTF-8");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"q\",\"answers\":[\"a\"]} x", "text after the value");
    EXPECT_LINE2("{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"q\",\"answers\":[\"a\"],\"meta\":3}",
                 "\"meta\" must be an object");
}

/* Every traversal form is refused with the sample id named. */
static void test_path_traversal_refused(void)
{
    static const struct { const char *path, *want; } cases[] = {
        {"../../x", "'..'"},
        {"/etc/passwd", "absolute path"},
        {"images/../../x", "'..'"},
        {"..\\\\x", "backslash"},
        {"images/./a.png", "'.' component"},
        {"images//a.png", "empty component"},
        {"", "empty path"},
        {"images/missing.png", "No such file"},
        {"images", "not a regular file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[512];
        int n = snprintf(line, sizeof line,
                         "{\"id\":\"evil\",\"image\":\"%s\",\"question\":\"q\",\"answers\":[\"a\"]}", cases[i].path);
        expect_line2(line, (size_t)n, cases[i].want);
        expect_line2(line, (size_t)n, "sample 'evil'");
    }
}

static void test_symlinks(void)
{
    char p[700];
    lv_error err = {{0}};
    const char *line = "{\"id\":\"s1\",\"image\":\"images/link.png\",\"question\":\"q\",\"answers\":[\"a\"]}\n";
    /* A link out of the suite is refused. */
    const char *dir = make_suite(line, strlen(line), NULL);
    snprintf(p, sizeof p, "%s/images/link.png", dir);
    T_CHECK(symlink("/etc/passwd", p) == 0, "symlink");
    suite *s = suite_load(dir, &err);
    T_CHECK(!s && strstr(err.msg, "samples.jsonl:1: sample 's1': image 'images/link.png' resolves outside"),
            "msg: %s", err.msg);
    suite_free(s);
    /* A relative link that climbs out through the suite's parent is refused too. */
    dir = make_suite(line, strlen(line), NULL);
    snprintf(p, sizeof p, "%s/images/link.png", dir);
    T_CHECK(symlink("../../m0/images/a.png", p) == 0, "symlink");
    s = suite_load(dir, &err);
    T_CHECK(!s && strstr(err.msg, "resolves outside"), "msg: %s", err.msg);
    suite_free(s);
    /* A link that stays inside is fine. */
    dir = make_suite(line, strlen(line), NULL);
    snprintf(p, sizeof p, "%s/images/link.png", dir);
    T_CHECK(symlink("a.png", p) == 0, "symlink");
    s = suite_load(dir, &err);
    T_CHECK(s != NULL, "inside link refused: %s", err.msg);
    suite_free(s);
    /* The manifests themselves may not be links out of the folder. */
    dir = make_suite(line, strlen(line), NULL);
    snprintf(p, sizeof p, "%s/samples.jsonl", dir);
    unlink(p);
    char target[700];
    snprintf(target, sizeof target, "%s/m0/samples.jsonl", t_tmpdir());
    T_CHECK(symlink(target, p) == 0, "symlink");
    s = suite_load(dir, &err);
    T_CHECK(!s && strstr(err.msg, "'samples.jsonl' resolves outside"), "msg: %s", err.msg);
    suite_free(s);
}

static void test_header_errors(void)
{
    static const struct { const char *hdr, *want; } cases[] = {
        {"{\"name\":\"t\",\"prompt\":\"{question}\",\"metrics\":[\"vqa\"]}", "missing field \"task\""},
        {"{\"name\":\"t\",\"task\":\"dance\",\"prompt\":\"{question}\",\"metrics\":[\"vqa\"]}", "unknown task"},
        {"{\"name\":\"t\",\"task\":\"vqa\",\"prompt\":\"hi\",\"metrics\":[\"vqa\"]}", "must contain {question}"},
        {"{\"name\":\"t\",\"task\":\"vqa\",\"prompt\":\"{question}\",\"metrics\":[]}", "at least 1"},
        {"{\"name\":\"t\",\"name\":\"u\",\"task\":\"vqa\",\"prompt\":\"{question}\",\"metrics\":[\"vqa\"]}", "duplicate key"},
        {"{\"name\":\"t\",\"task\":\"vqa\",\"prompt\":\"{question}\",\"metrics\":[\"vqa\"],\"n_samples\":5}", "suite.json says 5"},
        {"{\"name\":\"t\",\"task\":\"vqa\",\"prompt\":\"{question}\",\"metrics\":[\"vqa\"],\"format\":2}", "unsupported"},
        {"\xef\xbb\xbf{}", "byte order mark"},
        {"{\"name\":\"t\",\"task\":\"vqa\",\"prompt\":\"{question}\",\"metrics\":[\"vqa\"],\"samples_sha256\":"
         "\"0000000000000000000000000000000000000000000000000000000000000000\"}", "differs from suite.json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lv_error err = {{0}};
        suite *s = suite_load(make_suite(GOOD_LINE, strlen(GOOD_LINE), cases[i].hdr), &err);
        T_CHECK(!s && strstr(err.msg, cases[i].want), "case %zu: want '%s' in: %s", i, cases[i].want, err.msg);
        suite_free(s);
    }
}

/* Deep nesting, overlong lines and a yes/no suite with a bad label. */
static void test_fuzz_shapes(void)
{
    size_t n = 1100 * 2 + 200;
    char *deep = malloc(n), *big;
    size_t k = (size_t)sprintf(deep, "{\"id\":\"d\",\"meta\":");
    for (int i = 0; i < 1100; i++) deep[k++] = '[';
    for (int i = 0; i < 1100; i++) deep[k++] = ']';
    deep[k++] = '}';
    expect_line2(deep, k, "bad JSON");
    free(deep);

    size_t blen = (1u << 20) + 100;
    big = malloc(blen);
    memset(big, 'a', blen);
    memcpy(big, "{\"id\":\"", 7);
    expect_line2(big, blen, "line longer than");
    free(big);

    lv_error err = {{0}};
    const char *hdr = "{\"name\":\"t\",\"task\":\"yesno\",\"prompt\":\"{question}\",\"metrics\":[\"yesno\"]}";
    const char *line = "{\"id\":\"y\",\"image\":\"images/a.png\",\"question\":\"q\",\"label\":\"Yes\"}";
    suite *s = suite_load(make_suite(line, strlen(line), hdr), &err);
    T_CHECK(!s && strstr(err.msg, "samples.jsonl:1: sample 'y': task yesno needs"), "msg: %s", err.msg);
    suite_free(s);
}

/* The writer's suite loads back with the same fields, and files.sha256 holds true hashes. */
static void test_writer_round_trip(void)
{
    char dir[512], p[700], hex[LV_SHA256_HEX], want[256];
    lv_error err = {{0}};
    snprintf(dir, sizeof dir, "%s/written", t_tmpdir());
    suite_writer *w = suite_writer_open(dir, &err);
    T_CHECK(w != NULL, "open: %s", err.msg);
    if (!w) return;
    const char *objs[] = {"dog", "frisbee"};
    suite_sample_in a = {.id = "1", .image = "images/x.png", .question = "Describe.",
                         .objects = objs, .n_objects = 2, .meta_json = "{\"b\":1,\"a\":[2]}"};
    T_EQ_INT(suite_writer_put_image(w, "images/x.png", "PNGDATA", 7, &err), 0);
    T_EQ_INT(suite_writer_put_image(w, "../x.png", "PNGDATA", 7, &err), -1);
    T_EQ_INT(suite_writer_add(w, &a, &err), 0);
    T_EQ_INT(suite_writer_add(w, &a, &err), -1);
    T_CHECK(strstr(err.msg, "duplicate sample id '1'"), "%s", err.msg);
    suite_writer_prov_str(w, "source", "test");
    const char *metrics[] = {"chair", NULL};
    suite_info info = {.name = "rt", .task = "caption", .prompt = "{question}", .metrics = metrics};
    T_EQ_INT(suite_writer_finish(w, &info, &err), 0);

    suite *s = suite_load(dir, &err);
    T_CHECK(s != NULL, "load: %s", err.msg);
    if (!s) return;
    T_EQ_INT(s->n_samples, 1);
    T_EQ_INT(s->samples[0].n_objects, 2);
    T_EQ_STR(s->samples[0].objects[1], "frisbee");
    T_EQ_STR(s->samples[0].meta_json, "{\"b\":1,\"a\":[2]}");
    T_CHECK(strstr(s->provenance_json, "\"source\":\"test\"") != NULL, "%s", s->provenance_json);
    suite_free(s);

    snprintf(p, sizeof p, "%s/files.sha256", dir);
    char *files = t_read_file(p, NULL);
    lv_sha256_hex("PNGDATA", 7, hex);
    snprintf(want, sizeof want, "%s  images/x.png\n", hex);
    T_CHECK(files && strncmp(files, want, strlen(want)) == 0, "files.sha256: %s", files);
    free(files);
    /* Editing samples.jsonl after the fact is noticed. */
    snprintf(p, sizeof p, "%s/samples.jsonl", dir);
    size_t len;
    char *text = t_read_file(p, &len);
    text[strlen("{\"id\":\"")] = '2';
    t_write_file(p, text, len);
    free(text);
    s = suite_load(dir, &err);
    T_CHECK(!s && strstr(err.msg, "differs from suite.json"), "%s", err.msg);
    suite_free(s);
    /* A second writer refuses the folder. */
    T_CHECK(suite_writer_open(dir, &err) == NULL && strstr(err.msg, "folder is not empty"), "%s", err.msg);
}

/* Seeded mutations of a valid manifest (F3): every variant loads or fails with
 * FILE:LINE, never crashes (make asan runs this under ASan/UBSan). */
static void test_mutations(void)
{
    static const char base[] =
        "{\"id\":\"s1\",\"image\":\"images/a.png\",\"question\":\"What \\u00e9?\",\"answers\":[\"cat\",\"dog\"],\"meta\":{\"d\":[1,2.5,null,true]}}\n"
        "{\"id\":\"s2\",\"image\":\"images/a.png\",\"question\":\"Which?\",\"answers\":[\"x\"],\"category\":\"c\"}\n";
    static const char interesting[] = "\"\\{}[],:\n\x00\xff\xc3./u0-e";
    uint64_t x = 88172645463325252ull;
    int loaded = 0;
    for (int iter = 0; iter < 400; iter++) {
        char buf[sizeof base * 2];
        size_t len = sizeof base - 1;
        memcpy(buf, base, len);
        for (int m = 0, nm = 1 + iter % 4; m < nm; m++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            size_t at = (size_t)(x % len);
            switch ((x >> 32) % 3) {
            case 0: buf[at] = interesting[(x >> 40) % (sizeof interesting - 1)]; break;
            case 1: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
            default: {
                size_t span = (x >> 20) % 16;
                if (at + span > len || len + span > sizeof buf) break;
                memmove(buf + at + span, buf + at, len - at);
                len += span;
            }
            }
        }
        lv_error err = {{0}};
        suite *s = suite_load(make_suite(buf, len, NULL), &err);
        T_CHECK(s || strstr(err.msg, "samples.jsonl"), "iteration %d: error without the file: %s", iter, err.msg);
        T_CHECK(s || strstr(err.msg, ".jsonl:") || strstr(err.msg, "no samples"), "iteration %d: no line: %s", iter, err.msg);
        loaded += s != NULL;
        suite_free(s);
    }
    T_CHECK(loaded > 0 && loaded < 400, "%d of 400 mutants loaded", loaded);
}

int main(void)
{
    T_RUN(test_good_suite_loads);
    T_RUN(test_bad_lines_named);
    T_RUN(test_path_traversal_refused);
    T_RUN(test_symlinks);
    T_RUN(test_header_errors);
    T_RUN(test_fuzz_shapes);
    T_RUN(test_writer_round_trip);
    T_RUN(test_mutations);
    T_MAIN_END();
}
