/* metrics/metric_chair.c — CHAIR (metrics.md §5): LisaAnne/Hallucination chair.py's
 * caption_to_words with its NLTK tokenizer and pattern.en singularize reproduced,
 * quirks included (bus -> bu, glass -> glas, ties -> ty, canoes -> cano), and the
 * CHAIR-s / CHAIR-i / recall scores. */
#include "metrics/metrics.h"
#include "metrics/utext.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* data/synonyms.txt of LisaAnne/Hallucination (BSD-2-Clause), each line stripped as
 * chair.py does; split on ", " at lookup, so " motor bike" (double space in the
 * file) and " cheesecake" keep their leading space and never match. */
static const char *const chair_synonym_lines[] = {
    "person, girl, boy, man, woman, kid, child, chef, baker, people, adult, rider, children, baby, worker, passenger, sister, biker, policeman, cop, officer, lady, cowboy, bride, groom, male, female, guy, traveler, mother, father, gentleman, pitcher, player, skier, snowboarder, skater, skateboarder, person, woman, guy, foreigner, child, gentleman, caller, offender, coworker, trespasser, patient, politician, soldier, grandchild, serviceman, walker, drinker, doctor, bicyclist, thief, buyer, teenager, student, camper, driver, solider, hunter, shopper, villager",
    "bicycle, bike, bicycle, bike, unicycle, minibike, trike",
    "car, automobile, van, minivan, sedan, suv, hatchback, cab, jeep, coupe, taxicab, limo, taxi",
    "motorcycle, scooter,  motor bike, motor cycle, motorbike, scooter, moped",
    "airplane, jetliner, plane, air plane, monoplane, aircraft, jet, jetliner, airbus, biplane, seaplane",
    "bus, minibus, trolley",
    "train, locomotive, tramway, caboose",
    "truck, pickup, lorry, hauler, firetruck",
    "boat, ship, liner, sailboat, motorboat, dinghy, powerboat, speedboat, canoe, skiff, yacht, kayak, catamaran, pontoon, houseboat, vessel, rowboat, trawler, ferryboat, watercraft, tugboat, schooner, barge, ferry, sailboard, paddleboat, lifeboat, freighter, steamboat, riverboat, battleship, steamship",
    "traffic light, street light, traffic signal, stop light, streetlight, stoplight",
    "fire hydrant, hydrant",
    "stop sign",
    "parking meter",
    "bench, pew",
    "bird, ostrich, owl, seagull, goose, duck, parakeet, falcon, robin, pelican, waterfowl, heron, hummingbird, mallard, finch, pigeon, sparrow, seabird, osprey, blackbird, fowl, shorebird, woodpecker, egret, chickadee, quail, bluebird, kingfisher, buzzard, willet, gull, swan, bluejay, flamingo, cormorant, parrot, loon, gosling, waterbird, pheasant, rooster, sandpiper, crow, raven, turkey, oriole, cowbird, warbler, magpie, peacock, cockatiel, lorikeet, puffin, vulture, condor, macaw, peafowl, cockatoo, songbird",
    "cat, kitten, feline, tabby",
    "dog, puppy, beagle, pup, chihuahua, schnauzer, dachshund, rottweiler, canine, pitbull, collie, pug, terrier, poodle, labrador, doggie, doberman, mutt, doggy, spaniel, bulldog, sheepdog, weimaraner, corgi, cocker, greyhound, retriever, brindle, hound, whippet, husky",
    "horse, colt, pony, racehorse, stallion, equine, mare, foal, palomino, mustang, clydesdale, bronc, bronco",
    "sheep, lamb, ram, lamb, goat, ewe",
    "cow, cattle, oxen, ox, calf, cattle, holstein, heifer, buffalo, bull, zebu, bison",
    "elephant",
    "bear, panda",
    "zebra",
    "giraffe",
    "backpack, knapsack",
    "umbrella",
    "handbag, wallet, purse, briefcase",
    "tie, bow, bow tie",
    "suitcase, suit case, luggage",
    "frisbee",
    "skis, ski",
    "snowboard",
    "sports ball, ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard, longboard, skimboard, shortboard, wakeboard",
    "tennis racket, racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife, pocketknife, knive",
    "spoon",
    "bowl, container",
    "banana",
    "apple",
    "sandwich, burger, sub, cheeseburger, hamburger",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut, doughnut, bagel",
    "cake,  cheesecake, cupcake, shortcake, coffeecake, pancake",
    "chair, seat, stool",
    "couch, sofa, recliner, futon, loveseat, settee, chesterfield",
    "potted plant, houseplant",
    "bed",
    "dining table, table, desk",
    "toilet, urinal, commode, toilet, lavatory, potty",
    "tv, monitor, televison, television",
    "laptop, computer, notebook, netbook, lenovo, macbook, laptop computer",
    "mouse",
    "remote",
    "keyboard",
    "cell phone, mobile phone, phone, cellphone, telephone, phon, smartphone, iPhone",
    "microwave",
    "oven, stovetop, stove, stove top oven",
    "toaster",
    "sink",
    "refrigerator, fridge, fridge, freezer",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear, teddybear",
    "hair drier, hairdryer",
    "toothbrush",
};

