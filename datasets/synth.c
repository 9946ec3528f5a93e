/* datasets/synth.c — procedural detail-loss suites (see synth.h).
 *
 * Each kind is a row: a planner that turns (seed, image index) into a scene (the
 * background, the shapes or the word, and the questions with their answers), then one
 * renderer draws every scene. Planning reads only its own PRNG stream, so image k is
 * the same whatever n is. */
#include "datasets/synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/suite.h"

#define SZ      SUITE_SYNTH_SIZE
#define MARGIN  8
#define MAX_OBJ 16
#define N_COLOR SUITE_SYNTH_N_COLOURS
#define N_COMBO (SUITE_SHAPE_COUNT * N_COLOR)   /* a combo is shape * N_COLOR + colour */

static const struct { const char *name; uint8_t rgb[3]; } colors[N_COLOR] = {
    {"red", {220, 30, 30}},     {"green", {30, 160, 50}},  {"blue", {30, 70, 220}},
    {"yellow", {240, 210, 20}}, {"purple", {140, 50, 170}}, {"orange", {245, 130, 20}},
};

const uint8_t *suite_synth_colour(int i)
{
    return i >= 0 && i < N_COLOR ? colors[i].rgb : NULL;
}

/* Short concrete nouns, all distinct under the VQA answer normalization. */
static const char *const words[] = {
    "apple", "bread", "chair", "dog", "river", "house", "train", "cloud", "horse", "lemon",
    "piano", "tiger", "candle", "garden", "window", "rocket", "forest", "bottle", "pencil", "camera",
    "planet", "silver", "winter", "summer", "market", "button", "basket", "orange", "banana", "guitar",
    "mirror", "pillow", "ladder", "hammer", "island", "castle", "dragon", "anchor", "bridge", "carpet",
    "cherry", "donkey", "engine", "falcon", "ginger", "helmet", "jacket", "kitten", "lizard", "magnet",
    "needle", "oyster", "parrot", "rabbit", "saddle", "tomato", "violin", "walnut", "yogurt", "zebra",
    "cat", "sun", "map", "cup", "key", "owl", "fox", "bee", "pen", "box",
    "lamp", "ship", "moon", "fish", "milk", "rain", "snow", "tree", "wolf", "frog",
    "book", "door", "ring", "star", "boat", "coin", "desk", "kite", "nest", "salt",
    "clock", "spoon", "plate", "shirt", "shoe", "stone", "sugar", "table", "wheel", "whale",
};
#define N_WORDS ((int)(sizeof words / sizeof words[0]))

static const int text_ladder[] = {6, 8, 10, 12, 14, 16, 20, 24, 32, 40, 48, 64};
static const int object_ladder[] = {4, 6, 8, 12, 16, 24, 32, 48, 64, 96};
static const int count_ladder[] = {8, 12, 16, 24, 32, 48};
static const int position_ladder[] = {6, 8, 12, 16, 24, 32, 48};
#define LADDER_N(a) ((int)(sizeof a / sizeof a[0]))

static const char *const relations[4] = {"left", "right", "above", "below"};
static const char *const relation_text[4] = {"to the left of", "to the right of", "above", "below"};
static const char *const negative_kinds[3] = {"random", "popular", "adversarial"};

typedef struct { int combo, x0, y0, size; } obj;

typedef struct {
    char id[32], question[192], answer[24], category[24], meta[256];
} probe;

typedef struct {
    suite_bg_kind bg;
    uint8_t  bg_a[3], bg_b[3];
    int      amp;
    uint64_t bg_seed;
    obj      objs[MAX_OBJ];
    int      n_objs;
    char     word[24];           /* text-size: the word as drawn */
    int      tx, tbase, cap;
    uint8_t  ink[3];
    int      detail_px;
    probe    q[2];
    int      n_q;
} scene;

/* What every planner may read: the seed, the font, and object-size's popularity. */
typedef struct {
    uint64_t    seed;
    suite_font *font;
    int         rank[N_COMBO], by_rank[N_COMBO];
} plan_ctx;

typedef struct {
    const char *kind, *task, *prompt, *description;
    const char *metrics[3];
    int         per_image, needs_font;
    const int  *ladder;
    int         n_ladder;
    int       (*plan)(const plan_ctx *c, int image, scene *sc);
} kind_row;

