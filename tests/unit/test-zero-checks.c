/* SPDX-License-Identifier: MIT */
/* The test helpers' own test: a test that made no check must fail (meson expects this
 * program to fail: should_fail). Issue 10: test.h used to pass it. */
#include "test.h"

int main(void) {
        return test_done("test-zero-checks");
}
