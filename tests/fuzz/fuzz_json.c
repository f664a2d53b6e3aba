/* fuzz_json: json.h on arbitrary bytes.
 * Checks: no crash or out-of-bounds read (the input is not NUL-terminated); a refusal is one line
 * "byte N: ..." with N inside the input; an accepted document is well-formed (strings NUL-terminated at their
 * length, keys exactly on object members, exact integers agree with their doubles, json_get finds the last
 * duplicate) and survives a round trip: printed back as JSON and parsed again, it gives the same tree. */
#include "fuzz.h"
#include "json.h"
#include <math.h>

typedef struct { char *s; size_t n, cap; } jbuf;

static void jb_put(jbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        FUZZ_REQUIRE(b->s);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
}

static void jb_string(jbuf *b, const char *s, size_t n) {
    jb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c < 0x20 || c == '"' || c == '\\') jb_put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
        else jb_put(b, (const char *)&c, 1);
    }
    jb_put(b, "\"", 1);
}

/* Prints v as JSON; returns 0 when it holds a number JSON cannot spell (inf from a huge exponent). */
static int jb_value(jbuf *b, const json_value *v) {
    char num[40];
    switch (v->type) {
    case JSON_NULL: jb_put(b, "null", 4); return 1;
    case JSON_FALSE: jb_put(b, "false", 5); return 1;
    case JSON_TRUE: jb_put(b, "true", 4); return 1;
    case JSON_STRING: jb_string(b, v->str, v->len); return 1;
    case JSON_NUMBER:
        if (!isfinite(v->f)) return 0;
        if (v->is_int && v->i == 0 && signbit(v->f)) jb_put(b, "-0", 2);   /* "%lld" would lose the sign */
        else if (v->is_int) jb_put(b, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)v->i));
        else jb_put(b, num, (size_t)snprintf(num, sizeof num, "%.17g", v->f));
        return 1;
    default: break;
    }
    int obj = v->type == JSON_OBJECT;
    jb_put(b, obj ? "{" : "[", 1);
    for (uint32_t k = 0; k < v->len; k++) {
        if (k) jb_put(b, ",", 1);
        if (obj) {
            jb_string(b, v->kids[k].key, v->kids[k].key_len);
            jb_put(b, ":", 1);
        }
        if (!jb_value(b, &v->kids[k])) return 0;
    }
    jb_put(b, obj ? "}" : "]", 1);
    return 1;
}

static void check_tree(const json_value *v) {
    switch (v->type) {
    case JSON_STRING: FUZZ_REQUIRE(v->str && v->str[v->len] == '\0'); break;
    case JSON_NUMBER:
        if (v->is_int) FUZZ_REQUIRE(v->f == (double)v->i);
        break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        FUZZ_REQUIRE((v->len == 0) == (v->kids == NULL));
        for (uint32_t k = 0; k < v->len; k++) {
            const json_value *kid = &v->kids[k];
            FUZZ_REQUIRE((v->type == JSON_OBJECT) == (kid->key != NULL));
            if (kid->key) {
                FUZZ_REQUIRE(kid->key[kid->key_len] == '\0');
                if (strlen(kid->key) == kid->key_len) {   /* keys with a NUL cannot be looked up by name */
                    const json_value *found = json_get(v, kid->key);
                    FUZZ_REQUIRE(found && found >= kid && found->key_len == kid->key_len);
                }
            }
            check_tree(kid);
        }
        break;
    default: break;
    }
}

static int same_tree(const json_value *a, const json_value *b) {
    if (a->type != b->type || a->len != b->len) return 0;
    if (a->key && (!b->key || a->key_len != b->key_len || memcmp(a->key, b->key, a->key_len))) return 0;
    switch (a->type) {
    case JSON_STRING: return memcmp(a->str, b->str, a->len) == 0;
    case JSON_NUMBER: return memcmp(&a->f, &b->f, sizeof a->f) == 0 && (!a->is_int || (b->is_int && a->i == b->i));
    case JSON_ARRAY:
    case JSON_OBJECT:
        for (uint32_t k = 0; k < a->len; k++)
            if (!same_tree(&a->kids[k], &b->kids[k])) return 0;
        return 1;
    default: return 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_doc doc;
    char err[200];
    if (json_parse((const char *)data, size, &doc, err, sizeof err) != 0) {
        unsigned long long at;
        FUZZ_REQUIRE(doc.root == NULL && sscanf(err, "byte %llu: ", &at) == 1 && at <= size);
        FUZZ_REQUIRE(!strchr(err, '\n'));
        return 0;
    }
    check_tree(doc.root);
    jbuf b = {0};
    if (jb_value(&b, doc.root)) {
        json_doc again;
        FUZZ_REQUIRE(json_parse(b.s, b.n, &again, err, sizeof err) == 0);
        FUZZ_REQUIRE(same_tree(doc.root, again.root));
        json_free(&again);
    }
    free(b.s);
    json_free(&doc);
    return 0;
}
