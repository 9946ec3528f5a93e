/* harness/cmd_export.c — 'llava-eval export --db FILE --format csv|jsonl [RUN...]': every
 * result row for other tools, on stdout or atomically into -o FILE. The writers are
 * in reports/report_export.c. */
#include "harness/cli.h"
#include "harness/report_load.h"
#include "reports/report_export.h"

#include <stdlib.h>
#include <string.h>

#define EXPORT_MAX_RUNS 256

static const char *opt_db, *opt_format, *opt_out;

static const cli_opt opts[] = {
    {0, "db", CLI_STR, &opt_db, "FILE", "the results store", 0, 0},
    {0, "format", CLI_STR, &opt_format, "csv|jsonl", "output format (required)", 0, 0},
    {'o', "output", CLI_STR, &opt_out, "FILE", "write to FILE (atomically) instead of standard output", 0, 0},
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec spec = {
    "export", "export --db FILE --format csv|jsonl [-o FILE] [RUN...]",
    "Writes every result row of the runs (default: all) as CSV or JSON Lines.",
    "Columns: run_id, run, suite, sample_id, image, category, resolution (0 = native), quant, status,\n"
    "correct, score, label, parsed, output, prompt, choice_margin, encode_ms, prefill_ms, decode_ms,\n"
    "error, meta, logprobs. CSV is RFC 4180 with a header line; JSONL is one object per line.",
    opts,
};

int cmd_export(int argc, char **argv)
{
    char *pos[EXPORT_MAX_RUNS];
    int npos = 0, rc = CLI_USAGE;
    opt_db = opt_format = opt_out = NULL;
    int pr = cli_parse(&spec, argc, argv, pos, EXPORT_MAX_RUNS, &npos);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!opt_db) return cli_error("export", "--db FILE is required");
    if (!opt_format || (strcmp(opt_format, "csv") && strcmp(opt_format, "jsonl")))
        return cli_error("export", "--format must be csv or jsonl");

    lv_error err = {{0}};
    size_t nruns = 0;
    rp_run *runs = NULL;
    rl_file out = {0};
    store *s = store_open(opt_db, 1, &err);
    if (!s) { cli_error(opt_db, "%s", err.msg); goto done; }
    if (rl_load_runs(s, pos, npos, EXPORT_MAX_RUNS, &runs, &nruns, &err)) { cli_error(opt_db, "%s", err.msg); goto done; }
    FILE *f = stdout;
    if (opt_out) {
        if (rl_open(&out, opt_out, &err)) { cli_error(opt_out, "%s", err.msg); goto done; }
        f = out.f;
    }
    if (strcmp(opt_format, "csv") == 0) report_export_csv(f, runs, nruns);
    else report_export_jsonl(f, runs, nruns);
    if (opt_out && rl_commit(&out, &err)) { cli_error(opt_out, "%s", err.msg); rc = CLI_FAILED; goto done; }
    if (!opt_out && (fflush(stdout) || ferror(stdout))) { cli_error("export", "writing standard output failed"); rc = CLI_FAILED; goto done; }
    rc = CLI_OK;
done:
    rl_abort(&out);
    rl_free_runs(runs, nruns);
    store_close(s);
    return rc;
}
