/* harness/cmd_suite.c — 'llava-eval suite' (placeholder until its issue lands). */
#include "harness/cli.h"

int cmd_suite(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error("suite", "not implemented yet");
}