/* The first name of each line above: the COCO category. */
static const char *const chair_categories[] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake",
    "chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop",
    "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
};

_Static_assert(NELEM(chair_categories) == NELEM(chair_synonym_lines), "one category per line");

/* chair.py's double_word_dict: COCO compounds map to themselves, qualifiers to the
 * bare word. Keys are matched after singularization (hence "wine glas"); "home
 * plate" and "train track" map to non-objects, so they swallow "train". */
static const char *const chair_double_words[][2] = {
    {"motor bike", "motor bike"}, {"motor cycle", "motor cycle"}, {"air plane", "air plane"},
    {"traffic light", "traffic light"}, {"street light", "street light"},
    {"traffic signal", "traffic signal"}, {"stop light", "stop light"},
    {"fire hydrant", "fire hydrant"}, {"stop sign", "stop sign"},
    {"parking meter", "parking meter"}, {"suit case", "suit case"},
    {"sports ball", "sports ball"}, {"baseball bat", "baseball bat"},
    {"baseball glove", "baseball glove"}, {"tennis racket", "tennis racket"},
    {"wine glass", "wine glass"}, {"hot dog", "hot dog"}, {"cell phone", "cell phone"},
    {"mobile phone", "mobile phone"}, {"teddy bear", "teddy bear"},
    {"hair drier", "hair drier"}, {"potted plant", "potted plant"}, {"bow tie", "tie"},
    {"laptop computer", "laptop computer"}, {"stove top oven", "stove top oven"},
    {"home plate", "home plate"}, {"train track", "train track"},
    {"baby bird", "bird"}, {"adult bird", "bird"}, {"baby cat", "cat"}, {"adult cat", "cat"},
    {"baby dog", "dog"}, {"adult dog", "dog"}, {"baby horse", "horse"}, {"adult horse", "horse"},
    {"baby sheep", "sheep"}, {"adult sheep", "sheep"}, {"baby cow", "cow"}, {"adult cow", "cow"},
    {"baby elephant", "elephant"}, {"adult elephant", "elephant"},
    {"baby bear", "bear"}, {"adult bear", "bear"}, {"baby zebra", "zebra"},
    {"adult zebra", "zebra"}, {"baby giraffe", "giraffe"}, {"adult giraffe", "giraffe"},
    {"baby animal", "animal"}, {"adult animal", "animal"}, {"baby cub", "cub"},
    {"adult cub", "cub"}, {"passenger jet", "jet"}, {"passenger train", "train"},
    {"toilet seat", "toilet"}, {"wine glas", "wine glass"},
};

/* ---- synonyms ------------------------------------------------------------------- */

/* Every synonym once, sorted by text then line, built on first use: a lookup is
 * a binary search instead of a scan of all lines per word. */
typedef struct {
    const char *w;
    size_t      len;
    size_t      line;
} syn_entry;

static syn_entry *syn_tab;
static size_t syn_n;
static pthread_once_t syn_once = PTHREAD_ONCE_INIT;

static int syn_key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static int syn_cmp(const void *x, const void *y)
{
    const syn_entry *a = x, *b = y;
    int c = syn_key_cmp(a->w, a->len, b->w, b->len);
    return c ? c : (a->line > b->line) - (a->line < b->line);
}

static void syn_build(void)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        n = 0;
        for (size_t i = 0; i < NELEM(chair_synonym_lines); i++)
            for (const char *p = chair_synonym_lines[i];;) {
                const char *sep = strstr(p, ", ");
                if (pass) syn_tab[n] = (syn_entry){p, sep ? (size_t)(sep - p) : strlen(p), i};
                n++;
                if (!sep) break;
                p = sep + 2;
            }
        if (!pass && !(syn_tab = malloc(n * sizeof *syn_tab))) return;   /* lookups then find nothing */
    }
    qsort(syn_tab, n, sizeof *syn_tab, syn_cmp);
    syn_n = n;
}

/* The category of a synonym, or NULL. Later lines win, as chair.py's
 * inverse_synonym_dict is filled in file order. */
