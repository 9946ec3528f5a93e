/* harness/report_load.h — reads runs from the store into the in-memory structs the
 * report writers render (reports/report_data.h), and writes output files
 * atomically. Shared by compare, report and export.
 */
#ifndef LV_REPORT_LOAD_H
#define LV_REPORT_LOAD_H

#include <stdio.h>

#include "engine/base.h"
#include "harness/store.h"
#include "reports/report_data.h"

/* Loads run `id` with all its results and metrics into *out (zeroed first; free
 * with rp_run_free). Log-prob and meta JSON that do not parse are ignored (the
 * row keeps its text). 0 or -1 with err. */
int rl_load_run(store *s, int64_t id, rp_run *out, lv_error *err);

/* Ids of every run in the store, ascending (malloc'd). 0 or -1 with err. */
int rl_all_runs(store *s, int64_t **ids, size_t *n, lv_error *err);

/* Loads the runs named (by name or id) in names[0..nnames), or every run of the
 * store when nnames == 0, at most max of them (a note on stderr when there are
 * more). *runs is a calloc'd array the caller releases with rl_free_runs.
 * 0, or -1 with err ("no run named ...", "the store holds no runs", ...). */
int  rl_load_runs(store *s, char *const *names, int nnames, size_t max, rp_run **runs, size_t *nruns,
                  lv_error *err);
void rl_free_runs(rp_run *runs, size_t nruns);

/* Atomic output: rl_open writes to PATH.tmp.PID; rl_commit flushes, fsyncs and
 * renames it over PATH (and fsyncs the directory); rl_abort removes it. */
typedef struct {
    FILE *f;
    char  path[4096], tmp[4200];
} rl_file;

int  rl_open(rl_file *o, const char *path, lv_error *err);
int  rl_commit(rl_file *o, lv_error *err);
void rl_abort(rl_file *o);

#endif
