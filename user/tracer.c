/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../bpf/devledger.h"
#include "devledger.skel.h"
#include "elfsyms.h"
#include "probes.h"
#include "probesite.h"
#include "tracer.h"
#include "uprobemulti.h"

#define DEFAULT_RING_BYTES (16u << 20)

_Static_assert(PROBE_COUNT <= DL_MAX_SPECS, "every probe has a spec slot");

struct tracer {
	struct devledger_bpf *skel;
	struct ring_buffer *ring;
	struct bpf_link **links;
	size_t link_count;
	size_t link_capacity;
	bool multi;    /* uprobes in uprobe_multi links (link_fds), not perf-event links */
	int *link_fds; /* uprobe_multi links */
	size_t link_fd_count;
	size_t probe_count; /* uprobes attached, either way */
	tracer_record_fn on_record;
	void *ctx;
	struct layout layout; /* one for every library traced */
};

static int libbpf_print(enum libbpf_print_level level, const char *format, va_list args)
{
	(void)level;
	return vfprintf(stderr, format, args);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *format, va_list args)
{
	(void)level;
	(void)format;
	(void)args;
	return 0;
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct tracer *tracer = ctx;

	return tracer->on_record(tracer->ctx, data, size);
}

/*
 * Keep a link that was just made, or say what could not be attached: one
 * place for both, so every attach fails the same way.
 */
static int keep_link(struct tracer *tracer, struct bpf_link *link, const char *what,
		     const char *where)
{
	int err;

	if (!link) {
		err = -errno;
		fprintf(stderr, "devledger: attaching %s%s%s: %s\n", what, where ? " in " : "",
			where ? where : "", strerror(-err));
		return err;
	}
	if (tracer->link_count == tracer->link_capacity) {
		size_t capacity = tracer->link_capacity ? tracer->link_capacity * 2 : 16;
		struct bpf_link **links = realloc(tracer->links, capacity * sizeof(*links));

		if (!links) {
			bpf_link__destroy(link);
			return -ENOMEM;
		}
		tracer->links = links;
		tracer->link_capacity = capacity;
	}
	tracer->links[tracer->link_count++] = link;
	return 0;
}

static int keep_fd(struct tracer *tracer, int fd)
{
	int *fds = realloc(tracer->link_fds, (tracer->link_fd_count + 1) * sizeof(*fds));

	if (!fds) {
		close(fd);
		return -ENOMEM;
	}
	tracer->link_fds = fds;
	tracer->link_fds[tracer->link_fd_count++] = fd;
	return 0;
}

/* Where to attach: the entry, or the function's cheapest safe instruction. */
static uint64_t probe_offset(const struct probe *probe, const char *library,
			     const struct elfsym *sym, bool entry_only, bool verbose)
{
	struct probesite site;

	if (probes__site(probe, library, sym, entry_only, &site))
		return sym->offset;
	if (verbose && !probe->retprobe && !entry_only)
		fprintf(stderr, "devledger: %s: probe at %s\n", probe->program, site.why);
	return site.offset;
}

/*
 * Each uprobe's cookie: its spec (what it reports), which library it is in,
 * and where its site is in that file, so that the BPF side finds the
 * library's load bias (the instruction pointer less the site) and with it
 * the library's vtables.
 */
static uint64_t probe_cookie(size_t probe_index, size_t library_index, const struct elfsym *sym,
			     uint64_t offset)
{
	return ((uint64_t)probe_index << DL_COOKIE_SPEC_SHIFT) |
	       ((uint64_t)library_index << DL_COOKIE_LIBRARY_SHIFT) |
	       ((sym->vaddr + (offset - sym->offset)) & DL_COOKIE_VADDR_MASK);
}

/* What each probe reports under the session's layout, for the BPF side; then frozen. */
static int set_specs(struct tracer *tracer, bool verbose)
{
	struct bpf_map *map = tracer->skel->maps.specs;
	int err;

	for (__u32 i = 0; i < PROBE_COUNT; i++) {
		struct dl_probe_spec spec;

		err = probes__spec(&probes[i], &tracer->layout, &spec);
		if (err)
			return err;
		if (bpf_map__update_elem(map, &i, sizeof(i), &spec, sizeof(spec), BPF_ANY))
			goto failed;
		if (verbose) {
			char text[256];

			probes__describe(&spec, text, sizeof(text));
			fprintf(stderr, "devledger: %s %s\n", probes[i].program, text);
		}
	}
	if (!bpf_map_freeze(bpf_map__fd(map)))
		return 0;
failed:
	err = -errno;
	fprintf(stderr, "devledger: probe specs: %s\n", strerror(-err));
	return err;
}

/*
 * Every probe of one library: in two uprobe_multi links (entries, returns),
 * or one perf-event link each. A uprobe_multi failure is -EOPNOTSUPP,
 * unsaid: the caller then tries perf-event links, which say what is wrong.
 */
