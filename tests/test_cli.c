/* tests/test_cli.c — the command-line contract: help, unknown commands, exit codes. */
#include "tests/test.h"

static void test_top_help(void)
{
    t_proc p;
    const char *argv[] = {"--help", NULL};
    T_CHECK(t_run(&p, NULL, 0, argv) == 0, "run");
    T_EQ_INT(p.rc, 0);
    T_CHECK(strstr(p.out, "usage: llava-eval") != NULL, "help text: %s", p.out);
    t_proc_free(&p);
}

static void test_unknown_command(void)
{
    t_proc p;
    const char *argv[] = {"frobnicate", NULL};
    T_CHECK(t_run(&p, NULL, 0, argv) == 0, "run");
    T_EQ_INT(p.rc, 2);
    T_CHECK(strncmp(p.err, "llava-eval: frobnicate: ", 24) == 0, "stderr: %s", p.err);
    T_CHECK(strchr(p.err, '\n') == p.err + p.err_len - 1, "one line: %s", p.err);
    t_proc_free(&p);
}

static void test_no_args(void)
{
    t_proc p;
    const char *argv[] = {NULL};
    T_CHECK(t_run(&p, NULL, 0, argv) == 0, "run");
    T_EQ_INT(p.rc, 2);
    t_proc_free(&p);
}

/* Every command answers --help with exit 0 and a usage line naming itself. */
static void test_each_help(void)
{
    static const char *cmds[] = {"info", "tokenize", "quantize", "score", "suite", NULL};
    for (int i = 0; cmds[i]; i++) {
        t_proc p;
        const char *argv[] = {cmds[i], "--help", NULL};
        T_CHECK(t_run(&p, NULL, 0, argv) == 0, "run");
        T_CHECK(p.rc == 0, "%s --help exit %d: %s", cmds[i], p.rc, p.err);
        char want[64];
        snprintf(want, sizeof want, "usage: llava-eval %s", cmds[i]);
        T_CHECK(strstr(p.out, want) != NULL, "%s --help: %s", cmds[i], p.out);
        t_proc_free(&p);
    }
}

int main(void)
{
    T_RUN(test_top_help);
    T_RUN(test_unknown_command);
    T_RUN(test_no_args);
    T_RUN(test_each_help);
    T_MAIN_END();
}
