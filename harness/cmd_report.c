/* harness/cmd_report.c — 'llava-eval report --db FILE [-o report.html] [RUN...]': loads
 * the runs and hands them to the HTML writer (reports/report_html.c); the file is
 * written atomically. */
#include "harness/cli.h"
#include "harness/report_load.h"
#include "reports/report_html.h"

#include <stdlib.h>
#include <string.h>

#define REPORT_MAX_RUNS 64

static const char *opt_db, *opt_out;

static const cli_opt opts[] = {
    {0, "db", CLI_STR, &opt_db, "FILE", "the results store", 0, 0},
    {'o', "output", CLI_STR, &opt_out, "FILE", "where to write the report (default report.html)", 0, 0},
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec spec = {
    "report", "report --db FILE [-o report.html] [RUN...]",
    "Writes one self-contained HTML file (no external assets) about the runs (default: all).",
    "Run summary and provenance, metric tables with intervals, accuracy against resolution per suite,\n"
    "category and detail size, POPE metrics against resolution, quantization bars and KL distributions,\n"
    "accuracy against bits per weight, confusion matrices, ROC curves from choice-mode margins and a\n"
    "per-sample browser. The file is written to a temporary name and renamed when complete.",
    opts,
};

int cmd_report(int argc, char **argv)
{
    char *pos[REPORT_MAX_RUNS];
    int npos = 0, rc = CLI_USAGE;
    opt_db = NULL;
    opt_out = "report.html";
    int pr = cli_parse(&spec, argc, argv, pos, REPORT_MAX_RUNS, &npos);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!opt_db) return cli_error("report", "--db FILE is required");

    lv_error err = {{0}};
    size_t nruns = 0;
    rp_run *runs = NULL;
    rl_file out = {0};
    store *s = store_open(opt_db, 1, &err);
    if (!s) { cli_error(opt_db, "%s", err.msg); goto done; }
    if (rl_load_runs(s, pos, npos, REPORT_MAX_RUNS, &runs, &nruns, &err)) { cli_error(opt_db, "%s", err.msg); goto done; }
    if (rl_open(&out, opt_out, &err)) { cli_error(opt_out, "%s", err.msg); goto done; }
    if (report_html_write(out.f, runs, nruns, opt_db)) {
        cli_error("report", "out of memory");
        rc = CLI_FAILED;
        goto done;
    }
    if (rl_commit(&out, &err)) { cli_error(opt_out, "%s", err.msg); rc = CLI_FAILED; goto done; }
    fprintf(stderr, "llava-eval: report: wrote %s (%zu run%s)\n", opt_out, nruns, nruns == 1 ? "" : "s");
    rc = CLI_OK;
done:
    rl_abort(&out);
    rl_free_runs(runs, nruns);
    store_close(s);
    return rc;
}
