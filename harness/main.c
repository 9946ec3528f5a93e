/* harness/main.c — the llava-eval entry point: a table of subcommands (git style). */
#include "harness/cli.h"

#include <string.h>

#ifndef LV_VERSION
#define LV_VERSION "0.1.0"
#endif

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info",     cmd_info,     "show a GGUF file's metadata and tensor table"},
    {"tokenize", cmd_tokenize, "token ids of a text with a model's vocabulary"},
    {"quantize", cmd_quantize, "re-quantize a GGUF file's 2-D weights to one type"},
    {"generate", cmd_generate, "run the text model on a prompt (with image rows) and print the answer"},
    {"suite",    cmd_suite,    "make, import, fetch and list evaluation suites"},
    {"run",      cmd_run,      "run a suite at several resolutions and quants into the store"},
    {"merge",    cmd_merge,    "combine shard stores into one"},
    {"score",    cmd_score,    "compute a metric over a JSONL file of cases"},
    {"compare",  cmd_compare,  "compare two runs sample by sample; regression gates, JUnit"},
    {"report",   cmd_report,   "write the self-contained HTML report of runs"},
    {"export",   cmd_export,   "write result rows as CSV or JSON Lines"},
    {"model",    cmd_model,    "build model files (pack trained weights into GGUF)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: llava-eval <command> [options]\n\n"
                 "Evaluates LLaVA-style vision-language models and measures their hallucinations.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'llava-eval <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("llava-eval %s\n", LV_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    return cli_error(argv[1], "unknown command (see 'llava-eval --help')");
}