const char *metric_chair_category(const char *word)
{
    size_t wl = strlen(word), lo = 0, hi;
    pthread_once(&syn_once, syn_build);
    hi = syn_n;
    while (lo < hi) {   /* first entry with key > word */
        size_t mid = lo + (hi - lo) / 2;
        if (syn_key_cmp(syn_tab[mid].w, syn_tab[mid].len, word, wl) <= 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0 || syn_key_cmp(syn_tab[lo - 1].w, syn_tab[lo - 1].len, word, wl) != 0) return NULL;
    return chair_categories[syn_tab[lo - 1].line];   /* the last line among equals */
}

/* ---- pattern.en singularize ------------------------------------------------------ */

static int ends_with(const char *w, size_t wl, const char *suf)
{
    size_t sl = strlen(suf);
    return sl <= wl && memcmp(w + wl - sl, suf, sl) == 0;
}

/* Word lists checked with the quirky `x.endswith(w)`: any suffix of a listed word
 * (even "s" or "ears") is returned unchanged. Missing commas in pattern's source
 * join "wildebeest" "carp" and "water" "cheese" into single strings. */
static const char *const sing_uninflected[] = {
    "bison", "debris", "headquarters", "pincers", "trout", "bream", "diabetes", "herpes",
    "pliers", "tuna", "breeches", "djinn", "high-jinks", "proceedings", "whiting",
    "britches", "eland", "homework", "rabies", "wildebeestcarp", "elk", "innings",
    "salmon", "chassis", "flounder", "jackanapes", "scissors", "christmas", "gallows",
    "mackerel", "series", "clippers", "georgia", "measles", "shears", "cod", "graffiti",
    "mews", "species", "contretemps", "mumps", "swine", "corps", "news", "swiss",
    /* uncountable */
    "advice", "equipment", "happiness", "luggage", "software", "bread", "fruit",
    "information", "mathematics", "progress", "understanding", "butter", "furniture",
    "ketchup", "mayonnaise", "research", "watercheese", "garbage", "knowledge", "meat",
    "rice", "electricity", "gravel", "love", "mustard", "sand",
};
/* -ie nouns: a word ending in "<x>s" is returned as it is, plural kept ("doggies"
 * stays "doggies", so it is no dog); "^pie" and "^tie" are literal and never match,
 * and "zombie" "bogie" lack a comma. */
static const char *const sing_ie[] = {
    "alergie", "cutie", "hoagie", "newbie", "softie", "veggie", "auntie", "doggie", "hottie",
    "nightie", "sortie", "weenie", "beanie", "eyrie", "indie", "oldie", "stoolie", "yuppie",
    "birdie", "freebie", "junkie", "^pie", "sweetie", "zombiebogie", "goonie", "laddie",
    "pixie", "techie", "bombie", "groupie", "laramie", "quickie", "^tie", "collie", "hankie",
    "lingerie", "reverie", "toughie", "cookie", "hippie", "meanie", "rookie", "valkyrie",
};
/* Irregular plurals, matched as suffixes in this order (women -> woman). */
static const char *const sing_irregular[][2] = {
    {"atlantes", "atlas"}, {"atlases", "atlas"}, {"axes", "axe"}, {"beeves", "beef"},
    {"brethren", "brother"}, {"children", "child"}, {"corpora", "corpus"},
    {"corpuses", "corpus"}, {"ephemerides", "ephemeris"}, {"feet", "foot"},
    {"ganglia", "ganglion"}, {"geese", "goose"}, {"genera", "genus"}, {"genii", "genie"},
    {"graffiti", "graffito"}, {"helves", "helve"}, {"kine", "cow"}, {"leaves", "leaf"},
    {"loaves", "loaf"}, {"men", "man"}, {"mongooses", "mongoose"}, {"monies", "money"},
    {"moves", "move"}, {"mythoi", "mythos"}, {"numena", "numen"}, {"occipita", "occiput"},
    {"octopodes", "octopus"}, {"opera", "opus"}, {"opuses", "opus"}, {"our", "my"}, {"oxen", "ox"},
    {"penes", "penis"}, {"penises", "penis"}, {"people", "person"}, {"sexes", "sex"},
    {"soliloquies", "soliloquy"}, {"teeth", "tooth"}, {"testes", "testis"},
    {"trilbys", "trilby"}, {"turves", "turf"}, {"zoa", "zoon"},
};

/* One suffix rule: the word ends with `end`; when `cls` is set, the character before
 * `end` must (or with negate, must not) be in cls; need_char asks for any character
 * before; whole asks that end be the whole word. `end` becomes `repl`. */
typedef struct {
    const char *end, *cls;
    int negate, need_char, whole;
    const char *repl;
} sing_rule;

/* pattern's singular_rules in order, alternations spelled out. */
static const sing_rule sing_rules[] = {
    {"ae", 0, 0, 1, 0, "a"}, {"itis", 0, 0, 1, 0, "itis"}, {"eaux", 0, 0, 1, 0, "eau"},
    {"quizzes", 0, 0, 0, 0, "quiz"}, {"matrices", 0, 0, 0, 0, "matrix"},
    {"apices", 0, 0, 0, 0, "apex"}, {"vertices", 0, 0, 0, 0, "vertex"},
    {"indices", 0, 0, 0, 0, "index"},
    {"oxen", 0, 0, 0, 2, "ox"},                 /* ^(ox)en: a prefix rule, see below */
    {"aliases", 0, 0, 0, 0, "alias"}, {"statuses", 0, 0, 0, 0, "status"},
    {"i", "octop|vir", 0, 0, 0, "us"},          /* [octop|vir]i: a character class */
    {"crises", 0, 0, 0, 0, "crisis"}, {"axes", 0, 0, 0, 0, "axis"},
    {"testes", 0, 0, 0, 0, "testis"}, {"shoes", 0, 0, 0, 0, "shoe"}, {"oes", 0, 0, 0, 0, "o"},
    {"buses", 0, 0, 0, 0, "bus"}, {"ice", "m|l", 0, 0, 0, "ouse"},
    {"xes", 0, 0, 0, 0, "x"}, {"ches", 0, 0, 0, 0, "ch"}, {"sses", 0, 0, 0, 0, "ss"},
    {"shes", 0, 0, 0, 0, "sh"}, {"movies", 0, 0, 0, 0, "movie"},
    {"ombies", 0, 0, 1, 0, "ombie"}, {"series", 0, 0, 0, 0, "series"},
    {"quies", 0, 0, 0, 0, "quy"}, {"ies", "aeiouy", 1, 0, 0, "y"},
    {"lves", "aeo", 0, 0, 0, "lf"}, {"eaves", "d", 1, 0, 0, "eaf"}, {"arves", 0, 0, 0, 0, "arf"},
    {"erves", 0, 0, 0, 0, "erve"}, {"ives", "nlw", 0, 0, 0, "ife"}, {"ves", "lr", 0, 0, 0, "f"},
    {"ves", "aeo", 0, 0, 0, "ve"}, {"sives", 0, 0, 0, 0, "sive"}, {"tives", 0, 0, 0, 0, "tive"},
    {"hives", 0, 0, 0, 0, "hive"}, {"ves", "f", 1, 0, 0, "fe"},
    {"analyses", 0, 0, 0, 1, "analysis"},
    /* ((a)naly|(b)a|...)ses -> \1\2sis: \2 is "a" only for "analy" */
    {"analyses", 0, 0, 0, 0, "analyasis"}, {"bases", 0, 0, 0, 0, "basis"},
    {"diagnoses", 0, 0, 0, 0, "diagnosis"}, {"parentheses", 0, 0, 0, 0, "parenthesis"},
    {"prognoses", 0, 0, 0, 0, "prognosis"}, {"synopses", 0, 0, 0, 0, "synopsis"},
    {"theses", 0, 0, 0, 0, "thesis"},
    {"opses", 0, 0, 1, 0, "opsis"}, {"yses", 0, 0, 1, 0, "ysis"},
    {"oses", "hdronbp", 0, 0, 0, "ose"}, {"closes", 0, 0, 0, 0, "close"},
    {"fructose", 0, 0, 0, 0, "fructose"}, {"glucose", 0, 0, 0, 0, "glucose"},
    {"galactose", 0, 0, 0, 0, "galactose"}, {"lactose", 0, 0, 0, 0, "lactose"},
    {"ketose", 0, 0, 0, 0, "ketose"}, {"maltose", 0, 0, 0, 0, "maltose"},
    {"ribose", 0, 0, 0, 0, "ribose"}, {"saccharose", 0, 0, 0, 0, "saccharose"},
    {"cellulose", 0, 0, 0, 0, "cellulose"},
    {"oses", 0, 0, 1, 0, "osis"}, {"a", "ti", 0, 0, 0, "um"}, {"news", 0, 0, 0, 0, "news"},
    {"s", 0, 0, 0, 0, ""},
};

/* malloc'd w[0..keep) + add */
static char *splice(const char *w, size_t keep, const char *add)
{
    size_t al = strlen(add);
    char *r = malloc(keep + al + 1);
    if (!r) return NULL;
    memcpy(r, w, keep);
    memcpy(r + keep, add, al + 1);
    return r;
}

static const char *const sing_prepositions[] = {
    "about", "above", "across", "after", "among", "around", "at", "athwart", "before",
    "behind", "below", "beneath", "beside", "besides", "between", "betwixt", "beyond",
    "but", "by", "during", "except", "for", "from", "in", "into", "near", "of", "off",
    "on", "onto", "out", "over", "since", "till", "to", "under", "until", "unto", "upon",
    "with",
};

char *metric_chair_singularize(const char *w)
{
    size_t wl = strlen(w);
    const char *dash = strchr(w, '-');
    if (dash) { /* mothers-in-law -> mother-in-law */
        const char *second = dash + 1;
        size_t sl = strcspn(second, "-");
        for (size_t i = 0; i < NELEM(sing_prepositions); i++) {
            if (strlen(sing_prepositions[i]) != sl || memcmp(second, sing_prepositions[i], sl)) continue;
            char *head = splice(w, (size_t)(dash - w), ""), *s = head ? metric_chair_singularize(head) : NULL;
            char *r = s ? splice(s, strlen(s), dash) : NULL;
            free(head);
            free(s);
            return r;
        }
    }
    if (wl && w[wl - 1] == '\'') { /* dogs' -> dog's */
        char *head = splice(w, wl - 1, ""), *s = head ? metric_chair_singularize(head) : NULL;
        char *r = s ? splice(s, strlen(s), "'s") : NULL;
        free(head);
        free(s);
        return r;
    }
    for (size_t i = 0; i < NELEM(sing_uninflected); i++)
        if (ends_with(sing_uninflected[i], strlen(sing_uninflected[i]), w)) return strdup(w);
    for (size_t i = 0; i < NELEM(sing_ie); i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ss", sing_ie[i]);
        if (ends_with(w, wl, buf)) return strdup(w);
    }
    for (size_t i = 0; i < NELEM(sing_irregular); i++)
        if (ends_with(w, wl, sing_irregular[i][0]))
            return splice(w, wl - strlen(sing_irregular[i][0]), sing_irregular[i][1]);
    for (size_t i = 0; i < NELEM(sing_rules); i++) {
        const sing_rule *r = &sing_rules[i];
        size_t el = strlen(r->end);
        if (r->whole == 2) { /* ^(ox)en, not anchored at the end */
            if (wl >= el && memcmp(w, r->end, el) == 0) {
                char *s = splice(r->repl, strlen(r->repl), w + el);
                return s;
            }
            continue;
        }
        if (!ends_with(w, wl, r->end) || (r->whole && wl != el)) continue;
        if ((r->need_char || r->cls) && wl == el) continue;
        if (r->cls) {
            int in = strchr(r->cls, w[wl - el - 1]) != NULL;
            if (in == r->negate) continue;
        }
        return splice(w, wl - el, r->repl);
    }
    return strdup(w);
}

/* ---- NLTK word_tokenize ------------------------------------------------------------ */

typedef struct {
    char  *s;
    size_t n, cap;
} sbuf;

static int sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        while (nc < b->n + n + 1) nc *= 2;
        char *p = realloc(b->s, nc);
        if (!p) return -1;
        b->s = p;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return 0;
}

