/* tests/test_json_schema.c — every command's --json output against the one schema documented in ewq.h
 * ("Machine-readable output"): the table between "json-schema" and "end of json-schema" is read from ewq.h
 * itself, so the documentation is what is checked. For each output: every member written is declared for
 * its command with a matching type, and every member not marked optional is present where its parent is.
 * The checker is first shown documents that break the schema, which it must reject.
 * Runs $EWQ (default ./ewq) on the fixtures, stories260K when present, and the embedded default model. */
#define _GNU_SOURCE
#include "json.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct { char cmd[16], path[96], type[48]; int optional; } field;
static field fields[512];
static int n_fields;

static int load_schema(void) {
    FILE *f = fopen("ewq.h", "r");
    if (!f) return -1;
    char line[512];
    int on = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, " * json-schema")) { on = 1; continue; }
        if (strstr(line, " * end of json-schema")) break;
        field x = {0};
        if (!on || n_fields == 512 || sscanf(line, " * %15s %95s %47s", x.cmd, x.path, x.type) != 3) continue;
        size_t n = strlen(x.type);
        if (x.type[n - 1] == '?') x.optional = 1, x.type[n - 1] = 0;
        fields[n_fields++] = x;
    }
    fclose(f);
    return n_fields ? 0 : -1;
}

static const field *find(const char *cmd, const char *path) {
    for (int i = 0; i < n_fields; i++)
        if (!strcmp(fields[i].cmd, cmd) && !strcmp(fields[i].path, path)) return &fields[i];
    return NULL;
}

/* Whether v is of one of the types "a|b|c". */
static int type_ok(const json_value *v, const char *types) {
    char buf[48];
    snprintf(buf, sizeof buf, "%s", types);
    for (char *save, *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
        if ((!strcmp(t, "string") && v->type == JSON_STRING) || (!strcmp(t, "null") && v->type == JSON_NULL) ||
            (!strcmp(t, "number") && v->type == JSON_NUMBER) || (!strcmp(t, "integer") && v->type == JSON_NUMBER && v->is_int) ||
            (!strcmp(t, "boolean") && (v->type == JSON_TRUE || v->type == JSON_FALSE)) ||
            ((!strcmp(t, "object") || t[0] == '@') && v->type == JSON_OBJECT) || (!strcmp(t, "array") && v->type == JSON_ARRAY) ||
            (!strcmp(t, "tier") && v->type == JSON_STRING &&
             (!strcmp(v->str, "raw") || !strcmp(v->str, "int8") || !strcmp(v->str, "int4"))))
            return 1;
    }
    return 0;
}

typedef struct { char why[512]; } check_state;   /* the first violation found */

static void fail(check_state *s, const char *fmt, const char *a, const char *b) {
    if (!s->why[0]) snprintf(s->why, sizeof s->why, fmt, a, b);
}

static void check_object(const char *cmd, const json_value *obj, const char *prefix, check_state *s);

/* v at path (its command cmd): declared, of its type; its members and elements in turn. */
static void check_value(const char *cmd, const json_value *v, const char *path, check_state *s) {
    const field *f = find(cmd, path);
    if (!f) { fail(s, "member '%s' is not in the schema of %s", path, cmd); return; }
    if (!type_ok(v, f->type)) { fail(s, "'%s' is not %s", path, f->type); return; }
    char sub[128];
    if (v->type == JSON_ARRAY)
        for (uint32_t i = 0; i < v->len; i++) snprintf(sub, sizeof sub, "%s[]", path), check_value(cmd, &v->kids[i], sub, s);
    if (v->type == JSON_OBJECT) {
        const char *named = strchr(f->type, '@');
        if (named) {   /* "@NAME" or "@NAME|null": the members are NAME's lines */
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(named, "|"), named);
            check_object(name, v, "", s);
        } else {
            check_object(cmd, v, path, s);
        }
    }
}

static void check_object(const char *cmd, const json_value *obj, const char *prefix, check_state *s) {
    char path[128];
    for (uint32_t i = 0; i < obj->len; i++) {
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", obj->kids[i].key);
        check_value(cmd, &obj->kids[i], path, s);
    }
    /* the members this object must have: the fields directly under prefix, not optional */
    size_t n = strlen(prefix);
    for (int i = 0; i < n_fields; i++) {
        const field *f = &fields[i];
        const char *rest = f->path + n + (n ? 1 : 0);
        if (strcmp(f->cmd, cmd) || f->optional || strncmp(f->path, prefix, n) || (n && f->path[n] != '.') ||
            strpbrk(rest, ".["))
            continue;
        int present = 0;
        for (uint32_t k = 0; k < obj->len; k++) present |= !strcmp(obj->kids[k].key, rest);
        if (!present) fail(s, "'%s' is missing (%s)", f->path, cmd);
    }
}

/* Checks the JSON document(s) in text as output of cmd; returns "" or why not. */
static const char *check_text(const char *cmd, const char *text, size_t len, check_state *s) {
    memset(s, 0, sizeof *s);
    json_doc doc;
    char jerr[160];
    if (json_parse(text, len, &doc, jerr, sizeof jerr)) { snprintf(s->why, sizeof s->why, "not JSON: %s", jerr); return s->why; }
    if (doc.root->type != JSON_OBJECT) fail(s, "%s%s output is not an object", "", cmd);
    else check_object(cmd, doc.root, "", s);
    json_free(&doc);
    return s->why;
}

