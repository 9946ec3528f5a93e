/* tests/test_score_cli.c — 'llava-eval score' as a command: malformed lines are
 * reported with FILE:LINE and skipped while the rest is scored (exit 2), unknown
 * metrics and unreadable files are one-line errors, --help works. */
#include "tests/test.h"

#include <stdio.h>
#include <stdlib.h>

static const char *write_tmp(const char *name, const char *text, size_t len)
{
    static char path[8][256];
    static int k;
    char *p = path[k++ & 7];
    snprintf(p, 256, "%s/%s", t_tmpdir(), name);
    T_CHECK(t_write_file(p, text, len) == 0, "write %s", p);
    return p;
}

/* Writes text to a temporary FILE and runs `score METRIC FILE` on it. */
static void score_text(const char *metric, const char *name, const char *text, size_t len, t_proc *p)
{
    const char *argv[] = {"score", metric, write_tmp(name, text, len), NULL};
    T_CHECK(t_run(p, NULL, 0, argv) == 0, "run");
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void test_malformed_lines(void)
{
    static const char text[] =
        "{\"id\":\"ok1\",\"pred\":\"red\",\"answers\":[\"red\",\"red\",\"red\"]}\n"
        "{\"id\":\"x\",\"pred\":\"red\"\n"                                   /* 2: bad JSON */
        "{\"id\":\"x\",\"answers\":[\"a\"]}\n"                               /* 3: no pred */
        "{\"id\":\"x\",\"pred\":7,\"answers\":[\"a\"]}\n"                    /* 4: wrong type */
        "{\"id\":\"x\",\"pred\":\"a\",\"answers\":[\"a\",1]}\n"              /* 5: wrong element */
        "{\"id\":\"x\",\"pred\":\"\xff\",\"answers\":[\"a\"]}\n"             /* 6: bad UTF-8 */
        "\n"                                                                 /* 7: blank, skipped */
        "{\"pred\":\"a\",\"answers\":[\"a\"]}\n"                             /* 8: no id */
        "{\"id\":\"ok2\",\"pred\":\"blue\",\"answers\":[\"red\"]}\n";
    t_proc p;
    score_text("vqa", "bad.jsonl", text, sizeof text - 1, &p);
    T_EQ_INT(p.rc, 2);
    T_CHECK(strstr(p.out, "\"id\":\"ok1\"") && strstr(p.out, "\"id\":\"ok2\""), "good lines scored: %s", p.out);
    T_EQ_INT(count_lines(p.out), 2);
    static const char *want[] = {":2: not valid JSON", ":3: missing field 'pred'",
                                 ":4: field 'pred' must be a string",
                                 ":5: field 'answers' must be an array of strings",
                                 ":6: not valid UTF-8", ":8: missing field 'id'"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        T_CHECK(strstr(p.err, want[i]) != NULL, "stderr lacks '%s': %s", want[i], p.err);
    T_EQ_INT(count_lines(p.err), 6);
    T_CHECK(strncmp(p.err, "llava-eval: score: ", 19) == 0, "prefix: %s", p.err);
    t_proc_free(&p);
}

/* A line over the 16 MiB cap (here 17 MiB of one JSON string) is refused by
 * number without being held whole; the lines around it are scored. */
static void test_line_cap(void)
{
    size_t big = (17u << 20);
    char *text = malloc(big + 256);
    size_t n = (size_t)sprintf(text, "{\"id\":\"a\",\"pred\":\"x\",\"answers\":[\"x\"]}\n{\"id\":\"b\",\"pred\":\"");
    memset(text + n, 'y', big);
    n += big;
    n += (size_t)sprintf(text + n, "\",\"answers\":[\"y\"]}\n{\"id\":\"c\",\"pred\":\"x\",\"answers\":[\"x\"]}\n");
    t_proc p;
    score_text("vqa", "long.jsonl", text, n, &p);
    free(text);
    T_EQ_INT(p.rc, 2);
    T_CHECK(strstr(p.err, ":2: line longer than 16777216 bytes") != NULL, "stderr: %s", p.err);
    T_CHECK(strstr(p.out, "\"id\":\"a\"") && strstr(p.out, "\"id\":\"c\"") && !strstr(p.out, "\"id\":\"b\""),
            "lines around it: %s", p.out);
    t_proc_free(&p);
}

/* Set metrics name the bad item; the other lines still come out. */
static void test_malformed_items(void)
{
    static const char text[] =
        "{\"id\":1,\"items\":[{\"answer\":\"Yes\",\"label\":\"yes\"},{\"answer\":\"No\",\"label\":\"maybe\"}]}\n"
        "{\"id\":2,\"items\":[{\"answer\":\"Yes\",\"label\":\"yes\"},{\"answer\":\"No\",\"label\":\"no\"}]}\n"
        "{\"id\":3,\"items\":{}}\n";
    t_proc p;
    score_text("yesno", "sets.jsonl", text, sizeof text - 1, &p);
    T_EQ_INT(p.rc, 2);
    T_CHECK(strstr(p.err, ":1: items[1]: label must be") != NULL, "stderr: %s", p.err);
    T_CHECK(strstr(p.err, ":3: field 'items' must be an array") != NULL, "stderr: %s", p.err);
    T_CHECK(strstr(p.out, "{\"id\":2,\"TP\":1,\"FP\":0,\"TN\":1,\"FN\":0,\"accuracy\":1.0") != NULL, "out: %s", p.out);
    t_proc_free(&p);
}

/* Undefined values print as null, never NaN; integers stay integers, floats floats. */
static void test_null_and_types(void)
{
    static const char text[] =
        "{\"id\":\"n\",\"items\":[{\"answer\":\"No\",\"label\":\"no\"}]}\n";
    t_proc p;
    score_text("yesno", "null.jsonl", text, sizeof text - 1, &p);
    T_EQ_INT(p.rc, 0);
    T_EQ_STR(p.out, "{\"id\":\"n\",\"TP\":0,\"FP\":0,\"TN\":1,\"FN\":0,\"accuracy\":1.0,"
                    "\"precision\":null,\"recall\":null,\"f1\":null,\"yes_ratio\":0.0}\n");
    t_proc_free(&p);
}

static void test_stdin_and_chair(void)
{
    static const char text[] = "{\"id\":\"c\",\"caption\":\"Two buses and a bus.\",\"gt_objects\":[\"bus\"]}\n";
    const char *argv[] = {"score", "chair", "-", NULL};
    t_proc p;
    T_CHECK(t_run(&p, text, sizeof text - 1, argv) == 0, "run");
    T_EQ_INT(p.rc, 0);
    T_EQ_STR(p.out, "{\"id\":\"c\",\"words\":[\"bus\"],\"node_words\":[\"bus\"],\"hallucinated\":[],"
                    "\"chair_s\":0,\"chair_i\":0.0,\"recall\":1.0}\n");
    t_proc_free(&p);
}

static void test_usage_errors(void)
{
    t_proc p;
    const char *a1[] = {"score", "bleu", "x.jsonl", NULL};
    T_CHECK(t_run(&p, NULL, 0, a1) == 0, "run");
    T_EQ_INT(p.rc, 2);
    T_CHECK(strstr(p.err, "llava-eval: score: unknown metric 'bleu'") == p.err, "%s", p.err);
    T_EQ_INT(count_lines(p.err), 1);
    t_proc_free(&p);
    const char *a2[] = {"score", "anls", "/nonexistent/x.jsonl", NULL};
    T_CHECK(t_run(&p, NULL, 0, a2) == 0, "run");
    T_EQ_INT(p.rc, 2);
    T_CHECK(strstr(p.err, "llava-eval: score: /nonexistent/x.jsonl: ") == p.err, "%s", p.err);
    T_EQ_INT(count_lines(p.err), 1);
    t_proc_free(&p);
    const char *a3[] = {"score", "vqa", NULL};
    T_CHECK(t_run(&p, NULL, 0, a3) == 0, "run");
    T_EQ_INT(p.rc, 2);
    t_proc_free(&p);
    const char *a4[] = {"score", "--help", NULL};
    T_CHECK(t_run(&p, NULL, 0, a4) == 0, "run");
    T_EQ_INT(p.rc, 0);
    T_CHECK(strstr(p.out, "usage: llava-eval score METRIC FILE.jsonl") && strstr(p.out, "yesno-parse"), "%s", p.out);
    t_proc_free(&p);
}

int main(void)
{
    T_RUN(test_malformed_lines);
    T_RUN(test_line_cap);
    T_RUN(test_malformed_items);
    T_RUN(test_null_and_types);
    T_RUN(test_stdin_and_chair);
    T_RUN(test_usage_errors);
    T_MAIN_END();
}
