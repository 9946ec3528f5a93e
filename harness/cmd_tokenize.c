/* harness/cmd_tokenize.c — 'llava-eval tokenize' (placeholder until its issue lands). */
#include "harness/cli.h"

int cmd_tokenize(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error("tokenize", "not implemented yet");
}
