/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger's commands: the command line is parsed, the layout options
 * checked once for all, and each command runs from its table entry.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "diff.h"
#include "eras.h"
#include "htmlreport.h"
#include "libfind.h"
#include "library.h"
#include "mark.h"
#include "options.h"
#include "serve.h"
#include "session.h"

/* --offset values, as the layout takes them. */
static struct layout_override overrides[OPTIONS_MAX_OFFSETS];

/* --profile and --offset name things the eras know, or it is a usage error. */
static int layout_options(const struct options *o, struct library_opts *lopts)
{
	if (o->profile && !eras__find(o->profile)) {
		fprintf(stderr, "devledger: unknown profile '%s'; known: %s\n", o->profile,
			eras__names());
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < o->offset_count; i++) {
		if (!eras__known_field(o->offset_names[i])) {
			fprintf(stderr,
				"devledger: --offset %s: no such field (Buffer.size_, BufferImpl.size_, "
				"Buffer.pimpl, Device.id_, ...; see devledger check)\n",
				o->offset_names[i]);
			return EXIT_USAGE;
		}
		overrides[i] = (struct layout_override){ o->offset_names[i], o->offset_values[i] };
	}
	*lopts = (struct library_opts){ .era = o->profile,
					.overrides = overrides,
					.override_count = o->offset_count,
					.entry_probes = o->entry_probes };
	return 0;
}

/* devledger check: needs no BPF and no root; 0 when every probe resolves, else 1. */
static int run_check(const struct options *o, const struct library_opts *lopts)
{
	char path[PATH_MAX], tried[PATH_MAX + 64];
	struct library *lib;
	int err;

	if (o->library)
		err = libfind__check(o->library, path, sizeof(path));
	else if (o->pid_count)
		err = libfind__from_pid(o->pids[0], NULL, path, sizeof(path));
	else if ((err = libfind__default(path, sizeof(path), tried, sizeof(tried))))
		fprintf(stderr, "devledger: cannot find %s; tried: %s; pass -l PATH\n",
			LIBFIND_NAME, tried);
	if (err)
		return EXIT_RUNTIME;
	lib = library__open(path, lopts, true);
	/* EINVAL: the --profile or --offset values do not fit this library. */
	if (!lib)
		return errno == EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
	err = check__print(lib, o->json, stdout);
	/* The finding is on stdout; the failure is said where every failure is, in one line. */
	if (err)
		fprintf(stderr,
			"devledger: %s lacks %zu function%s devledger must probe: it cannot be "
			"traced (see above)\n",
			path, lib->missing_required, lib->missing_required == 1 ? "" : "s");
	library__free(lib);
	return err ? EXIT_RUNTIME : 0;
}

/* devledger mark: 0 once the trace took the mark, 1 when it could not. */
static int run_mark(const struct options *o, const struct library_opts *lopts)
{
	(void)lopts;
	return mark__send(o->mark_pid, o->mark_label, 5000) ? EXIT_RUNTIME : 0;
}

/* devledger diff: 1 when NEW leaks more than OLD (past --allow), 2 for bad input, else 0. */
static int run_diff(const struct options *o, const struct library_opts *lopts)
{
	(void)lopts;
	return diff__run(o->inputs[0], o->inputs[1], o->allow_bytes, stdout);
}

/* devledger report: the summary as one HTML page. */
static int run_report(const struct options *o, const struct library_opts *lopts)
{
	(void)lopts;
	return htmlreport__run(o->inputs[0], o->output);
}

static const struct command {
	enum subcommand subcommand;
	int (*run)(const struct options *o, const struct library_opts *lopts);
} commands[] = {
	{ SUBCOMMAND_TRACE, session__trace },
	{ SUBCOMMAND_CHECK, run_check },
	{ SUBCOMMAND_MARK, run_mark },
	{ SUBCOMMAND_DIFF, run_diff },
	{ SUBCOMMAND_REPORT, run_report },
	{ SUBCOMMAND_SERVE, serve__run },
};

int main(int argc, char **argv)
{
	struct library_opts lopts;
	struct options opts;
	char error[512];
	int err;

	err = options__parse(argc, argv, &opts, error, sizeof(error));
	if (err == 1)
		return 0;
	if (err) {
		fprintf(stderr, "devledger: %s\n", error);
		return EXIT_USAGE;
	}
	err = layout_options(&opts, &lopts);
	if (err)
		return err;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].subcommand == opts.subcommand)
			return commands[i].run(&opts, &lopts);
	return EXIT_USAGE;
}
