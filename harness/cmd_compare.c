/* harness/cmd_compare.c — 'llava-eval compare --db FILE BASE CAND': per-metric deltas
 * with paired intervals and p-values, flips, regressed samples, answer-token
 * distribution changes, and regression gates (exit 3) with JUnit output.
 * The statistics and the writers are in reports/cmp.c. */
#include "harness/cli.h"
#include "harness/report_load.h"
#include "reports/cmp.h"

#include <stdlib.h>
#include <string.h>

static const char *opt_db, *opt_junit, *opt_base_quant, *opt_cand_quant;
static int opt_json, opt_force;
static cli_strlist opt_gates;

static const cli_opt opts[] = {
    {0, "db", CLI_STR, &opt_db, "FILE", "the results store", 0, 0},
    {0, "gate", CLI_LIST, &opt_gates, "METRIC:MAX_DROP",
     "exit 3 when METRIC gets worse by more than MAX_DROP (fraction, or points with %) with significance "
     "(Holm-adjusted p < 0.05); repeatable", 0, 0},
    {0, "junit", CLI_STR, &opt_junit, "FILE", "write JUnit XML: one testcase per gate per suite, resolution, quant", 0, 0},
    {0, "json", CLI_FLAG, &opt_json, NULL, "one JSON object on stdout instead of the tables", 0, 0},
    {0, "force", CLI_FLAG, &opt_force, NULL, "compare runs whose suite, prompt, template or metric variant differ", 0, 0},
    {0, "base-quant", CLI_STR, &opt_base_quant, "Q", "use only BASE's results at quant Q", 0, 0},
    {0, "cand-quant", CLI_STR, &opt_cand_quant, "Q",
     "use only CAND's results at quant Q (a different Q than --base-quant compares quantizations)", 0, 0},
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec spec = {
    "compare", "compare --db FILE BASE CAND [--gate METRIC:MAX_DROP]... [--junit FILE] [--json] [--force]",
    "Compares two runs sample by sample and gates regressions.",
    "BASE and CAND are run names or ids. Results pair by (sample, resolution, quant); when each side has\n"
    "one quant and they differ, by (sample, resolution): a quantization comparison. Per suite, resolution\n"
    "and quant: accuracy (McNemar exact test), score (sign-flip test), POPE precision/recall/F1/yes-ratio,\n"
    "each with a paired image-bootstrap 95% interval of the delta; p-values Holm-adjusted over all tests.\n"
    "A gate counts a drop as significant when its Holm-adjusted p < 0.05, or, for precision, recall and F1\n"
    "(no exact test), when the delta's 95% interval lies wholly below 0.\n"
    "With stored top-k log-probs: KL divergence, same-top rate and delta-p of the answer tokens.\n"
    "Metrics: accuracy, score, pope_precision, pope_recall, pope_f1, pope_yes_ratio.\n"
    "Exit status: 0 no gate crossed, 3 a gate crossed, 2 bad input or runs not comparable.",
    opts,
};

int cmd_compare(int argc, char **argv)
{
    char *pos[2];
    int npos = 0, rc = CLI_USAGE;
    opt_db = opt_junit = opt_base_quant = opt_cand_quant = NULL;
    opt_json = opt_force = 0;
    free(opt_gates.items);
    opt_gates.items = NULL;
    opt_gates.n = 0;
    int pr = cli_parse(&spec, argc, argv, pos, 2, &npos);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!opt_db) return cli_error("compare", "--db FILE is required");
    if (npos != 2) return cli_error("compare", "expected two runs, BASE and CAND");

    cmp_gate *gates = calloc((size_t)opt_gates.n + 1, sizeof *gates);
    if (!gates) return cli_error("compare", "out of memory");
    char why[600];
    for (int i = 0; i < opt_gates.n; i++)
        if (cmp_gate_parse(opt_gates.items[i], &gates[i], why, sizeof why)) {
            free(gates);
            return cli_error("compare", "--gate %s", why);
        }

    lv_error err = {{0}};
    rp_run base = {0}, cand = {0};
    cmp_result res = {0};
    rl_file junit = {0};
    store *s = store_open(opt_db, 1, &err);
    if (!s) { cli_error(opt_db, "%s", err.msg); goto done; }
    int64_t ib = store_run_lookup(s, pos[0], &err);
    if (ib < 0) { cli_error("compare", "%s", err.msg); goto done; }
    int64_t ic = store_run_lookup(s, pos[1], &err);
    if (ic < 0) { cli_error("compare", "%s", err.msg); goto done; }
    if (rl_load_run(s, ib, &base, &err) || rl_load_run(s, ic, &cand, &err)) {
        cli_error(opt_db, "%s", err.msg);
        goto done;
    }
    cmp_opts o = {.base_quant = opt_base_quant, .cand_quant = opt_cand_quant, .force = opt_force,
                  .gates = gates, .ngates = opt_gates.n};
    int crc = cmp_run(&base, &cand, &o, &res, why, sizeof why);
    if (crc != CMP_OK) {
        cli_error("compare", "%s", why);
        rc = crc == CMP_ENOMEM ? CLI_FAILED : CLI_USAGE;
        goto done;
    }
    if (res.differences[0])
        fprintf(stderr, "llava-eval: compare: warning: the runs differ in %s (compared because of --force)\n",
                res.differences);
    if (opt_junit) {
        if (rl_open(&junit, opt_junit, &err)) { cli_error(opt_junit, "%s", err.msg); goto done; }
        cmp_write_junit(junit.f, &res);
        if (rl_commit(&junit, &err)) { cli_error(opt_junit, "%s", err.msg); goto done; }
    }
    if (opt_json) cmp_write_json(stdout, &res);
    else cmp_print_text(stdout, &res);
    fflush(stdout);
    rc = res.crossed ? CLI_GATE : CLI_OK;
done:
    rl_abort(&junit);
    cmp_free(&res);
    rp_run_free(&base);
    rp_run_free(&cand);
    store_close(s);
    free(gates);
    free(opt_gates.items);
    opt_gates.items = NULL;
    opt_gates.n = 0;
    return rc;
}