/* ======================================================================== */
/* Helpers                                                                   */

static uint64_t str_seed(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static void combo_name(int combo, char *out, size_t cap, int plural)
{
    snprintf(out, cap, "%s %s", colors[combo % N_COLOR].name,
             (plural ? suite_shape_plurals : suite_shape_names)[combo / N_COLOR]);
}

/* "a red circle" / "an orange star". */
static void combo_with_article(int combo, char *out, size_t cap)
{
    char name[32];
    combo_name(combo, name, sizeof name, 0);
    snprintf(out, cap, "%s %s", strchr("aeiou", name[0]) ? "an" : "a", name);
}

static void grey_background(suite_rng *r, scene *sc)
{
    uint8_t g = (uint8_t)suite_rng_range(r, 100, 160);
    sc->bg = suite_rng_below(r, 2) ? SUITE_BG_NOISE : SUITE_BG_SOLID;
    memset(sc->bg_a, g, 3);
    memset(sc->bg_b, g, 3);
    sc->amp = 6;
    sc->bg_seed = suite_rng_next(r);
}

/* Places objs[from..n_objs) of size s in distinct cells of a grid over the image, so
 * their squares never overlap. Returns -1 if the grid is too small. */
static int place_on_grid(suite_rng *r, scene *sc, int from, int s)
{
    int gap = s / 4 > 4 ? s / 4 : 4, cell = s + gap, per_row, n, cells[256];
    if (cell < (SZ - 2 * MARGIN) / 16) cell = (SZ - 2 * MARGIN) / 16;   /* at most 16×16 cells */
    per_row = (SZ - 2 * MARGIN) / cell;
    n = per_row * per_row;
    if (n < sc->n_objs - from) return -1;
    for (int i = 0; i < n; i++) cells[i] = i;
    for (int i = from; i < sc->n_objs; i++) {
        int k = (int)suite_rng_below(r, (uint32_t)(n - (i - from))) + (i - from), t = cells[k];
        cells[k] = cells[i - from];
        cells[i - from] = t;
        sc->objs[i].size = s;
        sc->objs[i].x0 = MARGIN + (t % per_row) * cell + suite_rng_range(r, 0, cell - s);
        sc->objs[i].y0 = MARGIN + (t / per_row) * cell + suite_rng_range(r, 0, cell - s);
    }
    return 0;
}

static int has_combo(const scene *sc, int combo)
{
    for (int i = 0; i < sc->n_objs; i++)
        if (sc->objs[i].combo == combo) return 1;
    return 0;
}

/* Draws a combo with Zipf weights over popularity rank (rank r has weight ∝ 1/(r+1)). */
static int zipf_combo(const plan_ctx *c, suite_rng *r)
{
    uint32_t total = 0, pick;
    for (int k = 0; k < N_COMBO; k++) total += 27720u / (uint32_t)(k + 1);
    pick = suite_rng_below(r, total);
    for (int k = 0; k < N_COMBO; k++) {
        uint32_t w = 27720u / (uint32_t)(k + 1);
        if (pick < w) return c->by_rank[k];
        pick -= w;
    }
    return c->by_rank[N_COMBO - 1];
}

/* Partner combos co-occur by construction: ranks 2k and 2k+1 are partners. */
static int partner(const plan_ctx *c, int combo) { return c->by_rank[c->rank[combo] ^ 1]; }
_Static_assert(SUITE_SHAPE_COUNT % 2 == 0, "partners pair the shapes of one colour");

/* ======================================================================== */
/* Planners                                                                  */

static int plan_text(const plan_ctx *c, int image, scene *sc)
{
    suite_rng r;
    int cap = text_ladder[image % LADDER_N(text_ladder)], width = 0, style, light;
    suite_rng_seed(&r, suite_mix(c->seed, suite_mix(str_seed("text-size"), (uint64_t)image)));
    style = (int)suite_rng_below(&r, 3);
    /* Draw words until one fits across the image at this size. */
    for (int tries = 0; tries < 32; tries++) {
        const char *w = words[suite_rng_below(&r, N_WORDS)];
        snprintf(sc->word, sizeof sc->word, "%s", tries == 31 ? "cat" : w);
        for (char *p = sc->word; *p; p++)
            if (style == 2 || (style == 1 && p == sc->word)) *p = (char)(*p - 'a' + 'A');
        width = suite_font_width(c->font, sc->word, cap);
        if (width <= SZ - 2 * MARGIN) break;
    }
    light = (int)suite_rng_below(&r, 2);
    sc->bg = (suite_bg_kind)suite_rng_below(&r, SUITE_BG_COUNT);
    for (int k = 0; k < 3; k++) {
        sc->bg_a[k] = (uint8_t)(light ? suite_rng_range(&r, 170, 255) : suite_rng_range(&r, 0, 80));
        sc->bg_b[k] = (uint8_t)(sc->bg_a[k] + (light ? -suite_rng_range(&r, 0, 30) : suite_rng_range(&r, 0, 30)));
        sc->ink[k] = (uint8_t)(light ? suite_rng_range(&r, 0, 70) : suite_rng_range(&r, 190, 255));
    }
    sc->amp = 12;
    sc->bg_seed = suite_rng_next(&r);
    sc->cap = cap;
    sc->tx = suite_rng_range(&r, MARGIN, SZ - MARGIN - width);
    /* Room above for accents and ascenders, below for descenders. */
    sc->tbase = suite_rng_range(&r, MARGIN + cap * 13 / 10, SZ - MARGIN - cap * 4 / 10);
    sc->detail_px = cap;
    sc->n_q = 1;
    probe *q = &sc->q[0];
    snprintf(q->id, sizeof q->id, "%05d", image);
    snprintf(q->question, sizeof q->question, "What word is written in the image?");
    snprintf(q->answer, sizeof q->answer, "%s", sc->word);
    for (char *p = q->answer; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    snprintf(q->category, sizeof q->category, "%s", suite_bg_names[sc->bg]);
    snprintf(q->meta, sizeof q->meta, "\"word\":\"%s\",\"background\":\"%s\"", sc->word, suite_bg_names[sc->bg]);
    return 0;
}

static int plan_objects(const plan_ctx *c, int image, scene *sc)
{
    suite_rng r;
    int s = object_ladder[image % LADDER_N(object_ladder)], a, pos = -1, neg = -1;
    int kind = image % 3;
    const char *from = "popular";   /* how the negative was chosen, for analysis */
    char pos_name[48], neg_name[48], present[160] = "";
    suite_rng_seed(&r, suite_mix(c->seed, suite_mix(str_seed("object-size"), (uint64_t)image)));
    grey_background(&r, sc);
    a = zipf_combo(c, &r);
    sc->objs[sc->n_objs++].combo = a;
    if (suite_rng_below(&r, 10) < 6) sc->objs[sc->n_objs++].combo = partner(c, a);
    if (suite_rng_below(&r, 2))
        for (int tries = 0; tries < 10; tries++) {
            int b = zipf_combo(c, &r);
            if (!has_combo(sc, b)) { sc->objs[sc->n_objs++].combo = b; break; }
        }
    if (place_on_grid(&r, sc, 0, s)) return -1;
    /* Ask about an object whose partner is absent, so the adversarial probe is real. */
    for (int i = 0; i < sc->n_objs && pos < 0; i++)
        if (!has_combo(sc, partner(c, sc->objs[i].combo))) pos = sc->objs[i].combo;
    if (pos < 0) pos = a;
    if (kind == 0) {
        int absent[N_COMBO], n = 0;
        for (int k = 0; k < N_COMBO; k++)
            if (!has_combo(sc, k)) absent[n++] = k;
        neg = absent[suite_rng_below(&r, (uint32_t)n)];
        from = "random";
    } else if (kind == 2 && !has_combo(sc, partner(c, pos))) {
        neg = partner(c, pos);
        from = "partner";
    } else if (kind == 2) {
        /* Partner present: the most popular absent look-alike (same colour, then shape). */
        for (int pass = 0; pass < 2 && neg < 0; pass++)
            for (int k = 0; k < N_COMBO && neg < 0; k++) {
                int cb = c->by_rank[k];
                int same = pass == 0 ? cb % N_COLOR == pos % N_COLOR : cb / N_COLOR == pos / N_COLOR;
                if (same && !has_combo(sc, cb)) neg = cb, from = "look-alike";
            }
    }
    for (int k = 0; k < N_COMBO && neg < 0; k++)   /* popular, and the last fallback */
        if (!has_combo(sc, c->by_rank[k])) neg = c->by_rank[k];
    sc->detail_px = s;
    for (int i = 0; i < sc->n_objs; i++) {
        char nm[48];
        combo_name(sc->objs[i].combo, nm, sizeof nm, 0);
        snprintf(present + strlen(present), sizeof present - strlen(present), "%s\"%s\"", i ? "," : "", nm);
    }
    combo_with_article(pos, pos_name, sizeof pos_name);
    combo_with_article(neg, neg_name, sizeof neg_name);
    sc->n_q = 2;
    for (int k = 0; k < 2; k++) {
        probe *q = &sc->q[k];
        snprintf(q->id, sizeof q->id, "%05d-%s", image, k ? "no" : "yes");
        snprintf(q->question, sizeof q->question, "Is there %s in the image?", k ? neg_name : pos_name);
        snprintf(q->answer, sizeof q->answer, "%s", k ? "no" : "yes");
        snprintf(q->category, sizeof q->category, "%s", negative_kinds[kind]);
        char asked[48];
        combo_name(k ? neg : pos, asked, sizeof asked, 0);
        snprintf(q->meta, sizeof q->meta, "\"asked\":\"%s\",\"present\":[%s]%s%s%s", asked, present,
                 k ? ",\"negative_from\":\"" : "", k ? from : "", k ? "\"" : "");
    }
    return 0;
}

static int plan_count(const plan_ctx *c, int image, scene *sc)
{
    suite_rng r;
    int s = count_ladder[image % LADDER_N(count_ladder)], target, k, d;
    char plural[48];
    suite_rng_seed(&r, suite_mix(c->seed, suite_mix(str_seed("count"), (uint64_t)image)));
    grey_background(&r, sc);
    target = (int)suite_rng_below(&r, N_COMBO);
    k = suite_rng_range(&r, 1, 8);
    d = suite_rng_range(&r, 0, 3);
    for (int i = 0; i < k; i++) sc->objs[sc->n_objs++].combo = target;
    for (int i = 0; i < d; i++) {
        int o = (int)suite_rng_below(&r, N_COMBO - 1);
        sc->objs[sc->n_objs++].combo = o >= target ? o + 1 : o;
    }
    if (place_on_grid(&r, sc, 0, s)) return -1;
    sc->detail_px = s;
    combo_name(target, plural, sizeof plural, 1);
    sc->n_q = 1;
    probe *q = &sc->q[0];
    snprintf(q->id, sizeof q->id, "%05d", image);
    snprintf(q->question, sizeof q->question, "How many %s are there in the image?", plural);
    snprintf(q->answer, sizeof q->answer, "%d", k);
    snprintf(q->category, sizeof q->category, "%d", k);
    snprintf(q->meta, sizeof q->meta, "\"count\":%d,\"distractors\":%d", k, d);
    return 0;
}

static int plan_position(const plan_ctx *c, int image, scene *sc)
{
    suite_rng r;
    int s = position_ladder[image % LADDER_N(position_ladder)], asked = (image / 2) % 4, yes = image % 2 == 0;
    int actual = yes ? asked : asked ^ 1;    /* left<->right, above<->below */
    int lo = MARGIN, hi = SZ - MARGIN - s, sep = s + 16, p1, p2, c1, c2, a, b;
    char an[48], bn[48];
    suite_rng_seed(&r, suite_mix(c->seed, suite_mix(str_seed("position"), (uint64_t)image)));
    grey_background(&r, sc);
    a = (int)suite_rng_below(&r, N_COMBO);
    do b = (int)suite_rng_below(&r, N_COMBO); while (b / N_COLOR == a / N_COLOR);
    /* Along the asked axis the two are clearly apart; across it they nearly align. */
    p1 = suite_rng_range(&r, lo, hi - sep);
    p2 = suite_rng_range(&r, p1 + sep, hi);
    c1 = suite_rng_range(&r, lo, hi);
    c2 = c1 + suite_rng_range(&r, -s / 4, s / 4);
    c2 = c2 < lo ? lo : c2 > hi ? hi : c2;
    int first = actual == 0 || actual == 2;   /* A takes the smaller coordinate */
    int horiz = actual < 2;
    obj *oa = &sc->objs[0], *ob = &sc->objs[1];
    sc->n_objs = 2;
    oa->combo = a; ob->combo = b; oa->size = ob->size = s;
    *(horiz ? &oa->x0 : &oa->y0) = first ? p1 : p2;
    *(horiz ? &ob->x0 : &ob->y0) = first ? p2 : p1;
    *(horiz ? &oa->y0 : &oa->x0) = c1;
    *(horiz ? &ob->y0 : &ob->x0) = c2;
    sc->detail_px = s;
    combo_name(a, an, sizeof an, 0);
    combo_name(b, bn, sizeof bn, 0);
    sc->n_q = 1;
    probe *q = &sc->q[0];
    snprintf(q->id, sizeof q->id, "%05d", image);
    snprintf(q->question, sizeof q->question, "Is the %s %s the %s?", an, relation_text[asked], bn);
    snprintf(q->answer, sizeof q->answer, "%s", yes ? "yes" : "no");
    snprintf(q->category, sizeof q->category, "%s", relations[asked]);
    snprintf(q->meta, sizeof q->meta, "\"relation\":\"%s\"", relations[actual]);
    return 0;
}

static const kind_row kinds[] = {
    {"text-size", "vqa", "{question}\nAnswer the question using a single word or phrase.",
     "One word per image at a ladder of capital heights (6-64 px); read the word.",
     {"exact", "anls", NULL}, 1, 1, text_ladder, LADDER_N(text_ladder), plan_text},
    {"object-size", "yesno", "{question}\nAnswer the question using a single word or phrase.",
     "Shapes at a ladder of sizes (4-96 px) with POPE-style yes/no probes (random, popular, adversarial negatives; "
     "an adversarial one co-occurs with the asked shape and has its colour).",
     {"yesno", NULL, NULL}, 2, 0, object_ladder, LADDER_N(object_ladder), plan_objects},
    {"count", "vqa", "{question}\nAnswer the question using a single number.",
     "1-8 copies of one shape among distractors, at a ladder of sizes (8-48 px); count them.",
     {"exact", NULL, NULL}, 1, 0, count_ladder, LADDER_N(count_ladder), plan_count},
    {"position", "yesno", "{question}\nAnswer the question using a single word or phrase.",
     "Two shapes; is one left of / right of / above / below the other (6-48 px).",
     {"yesno", NULL, NULL}, 1, 0, position_ladder, LADDER_N(position_ladder), plan_position},
};
#define N_KINDS ((int)(sizeof kinds / sizeof kinds[0]))

const char *const suite_make_kinds[] = {"text-size", "object-size", "count", "position", NULL};

static const kind_row *find_kind(const char *kind)
{
    for (int i = 0; kind && i < N_KINDS; i++)
        if (strcmp(kinds[i].kind, kind) == 0) return &kinds[i];
    return NULL;
}

const char *suite_make_describe(const char *kind)
{
    const kind_row *k = find_kind(kind);
    return k ? k->description : NULL;
}

/* ======================================================================== */
/* Rendering and writing                                                     */

/* Draws sc; boxes[i] receives the changed-pixel box of detail i (the word is one). */
static int render(const plan_ctx *c, const scene *sc, int with_detail, suite_canvas *cv,
                  suite_box boxes[MAX_OBJ], lv_error *err)
{
    if (suite_canvas_init(cv, SZ, SZ, err)) return -1;
    suite_canvas_background(cv, sc->bg, sc->bg_a, sc->bg_b, sc->amp, sc->bg_seed);
    if (!with_detail) return 0;
    if (sc->word[0]) boxes[0] = suite_canvas_text(cv, c->font, sc->word, sc->tx, sc->tbase, sc->cap, sc->ink);
    for (int i = 0; i < sc->n_objs; i++) {
        const obj *o = &sc->objs[i];
        boxes[i] = suite_canvas_shape(cv, (suite_shape)(o->combo / N_COLOR), o->x0, o->y0, o->size,
                                      colors[o->combo % N_COLOR].rgb);
    }
    return 0;
}

/* {"detail_px":..,<probe meta>,"boxes":[[x0,y0,x1,y1],...]} into a malloc'd string. */
static char *meta_json(const scene *sc, const probe *q, const suite_box *boxes)
{
    int nb = sc->word[0] ? 1 : sc->n_objs;
    size_t cap = 512 + 64 * (size_t)nb, n;
    char *m = lv_malloc(cap);
    if (!m) return NULL;
    n = (size_t)snprintf(m, cap, "{\"detail_px\":%d,%s,\"boxes\":[", sc->detail_px, q->meta);
    for (int i = 0; i < nb && n < cap; i++)
        n += (size_t)snprintf(m + n, cap - n, "%s[%d,%d,%d,%d]", i ? "," : "", boxes[i].x0, boxes[i].y0,
                              boxes[i].x1, boxes[i].y1);
    if (n < cap) snprintf(m + n, cap - n, "]}");
    return m;
}

static int ctx_init(plan_ctx *c, const suite_make_opts *o, const kind_row *k, lv_error *err)
{
    suite_rng r;
    memset(c, 0, sizeof *c);
    c->seed = o->seed;
    /* Popularity: ranks 2k and 2k+1 are partners (they co-occur, partner()), and
       partners share a colour: the adversarial negative, POPE's co-occurring object,
       is then also a look-alike that only its shape tells apart, so an image reduced
       until shapes blur loses it while colour alone still answers the rest. Seeded:
       the shapes of each colour shuffled into pairs, the pairs shuffled into ranks,
       then which of a pair ranks first. Rank 0 is the most popular. */
    suite_rng_seed(&r, suite_mix(o->seed, str_seed("popularity")));
    int pairs[N_COMBO / 2][2], np = 0;
    for (int col = 0; col < N_COLOR; col++) {
        int sh[SUITE_SHAPE_COUNT];
        for (int i = 0; i < SUITE_SHAPE_COUNT; i++) sh[i] = i;
        for (int i = SUITE_SHAPE_COUNT - 1; i > 0; i--) {
            int j = (int)suite_rng_below(&r, (uint32_t)i + 1), t = sh[i];
            sh[i] = sh[j];
            sh[j] = t;
        }
        for (int i = 0; i + 1 < SUITE_SHAPE_COUNT; i += 2, np++) {
            pairs[np][0] = sh[i] * N_COLOR + col;
            pairs[np][1] = sh[i + 1] * N_COLOR + col;
        }
    }
    for (int i = np - 1; i > 0; i--) {
        int j = (int)suite_rng_below(&r, (uint32_t)i + 1);
        for (int e = 0; e < 2; e++) {
            int t = pairs[i][e];
            pairs[i][e] = pairs[j][e];
            pairs[j][e] = t;
        }
    }
    for (int i = 0; i < np; i++) {
        int f = (int)suite_rng_below(&r, 2);
        c->by_rank[2 * i] = pairs[i][f];
        c->by_rank[2 * i + 1] = pairs[i][!f];
    }
    for (int i = 0; i < N_COMBO; i++) c->rank[c->by_rank[i]] = i;
    if (k->needs_font && !(c->font = suite_font_load(o->font ? o->font : SUITE_DEFAULT_FONT, err))) return -1;
    return 0;
}

int suite_make_render(const suite_make_opts *o, int image, int with_detail,
                      suite_canvas *out, char **meta, lv_error *err)
{
    const kind_row *k = find_kind(o->kind);
    plan_ctx c;
    scene sc;
    suite_box boxes[MAX_OBJ] = {{0, 0, 0, 0}};
    int rc = -1;
    memset(out, 0, sizeof *out);
    *meta = NULL;
    if (!k) return lv_errorf(err, "unknown kind '%s'", o->kind ? o->kind : "");
    if (ctx_init(&c, o, k, err)) return -1;
    memset(&sc, 0, sizeof sc);
    if (k->plan(&c, image, &sc)) { lv_errorf(err, "cannot lay out image %d", image); goto done; }
    if (render(&c, &sc, with_detail, out, boxes, err)) goto done;
    if (!(*meta = meta_json(&sc, &sc.q[0], boxes))) { lv_errorf(err, "out of memory"); goto done; }
    rc = 0;
done:
    suite_font_free(c.font);
    return rc;
}

int suite_make(const suite_make_opts *o, const char *dir, lv_error *err)
{
    const kind_row *k = find_kind(o->kind);
    plan_ctx c;
    suite_writer *w = NULL;
    int images, rc = -1;
    char gen[64], seed_s[24], ladder_s[96] = "", name[64];
    if (!k) return lv_errorf(err, "unknown kind '%s' (text-size, object-size, count, position)", o->kind ? o->kind : "");
    if (o->n < 1 || o->n > 1000000) return lv_errorf(err, "--n must be 1 to 1000000");
    if (ctx_init(&c, o, k, err)) return -1;
    if (!(w = suite_writer_open(dir, err))) goto done;
    images = (o->n + k->per_image - 1) / k->per_image;
    for (int i = 0; i < images; i++) {
        scene sc;
        suite_canvas cv = {0, 0, NULL};
        suite_box boxes[MAX_OBJ] = {{0, 0, 0, 0}};
        char rel[32];
        size_t len;
        uint8_t *png;
        memset(&sc, 0, sizeof sc);
        if (k->plan(&c, i, &sc)) { lv_errorf(err, "cannot lay out image %d", i); goto done; }
        if (render(&c, &sc, 1, &cv, boxes, err)) goto done;
        png = suite_png_encode(&cv, &len);
        suite_canvas_free(&cv);
        if (!png) { lv_errorf(err, "PNG encoding failed"); goto done; }
        snprintf(rel, sizeof rel, "images/%05d.png", i);
        int r = suite_writer_put_image(w, rel, png, len, err);
        free(png);
        if (r) goto done;
        for (int q = 0; q < sc.n_q; q++) {
            const char *answers[1] = {sc.q[q].answer};
            char *m = meta_json(&sc, &sc.q[q], boxes);
            suite_sample_in in = {.id = sc.q[q].id, .image = rel, .question = sc.q[q].question,
                                  .category = sc.q[q].category, .meta_json = m};
            if (strcmp(k->task, "yesno") == 0) in.label = sc.q[q].answer;
            else { in.answers = answers; in.n_answers = 1; }
            r = m ? suite_writer_add(w, &in, err) : lv_errorf(err, "out of memory");
            lv_free(m);
            if (r) goto done;
        }
    }
    snprintf(gen, sizeof gen, "llava-eval suite make %s", k->kind);
    snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)o->seed);
    for (int i = 0; i < k->n_ladder; i++)
        snprintf(ladder_s + strlen(ladder_s), sizeof ladder_s - strlen(ladder_s), "%s%d", i ? "," : "", k->ladder[i]);
    suite_writer_prov_str(w, "source", "procedural");
    suite_writer_prov_str(w, "generator", gen);
    suite_writer_prov_str(w, "version", SUITE_SYNTH_VERSION);
    suite_writer_prov_str(w, "seed", seed_s);
    suite_writer_prov_num(w, "n_images", images);
    suite_writer_prov_num(w, "image_size", SZ);
    suite_writer_prov_str(w, "detail_px_ladder", ladder_s);
    if (c.font) {
        const char *fp = o->font ? o->font : SUITE_DEFAULT_FONT, *base = strrchr(fp, '/');
        suite_writer_prov_str(w, "font", base ? base + 1 : fp);
        suite_writer_prov_str(w, "font_sha256", suite_font_sha256(c.font));
    }
    suite_writer_prov_bool(w, "ocr_tokens", 0);
    snprintf(name, sizeof name, "%s-seed%s", k->kind, seed_s);
    suite_info info = {.name = name, .task = k->task, .prompt = k->prompt, .metrics = k->metrics,
                       .description = k->description};
    rc = suite_writer_finish(w, &info, err);
    w = NULL;
done:
    suite_writer_abort(w);
    suite_font_free(c.font);
    return rc;
}