static int attach_target(struct tracer *tracer, size_t library_index, pid_t pid,
			 const char *library, bool tracker_inlined, const struct elfsym *syms,
			 const struct tracer_opts *opts)
{
	struct bpf_program *prog = tracer->skel->progs.probe;
	uint64_t offsets[2][PROBE_COUNT], cookies[2][PROBE_COUNT];
	struct probe_vtables vtables = { 0 };
	size_t count[2] = { 0, 0 };
	struct dl_library entry;
	__u32 key = (__u32)library_index;
	int err;

	probes__vtables(library, &vtables);
	entry.mesh_vtable = vtables.mesh;
	if (opts->verbose)
		fprintf(stderr, "devledger: %s: MeshDevice vtable %s\n", library,
			vtables.mesh ? "found: meshes are told from chips" : "missing");
	if (bpf_map__update_elem(tracer->skel->maps.libraries, &key, sizeof(key), &entry,
				 sizeof(entry), BPF_ANY)) {
		err = -errno;
		fprintf(stderr, "devledger: %s: %s\n", library, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uprobe_opts, .retprobe = probes[i].retprobe);
		const struct elfsym *sym = &syms[probes[i].symbol];
		int r = probes[i].retprobe;
		struct bpf_link *link;
		uint64_t offset;

		/* Missing and optional (already warned about), or not for this library's build. */
		if (!sym->found || !probes__attached(&probes[i], tracker_inlined))
			continue;
		offset = probe_offset(&probes[i], library, sym, opts->entry_probes, opts->verbose);
		uprobe_opts.bpf_cookie = probe_cookie(i, library_index, sym, offset);
		tracer->probe_count++;
		if (tracer->multi) {
			offsets[r][count[r]] = offset;
			cookies[r][count[r]++] = uprobe_opts.bpf_cookie;
			continue;
		}
		link = bpf_program__attach_uprobe_opts(prog, pid, library, offset, &uprobe_opts);
		err = keep_link(tracer, link, probes__symbol_name(probes[i].symbol, sym), library);
		if (err)
			return err;
	}
	for (int r = 0; tracer->multi && r < 2; r++) {
		int fd;

		if (!count[r])
			continue;
		fd = uprobe_multi__attach(bpf_program__fd(prog), library, offsets[r], cookies[r],
					  count[r], r, pid);
		if (fd < 0) {
			if (opts->verbose)
				fprintf(stderr, "devledger: uprobe_multi link in %s: %s\n", library,
					strerror(-fd));
			return -EOPNOTSUPP;
		}
		err = keep_fd(tracer, fd);
		if (err)
			return err;
	}
	return 0;
}

static int attach_tracepoints(struct tracer *tracer)
{
	struct bpf_program *progs[] = { tracer->skel->progs.process_exit,
					tracer->skel->progs.process_fork };

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		int err = keep_link(tracer, bpf_program__attach(progs[i]),
				    bpf_program__name(progs[i]), NULL);

		if (err)
			return err;
	}
	return 0;
}

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1e3 + (now.tv_nsec - since->tv_nsec) / 1e6;
}

/* Where the probes find the fields: one layout for every library traced. */
static void set_layout(struct tracer *tracer, const struct tracer_opts *opts)
{
	const struct layout *layout = opts->layout;

	if (opts->verbose)
		fprintf(stderr, "devledger: profile %s (%s); offsets from %s\n",
			layout->profile->name, layout->why,
			layout->has_dwarf ? "the library's DWARF where it has them"
					  : "the presets");
	tracer->layout = *layout;
	tracer->skel->rodata->device_off_id = layout->offset[FIELD_DEVICE_ID];
	tracer->skel->rodata->mesh_off_id = layout->offset[FIELD_MESH_ID];
}

/*
 * Load and attach everything, with uprobe_multi links or perf-event ones.
 * With multi, a failure that only says the kernel lacks uprobe_multi (at
 * load or at the first link) is -EOPNOTSUPP, unsaid.
 */
