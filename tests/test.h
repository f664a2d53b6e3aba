/* tests/test.h — the protocol every test program follows: one line per check, read by tests/run.sh.
 *   PASS name | FAIL name: detail | SKIP name: reason
 * A test program exits 0 when it ran to the end (the runner counts the lines); a crash or non-zero exit
 * is counted as a failure of the whole program. */
#ifndef EWQ_TEST_H
#define EWQ_TEST_H
#include <stdarg.h>
#include <stdio.h>

static inline void test_pass(const char *name) { printf("PASS %s\n", name); }
static inline void test_skip(const char *name, const char *why) { printf("SKIP %s: %s\n", name, why); }

/* check(ok, name, fmt, ...): PASS when ok, else FAIL with the formatted detail. Returns ok. */
static inline int check(int ok, const char *name, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline int check(int ok, const char *name, const char *fmt, ...) {
    if (ok) { test_pass(name); return 1; }
    printf("FAIL %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    return 0;
}
#endif
