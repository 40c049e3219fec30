/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * options__parse on any command line. Input: one byte that sizes the error
 * buffer (1 to 256 bytes, allocated to that size so that ASan sees a write
 * past it), then the arguments after "devledger", separated by NUL bytes.
 * What it promises is checked: 0, 1 or -EINVAL, an error message that ends
 * inside its buffer, and for 0 options that hold together.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "options.h"

#define MAX_WORDS 64

/* --help and --version print to stdout, as they should: not in the fuzzer's log. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_CHECK(freopen("/dev/null", "w", stdout));
	return 0;
}

static void check_options(const struct options *o, int argc, char **argv)
{
	FUZZ_CHECK(o->pid_count <= OPTIONS_MAX_PIDS && o->offset_count <= OPTIONS_MAX_OFFSETS);
	for (size_t i = 0; i < o->pid_count; i++)
		FUZZ_CHECK(o->pids[i] > 0);
	for (size_t i = 0; i < o->offset_count; i++) {
		FUZZ_CHECK(memchr(o->offset_names[i], '\0', sizeof(o->offset_names[i])));
		FUZZ_CHECK(o->offset_names[i][0] && o->offset_values[i] <= 4096);
	}
	FUZZ_CHECK(!o->ring_bytes ||
		   (o->ring_bytes >= 4096 && !(o->ring_bytes & (o->ring_bytes - 1))));
	FUZZ_CHECK(isfinite(o->duration_s) && o->duration_s >= 0);
	FUZZ_CHECK(isfinite(o->interval_s) && o->interval_s >= 0);
	if (o->subcommand == SUBCOMMAND_CHECK) {
		FUZZ_CHECK(o->pid_count <= 1 && !(o->pid_count && o->library));
		return;
	}
	if (o->subcommand == SUBCOMMAND_MARK) {
		FUZZ_CHECK(o->mark_pid > 0 && (!o->mark_label || strlen(o->mark_label) < 64));
		return;
	}
	if (o->subcommand == SUBCOMMAND_DIFF || o->subcommand == SUBCOMMAND_REPORT) {
		FUZZ_CHECK(o->input_count == (o->subcommand == SUBCOMMAND_DIFF ? 2u : 1u));
		for (size_t i = 0; i < o->input_count; i++)
			FUZZ_CHECK(o->inputs[i] && o->inputs[i][0]);
		FUZZ_CHECK(o->subcommand == SUBCOMMAND_DIFF || (o->output && o->output[0]));
		return;
	}
	if (o->subcommand == SUBCOMMAND_SERVE) {
		FUZZ_CHECK(o->mode == MODE_SYSTEM && !o->pid_count && !o->command);
		FUZZ_CHECK(memchr(o->metrics_host, '\0', sizeof(o->metrics_host)) &&
			   o->metrics_host[0]);
		FUZZ_CHECK(o->metrics_port >= 1 && o->metrics_port <= 65535);
		FUZZ_CHECK(isfinite(o->retain_s) && o->retain_s > 0);
		FUZZ_CHECK(!o->per_process_dir || *o->per_process_dir);
		return;
	}
	FUZZ_CHECK(o->subcommand == SUBCOMMAND_TRACE);
	FUZZ_CHECK(!o->timeline || o->timeline[0]);
	FUZZ_CHECK((o->mode == MODE_COMMAND) == (o->command != NULL));
	FUZZ_CHECK((o->mode == MODE_PIDS) == (o->pid_count > 0));
	FUZZ_CHECK(o->mode == MODE_COMMAND || o->mode == MODE_PIDS || o->mode == MODE_SYSTEM);
	if (o->command)
		FUZZ_CHECK(o->command > argv && o->command < argv + argc && *o->command);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *argv[MAX_WORDS + 2], *error;
	size_t error_len;
	struct options opts;
	int argc = 1, ret;

	if (size < 1)
		return 0;
	error_len = (size_t)data[0] + 1;
	text = malloc(size); /* the words and a NUL after the last */
	error = malloc(error_len);
	FUZZ_CHECK(text && error);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	argv[0] = "devledger";
	for (char *word = text; word < text + (size - 1) && argc <= MAX_WORDS;
	     word += strlen(word) + 1)
		argv[argc++] = word;
	argv[argc] = NULL;
	ret = options__parse(argc, argv, &opts, error, error_len);
	FUZZ_CHECK(ret == 0 || ret == 1 || ret == -EINVAL);
	FUZZ_CHECK(memchr(error, '\0', error_len));
	if (ret == -EINVAL && error_len > 1)
		FUZZ_CHECK(error[0]);
	if (ret == 0)
		check_options(&opts, argc, argv);
	free(text);
	free(error);
	return 0;
}
