/* metrics/metric_yesno.c — POPE's parser and set metrics (§4), MME's parser and
 * acc / acc+ / score (§6). */
#include "metrics/metrics.h"
#include "metrics/utext.h"

#include <string.h>

metric_yesno metric_pope_parse(const char *answer)
{
    /* First sentence (up to the first '.'), commas deleted, pieces split on ' ' only. */
    size_t end = strcspn(answer, ".");
    char piece[8];
    size_t k = 0;
    int too_long = 0;
    for (size_t i = 0; i <= end; i++) {
        char c = i < end ? answer[i] : ' ';
        if (c == ',') continue;
        if (c != ' ') {
            if (k < sizeof piece - 1) piece[k++] = c;
            else too_long = 1;
            continue;
        }
        piece[k] = 0;
        if (!too_long && (!strcmp(piece, "No") || !strcmp(piece, "not") || !strcmp(piece, "no")))
            return METRIC_NO;
        k = 0;
        too_long = 0;
    }
    return METRIC_YES;
}

int metric_label_parse(const char *label)
{
    if (!strcmp(label, "yes")) return METRIC_YES;
    if (!strcmp(label, "no")) return METRIC_NO;
    return -1;
}

void metric_confusion_add(metric_confusion *c, metric_yesno pred, metric_yesno label)
{
    if (pred == METRIC_YES) { if (label == METRIC_YES) c->tp++; else c->fp++; }
    else if (pred == METRIC_NO) { if (label == METRIC_NO) c->tn++; else c->fn++; }
}

static metric_num ratio(double num, double den)
{
    metric_num r = {0, 0};
    if (den != 0) { r.value = num / den; r.defined = 1; }
    return r;
}

void metric_pope_summary(const metric_confusion *c, metric_pope_result *out)
{
    double tp = (double)c->tp, fp = (double)c->fp, tn = (double)c->tn, fn = (double)c->fn;
    out->c = *c;
    out->accuracy = ratio(tp + tn, tp + tn + fp + fn);
    out->precision = ratio(tp, tp + fp);
    out->recall = ratio(tp, tp + fn);
    out->f1.defined = 0;
    out->f1.value = 0;
    if (out->precision.defined && out->recall.defined)
        out->f1 = ratio(2 * out->precision.value * out->recall.value,
                        out->precision.value + out->recall.value);
    out->yes_ratio = ratio(tp + fp, tp + fp + tn + fn);
}

int metric_mme_parse(const char *answer, metric_yesno *out)
{
    utext raw = {0}, low = {0};
    int rc = METRIC_OK;
    if (utext_from(&raw, answer)) { rc = METRIC_EUTF8; goto done; }
    /* The tool reads the answer as the last field of its line, newline included. */
    if (utext_push(&raw, '\n') || utext_lower(&low, &raw)) { rc = METRIC_ENOMEM; goto done; }
    if (utext_eq_ascii(&low, "yes")) { *out = METRIC_YES; goto done; }
    if (utext_eq_ascii(&low, "no")) { *out = METRIC_NO; goto done; }
    if (low.n > 4) low.n = 4;
    int has_yes = 0, has_no = 0;
    for (size_t i = 0; i < low.n; i++) {
        if (i + 3 <= low.n && low.cp[i] == 'y' && low.cp[i + 1] == 'e' && low.cp[i + 2] == 's') has_yes = 1;
        if (i + 2 <= low.n && low.cp[i] == 'n' && low.cp[i + 1] == 'o') has_no = 1;
    }
    *out = has_yes ? METRIC_YES : has_no ? METRIC_NO : METRIC_OTHER;
done:
    utext_free(&raw);
    utext_free(&low);
    return rc;
}

const char *const metric_mme_tasks[] = {
    "existence", "count", "position", "color", "posters", "celebrity", "scene",
    "landmark", "artwork", "OCR",                                   /* perception */
    "commonsense_reasoning", "numerical_calculation", "text_translation",
    "code_reasoning",                                               /* cognition */
    NULL,
};

int metric_mme_task_index(const char *name)
{
    for (int i = 0; metric_mme_tasks[i]; i++)
        if (!strcmp(metric_mme_tasks[i], name)) return i;
    return -1;
}

metric_mme_group metric_mme_task_group(int index)
{
    return index < 10 ? METRIC_MME_PERCEPTION : METRIC_MME_COGNITION;
}

int metric_mme_task(const metric_yesno *labels, const metric_yesno *preds, size_t n,
                    metric_mme_task_result *out)
{
    size_t correct = 0, images_both = 0;
    memset(out, 0, sizeof *out);
    if (n == 0) return METRIC_NODATA;
    if (n % 2) return METRIC_EINPUT; /* the tool asserts two questions per image */
    for (size_t i = 0; i < n; i += 2) {
        int right = 0;
        for (size_t k = i; k < i + 2; k++) {
            if (labels[k] != METRIC_YES && labels[k] != METRIC_NO) return METRIC_EINPUT;
            if (preds[k] == labels[k]) right++;
            if (preds[k] == METRIC_OTHER) out->other_num++;
            else metric_confusion_add(&out->c, preds[k], labels[k]);
        }
        correct += (size_t)right;
        images_both += right == 2;
    }
    out->n_questions = (long)n;
    out->n_images = (long)(n / 2);
    out->acc = (double)correct / (double)n;
    out->acc_plus = (double)images_both / (double)(n / 2);
    out->score = 0.0 + out->acc * 100 + out->acc_plus * 100; /* the tool's summation order */
    return METRIC_OK;
}
