/* reports/report_export.c — see report_export.h. */
#include "reports/report_export.h"

#include <math.h>

#include "reports/report_esc.h"

static void csv_num(FILE *f, double v)
{
    if (isfinite(v)) report_json_num(f, v);
}

void report_export_csv(FILE *f, const rp_run *runs, size_t nruns)
{
    fputs("run_id,run,suite,sample_id,image,category,resolution,quant,status,correct,score,label,parsed,output,"
          "prompt,choice_margin,encode_ms,prefill_ms,decode_ms,error,meta,logprobs\r\n", f);
    for (size_t i = 0; i < nruns; i++)
        for (size_t k = 0; k < runs[i].nrows; k++) {
            const rp_row *r = &runs[i].rows[k];
            fprintf(f, "%lld,", (long long)runs[i].id);
            const char *a[] = {runs[i].name, r->suite, r->sample_id, r->image, r->category};
            for (size_t j = 0; j < 5; j++) { report_csv(f, a[j]); fputc(',', f); }
            fprintf(f, "%d,", r->resolution);
            report_csv(f, r->quant); fputc(',', f);
            report_csv(f, r->status); fputc(',', f);
            if (r->correct == 0 || r->correct == 1) fprintf(f, "%d", r->correct);
            fputc(',', f);
            csv_num(f, r->score); fputc(',', f);
            const char *b[] = {r->label, r->parsed, r->output, r->prompt};
            for (size_t j = 0; j < 4; j++) { report_csv(f, b[j]); fputc(',', f); }
            const double c[] = {r->margin, r->encode_ms, r->prefill_ms, r->decode_ms};
            for (size_t j = 0; j < 4; j++) { csv_num(f, c[j]); fputc(',', f); }
            report_csv(f, r->error); fputc(',', f);
            report_csv(f, r->meta_json); fputc(',', f);
            report_csv(f, r->logprobs_json);
            fputs("\r\n", f);
        }
}

static void kv_str(FILE *f, const char *k, const char *v)
{
    fprintf(f, ",\"%s\":", k);
    report_json_str(f, v);
}

static void kv_num(FILE *f, const char *k, double v)
{
    fprintf(f, ",\"%s\":", k);
    report_json_num(f, v);
}

void report_export_jsonl(FILE *f, const rp_run *runs, size_t nruns)
{
    for (size_t i = 0; i < nruns; i++)
        for (size_t k = 0; k < runs[i].nrows; k++) {
            const rp_row *r = &runs[i].rows[k];
            fprintf(f, "{\"run_id\":%lld", (long long)runs[i].id);
            kv_str(f, "run", runs[i].name);
            kv_str(f, "suite", r->suite);
            kv_str(f, "sample_id", r->sample_id);
            kv_str(f, "image", r->image);
            kv_str(f, "category", r->category);
            fprintf(f, ",\"resolution\":%d", r->resolution);
            kv_str(f, "quant", r->quant);
            kv_str(f, "status", r->status);
            if (r->correct == 0 || r->correct == 1) fprintf(f, ",\"correct\":%d", r->correct);
            else fputs(",\"correct\":null", f);
            kv_num(f, "score", r->score);
            kv_str(f, "label", r->label);
            kv_str(f, "parsed", r->parsed);
            kv_str(f, "output", r->output);
            kv_str(f, "prompt", r->prompt);
            kv_num(f, "choice_margin", r->margin);
            kv_num(f, "encode_ms", r->encode_ms);
            kv_num(f, "prefill_ms", r->prefill_ms);
            kv_num(f, "decode_ms", r->decode_ms);
            kv_str(f, "error", r->error);
            fputs(",\"meta\":", f);
            report_json_raw(f, r->meta_json, r->meta_is_json);
            fputs(",\"logprobs\":", f);
            report_json_raw(f, r->logprobs_json, r->logprobs_is_json);
            fputs("}\n", f);
        }
}