static struct tracer *open_tracer(const struct tracer_opts *opts,
				  struct elfsym (*syms)[PROBE_SYMBOLS], bool multi,
				  const struct timespec *start)
{
	struct tracer *tracer;
	__u8 one = 1;
	int err;

	tracer = calloc(1, sizeof(*tracer));
	if (!tracer) {
		err = -ENOMEM;
		goto cleanup;
	}
	tracer->on_record = opts->on_record;
	tracer->ctx = opts->ctx;
	tracer->multi = multi;
	tracer->skel = devledger_bpf__open();
	if (!tracer->skel) {
		err = -errno;
		fprintf(stderr, "devledger: opening BPF programs: %s\n", strerror(-err));
		goto cleanup;
	}
	set_layout(tracer, opts);
	tracer->skel->rodata->filter_pids = opts->mode != TRACER_SYSTEM;
	tracer->skel->rodata->follow_children = opts->mode == TRACER_COMMAND;
	err = bpf_map__set_max_entries(tracer->skel->maps.events,
				       opts->ring_bytes ? opts->ring_bytes : DEFAULT_RING_BYTES);
	if (err) {
		fprintf(stderr, "devledger: ring buffer size: %s\n", strerror(-err));
		goto cleanup;
	}
	if (multi)
		bpf_program__set_expected_attach_type(tracer->skel->progs.probe,
						      UPROBE_MULTI_ATTACH_TYPE);
	err = devledger_bpf__load(tracer->skel);
	if (err && multi) {
		err = -EOPNOTSUPP;
		goto cleanup;
	}
	if (err) {
		if (err == -EPERM || err == -EACCES)
			fprintf(stderr,
				"devledger: loading BPF programs: %s (run as root, or with "
				"CAP_BPF and CAP_PERFMON)\n",
				strerror(-err));
		else
			fprintf(stderr,
				"devledger: loading BPF programs: %s (run with -v for the "
				"verifier's log)\n",
				strerror(-err));
		goto cleanup;
	}

	err = set_specs(tracer, opts->verbose);
	if (err)
		goto cleanup;
	for (size_t i = 0; opts->mode != TRACER_SYSTEM && i < opts->target_count; i++) {
		__u32 tgid = (__u32)opts->targets[i].pid;

		if (bpf_map__update_elem(tracer->skel->maps.tracked, &tgid, sizeof(tgid), &one,
					 sizeof(one), BPF_ANY)) {
			err = -errno;
			fprintf(stderr, "devledger: tracking process %d: %s\n", (int)tgid,
				strerror(-err));
			goto cleanup;
		}
	}
	for (size_t i = 0; i < opts->target_count; i++) {
		/* -p attaches per process; a launched command and -a cover any process mapping the
		 * file. */
		pid_t pid = opts->mode == TRACER_PIDS ? opts->targets[i].pid : -1;

		err = attach_target(tracer, i, pid, opts->targets[i].library,
				    opts->targets[i].tracker_inlined, syms[i], opts);
		if (err)
			goto cleanup;
	}
	err = attach_tracepoints(tracer);
	if (err)
		goto cleanup;
	if (opts->verbose)
		fprintf(stderr, "devledger: %zu probes attached %s in %.1f ms\n",
			tracer->probe_count,
			multi ? "in uprobe_multi links" : "as perf-event uprobes",
			elapsed_ms(start));

	tracer->ring = ring_buffer__new(bpf_map__fd(tracer->skel->maps.events), handle_record,
					tracer, NULL);
	if (!tracer->ring) {
		err = -errno;
		fprintf(stderr, "devledger: ring buffer: %s\n", strerror(-err));
		goto cleanup;
	}
	return tracer;

cleanup:
	tracer__free(tracer);
	errno = -err;
	return NULL;
}

struct tracer *tracer__open(const struct tracer_opts *opts)
{
	struct elfsym(*syms)[PROBE_SYMBOLS];
	struct tracer *tracer = NULL;
	struct timespec start;
	int err = 0;

	libbpf_set_print(opts->verbose ? libbpf_print : libbpf_quiet);
	syms = calloc(opts->target_count ? opts->target_count : 1, sizeof(*syms));
	if (!syms) {
		errno = ENOMEM;
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Symbols first: a wrong library is the likeliest mistake, and costs no BPF load. */
	for (size_t i = 0; i < opts->target_count && !err; i++)
		err = probes__resolve(opts->targets[i].library, syms[i]);
	if (!err && opts->verbose)
		fprintf(stderr, "devledger: symbols resolved in %.1f ms\n", elapsed_ms(&start));
	if (!err && !opts->perf_uprobes) {
		tracer = open_tracer(opts, syms, true, &start);
		if (!tracer && errno == EOPNOTSUPP && opts->verbose)
			fprintf(stderr, "devledger: no uprobe_multi (Linux 6.6 on): one "
					"perf-event uprobe per probe\n");
		err = tracer || errno == EOPNOTSUPP ? 0 : -errno;
	}
	/* Before 6.6, or asked for: each probe its own perf-event uprobe. */
	if (!err && !tracer) {
		tracer = open_tracer(opts, syms, false, &start);
		err = tracer ? 0 : -errno;
	}
	free(syms);
	errno = -err;
	return tracer;
}

int tracer__poll(struct tracer *tracer, int timeout_ms)
{
	int woken, drained;

	/* Records are submitted without a wake-up, so poll alone may see nothing: consume too. */
	woken = ring_buffer__poll(tracer->ring, timeout_ms);
	if (woken < 0 && woken != -EINTR)
		return woken;
	drained = ring_buffer__consume(tracer->ring);
	if (drained < 0)
		return drained;
	return (woken > 0 ? woken : 0) + drained;
}

int tracer__drain(struct tracer *tracer)
{
	int total = 0, n;

	while ((n = ring_buffer__consume(tracer->ring)) > 0)
		total += n;
	return n < 0 ? n : total;
}

int tracer__stats(const struct tracer *tracer, struct dl_bpf_stats *stats)
{
	*stats = tracer->skel->bss->stats;
	return 0;
}

void tracer__free(struct tracer *tracer)
{
	if (!tracer)
		return;
	ring_buffer__free(tracer->ring);
	for (size_t i = 0; i < tracer->link_fd_count; i++)
		close(tracer->link_fds[i]);
	free(tracer->link_fds);
	for (size_t i = 0; i < tracer->link_count; i++)
		bpf_link__destroy(tracer->links[i]);
	free(tracer->links);
	devledger_bpf__destroy(tracer->skel);
	free(tracer);
}
