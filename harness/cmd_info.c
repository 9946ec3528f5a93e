/* harness/cmd_info.c — 'llava-eval info' (placeholder until its issue lands). */
#include "harness/cli.h"

int cmd_info(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error("info", "not implemented yet");
}
