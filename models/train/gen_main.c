/* models/train/gen_main.c — the procedural-suite generator alone (suite_make() with
 * no curl, sqlite or BLAS), so it can be carried to a training machine with just
 * libcjson and the font: `gen KIND DIR N SEED` = `llava-eval suite make KIND -o DIR
 * --n N --seed S` (byte-identical output); GEN_FONT overrides the font path.
 * Build (after make):
 *   ar rcs /tmp/libgen.a build/datasets/*.o build/engine/*.o build/metrics/*.o \
 *       build/harness/jsonw.o build/harness/store.o
 *   cc -O2 -I. -I/usr/include/cjson -o gen models/train/gen_main.c /tmp/libgen.a -lcjson -lm -pthread
 */
#include <stdio.h>
#include <stdlib.h>

#include "datasets/synth.h"
int main(int argc, char **argv)
{
    if (argc != 5) { fprintf(stderr, "gen KIND DIR N SEED\n"); return 2; }
    suite_make_opts o = {.kind = argv[1], .n = atoi(argv[3]), .seed = strtoull(argv[4], NULL, 10), .font = getenv("GEN_FONT")};
    lv_error err = {{0}};
    if (suite_make(&o, argv[2], &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    return 0;
}
