/* harness/cmd_suite.c — 'llava-eval suite make|import|fetch|list': procedural suites,
 * importers for the official benchmarks, downloads, and the catalogue. */
#include "harness/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/fetch.h"
#include "datasets/import.h"
#include "datasets/synth.h"

static int parse_seed(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

/* ---- suite make ---- */

static int suite_make_cmd(int argc, char **argv)
{
    const char *out = NULL, *seed_s = NULL, *font = NULL;
    long n = 240;
    char *pos[2];
    int npos, r;
    lv_error err = {{0}};
    const cli_opt opts[] = {
        {'o', "output", CLI_STR, &out, "DIR", "folder to create (must not hold a suite)", 0, 0},
        {0, "n", CLI_INT, &n, "N", "number of samples (default 240)", 1, 1000000},
        {0, "seed", CLI_STR, &seed_s, "S", "seed, 0 to 2^64-1 (default 0)", 0, 0},
        {0, "font", CLI_STR, &font, "FILE", "TrueType font for text-size (default DejaVuSans)", 0, 0},
        {0, NULL, CLI_FLAG, NULL, NULL, NULL, 0, 0},
    };
    const cli_spec spec = {"suite make", "suite make KIND -o DIR [--n N] [--seed S] [--font FILE]",
                           "Generate a procedural detail-loss suite (deterministic from the seed).",
                           "KIND: text-size, object-size, count, position.", opts};
    suite_make_opts mo = {0};
    if ((r = cli_parse(&spec, argc, argv, pos, 2, &npos)) != 0) return r > 0 ? CLI_OK : CLI_USAGE;
    if (npos != 1) return cli_error("suite make", "needs one KIND (see --help)");
    if (!suite_make_describe(pos[0]))
        return cli_error("suite make", "unknown kind '%s' (text-size, object-size, count, position)", pos[0]);
    if (!out) return cli_error("suite make", "needs -o DIR");
    if (seed_s && parse_seed(seed_s, &mo.seed)) return cli_error("suite make", "--seed: '%s' is not a number from 0 to 2^64-1", seed_s);
    mo.kind = pos[0];
    mo.n = (int)n;
    mo.font = font;
    if (suite_make(&mo, out, &err)) {
        cli_error("suite make", "%s", err.msg);
        return CLI_FAILED;
    }
    printf("%s: %s suite written\n", out, pos[0]);
    return CLI_OK;
}

/* ---- suite import ---- */

static int suite_import_cmd(int argc, char **argv)
{
    const char *out = NULL, *images = NULL, *name = NULL;
    int ocr = 0, skip = 0, npos, r;
    long limit = 0;
    char *pos[9], summary[512] = "";
    lv_error err = {{0}};
    const cli_opt opts[] = {
        {'o', "output", CLI_STR, &out, "DIR", "suite folder to create", 0, 0},
        {0, "images", CLI_STR, &images, "DIR", "folder holding the official images (mme: default SRC)", 0, 0},
        {0, "ocr-tokens", CLI_FLAG, &ocr, NULL, "textvqa: add LLaVA's 'Reference OCR token:' line to each question", 0, 0},
        {0, "skip-missing", CLI_FLAG, &skip, NULL, "drop samples whose image is absent instead of failing", 0, 0},
        {0, "limit", CLI_INT, &limit, "N", "keep the first N samples (coco-captions: images)", 1, 1e9},
        {0, "name", CLI_STR, &name, "NAME", "suite name (default from the format)", 0, 0},
        {0, NULL, CLI_FLAG, NULL, NULL, NULL, 0, 0},
    };
    const cli_spec spec = {"suite import", "suite import FORMAT SRC... --images DIR -o OUT [options]",
                           "Turn official benchmark files into a suite (images are hard-linked or copied in).",
                           "FORMAT and SRC:\n"
                           "  pope           coco_pope_random.json coco_pope_popular.json coco_pope_adversarial.json\n"
                           "  vqav2          v2_OpenEnded_mscoco_val2014_questions.json v2_mscoco_val2014_annotations.json\n"
                           "  textvqa        TextVQA_0.5.1_val.json [TextVQA_Rosetta_OCR_v0.2_val.json]\n"
                           "  mme            MME_Benchmark_release_version/\n"
                           "  coco-captions  captions_val2014.json instances_val2014.json", opts};
    if ((r = cli_parse(&spec, argc, argv, pos, 9, &npos)) != 0) return r > 0 ? CLI_OK : CLI_USAGE;
    if (npos < 2) return cli_error("suite import", "needs FORMAT and at least one SRC (see --help)");
    if (!out) return cli_error("suite import", "needs -o OUT");
    int known = 0;
    for (int i = 0; suite_import_formats[i]; i++) known |= strcmp(pos[0], suite_import_formats[i]) == 0;
    if (!known) return cli_error("suite import", "unknown format '%s' (pope, vqav2, textvqa, mme, coco-captions)", pos[0]);
    if (ocr && strcmp(pos[0], "textvqa") != 0) return cli_error("suite import", "--ocr-tokens is for textvqa only");
    suite_import_opts o = {.images_dir = images, .ocr_tokens = ocr, .skip_missing = skip, .limit = limit, .name = name};
    if (suite_import(pos[0], (const char *const *)pos + 1, npos - 1, &o, out, summary, &err)) {
        cli_error("suite import", "%s", err.msg);
        return CLI_USAGE;
    }
    printf("%s: %s suite, %s\n", out, pos[0], summary);
    return CLI_OK;
}

/* ---- suite fetch ---- */

static int suite_fetch_cmd(int argc, char **argv)
{
    const char *cache = NULL;
    int verify = 0, quiet = 0, npos, r, failed = 0;
    char *pos[2];
    const cli_opt opts[] = {
        {0, "cache", CLI_STR, &cache, "DIR", "cache folder (default $LLAVA_EVAL_CACHE or ~/.cache/llava-eval)", 0, 0},
        {0, "verify", CLI_FLAG, &verify, NULL, "re-hash files already in the cache", 0, 0},
        {'q', "quiet", CLI_FLAG, &quiet, NULL, "no progress lines", 0, 0},
        {0, NULL, CLI_FLAG, NULL, NULL, NULL, 0, 0},
    };
    const cli_spec spec = {"suite fetch", "suite fetch NAME [--cache DIR] [--verify]",
                           "Download official files (resumable, size- and SHA-256-checked) into the cache.",
                           "NAME: see 'llava-eval suite list'.", opts};
    if ((r = cli_parse(&spec, argc, argv, pos, 2, &npos)) != 0) return r > 0 ? CLI_OK : CLI_USAGE;
    if (npos != 1) return cli_error("suite fetch", "needs one NAME (see 'llava-eval suite list')");
    int images = strcmp(pos[0], "pope-images") == 0;
    const fetch_entry *e = fetch_find(images ? "pope" : pos[0]);
    if (!e) return cli_error("suite fetch", "unknown suite '%s' (see 'llava-eval suite list')", pos[0]);
    fetch_opts o = {.cache_dir = cache, .verify_cached = verify, .quiet = quiet};
    const char *paths[4] = {NULL, NULL, NULL, NULL};
    int n = 0;
    for (const fetch_item *it = e->items; it->name; it++) {
        lv_error err = {{0}};
        char *path = NULL;
        if (fetch_file(&o, it, &path, &err)) {
            cli_error("suite fetch", "%s", err.msg);
            failed = 1;
            continue;
        }
        if (!images) printf("%s\n", path);
        if (n < 4) paths[n++] = path;
        else free(path);
    }
    /* pope-images: the POPE files first, then the COCO images they name. */
    if (images && !failed) {
        lv_error err = {{0}};
        size_t count = 0;
        if (fetch_pope_images(&o, paths, n, NULL, &count, &err)) {
            cli_error("suite fetch", "%s", err.msg);
            failed = 1;
        } else {
            char *dir = cache ? strdup(cache) : fetch_default_cache();
            printf("%s/coco/val2014 (%zu images)\n", dir ? dir : ".", count);
            free(dir);
        }
    }
    for (int i = 0; i < n; i++) free((char *)paths[i]);
    return failed ? CLI_FAILED : CLI_OK;
}

/* ---- suite list ---- */

static int suite_list_cmd(int argc, char **argv)
{
    char *pos[1];
    int npos, r;
    const cli_opt opts[] = {{0, NULL, CLI_FLAG, NULL, NULL, NULL, 0, 0}};
    const cli_spec spec = {"suite list", "suite list", "Suites known by name: procedural kinds and downloadable files.",
                           NULL, opts};
    if ((r = cli_parse(&spec, argc, argv, pos, 0, &npos)) != 0) return r > 0 ? CLI_OK : CLI_USAGE;
    printf("procedural (llava-eval suite make KIND -o DIR):\n");
    for (int i = 0; suite_make_kinds[i]; i++)
        printf("  %-14s %s\n", suite_make_kinds[i], suite_make_describe(suite_make_kinds[i]));
    printf("\ndownloads (llava-eval suite fetch NAME):\n");
    for (const fetch_entry *e = fetch_catalog; e->name; e++) printf("  %-22s %s\n", e->name, e->description);
    printf("  %-22s %s\n", "pope-images", "the 500 COCO val2014 images POPE asks about (hash recorded on first use)");
    return CLI_OK;
}

/* ---- dispatch ---- */

static const cli_sub subs[] = {
    {"make", suite_make_cmd, "generate a procedural suite from a seed"},
    {"import", suite_import_cmd, "turn official benchmark files into a suite"},
    {"fetch", suite_fetch_cmd, "download official files into the cache"},
    {"list", suite_list_cmd, "show the suites known by name"},
};

int cmd_suite(int argc, char **argv)
{
    return cli_dispatch("suite", "Make, import, fetch and list evaluation suites.", subs, sizeof subs / sizeof subs[0], argc, argv);
}
