/* tests/fuzz/fuzz_score.c — fuzz target: the `score` line parser and every metric
 * behind it (vqa, anls, yesno-parse, yesno, mme, chair). The first byte picks the
 * metric; the rest is one JSONL line. Built with libFuzzer by `make fuzz`; replayed
 * over tests/fuzz/corpus/score by `make test`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const metrics[8] = { "vqa", "anls", "yesno-parse", "yesno", "mme", "chair", "vqa", "chair" };
    static FILE *sink;
    char why[300];
    if (size < 1) return 0;
    if (!sink && !(sink = fopen("/dev/null", "w"))) abort();
    char *line = malloc(size - 1 ? size - 1 : 1);
    if (!line) return 0;
    memcpy(line, data + 1, size - 1);
    why[0] = 0;
    if (score_text_line(metrics[data[0] & 7], line, size - 1, sink, why, sizeof why) && !why[0]) abort();
    free(line);
    return 0;
}
