/* reports/report_export.h — every result row of runs as CSV or JSON Lines, for other
 * tools (pandas, jq, spreadsheets).
 *
 * Columns / keys, in order: run_id, run, suite, sample_id, image, category,
 * resolution (0 = native), quant, status, correct, score, label, parsed, output,
 * prompt, choice_margin, encode_ms, prefill_ms, decode_ms, error, meta, logprobs.
 * CSV follows RFC 4180 (a header line; fields quoted when they hold , " CR or LF;
 * empty for NULL); text is written as it is stored, bad UTF-8 replaced by U+FFFD.
 * JSONL has one object per row; meta and logprobs are JSON values when the store
 * holds valid JSON for them, else their text as a string.
 */
#ifndef LV_REPORT_EXPORT_H
#define LV_REPORT_EXPORT_H

#include <stdio.h>

#include "reports/report_data.h"

void report_export_csv(FILE *f, const rp_run *runs, size_t nruns);
void report_export_jsonl(FILE *f, const rp_run *runs, size_t nruns);

#endif
