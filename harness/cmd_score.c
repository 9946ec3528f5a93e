/* harness/cmd_score.c — 'llava-eval score' (placeholder until its issue lands). */
#include "harness/cli.h"

int cmd_score(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error("score", "not implemented yet");
}
