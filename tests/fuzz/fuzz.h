/* The libFuzzer entry points every target of tests/fuzz/ defines. They are
 * declared here so that the targets also build, with gcc and without libFuzzer,
 * into the regression replayer (replay.c). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Called once before the first input (libFuzzer, or replay.c). Optional. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Runs one input. Returns 0 (-1 would tell libFuzzer not to keep the input). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not a libFuzzer hook: replay.c calls it, when a target defines it, after the
 * last input, so the target can stop what Initialize started (and a leak or a
 * crash on shutdown shows too). libFuzzer never calls it. */
void fuzz_target_cleanup(void);
