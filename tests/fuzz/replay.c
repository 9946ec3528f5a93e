/* tests/fuzz/replay.c — runs a fuzz target over every file of its corpus folder
 * (seeds and every crash ever found, kept as regression files), without libFuzzer.
 * Usage: replay_<target> [DIR] (default tests/fuzz/corpus/<target>). Prints the
 * test runner's RESULT line: one pass per file (a crash ends the process). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_TARGET
#define FUZZ_TARGET "gguf"
#endif

int main(int argc, char **argv)
{
    char dir[4096];
    int n = 0;
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "tests/fuzz/corpus/" FUZZ_TARGET);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: no corpus at %s\n", dir);
        printf("RESULT 0 1 0\n");
        return 1;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[8200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
        size_t got = buf ? fread(buf, 1, (size_t)len, f) : 0;
        fclose(f);
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        n++;
    }
    closedir(d);
    fprintf(stderr, "ok   replayed %d inputs of %s\n", n, dir);
    printf("RESULT %d 0 0\n", n);
    return 0;
}