static int sb_puts(sbuf *b, const char *s) { return sb_putn(b, s, strlen(s)); }

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || (c & 0x80);
}

/* One rewriting pass: at each position `fn` either emits a replacement and returns
 * how many input bytes it consumed, or returns 0 to copy one byte. */
typedef size_t (*tok_rule)(const char *s, size_t n, size_t i, sbuf *out);

static int tok_pass(sbuf *b, tok_rule fn)
{
    sbuf out = {0};
    for (size_t i = 0; i < b->n;) {
        size_t used = fn(b->s, b->n, i, &out);
        if (used == (size_t)-1) { free(out.s); return -1; }
        if (used == 0) {
            if (sb_putn(&out, b->s + i, 1)) { free(out.s); return -1; }
            used = 1;
        }
        i += used;
    }
    if (!out.s && sb_puts(&out, "")) return -1;
    free(b->s);
    *b = out;
    return 0;
}

#define EMIT(str) do { if (sb_puts(out, (str))) return (size_t)-1; } while (0)
#define EMITN(p, len) do { if (sb_putn(out, (p), (len))) return (size_t)-1; } while (0)

static int starts(const char *s, size_t n, size_t i, const char *lit)
{
    size_t l = strlen(lit);
    return i + l <= n && memcmp(s + i, lit, l) == 0;
}

