/* harness/cli.h — the command table and the option parser every subcommand uses.
 *
 * A subcommand is one file harness/cmd_<name>.c exporting `int cmd_<name>(int argc,
 * char **argv)` (argv[0] is the subcommand name) and a row in main.c's table.
 * It returns the process exit status: 0 ok, 1 failed run, 2 bad usage or input,
 * 3 a crossed regression gate, 130 interrupted.
 *
 * Options are a table of cli_opt rows, from which --help is printed (git style).
 * cli_parse() fills the destinations, collects positional arguments and handles
 * --help; errors are printed as one line `llava-eval: <cmd>: <why>`.
 */
#ifndef LV_CLI_H
#define LV_CLI_H

#include <stdio.h>

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_GATE = 3, CLI_INTERRUPTED = 130 };

typedef enum {
    CLI_FLAG,    /* int *: set to 1 */
    CLI_STR,     /* const char **: the argument */
    CLI_INT,     /* long *: a decimal integer within [min, max] */
    CLI_DOUBLE,  /* double *: a finite number within [min, max] */
    CLI_LIST     /* cli_strlist *: repeated option, each value appended */
} cli_kind;

typedef struct {
    const char **items;
    int n;
} cli_strlist;

typedef struct {
    char        short_name;  /* 0 if none */
    const char *long_name;   /* without the leading "--" */
    cli_kind    kind;
    void       *dst;
    const char *arg_name;    /* shown in help, e.g. "FILE" */
    const char *help;
    double      min, max;    /* CLI_INT / CLI_DOUBLE range; both 0 = unrestricted */
} cli_opt;

typedef struct {
    const char *name;        /* e.g. "info" */
    const char *usage;       /* the synopsis after "llava-eval " */
    const char *summary;     /* one line for the top-level help */
    const char *description; /* may be NULL */
    const cli_opt *opts;     /* terminated by a row with long_name == NULL */
} cli_spec;

/* Parses argv[1..]. Positional arguments (and everything after "--") are stored in
 * pos[] (up to max_pos, more is an error) and counted in *npos.
 * Returns 0 to go on, 1 when --help was printed (exit 0), -1 on an error already
 * printed (exit 2). */
int cli_parse(const cli_spec *spec, int argc, char **argv,
              char **pos, int max_pos, int *npos);

void cli_print_help(const cli_spec *spec, FILE *out);

/* A command with subcommands (`suite make`, `model pack`): a table of rows. */
typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);   /* argv[0] is the subcommand name */
    const char *summary;
} cli_sub;

/* Dispatches argv[1] to its row, printing the subcommand list for --help (exit 0)
 * or when none is given (exit 2). */
int cli_dispatch(const char *cmd, const char *summary, const cli_sub *subs, size_t n, int argc, char **argv);

/* Prints `llava-eval: <what>: <why>` to stderr; returns CLI_USAGE for `return`. */
int cli_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The subcommands. */
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_score(int argc, char **argv);
/* score's parser alone (the fuzz target's entry): one JSONL line scored with metric
 * (vqa, anls, yesno-parse, yesno, mme, chair), the result line written to out; -1
 * with why filled for a bad line. Lines over SCORE_MAX_LINE bytes are refused. */
#define SCORE_MAX_LINE (16u << 20)
int score_text_line(const char *metric, const char *line, size_t len, FILE *out, char *why, size_t cap);
int cmd_suite(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_model_synth(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
