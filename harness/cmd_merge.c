/* harness/cmd_merge.c — 'llava-eval merge OUT.db IN.db...': combine shard stores. */
#include "harness/cli.h"

#include <string.h>

#include "harness/run.h"
#include "harness/store.h"

static const cli_opt opts[] = {{0, NULL, 0, NULL, NULL, NULL, 0, 0}};

static const cli_spec spec = {
    "merge", "merge OUT.db IN.db...",
    "Combines the stores of several shards (or runs) into OUT.db.",
    "Runs are matched by name and configuration; a run of the same name with another\n"
    "configuration is refused, and so are rows that disagree. Each input is merged in\n"
    "one transaction (a killed merge leaves OUT as it was before that input), and\n"
    "merging the same input again changes nothing. Metrics are recomputed at the end.",
    opts,
};

int cmd_merge(int argc, char **argv)
{
    char *pos[1024];
    int npos, n_ids = 0;
    int64_t ids[256];
    lv_error err = {{0}};
    int prc = cli_parse(&spec, argc, argv, pos, 1024, &npos);
    if (prc) return prc > 0 ? CLI_OK : CLI_USAGE;
    if (npos < 2) return cli_error("merge", "expected OUT.db and at least one IN.db (see --help)");
    for (int i = 1; i < npos; i++)
        if (strcmp(pos[i], pos[0]) == 0) return cli_error("merge", "an input is the output itself: %s", pos[0]);
    store *s = store_open(pos[0], 0, &err);
    if (!s) return cli_error(pos[0], "%s", err.msg);
    for (int i = 1; i < npos; i++)
        if (store_merge(s, pos[i], ids, 256, &n_ids, &err)) {
            store_close(s);
            return cli_error("merge", "%s", err.msg);
        }
    for (int i = 0; i < n_ids; i++)
        if (run_compute_metrics(s, ids[i], &err)) {
            store_close(s);
            return cli_error("merge", "metrics: %s", err.msg);
        }
    store_close(s);
    return CLI_OK;
}