static void check_command(const char *name, const char *cmd, const char *shell) {
    char *full;
    const char *ewq = getenv("EWQ") ? getenv("EWQ") : "./ewq";
    if (asprintf(&full, "%s 2>/dev/null", shell) < 0) return;
    char *p = full;   /* "EWQ" in shell stands for the binary */
    char *cmdline = NULL;
    size_t cap = 0;
    FILE *mem = open_memstream(&cmdline, &cap);
    for (; *p; p++) {
        if (!strncmp(p, "EWQ", 3)) fputs(ewq, mem), p += 2;
        else fputc(*p, mem);
    }
    fclose(mem);
    free(full);
    FILE *f = popen(cmdline, "r");
    char *out = NULL;
    size_t len = 0, got;
    char buf[65536];
    while (f && (got = fread(buf, 1, sizeof buf, f)) > 0) out = realloc(out, len + got + 1), memcpy(out + len, buf, got), len += got;
    int rc = f ? pclose(f) : -1;
    check_state s;
    if (rc != 0 || !out) check(0, name, "'%s' failed (status %d)", cmdline, rc);
    else { const char *why = check_text(cmd, out, len, &s); check(!*why, name, "%s: %s", cmdline, why); }
    free(out);
    free(cmdline);
}

int main(void) {
    if (load_schema()) { check(0, "json/schema", "no json-schema table in ewq.h"); return 0; }
    printf("# %d schema lines\n", n_fields);
    /* the checker rejects what breaks the schema */
    check_state s;
    const char *bad[][2] = {
        {"an undeclared member", "{\"tokenizer\": \"t\", \"kind\": \"k\", \"bytes\": 1, \"tokens\": 1, \"ids\": [1], \"count\": 1}"},
        {"a missing member", "{\"tokenizer\": \"t\", \"kind\": \"k\", \"bytes\": 1, \"ids\": [1]}"},
        {"a wrong type", "{\"tokenizer\": \"t\", \"kind\": \"k\", \"bytes\": 1.5, \"tokens\": 1, \"ids\": [1]}"},
        {"a wrong element type", "{\"tokenizer\": \"t\", \"kind\": \"k\", \"bytes\": 1, \"tokens\": 1, \"ids\": [\"1\"]}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char name[96];
        snprintf(name, sizeof name, "json/checker-rejects-%s", bad[i][0]);
        for (char *c = name; *c; c++) if (*c == ' ') *c = '-';
        check(*check_text("tokenize", bad[i][1], strlen(bad[i][1]), &s) != 0, name, "accepted");
    }
    const char *ok = "{\"tokenizer\": \"t\", \"kind\": \"k\", \"bytes\": 1, \"tokens\": 1, \"ids\": [1]}";
    check(!*check_text("tokenize", ok, strlen(ok), &s), "json/checker-accepts-a-good-document", "%s", s.why);

    const char *F = "data/fixtures/llama3-f32", *S = "../shared/assets/stories260K";
    char c[512];
    FILE *t = fopen("build/json_schema.tokens", "w");
    if (t) fputs("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", t), fclose(t);
    snprintf(c, sizeof c, "EWQ inspect %s --json", F), check_command("json/inspect", "inspect", c);
    snprintf(c, sizeof c, "EWQ entropy %s --json", F), check_command("json/entropy", "entropy", c);
    snprintf(c, sizeof c, "EWQ plan %s --json", F), check_command("json/plan", "plan", c);
    snprintf(c, sizeof c, "EWQ plan %s --json --granularity tensor", F), check_command("json/plan-by-tensor", "plan", c);
    snprintf(c, sizeof c, "echo Hello | EWQ tokenize data/default --json"), check_command("json/tokenize", "tokenize", c);
    snprintf(c, sizeof c, "EWQ ppl %s --tokens build/json_schema.tokens --ctx 8 --json", F), check_command("json/ppl", "ppl", c);
    snprintf(c, sizeof c, "EWQ ppl %s --tokens build/json_schema.tokens --ctx 8 --uniform int8 --ref raw --json", F);
    check_command("json/ppl-ref", "ppl", c);
    snprintf(c, sizeof c, "EWQ generate %s -n 3 --json", F), check_command("json/generate", "generate", c);
    snprintf(c, sizeof c, "EWQ generate data/default -n 3 --temp 1 --seed 1 --json"), check_command("json/generate-sampled", "generate", c);
    snprintf(c, sizeof c, "EWQ bench %s -p 4 -n 2 -r 1 --json", F), check_command("json/bench", "bench", c);
    snprintf(c, sizeof c, "EWQ run --json -p 4 -n 2 -r 1 --seeds 2 --chunks 2 --sensitivity 1 --sweep 0.5,1"), check_command("json/run", "run", c);
    snprintf(c, sizeof c, "EWQ run %s --tokens build/json_schema.tokens --ctx 8 --json -p 0 -n 0 --seeds 2", F);
    check_command("json/run-tokens", "run", c);
    if (access(S, F_OK) == 0) {
        snprintf(c, sizeof c, "EWQ generate %s -n 3 --prompt Once --json", S), check_command("json/generate-text", "generate", c);
    } else {
        test_skip("json/generate-text", "../shared/assets/stories260K is not available");
    }
    return 0;
}