/* STARTING_QUOTES: « “ ‘ „ and runs of ` spaced; a leading " becomes ``; a " or ''
 * after space or an opening bracket becomes ``; 'x (one word char) split. */
static size_t rule_start_quotes(const char *s, size_t n, size_t i, sbuf *out)
{
    static const char *const open[] = {"\xC2\xAB", "\xE2\x80\x9C", "\xE2\x80\x98", "\xE2\x80\x9E"};
    for (size_t k = 0; k < NELEM(open); k++)
        if (starts(s, n, i, open[k])) { EMIT(" "); EMIT(open[k]); EMIT(" "); return strlen(open[k]); }
    if (s[i] == '`') {
        size_t j = i;
        while (j < n && s[j] == '`') j++;
        EMIT(" "); EMITN(s + i, j - i); EMIT(" ");
        return j - i;
    }
    if (i == 0 && s[0] == '"') { EMIT(" `` "); return 1; }
    if (strchr(" ([{<", s[i]) && i + 1 < n) {
        if (s[i + 1] == '"') { EMITN(s + i, 1); EMIT(" `` "); return 2; }
        if (starts(s, n, i + 1, "''")) { EMITN(s + i, 1); EMIT(" `` "); return 3; }
    }
    if (s[i] == '\'' && i + 1 < n && is_word(s[i + 1]) && !(s[i + 1] & 0x80) &&
        !strchr("mtsdn", s[i + 1]) && (i + 2 >= n || !is_word(s[i + 2]))) {
        EMIT("' ");
        return 1;
    }
    return 0;
}

/* PUNCTUATION and the bracket/dash rules, one regex of NLTK's list per pass (the
 * final period is handled per sentence before these). */
static size_t spaced(const char *s, size_t i, size_t len, sbuf *out)
{
    EMIT(" "); EMITN(s + i, len); EMIT(" ");
    return len;
}

static size_t rule_comma(const char *s, size_t n, size_t i, sbuf *out)
{   /* ([:,])([^\d]) -> " \1 \2" */
    if ((s[i] != ':' && s[i] != ',') || i + 1 >= n || is_digit(s[i + 1])) return 0;
    EMIT(" "); EMITN(s + i, 1); EMIT(" "); EMITN(s + i + 1, 1);
    return 2;
}

static size_t rule_comma_end(const char *s, size_t n, size_t i, sbuf *out)
{   /* ([:,])$ */
    return (s[i] == ':' || s[i] == ',') && i + 1 == n ? spaced(s, i, 1, out) : 0;
}

