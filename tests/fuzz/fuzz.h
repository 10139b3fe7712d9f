/*
 * The libFuzzer entry point every fuzz target defines; replay_main.c calls
 * it without libFuzzer to replay a kept corpus.
 */
#ifndef KEFO_TESTS_FUZZ_H
#define KEFO_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* KEFO_TESTS_FUZZ_H */
