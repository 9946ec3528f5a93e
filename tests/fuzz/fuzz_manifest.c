/* tests/fuzz/fuzz_manifest.c — fuzz target: the suite manifest loader (suite.json
 * and samples.jsonl: JSON with duplicate-key checks, UTF-8 and NUL checks, field
 * types, ids, image paths resolved under the suite root, sha256/n_samples checks).
 * The input is split at its first "\n===\n": the part before is suite.json, the part
 * after samples.jsonl; without the separator a fixed valid suite.json is used and the
 * whole input is samples.jsonl. Both are written into a scratch suite folder that
 * holds images/a.png and images/b.jpg (and a symlink images/out pointing outside).
 * Built with libFuzzer by `make fuzz`; replayed over tests/fuzz/corpus/manifest by
 * `make test`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/suite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64], hdr[128], smp[128];

static void put(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(p, 1, n, f) != n) abort();
    if (fclose(f)) abort();
}

static void cleanup(void)
{
    static const char *const names[] = {"images/a.png", "images/b.jpg", "images/out", "suite.json",
                                        "samples.jsonl", "images", ""};
    char p[160];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", root, names[i]);
        if (unlink(p)) rmdir(p);
    }
}

static void setup(void)
{
    char p[160];
    /* tmpfs when there is one: two small files are written per input */
    snprintf(root, sizeof root, "%s/lv-fuzz-manifest-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(root)) abort();
    atexit(cleanup);
    snprintf(p, sizeof p, "%s/images", root);
    if (mkdir(p, 0755)) abort();
    snprintf(p, sizeof p, "%s/images/a.png", root);
    put(p, "\x89PNG\r\n\x1a\n", 8);
    snprintf(p, sizeof p, "%s/images/b.jpg", root);
    put(p, "\xff\xd8\xff", 3);
    snprintf(p, sizeof p, "%s/images/out", root);
    if (symlink("/etc/hostname", p)) abort();
    snprintf(hdr, sizeof hdr, "%s/suite.json", root);
    snprintf(smp, sizeof smp, "%s/samples.jsonl", root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char def_hdr[] =
        "{\"format\":1,\"name\":\"fuzz\",\"task\":\"yesno\",\"prompt\":\"{question}\","
        "\"metrics\":[\"pope_accuracy\"]}";
    static const char sep[] = "\n===\n";
    const uint8_t *cut = NULL;
    lv_error err;
    if (!root[0]) setup();
    for (size_t i = 0; i + 5 <= size && !cut; i++)
        if (!memcmp(data + i, sep, 5)) cut = data + i;
    if (cut) {
        put(hdr, data, (size_t)(cut - data));
        put(smp, cut + 5, size - (size_t)(cut - data) - 5);
    } else {
        put(hdr, def_hdr, sizeof def_hdr - 1);
        put(smp, data, size);
    }
    err.msg[0] = 0;
    suite *s = suite_load(root, &err);
    if (!s && !err.msg[0]) abort();   /* a refusal always says why */
    if (s) {
        for (size_t i = 0; i < s->n_samples; i++) {
            char *pr = suite_prompt(s, &s->samples[i]);
            free(pr);
        }
        suite_free(s);
    }
    return 0;
}