static size_t rule_ellipsis(const char *s, size_t n, size_t i, sbuf *out)
{   /* \.{2,} */
    size_t j = i;
    while (j < n && s[j] == '.') j++;
    return j - i >= 2 ? spaced(s, i, j - i, out) : 0;
}

static size_t rule_symbols(const char *s, size_t n, size_t i, sbuf *out)
{   /* [;@#$%&] */
    (void)n;
    return s[i] && strchr(";@#$%&", s[i]) ? spaced(s, i, 1, out) : 0;
}

static size_t rule_qmark(const char *s, size_t n, size_t i, sbuf *out)
{   /* [?!] */
    (void)n;
    return s[i] && strchr("?!", s[i]) ? spaced(s, i, 1, out) : 0;
}

static size_t rule_quote_space(const char *s, size_t n, size_t i, sbuf *out)
{   /* ([^'])' -> "\1 ' " */
    if (s[i] == '\'' || i + 2 >= n || s[i + 1] != '\'' || s[i + 2] != ' ') return 0;
    EMITN(s + i, 1); EMIT(" ' ");
    return 3;
}

static size_t rule_star(const char *s, size_t n, size_t i, sbuf *out)
{
    (void)n;
    return s[i] == '*' ? spaced(s, i, 1, out) : 0;
}

static size_t rule_brackets(const char *s, size_t n, size_t i, sbuf *out)
{
    (void)n;
    return s[i] && strchr("[](){}<>", s[i]) ? spaced(s, i, 1, out) : 0;
}

static size_t rule_dashes(const char *s, size_t n, size_t i, sbuf *out)
{
    return starts(s, n, i, "--") ? spaced(s, i, 2, out) : 0;
}

/* ENDING_QUOTES on the space-padded text. */
static size_t rule_end_quotes(const char *s, size_t n, size_t i, sbuf *out)
{
    static const char *const close[] = {"\xC2\xBB", "\xE2\x80\x9D", "\xE2\x80\x99"};
    static const char *const clitics[] = {"'s ", "'m ", "'d ", "' ", "'ll ", "'re ", "'ve ", "n't "};
    for (size_t k = 0; k < NELEM(close); k++)
        if (starts(s, n, i, close[k])) { EMIT(" "); EMIT(close[k]); EMIT(" "); return strlen(close[k]); }
    if (starts(s, n, i, "''")) { EMIT(" '' "); return 2; }
    if (s[i] == '"') { EMIT(" '' "); return 1; }
    if (s[i] != '\'' && s[i] != ' ')
        for (size_t k = 0; k < NELEM(clitics); k++)
            if (starts(s, n, i + 1, clitics[k])) {
                size_t l = strlen(clitics[k]);
                EMITN(s + i, 1); EMIT(" "); EMITN(s + i + 1, l);
                return 1 + l;
            }
    return 0;
}

/* CONTRACTIONS2/3: cannot, gimme, gonna, gotta, lemme, wanna, 'tis, 'twas split. */
static size_t rule_contractions(const char *s, size_t n, size_t i, sbuf *out)
{
    static const char *const pairs[][2] = {
        {"can", "not"}, {"d", "'ye"}, {"gim", "me"}, {"gon", "na"}, {"got", "ta"},
        {"lem", "me"}, {"more", "'n"}, {"wan", "na"}, {"'t", "is"}, {"'t", "was"},
    };
    for (size_t k = 0; k < NELEM(pairs); k++) {
        size_t a = strlen(pairs[k][0]), b = strlen(pairs[k][1]);
        int apos = pairs[k][0][0] == '\'';
        if (!starts(s, n, i, pairs[k][0]) || !starts(s, n, i + a, pairs[k][1])) continue;
        if (!apos && i > 0 && is_word(s[i - 1])) continue;
        if (i + a + b < n && is_word(s[i + a + b])) continue;
        EMIT(" "); EMITN(s + i, a); EMIT(" "); EMITN(s + i + a, b); EMIT(" ");
        return a + b;
    }
    return 0;
}

static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Length of a closing character ending at s[0..q): ] ) } > " ' space, or » ” ’. */
static size_t closer_before(const char *s, size_t q)
{
    static const char *const wide[] = {"\xC2\xBB", "\xE2\x80\x9D", "\xE2\x80\x99"};
    if (q && strchr("])}>\"' ", s[q - 1])) return 1;
    for (size_t k = 0; k < NELEM(wide); k++) {
        size_t l = strlen(wide[k]);
        if (q >= l && memcmp(s + q - l, wide[k], l) == 0) return l;
    }
    return 0;
}

/* The final-period rule on one sentence: ([^.])(.)([])}>"'»”’ ]*)\s*$ -> "\1 \2 \3 ". */
static int final_period(sbuf *b)
{
    size_t e = b->n, q, l;
    while (e > 0 && is_space(b->s[e - 1])) e--;
    for (q = e; (l = closer_before(b->s, q)) != 0; q -= l) {}
    if (q < 2 || b->s[q - 1] != '.' || b->s[q - 2] == '.') return 0;
    sbuf out = {0};
    if (sb_putn(&out, b->s, q - 1) || sb_puts(&out, " . ") || sb_putn(&out, b->s + q, e - q) ||
        sb_puts(&out, " ")) { free(out.s); return -1; }
    free(b->s);
    *b = out;
    return 0;
}

/* Appends the Treebank tokens of one sentence to toks. */
static int tokenize_sentence(const char *s, size_t n, char ***toks, size_t *nt, size_t *cap)
{
    sbuf b = {0}, padded = {0};
    int rc = -1;
    static const tok_rule middle[] = {
        rule_comma, rule_comma_end, rule_ellipsis, rule_symbols, rule_qmark,
        rule_quote_space, rule_star, rule_brackets, rule_dashes,
    };
    if (sb_putn(&b, s, n) || tok_pass(&b, rule_start_quotes) || final_period(&b)) goto done;
    for (size_t k = 0; k < NELEM(middle); k++)
        if (tok_pass(&b, middle[k])) goto done;
    if (sb_puts(&padded, " ") || sb_putn(&padded, b.s, b.n) || sb_puts(&padded, " ")) goto done;
    if (tok_pass(&padded, rule_end_quotes) || tok_pass(&padded, rule_contractions)) goto done;
    for (size_t i = 0; i < padded.n;) {
        if (is_space(padded.s[i])) { i++; continue; }
        size_t j = i;
        while (j < padded.n && !is_space(padded.s[j])) j++;
        if (*nt == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            char **p = realloc(*toks, nc * sizeof *p);
            if (!p) goto done;
            *toks = p;
            *cap = nc;
        }
        if (!((*toks)[*nt] = splice(padded.s + i, j - i, ""))) goto done;
        (*nt)++;
        i = j;
    }
    rc = 0;
done:
    free(b.s);
    free(padded.s);
    return rc;
}

/* Untrained Punkt at text[i] (one of . ? !): 0 when no sentence ends here, else the
 * end of the sentence; *next is where the next one starts. A candidate is [.?!]
 * followed by whitespace or by one of ?!)";}]*:@'({[ . Periods do not end a
 * sentence after an ellipsis token ("dog..."), nor after an initial ("b.") or a
 * number ("2.") when the next word starts in lower case (the orthographic
 * heuristic with no training data). Closing quotes and brackets followed by
 * whitespace move back to the sentence they close (Punkt's realignment). */
static size_t sentence_end(const char *t, size_t n, size_t i, size_t *next)
{
    size_t j = i + 1, k;
    if (j >= n) return 0;
    if (is_space(t[j])) {
        for (k = j; k < n && is_space(t[k]); k++) {}
        if (t[i] == '.') {
            size_t w = i; /* the token ending in this period */
            while (w > 0 && !is_space(t[w - 1])) w--;
            if (i > w && t[i - 1] == '.') return 0;
            int initial = i - w == 1 && !is_digit(t[w]) && is_word(t[w]);
            int number = i > w;
            for (size_t m = w; m < i; m++)
                if (!is_digit(t[m]) && !(m > w && strchr(",.-", t[m])) && !(m == w && t[m] == '-')) number = 0;
            if (number && !is_digit(t[i - 1]) && !is_digit(t[w + (t[w] == '-')])) number = 0;
            int lower_next = k < n && t[k] >= 'a' && t[k] <= 'z';
            if ((initial || number) && lower_next) return 0;
        }
        *next = k;
        return j;
    }
    if (!strchr("?!)\";}]*:@'({[", t[j])) return 0;
    if (t[i] == '.' && i > 0 && t[i - 1] == '.') return 0;
    size_t end = j;
    for (k = j; k < n && strchr("\"')]}", t[k]); k++) {}
    if (k > j && (k == n || is_space(t[k]))) end = k; /* realigned closers */
    *next = end;
    return end;
}

int metric_chair_tokenize(const char *text, char ***tokens, size_t *ntok)
{
    size_t n = strlen(text), cap = 0, start = 0, next = 0;
    *tokens = NULL;
    *ntok = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t end = n;
        if (i < n) {
            if (!text[i] || !strchr(".!?", text[i]) || !(end = sentence_end(text, n, i, &next))) continue;
        } else {
            next = n;
        }
        if (end > start && tokenize_sentence(text + start, end - start, tokens, ntok, &cap)) goto fail;
        start = next;
        if (next > i + 1) i = next - 1;
    }
    return METRIC_OK;
fail:
    for (size_t i = 0; i < *ntok; i++) free((*tokens)[i]);
    free(*tokens);
    *tokens = NULL;
    *ntok = 0;
    return METRIC_ENOMEM;
}

/* ---- caption_to_words and scores ------------------------------------------------------ */

void metric_chair_words_free(metric_chair_words *w)
{
    for (size_t i = 0; i < w->n; i++) free(w->m[i].word);
    free(w->m);
    w->m = NULL;
    w->n = 0;
}

int metric_chair_extract(const char *caption, metric_chair_words *out)
{
    utext raw = {0}, low = {0};
    char *lower = NULL, **toks = NULL;
    size_t nt = 0, nw = 0;
    int rc = METRIC_ENOMEM, has_toilet = 0, has_seat = 0;
    out->m = NULL;
    out->n = 0;
    if (utext_from(&raw, caption)) { rc = METRIC_EUTF8; goto done; }
    if (utext_lower(&low, &raw) || !(lower = utext_encode(&low))) goto done;
    if ((rc = metric_chair_tokenize(lower, &toks, &nt))) goto done;
    rc = METRIC_ENOMEM;
    for (size_t i = 0; i < nt; i++) {
        char *s = metric_chair_singularize(toks[i]);
        if (!s) goto done;
        free(toks[i]);
        toks[i] = s;
    }
    /* Merge two-token phrases left to right; merged words replace toks[nw]. */
    for (size_t i = 0; i < nt;) {
        const char *merged = NULL;
        if (i + 1 < nt) {
            size_t a = strlen(toks[i]);
            for (size_t k = 0; k < NELEM(chair_double_words) && !merged; k++) {
                const char *d = chair_double_words[k][0];
                if (!strncmp(d, toks[i], a) && d[a] == ' ' && !strcmp(d + a + 1, toks[i + 1]))
                    merged = chair_double_words[k][1];
            }
        }
        char *w = merged ? strdup(merged) : toks[i];
        if (!w) goto done;
        if (merged) { free(toks[i]); free(toks[i + 1]); toks[i] = toks[i + 1] = NULL; }
        else toks[i] = NULL;
        toks[nw++] = w;
        i += merged ? 2 : 1;
    }
    for (size_t i = 0; i < nw; i++) {
        has_toilet |= !strcmp(toks[i], "toilet");
        has_seat |= !strcmp(toks[i], "seat");
    }
    out->m = calloc(nw + 1, sizeof *out->m);
    if (!out->m) goto done;
    for (size_t i = 0; i < nw; i++) {
        const char *cat;
        if (has_toilet && has_seat && !strcmp(toks[i], "seat")) continue;
        if (!(cat = metric_chair_category(toks[i]))) continue;
        out->m[out->n].word = toks[i];
        out->m[out->n++].category = cat;
        toks[i] = NULL;
    }
    rc = METRIC_OK;
done:
    for (size_t i = 0; i < nt; i++) free(toks[i]);
    free(toks);
    free(lower);
    utext_free(&raw);
    utext_free(&low);
    if (rc) metric_chair_words_free(out);
    return rc;
}

int metric_chair_score(const metric_chair_words *w, const char *const *truth, size_t ntruth,
                       metric_chair_caption *out)
{
    size_t covered = 0;
    memset(out, 0, sizeof *out);
    out->hallucinated = calloc(w->n + 1, sizeof *out->hallucinated);
    if (!out->hallucinated) return METRIC_ENOMEM;
    for (size_t i = 0; i < w->n; i++) {
        int found = 0;
        for (size_t k = 0; k < ntruth && !found; k++) found = !strcmp(truth[k], w->m[i].category);
        if (!found) { out->hallucinated[i] = 1; out->n_hallucinated++; }
    }
    out->n_mentions = w->n;
    out->chair_s = out->n_hallucinated > 0;
    out->chair_i = w->n ? (double)out->n_hallucinated / (double)w->n : 0.0;
    /* recall: distinct truth categories mentioned at least once / |truth|. */
    for (size_t k = 0; k < ntruth; k++) {
        int dup = 0, hit = 0;
        for (size_t j = 0; j < k && !dup; j++) dup = !strcmp(truth[j], truth[k]);
        if (dup) continue;
        for (size_t i = 0; i < w->n && !hit; i++) hit = !strcmp(truth[k], w->m[i].category);
        covered += (size_t)hit;
    }
    size_t distinct = 0;
    for (size_t k = 0; k < ntruth; k++) {
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++) dup = !strcmp(truth[j], truth[k]);
        distinct += !dup;
    }
    out->recall.defined = distinct > 0;
    out->recall.value = distinct ? (double)covered / (double)distinct : 0.0;
    return METRIC_OK;
}

void metric_chair_caption_free(metric_chair_caption *c)
{
    free(c->hallucinated);
    c->hallucinated = NULL;
}

void metric_chair_corpus_add(metric_chair_corpus *corpus, const metric_chair_caption *c)
{
    corpus->n_captions++;
    corpus->n_mentions += c->n_mentions;
    corpus->n_hallucinated_mentions += c->n_hallucinated;
    corpus->n_hallucinated_captions += (size_t)c->chair_s;
}

metric_num metric_chair_s(const metric_chair_corpus *corpus)
{
    metric_num r = {0, corpus->n_captions > 0};
    if (r.defined) r.value = (double)corpus->n_hallucinated_captions / (double)corpus->n_captions;
    return r;
}

metric_num metric_chair_i(const metric_chair_corpus *corpus)
{
    metric_num r = {0, corpus->n_mentions > 0};
    if (r.defined) r.value = (double)corpus->n_hallucinated_mentions / (double)corpus->n_mentions;
    return r;
}
